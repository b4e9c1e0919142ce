"""Notebook 10: INT8 arithmetic that really runs in int8 (torch._int_mm, where the build has the
kernel) timed against float32, and torchao, today's PyTorch quantization library, where installed."""

from __future__ import annotations

import contextlib
import copy
import importlib
import io
import logging

import torch
from torch import nn

from ..engine.text import BilingualError, bilines
from .measure import _median_seconds

TORCHAO_VERSION = "0.18.0"
INSTALL_TORCHAO = f'pip install -e ".[quantize]"  (= pip install torchao=={TORCHAO_VERSION})'


def int8_matmul(A, B):
    """A @ B for int8 matrices, accumulated in int32 by PyTorch's int8 kernel; None where the build has none."""
    for name, t in (("A", A), ("B", B)):
        if not isinstance(t, torch.Tensor) or t.dtype != torch.int8 or t.dim() != 2:
            raise BilingualError(f"{name} は int8 の行列(2次元)です。", f"{name} must be a 2-D int8 matrix.")
    if not hasattr(torch, "_int_mm"):
        return None
    try:
        return torch._int_mm(A, B)  # (m, n) int32
    except RuntimeError:  # no int8 kernel for this device or these sizes
        return None


def int8_speed(m: int = 256, k: int = 1024, n: int = 1024, device="cpu", repeats: int = 20, seed: int = 0):
    """Median seconds of an (m, k) @ (k, n) product in int8 (int32 sums) and in float32, on the same
    integers; None where this build has no int8 matrix kernel. Also checks the int8 result exactly."""
    device = torch.device(device)
    g = torch.Generator().manual_seed(seed)
    A = torch.randint(-128, 128, (m, k), dtype=torch.int8, generator=g).to(device)  # quantized activations
    B = torch.randint(-128, 128, (k, n), dtype=torch.int8, generator=g).to(device)  # quantized weights
    result = int8_matmul(A, B)
    if result is None:
        return None
    exact = A[:4].cpu().long() @ B.cpu().long()  # a few rows in int64: no rounding at all
    A32, B32 = A.float(), B.float()
    return {
        "int8": _median_seconds(lambda: torch._int_mm(A, B), device, repeats),
        "float32": _median_seconds(lambda: A32 @ B32, device, repeats),
        "exact": bool(torch.equal(result[:4].cpu().long(), exact)),
        "shape": (m, k, n),
    }


@contextlib.contextmanager
def _quiet_import():
    """torchao announces optional GPU extensions it cannot load on a CPU through logging; hide that."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        logging.disable(previous)


def load_torchao(importer=importlib.import_module):
    """(torchao.quantization, message): the module, or None and a bilingual note on how to install it."""
    try:
        with _quiet_import():
            module = importer("torchao.quantization")
            version = getattr(importer("torchao"), "__version__", "?")
    except ImportError:
        return None, bilines(
            f"torchao が入っていないので、この比較は飛ばします。入れるには: {INSTALL_TORCHAO}",
            f"torchao is not installed, so this comparison is skipped. To add it: {INSTALL_TORCHAO}")
    return module, bilines(f"torchao {version} を使いました。", f"Used torchao {version}.")


def torchao_int8(model: nn.Module, kind: str = "dynamic", quantization=None):
    """A CPU copy of model with torchao's INT8: "weight_only" (int8 weights, float arithmetic) or
    "dynamic" (int8 weights and activations quantized on the fly). None if torchao is missing."""
    if kind not in ("weight_only", "dynamic"):
        raise BilingualError(f"kind は weight_only か dynamic です({kind!r})。",
                             f"kind must be weight_only or dynamic (got {kind!r}).")
    if quantization is None:
        quantization, _ = load_torchao()
        if quantization is None:
            return None
    config = (quantization.Int8WeightOnlyConfig() if kind == "weight_only"
              else quantization.Int8DynamicActivationInt8WeightConfig())
    quantized = copy.deepcopy(model).cpu().eval()
    with _quiet_import():
        quantization.quantize_(quantized, config)  # replaces each nn.Linear weight in place
    return quantized
