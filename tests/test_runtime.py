"""The training device is chosen in one place, lib.runtime."""

import pytest
import torch

from lib.runtime import cpu_threads, training_device


def test_default_is_cuda_when_available_else_cpu(monkeypatch):
    monkeypatch.delenv("BOOK_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert training_device().type == expected


def test_cpu_can_be_forced(monkeypatch):
    monkeypatch.setenv("BOOK_DEVICE", "CPU")
    assert training_device() == torch.device("cpu")


@pytest.mark.parametrize("value", ["gpu", "mps", "cuda:x"])
def test_unknown_device_is_refused(monkeypatch, value):
    monkeypatch.setenv("BOOK_DEVICE", value)
    with pytest.raises(ValueError, match="BOOK_DEVICE"):
        training_device()


@pytest.mark.skipif(torch.cuda.is_available(), reason="only meaningful without a GPU")
def test_cuda_without_a_gpu_is_refused(monkeypatch):
    monkeypatch.setenv("BOOK_DEVICE", "cuda")
    with pytest.raises(ValueError, match="no CUDA device"):
        training_device()


def _flushed() -> bool:
    # 1e-39 is subnormal in float32: kept by IEEE arithmetic, read as 0 when flushing.
    return (torch.tensor(1e-39, dtype=torch.float32) * 1.0).item() == 0.0


def test_cpu_threads_flushes_subnormals_until_the_outermost_block_ends():
    threads = torch.get_num_threads()
    assert not _flushed()
    with cpu_threads(1):
        assert _flushed() and torch.get_num_threads() == 1
        with cpu_threads(2):
            assert _flushed() and torch.get_num_threads() == 2
        assert _flushed() and torch.get_num_threads() == 1  # the inner block ended, not this one
    assert not _flushed() and torch.get_num_threads() == threads
