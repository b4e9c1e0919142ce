"""Weights and precision: learned filters and Q/K/V, FP32 vs INT8, a hand-written quantizer (notebook 10).

Part A shows that convolution filters, attention's Query/Key/Value matrices and every element of a
weight matrix are weights that steps 4-5 change. Part B shows why training keeps FP32 and how a
trained model's weights are squeezed into INT8 for inference. The exercise checkers end the module.
"""

from __future__ import annotations

import copy
import io
import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from torch import nn

from .checks import NO_ANSWER, Feedback, as_number, correct, hint
from .plots import PALETTE
from .text import BilingualError, bi, display_width

# Blue for negative weights, white for zero, vermillion for positive: the palette's own colours.
WEIGHT_CMAP = LinearSegmentedColormap.from_list("weights", [PALETTE[0], "#FFFFFF", PALETTE[3]])
ATTENTION_CMAP = LinearSegmentedColormap.from_list("attention", ["#FFFFFF", PALETTE[0]])


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
        spine.set_color("#999999")


# --- Part A1: convolution filters are decided by training -------------------------------------------

def make_cnn(filters: int = 4, seed: int = 0) -> nn.Sequential:
    """A tiny CNN for 1-channel pictures: `filters` 3x3 filters, ReLU, the strongest response, 2 classes."""
    if isinstance(filters, bool) or not isinstance(filters, int) or filters < 1:
        raise BilingualError(f"フィルタの数は 1 以上の整数です({filters!r})。",
                             f"The number of filters must be a whole number of at least 1 (got {filters!r}).")
    with torch.random.fork_rng(devices=[]):  # the same start every time, global seed untouched
        torch.manual_seed(seed)
        return nn.Sequential(
            nn.Conv2d(1, filters, kernel_size=3),  # (batch, 1, H, W) -> (batch, filters, H - 2, W - 2)
            nn.ReLU(),
            nn.AdaptiveMaxPool2d(1),  # (batch, filters, 1, 1): how strongly each filter fired anywhere
            nn.Flatten(),  # (batch, filters)
            nn.Linear(filters, 2),  # (batch, 2): a score for "horizontal" and for "vertical"
        )


def accuracy(model: nn.Module, X, y) -> float:
    """The share of rows whose highest score is the right class (y holds class numbers)."""
    with torch.inference_mode():
        return (model(X).argmax(dim=1) == y).float().mean().item()


def filters_figure(before, after) -> Figure:
    """Each 3x3 filter (filters, 1, k, k) before training (top row) and after (bottom row), one colour scale."""
    _same_shape(before, after, "フィルタ", "filters")
    if before.dim() != 4:
        raise BilingualError(f"フィルタの形は (フィルタ数, 1, k, k) です({tuple(before.shape)})。",
                             f"Filters must have shape (filters, 1, k, k) (got {tuple(before.shape)}).")
    b, a = _numpy(before)[:, 0], _numpy(after)[:, 0]  # (filters, k, k)
    count = len(b)
    limit = float(max(abs(b).max(), abs(a).max())) or 1.0  # one scale: growth shows as stronger colour
    fig = Figure(figsize=(6.5, 3.4))
    axes = fig.subplots(2, count, squeeze=False)
    for j in range(count):
        for row, w in enumerate((b, a)):
            ax = axes[row][j]
            ax.imshow(w[j], cmap=WEIGHT_CMAP, vmin=-limit, vmax=limit)
            _bare(ax)
        axes[0][j].set_title(bi(f"フィルタ {j + 1}", f"filter {j + 1}"), fontsize=9)
    axes[0][0].set_ylabel(bi("学習前", "before", sep="\n"), fontsize=9)
    axes[1][0].set_ylabel(bi("学習後", "after", sep="\n"), fontsize=9)
    fig.suptitle(bi("3×3 フィルタの重み(オレンジ +、青 −)", "3×3 filter weights (orange +, blue −)"), fontsize=11)
    fig.tight_layout()
    return fig


# --- Part A2: Query, Key and Value are weights too ---------------------------------------------------

