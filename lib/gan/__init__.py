"""Chapter 2 — Wasserstein GANs on mixtures of Gaussians (homework §1.2).

:mod:`~lib.gan.config` (settings), :mod:`~lib.gan.targets` (the mixtures and each run's seeded
draws), :mod:`~lib.gan.networks` (generator and critic with a run axis, spectral normalisation),
:mod:`~lib.gan.training` (objective, penalties, the trainer of one run or a stack of runs),
:mod:`~lib.gan.metrics` (modes, high-quality share, exact W1), :mod:`~lib.gan.study` (many runs,
stored and reloaded), :mod:`~lib.gan.report` (seed summaries and tables) and :mod:`~lib.gan.plots`.
"""
