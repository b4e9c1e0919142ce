"""Notebook 10: INT8 by hand (scale and zero point, quantize, dequantize), an INT8 linear layer, a
quantized model's size, and PyTorch's own INT8 where it runs."""

from __future__ import annotations

import copy
import io
import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import nn

from ..engine.text import BilingualError, bi
from .precision_formats import _check_tensor, _numpy
from .style import role

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
    fig = Figure(figsize=(6.8, 3.7))
    axes = fig.subplots(1, 2)
    # Zoomed in, or the 255 steps would look like a smooth line.
    half = steps / 2 * params.scale
    t = torch.linspace(-half, half, 801, dtype=torch.float64)
    axes[0].plot(t, t, color=role("before"), linewidth=1, label=bi("元の値", "original"))
    axes[0].plot(t, dequantize(quantize(t, params=params)[0], params, torch.float64), color=role("after"),
                 linewidth=1.8, label=bi("INT8 から戻した値", "back from INT8"))
    axes[0].plot([0], [0], "o", color=role("ink"), markersize=5, label=bi("0 はそのまま", "0 stays 0"))
    axes[0].set_xlabel(bi("元の値", "original value"))
    axes[0].set_ylabel(bi("戻した値", "dequantized"))
    # below the panels, never on the steps
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=3, fontsize=9,
               bbox_to_anchor=(0.5, 0.0))
    axes[0].set_title(bi(f"0 の近くを拡大({steps} 目盛り)", f"zoom near 0 ({steps} steps)", sep="\n"),
                      fontsize=10)
    xs = _numpy(x)
    back = _numpy(dequantize(q.reshape(-1), params))
    axes[1].plot(xs, (back - xs) / params.scale, ".", color=role("after"), markersize=3)
    for level in (-0.5, 0.5):
        axes[1].axhline(level, color=role("muted"), linestyle="--", linewidth=1.2)
    axes[1].set_ylim(-0.7, 0.7)
    axes[1].set_xlabel(bi("元の値", "original value"))
    axes[1].set_ylabel(bi("誤差 ÷ スケール", "error ÷ scale"))
    axes[1].set_title(bi("誤差は ±スケール/2 の内側", "error stays within ±scale/2", sep="\n"), fontsize=10)
    fig.tight_layout(rect=(0, 0.09, 1, 1))
    return fig


# --- Part B6: an INT8 model for inference --------------------------------------------------------------

def quantize_per_channel(W):
    """Symmetric INT8 with one scale per output row (channel) of a weight matrix, zero point 0.

    Returns (q, scale): q int8 (out, in), scale float32 (out, 1); W ≈ q × scale row by row.
    """
    check_quantizable(W)
    if W.dim() != 2:
        raise BilingualError(f"重みの行列(2次元)を渡します(形 {tuple(W.shape)} が渡されました)。",
                             f"Pass a weight matrix, 2-D (got shape {tuple(W.shape)}).")
    largest = W.detach().abs().amax(dim=1, keepdim=True).to(_work_dtype(W))  # (out, 1)
    scale = torch.where(largest > 0, largest / QMAX, torch.ones_like(largest))  # an all-zero row: any scale
    q = torch.round(W.detach().to(scale.dtype) / scale).clamp(-QMAX, QMAX).to(torch.int8)
    return q, scale.float()


class Int8Linear(nn.Module):
    """nn.Linear whose weight is stored as int8 and scales; the bias stays float32.

    per_channel: one symmetric scale per output row (how weights are quantized in practice); else one
    scale and zero point for the whole matrix. The forward pass dequantizes the weight, then multiplies
    in float32: small to store, not faster.
    """

    def __init__(self, linear: nn.Linear, symmetric: bool = False, per_channel: bool = False):
        super().__init__()
        self.per_channel = bool(per_channel)
        if self.per_channel:
            q, scale = quantize_per_channel(linear.weight)
            self.params = None
            self.register_buffer("q_weight", q)  # (out_features, in_features), 1 byte each
            self.register_buffer("scale", scale)  # (out_features, 1): one scale per row
            self.zero_point = None  # symmetric: 0 for every row, nothing to store
        else:
            q, params = quantize(linear.weight.detach(), symmetric)
            self.params = params
            self.register_buffer("q_weight", q)  # (out_features, in_features), 1 byte each
            self.register_buffer("scale", torch.tensor(params.scale, dtype=torch.float32, device=q.device))
            self.register_buffer("zero_point", torch.tensor(params.zero_point, dtype=torch.int32, device=q.device))
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().float().clone())

    def extra_repr(self) -> str:
        out_features, in_features = self.q_weight.shape
        kind = "symmetric per-channel" if self.per_channel else (
            "symmetric" if self.params.symmetric else "affine")
        return f"in_features={in_features}, out_features={out_features}, int8 {kind}"

    def forward(self, x):
        if self.per_channel:
            weight = self.q_weight.float() * self.scale  # (out_features, in_features)
        else:
            weight = (self.q_weight.float() - self.zero_point) * self.scale
        return F.linear(x, weight, self.bias)  # (batch, out_features)


def quantize_model(model: nn.Module, symmetric: bool = True, per_channel: bool = True) -> nn.Module:
    """A copy of model for inference, with every nn.Linear replaced by an Int8Linear (weights only).

    The default is how weights are quantized in practice: symmetric, one scale per output channel.
    """
    if not isinstance(model, nn.Module):
        raise BilingualError(f"model は torch.nn.Module にします({type(model).__name__} が渡されました)。",
                             f"model must be a torch.nn.Module (got {type(model).__name__}).")
    if isinstance(model, nn.Linear):  # the model is one layer
        return Int8Linear(model, symmetric, per_channel).eval()
    quantized = copy.deepcopy(model)
    replaced = _replace_linears(quantized, symmetric, per_channel)
    if replaced == 0:
        raise BilingualError("このモデルには nn.Linear がないので、量子化するものがありません。",
                             "This model has no nn.Linear layer, so there is nothing to quantize.")
    return quantized.eval()


def _replace_linears(module: nn.Module, symmetric: bool, per_channel: bool) -> int:
    count = 0
    for name, child in module.named_children():
        if isinstance(child, nn.Linear):
            setattr(module, name, Int8Linear(child, symmetric, per_channel))
            count += 1
        else:
            count += _replace_linears(child, symmetric, per_channel)
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