class SelfAttention(nn.Module):
    """One head of self-attention: every position mixes all positions' values, weighted by query · key."""

    def __init__(self, d_model: int):
        super().__init__()
        self.d_model = d_model
        self.q = nn.Linear(d_model, d_model, bias=False)  # W_q: what a position is looking for
        self.k = nn.Linear(d_model, d_model, bias=False)  # W_k: what a position offers to be found by
        self.v = nn.Linear(d_model, d_model, bias=False)  # W_v: what a position passes on when chosen

    def attention(self, x):
        """Attention weights (batch, seq, seq): row i says how much position i looks at each position."""
        if x.dim() != 3 or x.shape[-1] != self.d_model:
            raise BilingualError(
                f"入力の形は (バッチ, 系列の長さ, {self.d_model}) です({tuple(x.shape)} が渡されました)。",
                f"The input must have shape (batch, length, {self.d_model}) (got {tuple(x.shape)}).")
        scores = self.q(x) @ self.k(x).transpose(-2, -1)  # (batch, seq, seq)
        return (scores / math.sqrt(self.d_model)).softmax(dim=-1)  # each row adds up to 1

    def forward(self, x):
        return self.attention(x) @ self.v(x)  # (batch, seq, d_model)


class MaxFinder(nn.Module):
    """Numbers in, the largest number out at every position: embedding -> self-attention -> readout."""

    def __init__(self, d_model: int = 4, seed: int = 0):
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.embed = nn.Linear(1, d_model)  # (batch, seq, 1) -> (batch, seq, d_model)
            self.attn = SelfAttention(d_model)
            self.out = nn.Linear(d_model, 1)  # (batch, seq, d_model) -> (batch, seq, 1)
        with torch.no_grad():  # small W_q, W_k: at first every position looks at all positions about evenly
            self.attn.q.weight.mul_(0.1)
            self.attn.k.weight.mul_(0.1)

    def attention(self, X):
        """The attention weights (batch, seq, seq) for the sequences X (batch, seq, 1)."""
        return self.attn.attention(self.embed(X))

    def forward(self, X):
        return self.out(self.attn(self.embed(X)))  # (batch, seq, 1)


def make_max_data(n: int = 64, length: int = 6, seed: int = 0):
    """Sequences of whole numbers 0-9, X (n, length, 1); the answer y (n, length, 1) is each one's maximum."""
    if isinstance(length, bool) or not isinstance(length, int) or length < 2:
        raise BilingualError(f"系列の長さは 2 以上の整数です({length!r})。",
                             f"The sequence length must be a whole number of at least 2 (got {length!r}).")
    g = torch.Generator().manual_seed(seed)
    X = torch.randint(0, 10, (n, length, 1), generator=g).float()  # (batch, seq, 1)
    y = X.amax(dim=1, keepdim=True).expand(-1, length, -1).contiguous()  # (batch, seq, 1)
    return X, y


def qkv_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """Copies of W_q, W_k, W_v of the first SelfAttention inside model."""
    layer = next((m for m in model.modules() if isinstance(m, SelfAttention)), None)
    if layer is None:
        raise BilingualError("このモデルには SelfAttention の層がありません。",
                             "This model has no SelfAttention layer.")
    return {name: getattr(layer, name).weight.detach().clone() for name in ("q", "k", "v")}


def attention_figure(tokens, before, after) -> Figure:
    """Attention weights (seq, seq) for one sequence of tokens, before and after training, as heatmaps."""
    _same_shape(before, after, "アテンション", "attention weights")
    n = len(tokens)
    if before.shape != (n, n):
        raise BilingualError(f"アテンションの形は ({n}, {n}) です({tuple(before.shape)})。",
                             f"The attention weights must have shape ({n}, {n}) (got {tuple(before.shape)}).")
    labels = [f"{float(t):g}" for t in tokens]
    fig = Figure(figsize=(6.5, 3.5))
    axes = fig.subplots(1, 2)
    for ax, weights, ja, en in ((axes[0], before, "学習前", "before training"),
                                (axes[1], after, "学習後", "after training")):
        image = ax.imshow(_numpy(weights), cmap=ATTENTION_CMAP, vmin=0, vmax=1)
        ax.set_xticks(range(n), labels)
        ax.set_yticks(range(n), labels)
        ax.grid(False)
        ax.set_title(bi(ja, en), fontsize=10)
        ax.set_xlabel(bi("見られる位置(Key)", "looked at (key)"), fontsize=9)
    axes[0].set_ylabel(bi("見る位置(Query)", "looking (query)"), fontsize=9)
    fig.colorbar(image, ax=list(axes), shrink=0.8, label=bi("注目の重み", "attention weight"))
    return fig


