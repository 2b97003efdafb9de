"""Argument checks shared by every config and constructor: one message format, naming the field.

Each check returns the value it accepted (converted where it says so) and raises ``ValueError``
with ``"<name> must be ..., got <value>"`` otherwise. Booleans are never numbers here, although
Python treats ``True`` as 1.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

#: Largest finite float32: a learning rate or weight beyond it becomes inf in a float32 tensor.
FLOAT32_MAX = 3.4028234663852886e38


def is_real(value: Any) -> bool:
    """True for an int or float (NumPy scalars included), False for bools and everything else."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_int(name: str, value: Any, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as an int, if it is an integer in ``[minimum, maximum]``."""
    kind = {0: "a non-negative integer", 1: "a positive integer"}.get(minimum, "an integer")
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    if minimum is not None and value < minimum:
        wanted = kind if minimum in (0, 1) else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {wanted}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be {kind} <= {maximum}, got {value!r}")
    return int(value)


def check_number(
    name: str,
    value: Any,
    minimum: float | None = None,
    maximum: float | None = None,
    *,
    strict_minimum: bool = False,
    strict_maximum: bool = False,
    finite: bool = True,
) -> float:
    """``value`` as a float, if it is a real number in the given (closed or open) interval.

    ``finite`` (the default) also rejects NaN and ±inf.
    """
    kind = "a finite number" if finite else "a number"
    if minimum == 0:
        kind = "a positive number" if strict_minimum else "a non-negative number"
    if not is_real(value) or math.isnan(value) or (finite and not math.isfinite(value)):
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    if minimum == 0 and (value <= 0 if strict_minimum else value < 0):
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    if minimum is not None and (value <= minimum if strict_minimum else value < minimum):
        raise ValueError(
            f"{name} must be {'>' if strict_minimum else '>='} {minimum}, got {value!r}"
        )
    if maximum is not None and (value >= maximum if strict_maximum else value > maximum):
        raise ValueError(
            f"{name} must be {'<' if strict_maximum else '<='} {maximum}, got {value!r}"
        )
    return float(value)


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """``value`` if it is one of ``choices``."""
    choices = tuple(choices)
    if not any(value == choice and type(value) is type(choice) for choice in choices):
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def check_bool(name: str, value: Any) -> bool:
    """``value`` if it is ``True`` or ``False``."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value


def check_sequence(
    name: str, value: Any, check, *, min_length: int = 1, unique: bool = False
) -> tuple:
    """``value`` as a tuple, each item passed through ``check(f"{name}[i]", item)``."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ValueError(f"{name} must be a sequence, got {value!r}")
    items = tuple(check(f"{name}[{i}]", item) for i, item in enumerate(value))
    if len(items) < min_length:
        raise ValueError(f"{name} must hold at least {min_length} item(s), got {value!r}")
    if unique and len(set(items)) != len(items):
        raise ValueError(f"{name} must not repeat an item, got {value!r}")
    return items
