"""Notebook 09: floating-point operations of a training step, and GFLOP/s of matrix products by size."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterable
from numbers import Real

import torch
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator
from torch import nn

from ..engine import forward
from ..engine.device import synchronize
from ..engine.text import BilingualError, bi
from .libraries_profile import _check_count, _model_device
from .style import role, series

# --- Forward vs backward work --------------------------------------------------------------------

def training_flops(model: nn.Module, X) -> dict[str, int]:
    """Multiply-add work (2 per multiply-add) of the Conv2d and Linear layers: forward and backward.

    Backward computes, per layer, the weights' gradient (as much work as the forward) and the input's
    gradient (as much again), except for the first layer, whose input (the data) needs no gradient.
    """
    if not isinstance(X, torch.Tensor):
        raise BilingualError(f"X は torch.Tensor です({type(X).__name__} が渡されました)。",
                             f"X must be a torch.Tensor (got {type(X).__name__}).")
    _model_device(model)
    forward.check_input(model, X)
    per_layer: list[int] = []

    def count(layer, inputs, output):
        if isinstance(layer, nn.Conv2d):
            k = layer.in_channels // layer.groups * layer.kernel_size[0] * layer.kernel_size[1]
            per_layer.append(2 * output.numel() * k)
        elif isinstance(layer, nn.Linear):
            per_layer.append(2 * output.numel() * layer.in_features)

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        with torch.no_grad():
            model(X)  # (batch, outputs)
    finally:
        for h in hooks:
            h.remove()
    fwd = sum(per_layer)
    bwd = 2 * fwd - (per_layer[0] if per_layer else 0)  # the first layer skips its input's gradient
    return {"forward": fwd, "backward": bwd}


# --- Matrix-product speed -----------------------------------------------------------------------

def matmul_flops(n: int) -> int:
    """Arithmetic operations of an (n, n) @ (n, n) product: n * n outputs, n multiply-adds each."""
    n = _check_count(n, "n", 1)
    return 2 * n ** 3


def gflops(n: int, seconds: float) -> float:
    """Achieved speed in GFLOP/s: 2 n^3 operations done in `seconds`."""
    if not isinstance(seconds, Real) or not seconds > 0:
        raise BilingualError(f"seconds は 0 より大きい数です({seconds!r} が渡されました)。",
                             f"seconds must be a number above 0 (got {seconds!r}).")
    return matmul_flops(n) / seconds / 1e9


def matmul_seconds(n: int, device, repeats: int = 3, warmup: int = 1) -> float:
    """Median seconds of one (n, n) @ (n, n) float32 product on device."""
    n = _check_count(n, "n", 1)
    repeats = _check_count(repeats, "repeats", 1)
    device = torch.device(device)
    g = torch.Generator().manual_seed(n)
    A = torch.randn(n, n, generator=g).to(device)  # (n, n)
    B = torch.randn(n, n, generator=g).to(device)  # (n, n)
    for _ in range(warmup):  # the first product starts the library (handles, kernels)
        A @ B
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        A @ B  # (n, n)
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_sweep(sizes: Iterable[int], device, repeats: int = 3) -> dict[int, float]:
    """GFLOP/s of square float32 matrix products for each size n on device."""
    return {n: gflops(n, matmul_seconds(n, device, repeats)) for n in sizes}


def crossover(cpu: dict[int, float], gpu: dict[int, float] | None) -> int | None:
    """The smallest n from which the GPU is faster than the CPU at every larger size; None if never."""
    if not gpu:
        return None
    sizes = sorted(set(cpu) & set(gpu))
    for i, n in enumerate(sizes):
        if all(gpu[m] > cpu[m] for m in sizes[i:]):
            return n
    return None


def sweep_figure(curves: dict[str, dict[int, float]], crossover_at: int | None = None) -> Figure:
    """GFLOP/s against matrix size, one line per device; a dashed line where the GPU overtakes."""
    if not curves or not all(isinstance(c, dict) and c for c in curves.values()):
        raise BilingualError("curves は {名前: {n: GFLOP/s}} の辞書です。",
                             "curves must be a dict {name: {n: GFLOP/s}}.")
    fig = Figure(figsize=(6.5, 3.4))
    ax = fig.add_subplot()
    for colour, (name, points) in zip(series(len(curves)), curves.items(), strict=True):
        sizes = sorted(points)
        ax.plot(sizes, [points[n] for n in sizes], "o-", color=colour, label=name)
    if crossover_at is not None:
        ax.axvline(crossover_at, color=role("ink"), linestyle="--",
                   label=bi(f"GPU が追い越す n = {crossover_at}", f"GPU overtakes at n = {crossover_at}"))
    sizes = sorted({n for points in curves.values() for n in points})
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, [str(n) for n in sizes])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_xlabel(bi("行列の大きさ n(n×n)", "matrix size n (n×n)"))
    ax.set_ylabel("GFLOP/s")
    ax.set_title(bi("大きな行列ほど演算器を使い切れる", "bigger matrices keep the hardware busier"),
                 fontsize=10.5)
    ax.legend(fontsize=9)
    fig.tight_layout()
    return fig