# --- Part A3: every element of a matrix is a weight ---------------------------------------------------

def changed_elements(before, after) -> int:
    """How many elements differ between two copies of one weight matrix."""
    _same_shape(before, after, "重み", "weights")
    return int((before != after).sum())


def matrix_change_figure(before, after) -> Figure:
    """One weight matrix before and after a step, and the change of every element, numbers written in."""
    _same_shape(before, after, "重み", "weights")
    if before.dim() != 2:
        raise BilingualError(f"重み行列は2次元 (出力, 入力) です({tuple(before.shape)})。",
                             f"A weight matrix has two dimensions, (outputs, inputs) (got {tuple(before.shape)}).")
    b, a = _numpy(before), _numpy(after)
    change = a - b
    fig = Figure(figsize=(6.8, 2.8))
    axes = fig.subplots(1, 3)
    limit = float(max(abs(b).max(), abs(a).max())) or 1.0
    limit_change = float(abs(change).max()) or 1.0
    panels = ((b, limit, "更新前 W", "W before", "{:.2f}"), (a, limit, "更新後 W", "W after", "{:.2f}"),
              (change, limit_change, "変化 ΔW ×1000", "change ΔW ×1000", "{:.1f}"))
    for ax, (values, lim, ja, en, fmt) in zip(axes, panels, strict=True):
        ax.imshow(values, cmap=WEIGHT_CMAP, vmin=-lim, vmax=lim)
        shown = values * 1000 if ax is axes[2] else values
        for (r, c), v in np.ndenumerate(shown):
            ax.text(c, r, fmt.format(v), ha="center", va="center", fontsize=7)
        _bare(ax)
        ax.set_title(bi(ja, en, sep="\n"), fontsize=9)
    n = changed_elements(before, after)
    fig.suptitle(bi(f"{b.size} 個中 {n} 個の要素が変わった", f"{n} of {b.size} elements changed"), fontsize=10)
    fig.tight_layout()
    return fig


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
    """A small bilingual table: bytes, the gap just above 1.0 (eps) and the range of each format."""
    header = (bi("形式", "format"), bi("バイト", "bytes"), bi("1.0 の次との差 eps", "eps (gap above 1.0)"),
              bi("範囲", "range"))
    rows = []
    for fmt in FORMATS:
        if fmt == "int8":
            info = torch.iinfo(torch.int8)
            rows.append((fmt, str(bytes_per_number(fmt)), bi("整数のみ(1 刻み)", "whole numbers only (steps of 1)"),
                         f"{info.min} .. {info.max}"))
        else:
            info = torch.finfo(_dtype(fmt))
            rows.append((fmt, str(bytes_per_number(fmt)), f"{info.eps:.3g}", f"±{info.max:.3g}"))
    widths = [max(display_width(r[j]) for r in (header, *rows)) for j in range(len(header))]
    return "\n".join("  ".join(cell + " " * (w - display_width(cell)) for cell, w in zip(r, widths, strict=True))
                     .rstrip() for r in (header, *rows))


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
    """The weight against the number of updates, one line per format: where it stays flat, updates vanish."""
    fig = Figure(figsize=(6.5, 3.6))
    ax = fig.add_subplot()
    styles = ("-", "--", "-.", ":")
    for i, (fmt, trace) in enumerate(traces.items()):
        ax.plot(range(len(trace)), trace, color=PALETTE[i % len(PALETTE)], linestyle=styles[i % 4],
                linewidth=2.2, label=fmt)
    ax.set_xlabel(bi("更新の回数", "number of updates"))
    ax.set_ylabel(bi("保存された重み", "stored weight"))
    ax.set_title(bi(f"毎回 {delta:g} ずつ足すと", f"adding {delta:g} at every update"))
    ax.legend(loc="upper left", fontsize=9)
    fig.tight_layout()
    return fig


