"""Chapter 3: the homework's optimizers as ``torch.optim.Optimizer`` subclasses (§2)."""
