"""The WGAN experiments' settings (homework §1.2): one run, and a study of many.

Each dataclass checks its fields when it is built and raises a ValueError naming the field; the
code that trains a run trusts them. ``for_profile()`` gives the ``quick`` or ``full`` instance.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from lib.config import _Profiled

TARGETS = ("two_gaussians", "ring", "grid")  # built by lib.gan.targets.make_target
LIPSCHITZ_METHODS = (
    "spectral_normalisation",  # W <- W / sigma(W) after every critic step (Miyato et al. 2018)
    "spectral_regularisation",  # penalty (lambda/2) sum sigma(W)^2 (Yoshida & Miyato 2017)
    "weight_clipping",  # every parameter clamped to [-c, c] (Arjovsky et al. 2017)
    "gradient_penalty",  # penalty lambda E(|grad d| - 1)^2 (Gulrajani et al. 2017)
)
MAX_SEED = 2**32 - 1


def _require(ok: bool, name: str, value, what: str) -> None:
    if not ok:
        raise ValueError(f"{name} must be {what}, got {value!r}")


def _is_int(value, minimum: int = 1, maximum: float = math.inf) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and minimum <= value <= maximum


def _is_number(value, minimum: float = 0.0, strict: bool = False, maximum=math.inf) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return False
    return (value > minimum if strict else value >= minimum) and value <= maximum


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
    snapshot_every: int = 1_000  # iterations between recorded metrics and samples
    eval_samples: int = 2_000  # generated and target samples behind each snapshot's metrics
    num_threads: int = 1  # torch threads: one is fastest for these tiny networks

    QUICK = {"iterations": 600, "snapshot_every": 200, "eval_samples": 500}

    def __post_init__(self):
        _require(self.target in TARGETS, "target", self.target, f"one of {TARGETS}")
        _require(
            self.lipschitz in LIPSCHITZ_METHODS, "lipschitz", self.lipschitz, "a Lipschitz method"
        )
        for name in ("iterations", "n_critic", "batch_size", "noise_dim", "hidden_dim", "depth"):
            _require(_is_int(getattr(self, name)), name, getattr(self, name), "a positive integer")
        for name in ("snapshot_every", "eval_samples", "num_threads"):
            _require(_is_int(getattr(self, name)), name, getattr(self, name), "a positive integer")
        width = self.critic_hidden_dim
        _require(width is None or _is_int(width), "critic_hidden_dim", width, "None or positive")
        # A rate beyond the float32 range overflows the float32 parameters' first step.
        _require(_is_number(self.lr, strict=True, maximum=3.4e38), "lr", self.lr, "positive")
        _require(_is_number(self.clip, strict=True), "clip", self.clip, "a positive number")
        for name in ("gp_weight", "sr_weight"):
            value = getattr(self, name)
            _require(_is_number(value), name, value, "a non-negative number")
        betas = self.betas
        _require(
            isinstance(betas, tuple)
            and len(betas) == 2
            and all(_is_number(b) and b < 1 for b in betas),
            "betas",
            betas,
            "a pair of numbers in [0, 1)",
        )
        _require(isinstance(self.lr_decay, bool), "lr_decay", self.lr_decay, "True or False")
        _require(
            _is_int(self.seed, 0, MAX_SEED), "seed", self.seed, f"an integer in [0, {MAX_SEED}]"
        )


def _check_variants(name: str, variants) -> None:
    """``variants`` is a tuple of ``(label, ((GANConfig field, value), ...))`` with unique labels;
    the values are checked by building a GANConfig from them."""
    _require(isinstance(variants, tuple), name, variants, "a tuple of (label, changes) pairs")
    for i, variant in enumerate(variants):
        ok = isinstance(variant, tuple) and len(variant) == 2 and isinstance(variant[0], str)
        _require(ok, f"{name}[{i}]", variant, "a pair (label, changes)")
        _check_changes(f"{name}[{i}]", variant[1])
    labels = [label for label, _ in variants]
    _require(len(set(labels)) == len(labels), name, labels, "labelled without repeats")


def _check_changes(name: str, changes) -> None:
    fields = {f.name for f in dataclasses.fields(GANConfig)}
    ok = isinstance(changes, tuple) and all(
        isinstance(c, tuple) and len(c) == 2 and c[0] in fields for c in changes
    )
    _require(ok, name, changes, "a tuple of (GANConfig field, value) pairs")
    try:  # the values too: a bad one fails here, not when its runs start
        GANConfig(**dict(changes))
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None


def _check_targets(name: str, targets) -> None:
    ok = isinstance(targets, tuple) and len(set(targets)) == len(targets) > 0
    _require(ok and set(targets) <= set(TARGETS), name, targets, f"distinct names from {TARGETS}")


@dataclass(frozen=True)
class GANComparisonConfig(_Profiled):
    """The chapter's studies: variants × targets × seeds, each run a :class:`GANConfig`.

    Each variant is a label and the GANConfig fields it changes; every other field keeps the base
    code's value. Every study trains each of its variants from each of ``seeds``.
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
    workers: int = 2  # processes training stacks in parallel
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
    # One variant trained longer on the ring and the grid, with snapshots along the way.
    long_variant: tuple = (("lipschitz", "gradient_penalty"), ("gp_weight", 0.1))
    long_iterations: int = 20_000
    # Wider networks for the long variant on the ring and grid.
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
        for name in ("variants", "ablation_variants", "capacity_variants"):
            _check_variants(name, getattr(self, name))
        _check_changes("long_variant", self.long_variant)
        _check_targets("targets", self.targets)
        _check_targets("capacity_targets", self.capacity_targets)
        _check_targets("ablation_target", (self.ablation_target,))
        seeds = self.seeds
        ok = isinstance(seeds, tuple) and len(set(seeds)) == len(seeds) > 0
        what = f"distinct integers in [0, {MAX_SEED}]"
        _require(ok and all(_is_int(s, 0, MAX_SEED) for s in seeds), "seeds", seeds, what)
        for name in (
            "iterations",
            "eval_samples",
            "workers",
            "ablation_iterations",
            "long_iterations",
            "floor_repeats",
            "timing_iterations",
            "capacity_iterations",
        ):
            _require(_is_int(getattr(self, name)), name, getattr(self, name), "a positive integer")