# --- Part B5: a hand-written INT8 quantizer -------------------------------------------------------------

QMIN, QMAX = -128, 127  # the int8 range; symmetric quantization leaves -128 unused so ±max both fit
FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


@dataclass(frozen=True)
class QParams:
    """How integers stand for real numbers: real ≈ (integer − zero_point) × scale."""

    scale: float
    zero_point: int
    symmetric: bool

    @property
    def qmin(self) -> int:
        return -QMAX if self.symmetric else QMIN

    @property
    def max_error(self) -> float:
        """The largest rounding error for a value inside the range: half a step."""
        return self.scale / 2


def check_quantizable(x) -> torch.Tensor:
    """Raise a bilingual error unless x is a non-empty floating-point tensor with only finite numbers."""
    _check_tensor(x, "x")
    if x.dtype not in FLOAT_DTYPES:
        raise BilingualError(
            f"量子化できるのは浮動小数点のテンソル(float32, float16, bfloat16, float64)です"
            f"(dtype {x.dtype} が渡されました)。整数ならすでに量子化ずみか、.float() で直してください。",
            f"Only floating-point tensors (float32, float16, bfloat16, float64) can be quantized "
            f"(got dtype {x.dtype}). Integers are already quantized; otherwise convert with .float().")
    if x.numel() == 0:
        raise BilingualError(f"空のテンソル(形 {tuple(x.shape)})は量子化できません。数が1つ以上必要です。",
                             f"An empty tensor (shape {tuple(x.shape)}) cannot be quantized: it needs at least "
                             f"one number.")
    bad = int((~torch.isfinite(x)).sum())
    if bad:
        raise BilingualError(
            f"NaN か無限大が {bad} 個あります。範囲(最小・最大)が決まらないので量子化できません。",
            f"{bad} NaN or infinite value(s): the range (min, max) is undefined, so it cannot be quantized.")
    return x


def quant_params(x, symmetric: bool = False) -> QParams:
    """Scale and zero point that map x's range (always including 0) onto the int8 integers.

    Affine: [min, max] onto -128..127 (255 steps). Symmetric: [-|x|max, |x|max] onto -127..127, zero point 0.
    """
    check_quantizable(x)
    lo, hi = min(x.min().item(), 0.0), max(x.max().item(), 0.0)
    if symmetric:
        largest = max(-lo, hi)
        return QParams(largest / QMAX if largest > 0 else 1.0, 0, True)
    scale = (hi - lo) / (QMAX - QMIN) if hi > lo else 1.0  # an all-zero tensor: any scale works
    zero_point = round(QMIN - lo / scale)  # the integer that stands for 0.0 exactly
    return QParams(scale, max(QMIN, min(QMAX, zero_point)), False)


def _work_dtype(x) -> torch.dtype:
    # float64 keeps x / scale from rounding on its own before the one rounding we mean; MPS has no float64.
    return torch.float32 if x.device.type == "mps" else torch.float64


def quantize(x, symmetric: bool = False, params: QParams | None = None):
    """x as int8 integers: q = clamp(round(x / scale) + zero_point). Returns (q, params)."""
    check_quantizable(x)
    if params is None:
        params = quant_params(x, symmetric)
    scaled = x.to(_work_dtype(x)) / params.scale  # how many steps of `scale` each value is
    q = torch.round(scaled) + params.zero_point
    return q.clamp(params.qmin, QMAX).to(torch.int8), params


def dequantize(q, params: QParams, dtype: torch.dtype = torch.float32):
    """Back to real numbers: (q − zero_point) × scale."""
    _check_tensor(q, "q")
    if q.dtype != torch.int8:
        raise BilingualError(f"q は int8 のテンソルです(dtype {q.dtype} が渡されました)。",
                             f"q must be an int8 tensor (got dtype {q.dtype}).")
    return ((q.to(_work_dtype(q)) - params.zero_point) * params.scale).to(dtype)


