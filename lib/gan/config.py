"""The WGAN experiments' settings (homework §1.2): one run, and a study of many."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from lib.config import _Profiled, distinct, is_int, is_number, positive_ints, require

# built by lib.gan.targets.make_target: the homework's part, then PacGAN's two targets
TARGETS = ("two_gaussians", "ring", "grid", "pacgan_ring", "pacgan_grid")
LIPSCHITZ_METHODS = (
    "spectral_normalisation",  # W <- W / sigma(W) after every critic step (Miyato et al. 2018)
    "spectral_regularisation",  # penalty (lambda/2) sum sigma(W)^2 (Yoshida & Miyato 2017)
    "weight_clipping",  # every parameter clamped to [-c, c] (Arjovsky et al. 2017)
    "gradient_penalty",  # penalty lambda E(|grad d| - 1)^2 (Gulrajani et al. 2017)
)
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class GANConfig(_Profiled):
    """One WGAN training run on a mixture of Gaussians (homework §1.2).

    Defaults are the course's base code (batch 200, Adam lr 1e-3 with betas (0, 0.9), one hidden
    layer of width 100, clipping constant 1e-2, seed 1, one generator step every 5 critic steps),
    except ``iterations``, which the base code set too low for the targets to be learnt.
    """

    target: str = "two_gaussians"  # one of TARGETS
    lipschitz: str = "spectral_normalisation"  # one of LIPSCHITZ_METHODS
    iterations: int = 20_000  # critic steps; the generator steps on every n_critic-th
    n_critic: int = 5  # generator step when k mod n_critic == 0
    batch_size: int = 200
    # n of eq. 2's μ̂_n: target samples drawn once per run, minibatches drawn uniformly from them.
    # PacGAN's 10^5: its W1 to the target is far below the evaluation's noise floor.
    train_samples: int = 100_000
    lr: float = 1e-3
    betas: tuple[float, float] = (0.0, 0.9)
    noise_dim: int = 2
    hidden_dim: int = 100
    critic_hidden_dim: int | None = None  # critic width; None: hidden_dim, as in the base code
    depth: int = 1  # hidden layers of both networks (1: the homework's networks)
    lr_decay: bool = False  # True: both learning rates decay linearly to zero over the run
    clip: float = 1e-2  # weight-clipping constant c
    gp_weight: float = 10.0  # gradient-penalty weight (Gulrajani et al. 2017)
    sr_weight: float = 1e-2  # spectral-norm regularisation weight
    seed: int = 1
    snapshot_every: int = 2_000  # iterations between recorded metrics and samples
    eval_samples: int = 2_000  # generated and target samples behind each snapshot's metrics
    num_threads: int = 1  # torch threads: one is fastest for these tiny networks

    QUICK = {"iterations": 600, "snapshot_every": 200, "eval_samples": 500}

    def __post_init__(self):
        require(self.target in TARGETS, "target", self.target, f"one of {TARGETS}")
        require(
            self.lipschitz in LIPSCHITZ_METHODS, "lipschitz", self.lipschitz, "a Lipschitz method"
        )
        positive_ints(self, "iterations", "n_critic", "batch_size", "noise_dim", "hidden_dim")
        positive_ints(self, "train_samples")
        positive_ints(self, "depth", "snapshot_every", "eval_samples", "num_threads")
        positive_ints(self, "critic_hidden_dim", optional=True)
        # A rate beyond the float32 range overflows the float32 parameters' first step.
        require(is_number(self.lr, strict=True, maximum=3.4e38), "lr", self.lr, "positive")
        require(is_number(self.clip, strict=True), "clip", self.clip, "a positive number")
        for name in ("gp_weight", "sr_weight"):
            require(is_number(getattr(self, name)), name, getattr(self, name), "a number >= 0")
        b = self.betas
        ok = isinstance(b, tuple) and len(b) == 2 and all(is_number(x) and x < 1 for x in b)
        require(ok, "betas", b, "a pair of numbers in [0, 1)")
        require(isinstance(self.lr_decay, bool), "lr_decay", self.lr_decay, "True or False")
        require(is_int(self.seed, 0, MAX_SEED), "seed", self.seed, f"an integer in [0, {MAX_SEED}]")


def _check_variants(name: str, variants) -> None:
    """``variants`` is a tuple of ``(label, ((GANConfig field, value), ...))`` with unique labels;
    the values are checked by building a GANConfig from them."""
    require(isinstance(variants, tuple), name, variants, "a tuple of (label, changes) pairs")
    for i, variant in enumerate(variants):
        ok = isinstance(variant, tuple) and len(variant) == 2 and isinstance(variant[0], str)
        require(ok, f"{name}[{i}]", variant, "a pair (label, changes)")
        _check_changes(f"{name}[{i}]", variant[1])
    labels = [label for label, _ in variants]
    require(len(set(labels)) == len(labels), name, labels, "labelled without repeats")


def _check_changes(name: str, changes) -> None:
    fields = {f.name for f in dataclasses.fields(GANConfig)}
    ok = isinstance(changes, tuple) and all(
        isinstance(c, tuple) and len(c) == 2 and c[0] in fields for c in changes
    )
    require(ok, name, changes, "a tuple of (GANConfig field, value) pairs")
    try:  # the values too: a bad one fails here, not when its runs start
        GANConfig(**dict(changes))
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None


def _check_targets(name: str, targets) -> None:
    distinct(name, targets, TARGETS.__contains__, f"names from {TARGETS}")


def _check_seeds(seeds) -> None:
    distinct("seeds", seeds, lambda s: is_int(s, 0, MAX_SEED), f"integers in [0, {MAX_SEED}]")


@dataclass(frozen=True)
class GANComparisonConfig(_Profiled):
    """The graded page's comparison of the Lipschitz constraints: variants × targets × seeds.

    Each variant is a label and the GANConfig fields it changes; every other field keeps the base
    code's value. Every variant is trained on each target from each of ``seeds``.
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
    iterations: int = 14_000  # critic steps per run (its SN runs are the homework's); budget-sized
    snapshot_every: int = 2_000  # iterations between recorded metrics and samples
    eval_samples: int = 1_000  # samples behind each snapshot's metrics (the exact W1 is costly)
    workers: int = 2  # processes training stacks in parallel
    # one process: starting workers costs more than it saves
    QUICK = {"seeds": (1,), "iterations": 300, "snapshot_every": 100, "eval_samples": 500,
             "workers": 1}  # fmt: skip

    def __post_init__(self):
        _check_variants("variants", self.variants)
        _check_targets("targets", self.targets)
        _check_seeds(self.seeds)
        positive_ints(self, "iterations", "snapshot_every", "eval_samples", "workers")

    def settings(self) -> dict:
        """The GANConfig fields every run of the comparison shares (variants change more)."""
        return {k: getattr(self, k) for k in ("iterations", "snapshot_every", "eval_samples")}


