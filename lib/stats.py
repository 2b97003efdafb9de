"""Statistics over seeds (mean ± sample std of finished runs; diverged runs counted, left out),
and the book's one rule for ranking two settings: the gap exceeds the sum of the stds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SeedStats:
    """Mean ± sample std of one metric over the finished runs of one setting."""

    values: tuple[float, ...]  # one per finished run
    diverged: int = 0  # runs left out because they diverged

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return float(np.mean(self.values)) if self.values else math.nan

    @property
    def std(self) -> float:
        """Sample std (ddof=1); 0 for one run, NaN for none."""
        if self.n < 2:
            return 0.0 if self.values else math.nan
        return float(np.std(self.values, ddof=1))

    def format(self, digits: int = 2, scale: float = 1.0) -> str:
        """``"mean ± std"`` (each multiplied by ``scale``), or ``"–"`` with no finished run."""
        if not self.values:
            return "–"
        return f"{scale * self.mean:.{digits}f} ± {scale * self.std:.{digits}f}"


def seed_stats(values: Iterable[float], diverged: Iterable[bool] | None = None) -> SeedStats:
    """The :class:`SeedStats` of ``values``, leaving out those whose ``diverged`` flag is set."""
    values = [float(v) for v in values]
    flags = [bool(d) for d in diverged] if diverged is not None else [False] * len(values)
    kept = tuple(v for v, d in zip(values, flags, strict=True) if not d)
    return SeedStats(kept, sum(flags))


def clearly_above(a: SeedStats, b: SeedStats) -> bool:
    """Whether ``a``'s mean exceeds ``b``'s by more than ``a.std + b.std`` (≥ 2 runs each)."""
    if a.n < 2 or b.n < 2:
        return False
    return a.mean - b.mean > a.std + b.std
