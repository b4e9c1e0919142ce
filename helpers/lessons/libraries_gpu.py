"""Notebook 09: what only a GPU shows: the kernels each step launched, which library they came from
(read from their names), and which BLAS library PyTorch prefers for matrix products."""

from __future__ import annotations

import re

import torch

from ..engine.text import BilingualError

# Kernel names carry their library's mark. These patterns are read from the libraries' documentation
# and source (Tensile's "Cijk_" GEMMs in rocBLAS / hipBLASLt, MIOpen's and cuDNN's own names, PyTorch's
# at::native kernels); a name that matches none is reported as "?".
_KERNEL_LIBRARIES = [
    (re.compile(r"^Cijk_|tensile", re.IGNORECASE), {"rocm": "rocBLAS / hipBLASLt"}),
    (re.compile(r"miopen|igemm|naive_conv|gridwise_conv|winograd", re.IGNORECASE), {"rocm": "MIOpen"}),
    (re.compile(r"cudnn|xmma_fprop|xmma_dgrad|xmma_wgrad|implicit_convolve|fft_conv|winograd", re.IGNORECASE),
     {"cuda": "cuDNN"}),
    (re.compile(r"gemm|cublas|cutlass|nvjet|sm\d+_xmma", re.IGNORECASE),
     {"cuda": "cuBLAS / cuBLASLt", "rocm": "rocBLAS / hipBLASLt"}),
    (re.compile(r"memcpy|memset", re.IGNORECASE), {"cuda": "CUDA runtime", "rocm": "HIP"}),
    (re.compile(r"at::native|elementwise|reduce_kernel|vectorized|foreach|nll_loss|softmax", re.IGNORECASE),
     {"cuda": "PyTorch (CUDA)", "rocm": "PyTorch (HIP)"}),
]


def kernel_library(name: str, backend: str) -> str:
    """The library a GPU kernel most likely belongs to, guessed from its name; "?" when unsure."""
    if not isinstance(name, str):
        raise BilingualError(f"カーネルの名前は文字列です({type(name).__name__} が渡されました)。",
                             f"A kernel name is a string (got {type(name).__name__}).")
    for pattern, libraries in _KERNEL_LIBRARIES:
        if pattern.search(name) and backend in libraries:
            return libraries[backend]
    return "?"


def short_name(name: str, width: int = 60) -> str:
    """A kernel name cut to `width` characters (templated names run to hundreds)."""
    return name if len(name) <= width else name[: width - 1] + "…"


def kernel_lines(kernels: dict[str, dict[str, float]], backend: str, top: int = 3) -> list[str]:
    """For each step, its `top` longest GPU kernels: milliseconds, library (from the name), name."""
    lines = []
    for step, found in kernels.items():
        for name, seconds in sorted(found.items(), key=lambda item: -item[1])[:top]:
            lines.append(f"{step:<9} {1e3 * seconds:8.3f} ms  {kernel_library(name, backend):<20} {short_name(name)}")
    return lines


def preferred_blas(device) -> str | None:
    """torch.backends.cuda.preferred_blas_library() on a GPU, as a short name; None on a CPU.

    PyTorch picks hipBLASLt or rocBLAS on ROCm (by GPU architecture), cuBLAS / cuBLASLt on CUDA.
    The call answers even in a CPU-only build, where it means nothing, so only a GPU asks it.
    """
    if torch.device(device).type != "cuda":
        return None
    return str(torch.backends.cuda.preferred_blas_library()).rsplit(".", 1)[-1]