@dataclass(frozen=True)
class GANQualityConfig(_Profiled):
    """The study beyond the homework: deeper networks trained on PacGAN's two targets towards its
    published quality, every target from every seed in one stack (split over the workers)."""

    seeds: tuple[int, ...] = (1, 2, 3)
    eval_samples: int = 1_000  # samples behind each snapshot's metrics (the exact W1 is costly)
    workers: int = 2  # processes training stacks in parallel
    quality_targets: tuple[str, ...] = ("pacgan_ring", "pacgan_grid")
    # The setting of the quality runs: GP 0.1, learning rates decayed linearly to 0.
    quality_variant: tuple = (("lipschitz", "gradient_penalty"), ("gp_weight", 0.1),
                              ("lr_decay", True))  # fmt: skip
    snapshots: int = 10  # snapshots along each run, evenly spaced
    deep_iterations: int = 15_000  # sized to the pages' time budget
    deep_depth: int = 3  # hidden layers of both networks
    deep_width: int = 128  # their width
    deep_lr: float = 1e-3  # both players' learning rate

    QUICK = {"seeds": (1, 2), "eval_samples": 500, "workers": 1, "deep_iterations": 200,
             "snapshots": 4}  # fmt: skip

    def __post_init__(self):
        _check_seeds(self.seeds)
        _check_targets("quality_targets", self.quality_targets)
        _check_changes("quality_variant", self.quality_variant)
        positive_ints(self, "eval_samples", "workers", "snapshots", "deep_depth")
        positive_ints(self, "deep_iterations", "deep_width")
        ok = is_number(self.deep_lr, strict=True, maximum=1.0)
        require(ok, "deep_lr", self.deep_lr, "in (0, 1]")

    def deep_settings(self) -> dict:
        """GANConfig fields of the quality runs (all but target and seed)."""
        every = max(1, self.deep_iterations // self.snapshots)
        run = {"iterations": self.deep_iterations, "snapshot_every": every}
        deep = {"depth": self.deep_depth, "hidden_dim": self.deep_width, "lr": self.deep_lr}
        return dict(self.quality_variant) | deep | run | {"eval_samples": self.eval_samples}
