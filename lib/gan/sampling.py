"""Each run's own random numbers, drawn in blocks: the same draws however runs are grouped.

A WGAN iteration draws a real minibatch (mode indices and Gaussian offsets), the noise behind the
critic's fake minibatch, the noise behind the generator's step and, for the gradient penalty, the
interpolation weights. :class:`RunSampler` draws them from a ``torch.Generator`` seeded with the
run's seed, ``block`` iterations at a time (one call per quantity per block rather than per
iteration, which is what makes the draws cheap for these tiny networks). The single-run trainer and
the stacked trainer both read their minibatches from it, so a run sees the same numbers whether
it trains alone or stacked with others, and its stored result does not depend on its neighbours.

Snapshots draw their evaluation samples from a second generator (:func:`evaluation_generator`),
so that taking a snapshot does not shift the training stream.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lib.gan.targets import GaussianMixture
from lib.validation import check_int

BLOCK = 100  # iterations drawn per call: large enough to amortise the calls, small in memory
EVALUATION_STREAM = 2**32  # added to the seed for the evaluation generator (seeds are < 2**32)


def evaluation_generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """The generator behind a run's snapshots: seeded apart from its training stream."""
    return torch.Generator(device).manual_seed(seed + EVALUATION_STREAM)


def sample_mixture(
    target: GaussianMixture, shape: tuple[int, ...], generator: torch.Generator, dtype=torch.float32
) -> torch.Tensor:
    """Samples of the mixture, shape ``(*shape, dim)``: a uniform mode, plus std × N(0, I)."""
    means = target.means.to(device=generator.device, dtype=dtype)
    modes = torch.randint(target.n_modes, shape, generator=generator, device=generator.device)
    offsets = torch.randn(
        (*shape, target.dim), generator=generator, device=generator.device, dtype=dtype
    )
    return means[modes] + target.std * offsets


def sample_noise(
    noise_dim: int, shape: tuple[int, ...], generator: torch.Generator, dtype=torch.float32
) -> torch.Tensor:
    """Standard normal noise of shape ``(*shape, noise_dim)``."""
    return torch.randn(
        (*shape, noise_dim), generator=generator, device=generator.device, dtype=dtype
    )


@dataclass
class Draws:
    """One iteration's random numbers (views into the current block)."""

    real: torch.Tensor  # (batch, dim) target samples
    critic_noise: torch.Tensor  # (batch, noise_dim): noise behind the critic's fake minibatch
    generator_noise: torch.Tensor  # (batch, noise_dim): noise behind the generator's step
    mix: torch.Tensor  # (batch, 1): interpolation weights of the gradient penalty


class RunSampler:
    """The training draws of one run, iteration by iteration, from its own seeded generator.

    The draws are made on the CPU and each block is then moved to ``device``: a run sees the same
    numbers on every device (a CUDA generator would give others).
    """

    def __init__(
        self,
        target: GaussianMixture,
        noise_dim: int,
        batch_size: int,
        seed: int,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        block: int = BLOCK,
    ):
        self.target = target
        self.noise_dim = check_int("noise_dim", noise_dim, minimum=1)
        self.batch_size = check_int("batch_size", batch_size, minimum=1)
        self.block = check_int("block", block, minimum=1)
        self.dtype, self.device = dtype, torch.device(device)
        self.generator = torch.Generator().manual_seed(check_int("seed", seed, minimum=0))
        self._blocks: tuple[torch.Tensor, ...] = ()
        self._start = None  # first iteration of the current block

    def blocks(self, k: int) -> tuple[torch.Tensor, ...]:
        """The block holding iteration ``k``: real, critic noise, generator noise, mix, each with
        a leading axis of ``block`` iterations. Iterations must be asked for in order."""
        start = k - k % self.block
        if start != self._start:
            if self._start is not None and start != self._start + self.block:
                raise ValueError(
                    f"iterations must be drawn in order, got {k} after block {self._start}"
                )
            shape, g = (self.block, self.batch_size), self.generator
            blocks = (
                sample_mixture(self.target, shape, g, self.dtype),
                sample_noise(self.noise_dim, shape, g, self.dtype),
                sample_noise(self.noise_dim, shape, g, self.dtype),
                torch.rand((*shape, 1), generator=g, dtype=self.dtype),
            )
            self._blocks = tuple(b.to(self.device) for b in blocks)
            self._start = start
        return self._blocks

    def draws(self, k: int) -> Draws:
        """Iteration ``k``'s draws."""
        i = k % self.block
        return Draws(*(b[i] for b in self.blocks(k)))
