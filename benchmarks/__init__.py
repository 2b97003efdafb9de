"""Performance benchmarks: ``python -m benchmarks`` (``make bench``) measures, prints a table and
writes ``benchmarks/results.json`` for the book's performance page.

:mod:`benchmarks.timing` (alternating timings, FLOP counts, the machine),
:mod:`benchmarks.measurements` (what is measured), :mod:`benchmarks.gan_iterations` (WGAN
iterations per second) and :mod:`benchmarks.results` (the file, the table, the page's figures).
"""
