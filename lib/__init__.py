"""Code behind the book: minimax games, spectrally normalised WGANs and hand-written optimizers."""
