"""Counting the arithmetic of training a multilayer perceptron.

A linear layer ``in → out`` applied to a minibatch of ``B`` examples costs three matrix products
per training step, each of ``2 · B · in · out`` floating-point operations (a multiply and an add
per term):

* forward, ``X W^T``: ``(B × in) @ (in × out)``;
* the weight gradient, ``G^T X``: ``(out × B) @ (B × in)``;
* the input gradient, ``G W``: ``(B × out) @ (out × in)`` — not computed for the first layer,
  whose input (the images) needs no gradient.

Biases, activations and the loss cost ``O(B · width)`` and are left out: for the MNIST model
they are below 0.5 % of the total.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn


@dataclass(frozen=True)
class Matmul:
    """One matrix product ``(m × k) @ (k × n)``; a ``*_transposed`` operand is stored as the
    transpose of a contiguous matrix, the layout autograd hands to the matmul kernel."""

    m: int
    k: int
    n: int
    a_transposed: bool = False
    b_transposed: bool = False

    @property
    def flops(self) -> int:
        return 2 * self.m * self.k * self.n


def linear_layers(model: nn.Module) -> list[nn.Linear]:
    """The model's ``nn.Linear`` layers in the order they are applied (module order)."""
    layers = [module for module in model.modules() if isinstance(module, nn.Linear)]
    if not layers:
        raise ValueError(f"model must contain nn.Linear layers, got {type(model).__name__} "
                         f"with none")
    return layers


def training_matmuls(model: nn.Module, batch_size: int) -> list[Matmul]:
    """Every matrix product of one training step (forward and backward) on ``batch_size``
    examples, in the order: forward of each layer, then the backward products last to first."""
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    layers = linear_layers(model)
    forward = [Matmul(batch_size, layer.in_features, layer.out_features, b_transposed=True)
               for layer in layers]  # X @ W^T
    backward = []
    for index in reversed(range(len(layers))):
        d_in, d_out = layers[index].in_features, layers[index].out_features
        backward.append(Matmul(d_out, batch_size, d_in, a_transposed=True))  # G^T @ X
        if index > 0:
            backward.append(Matmul(batch_size, d_out, d_in))  # G @ W, for the layer below
    return forward + backward


def training_flops(model: nn.Module, batch_size: int) -> int:
    """Matmul FLOPs of one training step on ``batch_size`` examples."""
    return sum(product.flops for product in training_matmuls(model, batch_size))


def epoch_batches(n_examples: int, batch_size: int) -> list[int]:
    """Minibatch sizes of one epoch: full batches, then the remainder if any."""
    for name, value in (("n_examples", n_examples), ("batch_size", batch_size)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    full, rest = divmod(n_examples, batch_size)
    return [batch_size] * full + ([rest] if rest else [])


def epoch_flops(model: nn.Module, n_examples: int, batch_size: int) -> int:
    """Matmul FLOPs of one training epoch over ``n_examples`` in minibatches of ``batch_size``."""
    return sum(training_flops(model, size) for size in epoch_batches(n_examples, batch_size))
