"""Code behind the book: minimax games, spectrally normalised WGANs and hand-written optimizers.

One module per concern; the notebooks in ``book/`` import from here. Experiment sizes are chosen
in :mod:`lib.config` through the ``BOOK_PROFILE`` environment variable (``full`` or ``quick``).
"""