def quantization_figure(x, q, params: QParams, steps: int = 8) -> Figure:
    """Left: the quantizer's staircase near 0, zoomed to `steps` steps. Right: every value's error ÷ scale."""
    x = _check_tensor(x, "x").reshape(-1)
    if q.numel() != x.numel():
        raise BilingualError(f"x と q の数の個数が違います({x.numel()} と {q.numel()})。",
                             f"x and q hold different numbers of values ({x.numel()} and {q.numel()}).")
    fig = Figure(figsize=(6.8, 3.4))
    axes = fig.subplots(1, 2)
    # Zoomed in, or the 255 steps would look like a smooth line.
    half = steps / 2 * params.scale
    t = torch.linspace(-half, half, 801, dtype=torch.float64)
    axes[0].plot(t, t, color="#999999", linewidth=1, label=bi("元の値", "original"))
    axes[0].plot(t, dequantize(quantize(t, params=params)[0], params, torch.float64), color=PALETTE[0],
                 linewidth=1.8, label=bi("INT8 から戻した値", "back from INT8"))
    axes[0].plot([0], [0], "o", color=PALETTE[3], markersize=5, label=bi("0 はそのまま", "0 stays 0"))
    axes[0].set_xlabel(bi("元の値", "original value"))
    axes[0].set_ylabel(bi("戻した値", "dequantized"))
    axes[0].legend(loc="lower right", fontsize=8)
    axes[0].set_title(bi(f"0 の近くを拡大({steps} 目盛り)", f"zoom near 0 ({steps} steps)", sep="\n"),
                      fontsize=10)
    xs = _numpy(x)
    back = _numpy(dequantize(q.reshape(-1), params))
    axes[1].plot(xs, (back - xs) / params.scale, ".", color=PALETTE[3], markersize=3)
    for level in (-0.5, 0.5):
        axes[1].axhline(level, color=PALETTE[2], linestyle="--", linewidth=1.2)
    axes[1].set_ylim(-0.7, 0.7)
    axes[1].set_xlabel(bi("元の値", "original value"))
    axes[1].set_ylabel(bi("誤差 ÷ スケール", "error ÷ scale"))
    axes[1].set_title(bi("誤差は ±スケール/2 の内側", "error stays within ±scale/2", sep="\n"), fontsize=10)
    fig.tight_layout()
    return fig


# --- Part B6: an INT8 model for inference --------------------------------------------------------------

class Int8Linear(nn.Module):
    """nn.Linear whose weight is stored as int8 + scale + zero point; the bias stays float32.

    The forward pass dequantizes the weight, then multiplies in float32: small to store, not faster.
    """

    def __init__(self, linear: nn.Linear, symmetric: bool = False):
        super().__init__()
        q, params = quantize(linear.weight.detach(), symmetric)
        self.params = params
        self.register_buffer("q_weight", q)  # (out_features, in_features), 1 byte each
        self.register_buffer("scale", torch.tensor(params.scale, dtype=torch.float32, device=q.device))
        self.register_buffer("zero_point", torch.tensor(params.zero_point, dtype=torch.int32, device=q.device))
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().float().clone())

    def extra_repr(self) -> str:
        out_features, in_features = self.q_weight.shape
        kind = "symmetric" if self.params.symmetric else "affine"
        return f"in_features={in_features}, out_features={out_features}, int8 {kind}"

    def forward(self, x):
        weight = (self.q_weight.float() - self.zero_point) * self.scale  # (out_features, in_features)
        return F.linear(x, weight, self.bias)  # (batch, out_features)


