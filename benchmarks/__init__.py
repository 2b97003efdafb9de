"""Performance benchmarks of the project: ``python -m benchmarks`` prints a table and writes JSON.

Each figure is a ratio of timings taken side by side in one process, so that machine noise
largely cancels:

* :mod:`benchmarks.timing` — alternating timings, FLOP counts, the machine's description;
* :mod:`benchmarks.measurements` — one MNIST epoch against the ``DataLoader`` loop and the
  arithmetic limit, each optimizer step against ``torch.optim``'s fused step, the homework grid
  against its arithmetic limit, processes against threads on the cores;
* :mod:`benchmarks.gan_iterations` — WGAN iterations per second, separate and stacked;
* :mod:`benchmarks.results` — the JSON file, the summary table, wall times of whole tasks and
  the figures the book's performance page quotes.
"""
