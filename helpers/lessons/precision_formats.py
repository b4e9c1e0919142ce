"""Notebook 10: number formats (FP32, FP16, BF16, INT8), their sizes, and small updates that vanish
when a weight is stored in fewer bits."""

from __future__ import annotations

import math

import numpy as np
import torch
from matplotlib.figure import Figure

from ..engine.text import BilingualError, bi, text_table
from .style import role, series


def _numpy(t) -> np.ndarray:
    return torch.as_tensor(t).detach().cpu().float().numpy()


def _check_tensor(t, name: str) -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        raise BilingualError(f"{name} は torch.Tensor にします({type(t).__name__} が渡されました)。",
                             f"{name} must be a torch.Tensor (got {type(t).__name__}).")
    return t


def _same_shape(before, after, what_ja: str, what_en: str) -> None:
    _check_tensor(before, "before")
    _check_tensor(after, "after")
    if before.shape != after.shape:
        raise BilingualError(
            f"学習前と学習後の{what_ja}は同じ形にします(前 {tuple(before.shape)}、後 {tuple(after.shape)})。",
            f"The {what_en} before and after training must have the same shape "
            f"(before {tuple(before.shape)}, after {tuple(after.shape)}).")


def _bare(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():  # a thin frame, so a filter of near-zero weights still shows its edge
        spine.set_visible(True)
        spine.set_color(role("grid"))


# --- Part B4: number formats, and updates that vanish ---------------------------------------------------

FLOAT_FORMATS = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
FORMATS = (*FLOAT_FORMATS, "int8")


def _dtype(fmt: str) -> torch.dtype:
    if fmt == "int8":
        return torch.int8
    if fmt not in FLOAT_FORMATS:
        raise BilingualError(f"形式は {', '.join(FORMATS)} のどれかです({fmt!r} が渡されました)。",
                             f"The format must be one of {', '.join(FORMATS)} (got {fmt!r}).")
    return FLOAT_FORMATS[fmt]


def bytes_per_number(fmt: str) -> int:
    """Bytes one number takes in the format: float32 4, float16 and bfloat16 2, int8 1."""
    return torch.empty(0, dtype=_dtype(fmt)).element_size()


def format_table() -> str:
    """A small table: bytes, the gap just above 1.0 (eps; int8 counts whole numbers, steps of 1) and the range."""
    rows = []
    for fmt in FORMATS:
        if fmt == "int8":
            info = torch.iinfo(torch.int8)
            rows.append((fmt, str(bytes_per_number(fmt)), "1",
                         f"{info.min} .. {info.max}"))
        else:
            info = torch.finfo(_dtype(fmt))
            rows.append((fmt, str(bytes_per_number(fmt)), f"{info.eps:.3g}", f"±{info.max:.3g}"))
    return text_table([("形式", "format"), ("バイト", "bytes"), ("1.0 の次との差 eps", "eps (gap above 1.0)"),
                       ("範囲", "range")], rows, left=4)


def _check_scale(scale) -> float:
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale) or scale <= 0:
        raise BilingualError(f"スケールは 0 より大きい有限の数です({scale!r})。",
                             f"The scale must be a finite number above 0 (got {scale!r}).")
    return float(scale)


def stored(w: float, fmt: str, scale: float = 0.01) -> float:
    """The value a weight w really holds in the format (int8: symmetric, w ≈ integer × scale)."""
    if fmt == "int8":
        scale = _check_scale(scale)
        return max(-127, min(127, round(w / scale))) * scale
    return torch.tensor(w, dtype=_dtype(fmt)).item()


def stored_after_update(w: float, delta: float, fmt: str, scale: float = 0.01) -> float:
    """The weight the format holds after w += delta (the update lr · gradient, rounded as the format must)."""
    if fmt == "int8":
        return stored(stored(w, fmt, scale) + delta, fmt, scale)
    dtype = _dtype(fmt)
    return (torch.tensor(w, dtype=dtype) + torch.tensor(delta, dtype=dtype)).item()


def survives(w: float, delta: float, fmt: str, scale: float = 0.01) -> bool:
    """Whether adding delta to w changes the stored weight at all in the format."""
    return stored_after_update(w, delta, fmt, scale) != stored(w, fmt, scale)


def update_traces(w0: float = 1.0, delta: float = 1e-4, steps: int = 100, scale: float = 0.01) -> dict:
    """The weight after each of `steps` identical updates `delta`, in every format: {fmt: [w0, w1, ...]}."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise BilingualError(f"steps は 1 以上の整数です({steps!r})。",
                             f"steps must be a whole number of at least 1 (got {steps!r}).")
    traces = {}
    for fmt in FORMATS:
        w = stored(w0, fmt, scale)
        trace = [w]
        for _ in range(steps):
            w = stored_after_update(w, delta, fmt, scale)
            trace.append(w)
        traces[fmt] = trace
    return traces


def vanishing_figure(traces: dict, delta: float) -> Figure:
    """The weight against the number of updates, one panel per format on one scale: a flat line means
    every update vanished."""
    fig = Figure(figsize=(7.2, 3.3))
    axes = fig.subplots(1, len(traces), sharex=True, sharey=True, squeeze=False)[0]
    # the formats only need to differ
    for ax, colour, (fmt, trace) in zip(axes, series(len(traces)), traces.items(), strict=True):
        ax.plot(range(len(trace)), trace, color=colour, linewidth=2.2)
        gained = trace[-1] - trace[0]
        ja, en = ("更新が積み重なる", "the updates add up") if gained > 0 else ("まったく変わらない", "never moves")
        ax.set_title(f"{fmt}\n{bi(ja, en, sep=chr(10))}", fontsize=10)
        ax.text(0.5, 0.06, f"{trace[-1]:.4f}", transform=ax.transAxes, ha="center", va="bottom", fontsize=10,
                color=colour)
        ax.ticklabel_format(axis="y", useOffset=False)  # the weight itself, not an offset from it
    axes[0].set_ylabel(bi("保存された重み", "stored weight"))
    fig.supxlabel(bi("更新の回数", "number of updates"), fontsize=11)
    fig.suptitle(bi(f"毎回 {delta:g} ずつ足すと", f"adding {delta:g} at every update"), fontsize=11)
    fig.tight_layout()
    return fig
