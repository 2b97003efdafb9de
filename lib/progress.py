"""Where a long experiment is: a tqdm bar in the notebook and one line per step in the terminal.

A notebook's output captures ``sys.stdout`` and ``sys.stderr``, but the kernel process's own
stderr (``sys.__stderr__``) is the terminal that started it — the one running ``make book``,
``jupyter-book build`` or ``jupyter lab``. So a book build prints lines such as::

    [optimizers] 12/54 runs, 3 min 10 s, about 6 min left

while JupyterLab shows the same progress as a bar under the cell (tqdm writes it to the captured
``sys.stderr``, which the book's pages leave out). Runs loaded from the cache
count as done at once; an experiment that ends within ``quiet_seconds`` prints no line.
"""

from __future__ import annotations

import sys
import time

from tqdm import tqdm


def duration(seconds: float) -> str:
    """``"3 min 10 s"``, or ``"42 s"`` under a minute."""
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


class Progress:
    """Progress of ``total`` runs (or stacks) of one chapter's experiment, ``done`` already.

    Use as a context manager; call :meth:`update` as each run or stack finishes.
    """

    def __init__(
        self,
        chapter: str,
        total: int,
        done: int = 0,
        unit: str = "runs",
        quiet_seconds: float = 1.0,
        bar: bool = True,
    ):
        self.chapter, self.total, self.done, self.unit = chapter, total, done, unit
        self.quiet_seconds = quiet_seconds
        self.start = time.perf_counter()
        self.todo = total - done  # runs this call trains; the estimate is made from them alone
        self.bar = tqdm(
            total=total,
            initial=done,
            desc=chapter,
            unit=unit[:-1] if unit.endswith("s") else unit,
            disable=not bar or self.todo == 0,
            file=sys.stdout,
        )

    def line(self) -> str:
        """The terminal line for the current state."""
        elapsed = time.perf_counter() - self.start
        text = f"[{self.chapter}] {self.done}/{self.total} {self.unit}, {duration(elapsed)}"
        trained = self.todo - (self.total - self.done)
        if 0 < trained and self.done < self.total:
            left = elapsed / trained * (self.total - self.done)
            text += f", about {duration(left)} left"
        return text

    def update(self, n: int = 1) -> None:
        self.done += n
        self.bar.update(n)
        if time.perf_counter() - self.start >= self.quiet_seconds:
            print(self.line(), file=sys.__stderr__, flush=True)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.bar.close()
