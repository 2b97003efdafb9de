"""Chapter 3 — the MNIST benchmark of the optimizers (homework §2).

:mod:`~lib.mnist.data` (MNIST as tensors), :mod:`~lib.mnist.training` (model, epochs, one run),
:mod:`~lib.mnist.grid` (every run of the grid, stored in :mod:`lib.cache`),
:mod:`~lib.mnist.report` (tables and rankings) and :mod:`~lib.mnist.plots` (figures).
"""
