"""Chapter 2: Wasserstein GANs on mixtures of Gaussians (homework §1.2)."""