def quantize_model(model: nn.Module, symmetric: bool = False) -> nn.Module:
    """A copy of model for inference, with every nn.Linear replaced by an Int8Linear."""
    if not isinstance(model, nn.Module):
        raise BilingualError(f"model は torch.nn.Module にします({type(model).__name__} が渡されました)。",
                             f"model must be a torch.nn.Module (got {type(model).__name__}).")
    if isinstance(model, nn.Linear):  # the model is one layer
        return Int8Linear(model, symmetric).eval()
    quantized = copy.deepcopy(model)
    replaced = _replace_linears(quantized, symmetric)
    if replaced == 0:
        raise BilingualError("このモデルには nn.Linear がないので、量子化するものがありません。",
                             "This model has no nn.Linear layer, so there is nothing to quantize.")
    return quantized.eval()


def _replace_linears(module: nn.Module, symmetric: bool) -> int:
    count = 0
    for name, child in module.named_children():
        if isinstance(child, nn.Linear):
            setattr(module, name, Int8Linear(child, symmetric))
            count += 1
        else:
            count += _replace_linears(child, symmetric)
    return count


def model_bytes(model: nn.Module) -> int:
    """Bytes of everything the model stores: parameters and buffers (int8 weights, scales, zero points)."""
    tensors = list(model.parameters()) + list(model.buffers())
    return sum(t.numel() * t.element_size() for t in tensors)


