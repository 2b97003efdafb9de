"""Performance benchmarks of the project: ``python -m benchmarks`` prints a table and writes JSON.

Each figure is a ratio of two timings taken side by side in one process, so that machine noise
largely cancels:

* :mod:`benchmarks.mnist_epoch`: one MNIST training epoch of the project's loop against the
  ``DataLoader`` + ``ToTensor`` loop of the course's base code and against the arithmetic limit
  (the epoch's matmul FLOPs, :mod:`benchmarks.flops`, over the measured matmul throughput);
* :mod:`benchmarks.optimizer_step`: one step of each hand-written optimizer against its
  ``torch.optim`` counterpart on the MNIST model's parameters;
* :mod:`benchmarks.gan_iterations`: WGAN training iterations per second per Lipschitz method;
* :mod:`benchmarks.wall_times`: wall times of the optimizer grid (from its stored runs) and of
  commands timed or recorded on request (``make test``, the book build).

:mod:`benchmarks.results` stores the figures as JSON and formats them as a table; the book's
performance page reads that file.
"""
