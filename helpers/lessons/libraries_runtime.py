"""Notebook 09: what the runtime does around the kernels: the convolution solver chosen on the first
call (MIOpen / cuDNN) and the memory the caching allocator holds."""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable

import torch

from ..engine.device import synchronize
from ..engine.text import BilingualError
from .libraries_profile import _check_count

# --- Memory -------------------------------------------------------------------------------------

def tensor_bytes(tensor) -> int:
    """Bytes a tensor's numbers take: numel (how many) x element_size (bytes each: 4 for float32)."""
    if not isinstance(tensor, torch.Tensor):
        raise BilingualError(f"torch.Tensor を渡します({type(tensor).__name__} が渡されました)。",
                             f"Pass a torch.Tensor (got {type(tensor).__name__}).")
    return tensor.numel() * tensor.element_size()


def cuda_memory_during(fn: Callable[[], object], device) -> dict[str, int] | None:
    """What PyTorch's GPU memory manager saw while fn() ran; None on a CPU or Apple MPS.

    peak: most bytes in use at once above the start; device_mallocs: new blocks asked of HIP / CUDA;
    allocations: tensors handed out from PyTorch's cache.
    """
    device = torch.device(device)
    if device.type != "cuda":
        return None
    torch.cuda.synchronize(device)
    start = torch.cuda.memory_stats(device)
    before = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    fn()
    torch.cuda.synchronize(device)
    end = torch.cuda.memory_stats(device)
    return {
        "before": before,
        "after": torch.cuda.memory_allocated(device),
        "peak": torch.cuda.max_memory_allocated(device) - before,
        "reserved": torch.cuda.memory_reserved(device),
        "device_mallocs": end.get("segment.all.allocated", 0) - start.get("segment.all.allocated", 0),
        "allocations": end.get("allocation.all.allocated", 0) - start.get("allocation.all.allocated", 0),
    }


@contextlib.contextmanager
def conv_benchmark(enabled: bool = True):
    """torch.backends.cudnn.benchmark switched on (or off) inside the block, as it was afterwards.

    On NVIDIA it lets cuDNN time its algorithms; ROCm builds route the same switch to MIOpen's search.
    """
    saved = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = bool(enabled)
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = saved


def conv_library_version() -> str | None:
    """cuDNN's version number on NVIDIA, MIOpen's on ROCm (both reach PyTorch as torch.backends.cudnn)."""
    try:
        version = torch.backends.cudnn.version()
    except Exception:  # a build without either library: there is simply no version to show
        return None
    return None if version is None else str(version)


def first_and_rest(fn: Callable[[], object], device, repeats: int = 5) -> tuple[float, float]:
    """Seconds of the first call of fn and the median of the next `repeats` calls."""
    repeats = _check_count(repeats, "repeats", 1)
    device = torch.device(device)
    times = []
    for _ in range(repeats + 1):
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return times[0], statistics.median(times[1:])