def saved_bytes(model: nn.Module) -> int:
    """Bytes of the model's state_dict written with torch.save (what a file on disk would take)."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.tell()


# --- Part B7: PyTorch's own INT8 path --------------------------------------------------------------------

def _find_quantize_dynamic():
    """torch.ao.quantization.quantize_dynamic, or None where this PyTorch has none."""
    try:
        from torch.ao.quantization import quantize_dynamic
    except ImportError:
        return None
    return quantize_dynamic


def pytorch_int8(model: nn.Module):
    """PyTorch's dynamic INT8 quantization of the nn.Linear layers, on the CPU.

    Returns (quantized model, message), or (None, message) where this PyTorch lacks it or warns that it
    is deprecated: the notebook then skips that comparison instead of printing warnings.
    """
    version = torch.__version__.split("+")[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quantize_dynamic = _find_quantize_dynamic()
        if quantize_dynamic is None:
            return None, bi(
                f"PyTorch {version} には torch.ao.quantization.quantize_dynamic がありません。この比較は飛ばします。",
                f"PyTorch {version} has no torch.ao.quantization.quantize_dynamic; this comparison is skipped.",
                sep="\n")
        # Quantized kernels run on the CPU only, so a copy goes there.
        quantized = quantize_dynamic(copy.deepcopy(model).cpu().eval(), {nn.Linear}, dtype=torch.qint8)
    noisy = [w for w in caught if issubclass(w.category, (DeprecationWarning, FutureWarning, UserWarning))]
    if noisy:
        return None, bi(
            f"PyTorch {version} の quantize_dynamic は「非推奨(deprecated)」の警告を出します。"
            f"量子化の機能は torchao という別のライブラリへ移っている途中なので、この比較は飛ばします。",
            f"PyTorch {version}'s quantize_dynamic warns that it is deprecated: quantization is moving to a "
            f"separate library, torchao, so this comparison is skipped.", sep="\n")
    return quantized, bi(f"PyTorch {version} の quantize_dynamic を使いました。",
                         f"Used quantize_dynamic of PyTorch {version}.", sep="\n")


def pytorch_comparison(model: nn.Module, model_int8: nn.Module, model_torch: nn.Module, X) -> dict:
    """Saved bytes of the FP32, our INT8 and PyTorch's INT8 model, and how closely their answers agree.

    agreement: share of rows where our INT8 model and PyTorch's pick the same class (highest output).
    """
    with torch.inference_mode():
        ours = model_int8(X).cpu()  # (batch, outputs)
        theirs = model_torch(X.cpu())  # (batch, outputs): PyTorch's INT8 kernels run on the CPU
    return {
        "bytes": {"FP32": saved_bytes(model), "INT8 ours": saved_bytes(model_int8),
                  "INT8 PyTorch": saved_bytes(model_torch)},
        "agreement": (ours.argmax(dim=1) == theirs.argmax(dim=1)).float().mean().item(),
        "max_difference": (ours - theirs).abs().max().item(),
    }


# --- Exercises ----------------------------------------------------------------------------------------


SCALE_RANGE = (-2.0, 2.0)  # exercise 1: weights between -2 and 2, symmetric int8


def check_scale(answer) -> Feedback:
    """Exercise 1: the symmetric int8 scale for weights in [-2, 2]."""
    if answer is None:
        return hint(*NO_ANSWER)
    value = as_number(answer)
    if value is None:
        return hint("数を1つ答えます(例: answer = 0.5、割り算のまま answer = 1 / 3 でもよい)。",
                    "Answer with one number (e.g. answer = 0.5; a division such as 1 / 3 is fine too).")
    largest = max(abs(v) for v in SCALE_RANGE)
    truth = largest / QMAX
    if math.isclose(value, truth, rel_tol=1e-3):
        return correct(f"正解です。スケール = {largest:g} / {QMAX} ≈ {truth:.6f}。1 目盛りが約 {truth:.4f} で、"
                       f"誤差は最大その半分です。",
                       f"Right: scale = {largest:g} / {QMAX} ≈ {truth:.6f}. One step is about {truth:.4f}, and "
                       f"the error is at most half of that.")
    if math.isclose(value, 1 / truth, rel_tol=1e-3):
        return hint("逆数になっています。スケールは「整数 1 つぶんが、元の値でいくつか」です。",
                    "That is the inverse: the scale is how much one integer step is worth in the original values.")
    if math.isclose(value, (SCALE_RANGE[1] - SCALE_RANGE[0]) / (QMAX - QMIN), rel_tol=1e-3):
        return hint("それは非対称(アフィン)の 255 目盛りの式です。対称では 0 をはさんで片側に何目盛りありますか。",
                    "That is the affine formula with 255 steps. With symmetric quantization, how many steps lie on "
                    "each side of 0?")
    if math.isclose(value, largest / 128, rel_tol=1e-3):
        return hint("int8 の正の側は 128 まで届きません。いちばん大きい正の整数はいくつですか。",
                    "The positive side of int8 does not reach 128. What is the largest positive integer?")
    return hint("対称量子化のスケールは「いちばん大きい絶対値 ÷ いちばん大きい正の整数」です。",
                "For symmetric quantization the scale is the largest absolute value ÷ the largest positive integer.")


SIZE_COUNT = 1_000_000  # exercise 2: how many weights


def check_size(answer) -> Feedback:
    """Exercise 2: (bytes in FP32, bytes in INT8) of SIZE_COUNT weights."""
    if answer is None:
        return hint(*NO_ANSWER)
    if isinstance(answer, (str, bytes)) or not isinstance(answer, (tuple, list)) or len(answer) != 2:
        return hint("(FP32 のバイト数, INT8 のバイト数) の2つの数で答えます(例: (10, 5))。",
                    "Answer with two numbers, (bytes in FP32, bytes in INT8), e.g. (10, 5).")
    values = [as_number(v) for v in answer]
    if any(v is None for v in values):
        return hint("2つとも数で答えます。", "Both must be numbers.")
    fp32, int8 = values
    truth = (SIZE_COUNT * bytes_per_number("float32"), SIZE_COUNT * bytes_per_number("int8"))
    if (fp32, int8) == truth:
        return correct(f"正解です。FP32 で {truth[0]:,} バイト(約 4 MB)、INT8 で {truth[1]:,} バイト(約 1 MB)。"
                       f"4 分の 1 です。",
                       f"Right: {truth[0]:,} bytes in FP32 (about 4 MB), {truth[1]:,} bytes in INT8 (about 1 MB): "
                       f"a quarter.")
    if (fp32, int8) == (truth[0] * 8, truth[1] * 8):
        return hint("それはビットの数です。1 バイトは 8 ビットです。", "Those are bits: one byte is 8 bits.")
    if (fp32, int8) == truth[::-1]:
        return hint("順番が逆です。先に FP32、次に INT8 を書きます。", "The order is reversed: FP32 first, then INT8.")
    if (fp32, int8) == (bytes_per_number("float32"), bytes_per_number("int8")):
        return hint("それは数 1 個ぶんです。重みの個数を掛けます。",
                    "That is for one number: multiply by the number of weights.")
    if fp32 != truth[0]:
        return hint(f"FP32 のほうが違います。FP32 は 1 個 {bytes_per_number('float32')} バイトです。",
                    f"The FP32 number is off: FP32 takes {bytes_per_number('float32')} bytes per number.")
    return hint("INT8 のほうが違います。INT8 は 1 個何バイトでしょう(8 ビット)。",
                "The INT8 number is off: how many bytes does one INT8 number (8 bits) take?")


# Exercise 3: a weight 1.0 gets an update of +0.001; int8 is symmetric with scale 0.01.
VANISH_QUESTION = {"w": 1.0, "delta": 1e-3, "scale": 0.01}

_YES = {"yes", "true", "survives", "残る", "はい"}
_NO = {"no", "false", "vanishes", "消える", "いいえ"}

_VANISH_CLUES = {
    "float32": ("float32 の eps は約 1.2e-7。0.001 はそれよりずっと大きいです。",
                "float32's eps is about 1.2e-7; 0.001 is far larger."),
    "float16": ("float16 の 1.0 のすぐ上の数は 1 + 0.000977。0.001 はその半分より大きいですか。",
                "In float16 the next number above 1.0 is 1 + 0.000977. Is 0.001 more than half of that gap?"),
    "bfloat16": ("bfloat16 の 1.0 のすぐ上の数は 1 + 0.0078。0.001 はその半分に届きますか。",
                 "In bfloat16 the next number above 1.0 is 1 + 0.0078. Does 0.001 reach half of that gap?"),
    "int8": ("スケール 0.01 の int8 では、1 目盛りが 0.01。0.001 は半目盛りに届きますか。",
             "With scale 0.01 one int8 step is 0.01. Does 0.001 reach half a step?"),
}


def vanish_truth() -> dict[str, bool]:
    """Exercise 3's answers, computed: whether the update survives in each format."""
    q = VANISH_QUESTION
    return {fmt: survives(q["w"], q["delta"], fmt, q["scale"]) for fmt in FORMATS}


