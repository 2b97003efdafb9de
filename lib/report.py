"""What the chapters display besides figures: Markdown tables and the source of the graded code."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from textwrap import dedent

from IPython.display import Markdown


def markdown_table(
    header: Sequence[str], rows: Sequence[Sequence[object]], align: Sequence[str] | None = None
) -> str:
    """A Markdown (GFM) table: ``header`` cells, then one line per row (cells shown with ``str``).

    ``align`` gives each column's alignment, ``"l"``, ``"c"`` or ``"r"`` (default: left).
    """
    header = [str(cell) for cell in header]
    if not header:
        raise ValueError("header must name at least one column")
    align = list(align) if align is not None else ["l"] * len(header)
    if len(align) != len(header) or any(a not in ("l", "c", "r") for a in align):
        raise ValueError(
            f"align must give 'l', 'c' or 'r' for each of {len(header)} columns, got {align!r}"
        )
    rule = {"l": "---", "c": ":-:", "r": "--:"}
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(rule[a] for a in align) + "|"]
    for i, row in enumerate(rows):
        cells = [str(cell).replace("|", "\\|") for cell in row]
        if len(cells) != len(header):
            raise ValueError(f"rows[{i}] must have {len(header)} cells, got {len(cells)}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def show_source(obj) -> Markdown:
    """The source code of a function, class or method as a Python code block (what ran)."""
    try:
        source = inspect.getsource(obj)
    except (TypeError, OSError) as error:
        raise ValueError(
            f"obj must be a function, class or method defined in a file, got {obj!r}"
        ) from error
    module = inspect.getmodule(obj)
    where = f"`{module.__name__}`" if module is not None else "its module"
    name = getattr(obj, "__qualname__", getattr(obj, "__name__", repr(obj)))
    return Markdown(f"From {where}, `{name}`:\n\n```python\n{dedent(source).rstrip()}\n```")
