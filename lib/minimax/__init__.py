"""Chapter 1 — the bilinear game f(x, y) = (x − 1)(y − 1): symbolic analysis and GDA variants.

:mod:`~lib.minimax.analysis` holds the sympy derivations and the iterations of simultaneous,
alternating, extragradient and optimistic GDA; :mod:`~lib.minimax.plots` draws them.
"""