def _yes_no(value) -> bool | None:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    return True if word in _YES else False if word in _NO else None


def check_vanish(answers) -> Feedback:
    """Exercise 3: for each format, True if the update +0.001 to the weight 1.0 survives, False if it vanishes."""
    if answers is None:
        return hint(*NO_ANSWER)
    if not isinstance(answers, dict):
        return hint("{'float32': True, 'float16': False, ...} のような辞書で答えます。",
                    "Answer with a dict such as {'float32': True, 'float16': False, ...}.")
    missing = [fmt for fmt in FORMATS if fmt not in answers]
    if missing:
        names = ", ".join(missing)
        return hint(f"まだ答えていない形式があります: {names}", f"Some formats have no answer yet: {names}")
    truth = vanish_truth()
    wrong = []
    for fmt in FORMATS:
        given = _yes_no(answers[fmt])
        if given is None:
            return hint(f"{fmt}: True(残る)か False(消える)で答えます({answers[fmt]!r} が書かれています)。",
                        f"{fmt}: answer True (survives) or False (vanishes), not {answers[fmt]!r}.")
        if given != truth[fmt]:
            wrong.append(fmt)
    if wrong:
        return hint("\n".join(f"{fmt}: {_VANISH_CLUES[fmt][0]}" for fmt in wrong),
                    "\n".join(f"{fmt}: {_VANISH_CLUES[fmt][1]}" for fmt in wrong))
    kept = ", ".join(fmt for fmt in FORMATS if truth[fmt])
    lost = ", ".join(fmt for fmt in FORMATS if not truth[fmt])
    return correct(f"4つとも正解です。残る: {kept}。消える: {lost}。更新が目盛りの半分より小さいと、丸めで消えます。",
                   f"All four right. Survives: {kept}. Vanishes: {lost}. An update smaller than half the gap "
                   f"between neighbouring numbers is rounded away.")
