"""Chapter 3: the MNIST benchmark of the optimizers (homework §2)."""
