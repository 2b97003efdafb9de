"""Code behind the book: minimax games, spectrally normalised WGANs and hand-written optimizers.

One subpackage per chapter — :mod:`lib.minimax`, :mod:`lib.gan` (with its settings in
:mod:`lib.gan.config`), :mod:`lib.optim` with :mod:`lib.mnist` — and one module per shared
concern: :mod:`lib.config` (profiles ``BOOK_PROFILE`` = ``full`` or ``quick``, paths, the MNIST
and benchmark settings, the field checks every settings class uses), :mod:`lib.cache` (stored
runs), :mod:`lib.stats` (statistics over seeds), :mod:`lib.progress` (progress of long
experiments), :mod:`lib.runtime` (device, seeding, threads, worker processes) and
:mod:`lib.report` (tables and the graded code shown in the chapters).
"""
