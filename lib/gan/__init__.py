"""Chapter 2 — Wasserstein GANs on mixtures of Gaussians (homework §1.2).

:mod:`~lib.gan.networks` (generator, critic, spectral normalisation), :mod:`~lib.gan.targets`
(the mixtures), :mod:`~lib.gan.sampling` (each run's seeded draws), :mod:`~lib.gan.training`
(objective, penalties, the single-run reference trainer), :mod:`~lib.gan.stacked` (many runs
trained as one), :mod:`~lib.gan.store` (finished runs stored and reloaded),
:mod:`~lib.gan.metrics` (modes, high-quality share, exact W1), :mod:`~lib.gan.comparison`
(many runs over methods and seeds) and :mod:`~lib.gan.plots`.
"""
