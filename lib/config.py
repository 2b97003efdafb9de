"""Every experiment's settings and paths. ``BOOK_PROFILE`` selects ``full`` (the default, the
homework's sizes) or ``quick`` (small sizes for the tests); each experiment's frozen dataclass has
the ``full`` settings as defaults and :meth:`for_profile` applies the ``quick`` overrides.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
from dataclasses import dataclass
from pathlib import Path

PROFILES = ("quick", "full")
DEFAULT_PROFILE = "full"


def active_profile(profile: str | None = None) -> str:
    """Return the profile to use: ``profile`` if given, else ``$BOOK_PROFILE``, else ``full``."""
    name = profile if profile is not None else os.environ.get("BOOK_PROFILE", DEFAULT_PROFILE)
    name = name.strip().lower() or DEFAULT_PROFILE
    if name not in PROFILES:
        raise ValueError(f"BOOK_PROFILE must be one of {PROFILES}, got {name!r}")
    return name


def repo_root() -> Path:
    """The repository's top folder (the package is installed in editable mode)."""
    return Path(__file__).resolve().parents[1]


def data_root() -> Path:
    """Folder holding ``MNIST/raw``: ``$DATA_DIR`` if set, else ``data/`` in the repository."""
    return Path(os.environ.get("DATA_DIR") or repo_root() / "data")


def results_root() -> Path:
    """Folder where long experiments store finished runs: ``$RESULTS_DIR`` or ``results/``."""
    return Path(os.environ.get("RESULTS_DIR") or repo_root() / "results")


class _Profiled:
    """Mixin: ``for_profile`` applies the profile's overrides to the ``full`` defaults."""

    QUICK: dict = {}

    @classmethod
    def for_profile(cls, profile: str | None = None, **overrides):
        name = active_profile(profile)
        fields = dict(cls.QUICK) if name == "quick" else {}
        fields.update(overrides)
        return cls(**fields)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


def require(ok: bool, name: str, value, what: str) -> None:
    """Raise ``ValueError("<name> must be <what>, got <value>")`` unless ``ok``."""
    if not ok:
        raise ValueError(f"{name} must be {what}, got {value!r}")


def is_int(value, minimum: int = 1, maximum: float = math.inf) -> bool:
    """An integer (NumPy's too, not a bool) in ``[minimum, maximum]``."""
    integral = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    return integral and minimum <= value <= maximum


def is_number(value, minimum: float = 0.0, strict: bool = False, maximum=math.inf) -> bool:
    """A finite int or float above ``minimum`` (``>`` if ``strict``, else ``>=``), ≤ ``maximum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        return False
    return (value > minimum if strict else value >= minimum) and value <= maximum


def positive_ints(config, *names: str, optional: bool = False) -> None:
    for name in names:
        value = getattr(config, name)
        if not (optional and value is None):
            require(is_int(value), name, value, "a positive integer" + " or None" * optional)


def distinct(name: str, values, valid, what: str) -> None:
    """Require a non-empty tuple of distinct ``values``, each passing ``valid``."""
    ok = isinstance(values, tuple) and values and all(map(valid, values))
    require(ok, name, values, f"a tuple of {what}")
    require(len(set(values)) == len(values), name, values, "free of repeated items")


@dataclass(frozen=True)
class OptimizerGridConfig(_Profiled):
    """The MNIST benchmark of homework §2: every optimizer × learning rate × seed."""

    optimizers: tuple[str, ...] = ("SGD", "MomentumSGD", "RMSProp", "AMSGrad", "Adagrad", "Adam")
    learning_rates: tuple[float, ...] = (0.5, 1e-2, 1e-5)
    seeds: tuple[int, ...] = (0, 1, 2)
    epochs: int = 15
    batch_size: int = 100
    hidden_dim: int = 256
    train_size: int | None = None  # None: all 60,000 training images
    test_size: int | None = None  # None: all 10,000 test images
    trace_points_per_epoch: int = 10  # training-loss points recorded per epoch (for the curves)
    workers: int = 2  # runs trained at once, one single-threaded process each (1: in-process)

    # The quick profile keeps the three seeds: the chapter ranks two methods only when the gap
    # between their means exceeds the seeds' spread, and a single seed has no spread.
    QUICK = {"epochs": 2, "train_size": 6_000, "test_size": 2_000, "workers": 1}
    HOMEWORK_RATES = (0.5, 1e-2, 1e-5)  # §2(d), large to small: the rates the chapter discusses

    def homework_rates(self) -> tuple[float, float, float]:
        """The homework's large, mid and small rate, each of which the grid must run."""
        missing = [lr for lr in self.HOMEWORK_RATES if lr not in self.learning_rates]
        what = f"a tuple holding the homework's rates {self.HOMEWORK_RATES} (missing: {missing})"
        require(not missing, "learning_rates", self.learning_rates, what)
        return self.HOMEWORK_RATES

    def __post_init__(self):
        from lib.optim.optimizers import OPTIMIZER_CLASSES

        distinct("optimizers", self.optimizers, OPTIMIZER_CLASSES.__contains__, "optimizer names")
        distinct("learning_rates", self.learning_rates, is_number, "finite numbers >= 0")
        distinct("seeds", self.seeds, lambda s: is_int(s, 0, 2**32 - 1), "integers in [0, 2**32)")
        positive_ints(
            self, "epochs", "batch_size", "hidden_dim", "trace_points_per_epoch", "workers"
        )
        positive_ints(self, "train_size", "test_size", optional=True)


@dataclass(frozen=True)
class BenchmarkConfig(_Profiled):
    """Sizes of the performance benchmarks (``python -m benchmarks``); models come from
    :class:`OptimizerGridConfig` and :class:`GANConfig`."""

    threads: int = 1  # torch intra-op threads while measuring: the grid trains runs single-threaded
    repeats: int = 5  # alternating repetitions of every timing (the fastest is kept)
    epoch_train_size: int | None = None  # images per measured epoch; None: all 60,000
    epoch_optimizer: str = "SGD"  # optimizer of both measured loops
    epoch_lr: float = 1e-2
    matmul_size: int = 1024  # n of the n×n float32 matmuls that measure peak throughput
    matmul_count: int = 20  # products per timing of the peak throughput
    optimizer_steps: int = 300  # optimizer steps per timing
    grid_epochs: int | None = None  # epochs per run of the timed homework grid; None: the book's
    gan_iterations: tuple[int, int] = (200, 1_000)  # two run lengths; their difference gives it/s
    gan_eval_samples: int | None = None  # samples per snapshot; None: the homework's GANConfig

    QUICK = {
        "epoch_train_size": 2_000,
        "matmul_count": 5,
        "optimizer_steps": 50,
        "grid_epochs": 1,
        "gan_iterations": (20, 60),
        "gan_eval_samples": 200,
    }

    def __post_init__(self):
        from lib.optim.optimizers import OPTIMIZER_CLASSES

        positive_ints(self, "threads", "repeats", "matmul_size", "matmul_count", "optimizer_steps")
        positive_ints(self, "epoch_train_size", "gan_eval_samples", "grid_epochs", optional=True)
        name = self.epoch_optimizer
        require(name in OPTIMIZER_CLASSES, "epoch_optimizer", name, "an optimizer name")
        require(is_number(self.epoch_lr), "epoch_lr", self.epoch_lr, "a finite number >= 0")
        n = self.gan_iterations
        ok = isinstance(n, tuple) and len(n) == 2 and all(map(is_int, n)) and n[0] < n[1]
        require(ok, "gan_iterations", n, "two positive lengths, shorter first")
