"""Chapter 3 — the MNIST benchmark of the optimizers (homework §2).

:mod:`~lib.mnist.data` (MNIST as tensors), :mod:`~lib.mnist.training` (model, epochs, one run),
:mod:`~lib.mnist.grid` (every run of the grid),
:mod:`~lib.mnist.store` (stored runs), :mod:`~lib.mnist.report` (tables and rankings) and
:mod:`~lib.mnist.plots` (figures).
"""
