"""Figures of the book's performance page, drawn from a results dict."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def plot_optimizer_steps(results: dict):
    """Grouped bars: microseconds per step of each optimizer, hand-written and ``torch.optim``,
    on the default path and on the multi-tensor (foreach) path. Returns the figure."""
    entries = results["optimizer_step"]
    names = [entry["optimizer"] for entry in entries]
    series = (("ours", "lib.optim.optimizers"), ("torch", "torch.optim"),
              ("ours_foreach", "lib.optim.optimizers, foreach"), ("torch_foreach", "torch.optim, foreach"))
    x = np.arange(len(names))
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(8, 3.6))
    for i, (key, label) in enumerate(series):
        values = [entry["seconds_per_step"][key] * 1e6 for entry in entries]
        ax.bar(x + (i - (len(series) - 1) / 2) * width, values, width, label=label)
    ax.set_xticks(x, names)
    ax.set_ylabel("µs per step")
    ax.set_title(f"One step on the MNIST model's {entries[0]['parameters']:,} parameters")
    ax.legend(ncols=2, fontsize="small")
    fig.tight_layout()
    return fig
