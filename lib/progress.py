"""Where a long experiment is: a tqdm bar in the notebook, and lines such as
``[optimizers] 12/54 runs, 3 min 10 s, about 6 min left`` on the kernel's own stderr
(``sys.__stderr__``: the terminal running the book build). Cached runs count as done at once.
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
    """Progress of ``total`` runs, ``done`` already; call :meth:`update` as each one finishes.

    No line is printed before ``quiet_seconds``."""

    def __init__(self, chapter, total, done=0, unit="runs", quiet_seconds=1.0, bar=True):
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

    def __exit__(self, kind, error, traceback) -> None:
        self.bar.close()
        if kind is KeyboardInterrupt:
            print(
                f"[{self.chapter}] interrupted: {self.done}/{self.total} {self.unit} are stored; "
                "the next build (or run) resumes from them",
                file=sys.__stderr__,
                flush=True,
            )
