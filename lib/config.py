"""Every experiment's settings, in one place.

The environment variable ``BOOK_PROFILE`` selects the sizes:

* ``full`` (the default): the homework's real settings;
* ``quick``: small sizes that keep the whole test suite (nbval included) to a few minutes on
  two CPU cores. pytest selects it for itself (see the repository's ``conftest.py``).

Each experiment has one frozen dataclass whose field defaults are the ``full`` settings and whose
:meth:`for_profile` returns the instance for a profile. Paths to data and results also live here.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from lib.validation import (
    FLOAT32_MAX,
    check_bool,
    check_choice,
    check_int,
    check_number,
    check_sequence,
)

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


def _positive_ints(config, *names: str) -> None:
    for name in names:
        check_int(name, getattr(config, name), minimum=1)


def _optional_positive_int(name: str, value) -> int | None:
    return None if value is None else check_int(name, value, minimum=1)


def _changes(name: str, variants) -> None:
    """Each variant is ``(label, ((field, value), ...))`` naming fields of :class:`GANConfig`.

    Labels must be unique (they name the variant's runs) and the values valid GANConfig values.
    """
    fields = {f.name for f in dataclasses.fields(GANConfig)}
    if isinstance(variants, (str, bytes)) or not isinstance(variants, tuple):
        raise ValueError(f"{name} must be a tuple of (label, changes) pairs, got {variants!r}")
    for i, variant in enumerate(variants):
        if not (isinstance(variant, tuple) and len(variant) == 2 and isinstance(variant[0], str)):
            raise ValueError(f"{name}[{i}] must be a pair (label, changes), got {variant!r}")
        _field_changes(f"{name}[{i}]", variant[1], fields)
    labels = [variant[0] for variant in variants]
    if len(set(labels)) != len(labels):
        raise ValueError(f"{name} must not repeat a label, got {labels!r}")


def _field_changes(name: str, changes, fields: set[str]) -> None:
    if not isinstance(changes, tuple):
        raise ValueError(
            f"{name} must be a tuple of (GANConfig field, value) pairs, got {changes!r}"
        )
    for change in changes:
        if not (isinstance(change, tuple) and len(change) == 2 and change[0] in fields):
            raise ValueError(f"{name} must hold (GANConfig field, value) pairs, got {change!r}")
    try:  # the values too: a bad one fails here, not when its runs start
        GANConfig(**dict(changes))
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None


@dataclass(frozen=True)
class GANConfig(_Profiled):
    """One WGAN training run on a mixture of Gaussians (homework §1.2).

    Defaults are the course's base code (batch 200, Adam lr 1e-3 with betas (0, 0.9), hidden
    width 100, clipping constant 1e-2, seed 1, one generator step every 5 critic steps), except
    ``iterations``, which the base code set too low for the targets to be learnt.
    """

    target: str = "two_gaussians"  # name of a target in lib.gan.targets
    lipschitz: str = "spectral_normalisation"  # how the critic is kept Lipschitz
    iterations: int = 20_000  # critic steps; the generator steps on every n_critic-th
    n_critic: int = 5  # generator step when k mod n_critic == 0
    batch_size: int = 200
    lr: float = 1e-3
    betas: tuple[float, float] = (0.0, 0.9)
    noise_dim: int = 2
    hidden_dim: int = 100
    critic_hidden_dim: int | None = None  # critic width; None: hidden_dim, as in the base code
    lr_decay: bool = False  # True: both learning rates decay linearly to zero over the run
    clip: float = 1e-2  # weight-clipping constant c
    gp_weight: float = 10.0  # gradient-penalty weight (Gulrajani et al. 2017)
    sr_weight: float = 1e-2  # spectral-norm regularisation weight
    seed: int = 1
    snapshot_every: int = 1_000  # iterations between recorded metrics and samples
    eval_samples: int = 2_000  # generated and target samples behind each snapshot's metrics
    num_threads: int = 1  # torch threads: one is fastest for these tiny networks

    QUICK = {"iterations": 600, "snapshot_every": 200, "eval_samples": 500}

    def __post_init__(self):
        from lib.gan.networks import LIPSCHITZ_METHODS  # the networks module imports this one
        from lib.gan.targets import TARGETS

        check_choice("target", self.target, TARGETS)
        check_choice("lipschitz", self.lipschitz, LIPSCHITZ_METHODS)
        _positive_ints(
            self,
            "iterations",
            "n_critic",
            "batch_size",
            "noise_dim",
            "hidden_dim",
            "snapshot_every",
            "eval_samples",
            "num_threads",
        )
        _optional_positive_int("critic_hidden_dim", self.critic_hidden_dim)
        # A rate beyond the float32 range overflows the float32 parameters' first step.
        check_number("lr", self.lr, 0.0, FLOAT32_MAX, strict_minimum=True)
        check_number("clip", self.clip, 0.0, strict_minimum=True)
        check_number("gp_weight", self.gp_weight, 0.0)
        check_number("sr_weight", self.sr_weight, 0.0)
        if not isinstance(self.betas, tuple) or len(self.betas) != 2:
            raise ValueError(f"betas must be a pair of numbers in [0, 1), got {self.betas!r}")
        for i, beta in enumerate(self.betas):
            check_number(f"betas[{i}]", beta, 0.0, 1.0, strict_maximum=True)
        check_bool("lr_decay", self.lr_decay)
        check_int("seed", self.seed, minimum=0, maximum=2**32 - 1)


@dataclass(frozen=True)
class GANComparisonConfig(_Profiled):
    """The four Lipschitz strategies side by side on the three targets (homework §1.2).

    Each variant is a name and the :class:`GANConfig` fields it changes; every other field keeps
    the base code's value. Every variant of the comparison, the ablation, the long runs and the
    capacity study is trained from each of ``seeds``; runs are shorter than the chapter's main run
    so that they fit the book's time budget.
    """

    variants: tuple = (
        ("spectral_normalisation", (("lipschitz", "spectral_normalisation"),)),
        ("spectral_regularisation", (("lipschitz", "spectral_regularisation"),)),
        ("weight_clipping", (("lipschitz", "weight_clipping"),)),
        ("gradient_penalty", (("lipschitz", "gradient_penalty"),)),
        ("gradient_penalty_0.1", (("lipschitz", "gradient_penalty"), ("gp_weight", 0.1))),
        # Each method's own setting moved once, to see how sensitive it is.
        ("weight_clipping_0.1", (("lipschitz", "weight_clipping"), ("clip", 0.1))),
        (
            "spectral_regularisation_1",
            (("lipschitz", "spectral_regularisation"), ("sr_weight", 1.0)),
        ),
    )
    targets: tuple[str, ...] = ("two_gaussians", "ring", "grid")
    seeds: tuple[int, ...] = (1, 2, 3)
    iterations: int = 3_000  # critic steps per run
    eval_samples: int = 1_000  # samples behind each run's final metrics
    floor_repeats: int = 5  # pairs of independent target samples behind each W1 noise floor
    timing_iterations: int = 300  # iterations behind each method's measured cost per iteration
    workers: int = 2  # processes training runs in parallel
    # What raises the share of high-quality samples: one change at a time on the ring.
    ablation_target: str = "ring"
    ablation_variants: tuple = (
        ("spectral_normalisation", ()),
        ("SN, learning rates decayed to 0", (("lr_decay", True),)),
        ("SN, critic width 512", (("critic_hidden_dim", 512),)),
        ("SN, batch 1000", (("batch_size", 1_000),)),
        ("GP, weight 10", (("lipschitz", "gradient_penalty"),)),
        ("GP, weight 1", (("lipschitz", "gradient_penalty"), ("gp_weight", 1.0))),
        ("GP, weight 0.1", (("lipschitz", "gradient_penalty"), ("gp_weight", 0.1))),
    )
    ablation_iterations: int = 6_000
    # The best variant, trained longer on the ring and the grid.
    long_variant: tuple = (("lipschitz", "gradient_penalty"), ("gp_weight", 0.1))
    long_iterations: int = 20_000
    # Beyond the homework: a wider generator, or both networks wider, for the long variant, on the
    # ring and grid (the width-100 reference is the long runs' snapshot at capacity_iterations; the
    # ablation varies the critic's width alone). Runs of equal widths train as one stack.
    capacity_targets: tuple[str, ...] = ("ring", "grid")
    capacity_variants: tuple = (
        (
            "GP 0.1, generator 400",
            (
                ("lipschitz", "gradient_penalty"),
                ("gp_weight", 0.1),
                ("hidden_dim", 400),
                ("critic_hidden_dim", 100),
            ),
        ),
        (
            "GP 0.1, both 400",
            (("lipschitz", "gradient_penalty"), ("gp_weight", 0.1), ("hidden_dim", 400)),
        ),
        (
            "GP 1, both 400",
            (("lipschitz", "gradient_penalty"), ("gp_weight", 1.0), ("hidden_dim", 400)),
        ),
    )
    capacity_iterations: int = 10_000

    QUICK = {
        "seeds": (1,),
        "iterations": 200,
        "eval_samples": 500,
        "ablation_iterations": 200,
        "long_iterations": 400,
        "capacity_iterations": 200,
        "floor_repeats": 2,
        "timing_iterations": 50,
        "workers": 1,
    }  # one process: starting workers costs more than it saves

    def __post_init__(self):
        from lib.gan.targets import TARGETS

        _changes("variants", self.variants)
        _changes("ablation_variants", self.ablation_variants)
        _changes("capacity_variants", self.capacity_variants)
        check_sequence(
            "capacity_targets",
            self.capacity_targets,
            lambda n, v: check_choice(n, v, TARGETS),
            unique=True,
        )
        _field_changes(
            "long_variant", self.long_variant, {f.name for f in dataclasses.fields(GANConfig)}
        )
        check_sequence(
            "targets", self.targets, lambda n, v: check_choice(n, v, TARGETS), unique=True
        )
        check_choice("ablation_target", self.ablation_target, TARGETS)
        check_sequence("seeds", self.seeds, lambda n, v: check_int(n, v, 0, 2**32 - 1), unique=True)
        _positive_ints(
            self,
            "iterations",
            "eval_samples",
            "workers",
            "ablation_iterations",
            "long_iterations",
            "floor_repeats",
            "timing_iterations",
            "capacity_iterations",
        )


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

    def __post_init__(self):
        from lib.optim.optimizers import OPTIMIZER_CLASSES

        check_sequence(
            "optimizers",
            self.optimizers,
            lambda n, v: check_choice(n, v, tuple(OPTIMIZER_CLASSES)),
            unique=True,
        )
        check_sequence(
            "learning_rates", self.learning_rates, lambda n, v: check_number(n, v, 0.0), unique=True
        )
        check_sequence("seeds", self.seeds, lambda n, v: check_int(n, v, 0, 2**32 - 1), unique=True)
        _positive_ints(
            self, "epochs", "batch_size", "hidden_dim", "trace_points_per_epoch", "workers"
        )
        _optional_positive_int("train_size", self.train_size)
        _optional_positive_int("test_size", self.test_size)


@dataclass(frozen=True)
class BenchmarkConfig(_Profiled):
    """How long the performance benchmarks measure (``python -m benchmarks``).

    Every figure is a ratio of two timings taken side by side in the same process, each repeated
    ``repeats`` times in alternation; the fastest is reported. The model and optimizer settings
    come from :class:`OptimizerGridConfig` and :class:`GANConfig`; only the sizes live here.
    """

    threads: int = 1  # torch intra-op threads while measuring: the grid trains runs single-threaded
    repeats: int = 5  # alternating repetitions of every timing (the fastest is kept)
    epoch_train_size: int | None = None  # images per measured epoch; None: all 60,000
    epoch_optimizer: str = (
        "SGD"  # optimizer of both loops: the base code's (lib.optim.optimizers name)
    )
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

        _positive_ints(self, "threads", "repeats", "matmul_size", "matmul_count", "optimizer_steps")
        _optional_positive_int("epoch_train_size", self.epoch_train_size)
        _optional_positive_int("gan_eval_samples", self.gan_eval_samples)
        _optional_positive_int("grid_epochs", self.grid_epochs)
        check_choice("epoch_optimizer", self.epoch_optimizer, tuple(OPTIMIZER_CLASSES))
        check_number("epoch_lr", self.epoch_lr, 0.0)
        short, long = check_sequence(
            "gan_iterations",
            self.gan_iterations,
            lambda n, v: check_int(n, v, minimum=1),
            min_length=2,
        )
        if len(self.gan_iterations) != 2 or not short < long:
            raise ValueError(
                f"gan_iterations must be two lengths, shorter first, got {self.gan_iterations!r}"
            )
