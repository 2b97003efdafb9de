"""Code behind the book: minimax games, spectrally normalised WGANs and hand-written optimizers.

One subpackage per chapter — :mod:`lib.minimax`, :mod:`lib.gan`, :mod:`lib.optim` with
:mod:`lib.mnist` — and one module per shared concern: :mod:`lib.config` (every experiment's
settings, ``BOOK_PROFILE`` = ``full`` or ``quick``), :mod:`lib.runtime` (device, seeding,
threads, worker processes), :mod:`lib.validation` (argument checks) and :mod:`lib.report`
(tables and numbers quoted in the prose).
"""
