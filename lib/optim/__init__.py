"""Chapter 3 — the homework's optimizers as ``torch.optim.Optimizer`` subclasses (§2).

See :mod:`~lib.optim.optimizers` (SGD, momentum, RMSProp, AMSGrad, Adagrad and Adam) and
:mod:`~lib.optim.base` (the machinery they share: validation, lazy state, the fused step);
:mod:`~lib.optim.replay` replays them against the homework's pseudocode.
"""
