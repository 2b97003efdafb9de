"""Where the benchmarks run: the device, and a description of the machine for the results."""

from __future__ import annotations

import os
import platform

import torch

from lib.runtime import training_device


def pick_device() -> torch.device:
    """The device every benchmark uses: the one the training code uses (lib.runtime)."""
    return training_device()


def cpu_model() -> str:
    """The CPU's model name as Linux reports it (``platform.processor()`` elsewhere)."""
    try:
        with open("/proc/cpuinfo") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def describe(device: torch.device, threads: int) -> dict:
    """The facts a reader needs to compare two result files."""
    return {
        "device": str(device),
        "device_name": (torch.cuda.get_device_name(device) if device.type == "cuda"
                        else cpu_model()),
        "cuda_available": torch.cuda.is_available(),
        "cpu_cores": os.cpu_count(),
        "torch_threads": threads,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
