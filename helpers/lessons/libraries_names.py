"""Notebook 09: which library runs each step on ROCm, CUDA and the CPU, the build's own libraries,
and which library an `aten::` operation belongs to."""

from __future__ import annotations

import re

import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..engine.device import build
from ..engine.text import BilingualError, bi
from .style import PALETTE

# --- The table: five steps x three backends ------------------------------------------------------

STEPS = {
    "input": ("1 入力", "1 input"),
    "forward": ("2 順伝播", "2 forward pass"),
    "loss": ("3 損失", "3 loss"),
    "backward": ("4 逆伝播", "4 backpropagation"),
    "update": ("5 更新", "5 update"),
}
BACKENDS = {"rocm": "AMD ROCm", "cuda": "NVIDIA CUDA", "cpu": "CPU"}

# step -> (the work in Japanese, in English, {backend: library}). PyTorch runs every step; these are
# the libraries it calls for the heavy part.
_TABLE = {
    "input": ("データをデバイスのメモリへ運ぶ", "move the batch into device memory", {
        "rocm": "HIP\n(hipMalloc, hipMemcpy)",
        "cuda": "CUDA runtime\n(cudaMalloc, cudaMemcpy)",
        "cpu": "PyTorch allocator\n(RAM, nothing to copy)"}),
    "forward": ("行列積・畳み込み・活性化", "matrix products, convolutions, activations", {
        "rocm": "rocBLAS / hipBLASLt\n+ MIOpen",
        "cuda": "cuBLAS / cuBLASLt\n+ cuDNN",
        "cpu": "MKL or OpenBLAS\n+ oneDNN (mkldnn)"}),
    "loss": ("外れ具合を1つの数に", "one number for the miss", {
        "rocm": "PyTorch\n(its own HIP kernels)",
        "cuda": "PyTorch\n(its own CUDA kernels)",
        "cpu": "PyTorch\n(its own CPU kernels)"}),
    "backward": ("勾配の行列積・畳み込み", "gradient matrix products and convolutions", {
        "rocm": "autograd →\nrocBLAS / hipBLASLt + MIOpen",
        "cuda": "autograd →\ncuBLAS / cuBLASLt + cuDNN",
        "cpu": "autograd →\nMKL or OpenBLAS + oneDNN"}),
    "update": ("重みを少し動かす(要素ごと)", "nudge every weight (elementwise)", {
        "rocm": "PyTorch optimizer\n(HIP kernels)",
        "cuda": "PyTorch optimizer\n(CUDA kernels)",
        "cpu": "PyTorch optimizer\n(CPU kernels)"}),
}
ORCHESTRATION = ("全体の指揮", "orchestration")


def library_table() -> list[dict[str, str]]:
    """One row per step: its key, name and work (ja, en) and the library on each backend."""
    rows = []
    for key, (step_ja, step_en) in STEPS.items():
        work_ja, work_en, libraries = _TABLE[key]
        rows.append({"step": key, "step_ja": step_ja, "step_en": step_en, "work_ja": work_ja,
                     "work_en": work_en, **libraries})
    return rows


def backend_of(device: torch.device | str) -> str:
    """"rocm", "cuda" or "cpu" for the table's columns ("mps" for Apple's GPU, which has none)."""
    device = torch.device(device)
    if device.type == "cuda":
        return build()  # a ROCm build reports an AMD GPU as "cuda" too: the build tells them apart
    if device.type == "mps":
        return "mps"
    return "cpu"


def table_figure(rows: list[dict[str, str]], highlight: str | None = None) -> Figure:
    """The steps x backends table as a picture; the column `highlight` (this machine's) is shaded."""
    if not rows or any(set(BACKENDS) - set(row) for row in rows):
        raise BilingualError("rows は library_table() の結果を渡します。",
                             "rows must be what library_table() returns.")
    columns = ["step", *BACKENDS]
    widths = [1.35, 1.75, 1.75, 1.65]  # inches; the step column needs the least room
    fig = Figure(figsize=(sum(widths) + 0.1, 3.7))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, sum(widths) + 0.1)
    n = len(rows) + 2  # header, the steps, and the orchestration line
    ax.set_ylim(n, 0)
    ax.axis("off")
    lefts = [0.05 + sum(widths[:i]) for i in range(len(widths))]
    if highlight in BACKENDS:
        i = columns.index(highlight)
        ax.add_patch(Rectangle((lefts[i], 0.05), widths[i], n - 1.05, color=PALETTE[5], alpha=0.25,
                               linewidth=0))
    header = [bi("ステップ", "step", sep="\n")]
    for key, name in BACKENDS.items():
        mark = "\n" + bi("このマシン", "this machine") if key == highlight else ""
        header.append(name + mark)
    for i, text in enumerate(header):
        ax.text(lefts[i] + widths[i] / 2, 0.5, text, ha="center", va="center", fontsize=9)
    for r, row in enumerate(rows, start=1):
        cells = [bi(row["step_ja"], row["step_en"], sep="\n")] + [row[key] for key in BACKENDS]
        for i, text in enumerate(cells):
            ax.text(lefts[i] + widths[i] / 2, r + 0.5, text, ha="center", va="center", fontsize=7.8)
        ax.axhline(r, color="#999999", linewidth=0.6)
    ax.axhline(n - 1, color="#999999", linewidth=0.6)
    ax.text(0.05 + sum(widths) / 2, n - 0.5,
            bi(*ORCHESTRATION) + ": " + bi("どのステップも PyTorch が呼び分ける",
                                          "PyTorch calls the right library in every step"),
            ha="center", va="center", fontsize=8)
    return fig


# --- What the CPU build really uses ------------------------------------------------------------

_BLAS_NAMES = {"mkl": "MKL", "open": "OpenBLAS", "openblas": "OpenBLAS", "accelerate": "Accelerate",
               "flexi": "FlexiBLAS", "blis": "BLIS", "eigen": "Eigen"}


def parse_build_config(config: str, parallel: str = "") -> dict:
    """The few facts that matter here, read from torch.__config__.show() and .parallel_info()."""
    def find(pattern, text=config):
        match = re.search(pattern, text)
        return match.group(1).strip() if match else None

    blas = find(r"BLAS_INFO=([^,\s]+)")
    return {
        "blas": blas,
        "blas_name": _BLAS_NAMES.get((blas or "").lower(), blas or "?"),
        "lapack": find(r"LAPACK_INFO=([^,\s]+)"),
        "mkl_version": find(r"Math Kernel Library Version ([\d.]+)"),
        "onednn_version": find(r"(?:MKL-DNN|oneDNN) v([\d.]+)"),
        "cpu_capability": find(r"CPU capability usage: (\S+)"),
        "use_mkldnn": find(r"USE_MKLDNN=(\w+)") in ("ON", "1"),
        "use_cuda": find(r"USE_CUDA=(\w+)") in ("ON", "1"),
        "use_rocm": find(r"USE_ROCM=(\w+)") in ("ON", "1"),
        "parallel_backend": find(r"ATen parallel backend: ([^\n]+)", parallel),
        "threads": int(find(r"at::get_num_threads\(\) : (\d+)", parallel) or 0) or None,
    }


def cpu_build_info() -> dict:
    """parse_build_config on this PyTorch, plus whether oneDNN (mkldnn) and MKL can be used now."""
    info = parse_build_config(torch.__config__.show(), torch.__config__.parallel_info())
    info["mkldnn"] = bool(torch.backends.mkldnn.is_available())
    info["mkl"] = bool(torch.backends.mkl.is_available())
    return info


def build_summary(info: dict) -> str:
    """A few bilingual lines about the CPU libraries, instead of the whole build dump."""
    yes_no = {True: bi("使える", "available"), False: bi("使えない", "not available")}
    lines = [
        f"BLAS ({bi('行列積', 'matrix products')}): {info['blas_name']}"
        + (f" {info['mkl_version']}" if info.get("mkl_version") and info["blas_name"] == "MKL" else ""),
        f"oneDNN / mkldnn ({bi('畳み込み', 'convolutions')}): {yes_no[bool(info.get('mkldnn'))]}"
        + (f", v{info['onednn_version']}" if info.get("onednn_version") else ""),
        f"MKL: {yes_no[bool(info.get('mkl'))]}",
        f"{bi('CPU の命令セット', 'CPU instruction set')}: {info.get('cpu_capability') or '?'}",
        f"{bi('並列化', 'parallel backend')}: {info.get('parallel_backend') or '?'}, "
        f"{bi('スレッド', 'threads')}: {info.get('threads') or '?'}",
    ]
    return "\n".join(lines)


# --- Kinds of work and who runs them --------------------------------------------------------------

KINDS = {
    "matmul": ("行列積", "matrix product"),
    "conv": ("畳み込み", "convolution"),
    "elementwise": ("要素ごとの計算", "elementwise"),  # activations, losses, reductions, the update
    "memory": ("メモリ確保・コピー", "memory and copies"),
    "other": ("PyTorch の段取り", "PyTorch bookkeeping"),
    "unsplit": ("内訳なし(ステップ全体)", "not split (whole step)"),
}

_KIND_LIBRARIES = {
    "matmul": {"rocm": "rocBLAS / hipBLASLt", "cuda": "cuBLAS / cuBLASLt", "mps": "MPS"},
    "conv": {"rocm": "MIOpen", "cuda": "cuDNN", "mps": "MPS"},
    "elementwise": {"rocm": "PyTorch (HIP)", "cuda": "PyTorch (CUDA)", "cpu": "PyTorch (CPU)",
                    "mps": "PyTorch (MPS)"},
    "memory": {"rocm": "HIP", "cuda": "CUDA runtime", "cpu": "PyTorch allocator", "mps": "Metal"},
    "other": dict.fromkeys(("rocm", "cuda", "cpu", "mps"), "PyTorch"),
    "unsplit": dict.fromkeys(("rocm", "cuda", "cpu", "mps"), "?"),
}


def library_for(kind: str, backend: str, info: dict | None = None) -> str:
    """The library that runs one kind of work on a backend; the CPU's depends on its build (info)."""
    if kind not in KINDS or backend not in (*BACKENDS, "mps"):
        raise BilingualError(f"kind は {', '.join(KINDS)}、backend は {', '.join(BACKENDS)} のどれかです。",
                             f"kind must be one of {', '.join(KINDS)}; backend one of {', '.join(BACKENDS)}.")
    if backend == "cpu" and kind in ("matmul", "conv"):
        info = info if info is not None else cpu_build_info()
        if kind == "matmul":
            return info.get("blas_name") or "BLAS"
        return "oneDNN (mkldnn)" if info.get("mkldnn") else "PyTorch (CPU)"
    return _KIND_LIBRARIES[kind][backend]


_MATMUL = {"mm", "addmm", "bmm", "baddbmm", "addbmm", "matmul", "linear", "addmv", "mv", "dot", "vdot",
           "_addmm_activation", "_scaled_mm", "_int_mm", "einsum"}
_MEMORY = {"to", "_to_copy", "copy_", "empty", "empty_like", "empty_strided", "new_empty", "zeros",
           "zeros_like", "new_zeros", "zero_", "ones_like", "fill_", "clone", "contiguous", "index",
           "index_select", "cat", "stack", "resize_", "view", "reshape", "_reshape_alias", "_unsafe_view",
           "t", "transpose", "permute", "expand", "as_strided", "as_strided_", "flatten", "unsqueeze",
           "squeeze", "select", "slice", "detach", "detach_", "alias", "lift_fresh", "resolve_conj",
           "resolve_neg", "set_", "_local_scalar_dense", "item", "record_stream", "pin_memory"}
_RUNTIME_MEMORY = re.compile(r"malloc|free|memcpy|memset|hostalloc", re.IGNORECASE)


def classify_op(name: str) -> str:
    """The kind of work a profiled operator does: "matmul", "conv", "elementwise", "memory" or "other".

    Autograd's wrappers (AddmmBackward0, ...) and optimizer labels count as "other": their own time is
    bookkeeping, the arithmetic shows up under the aten:: operators they call.
    """
    if not isinstance(name, str):
        raise BilingualError(f"演算の名前は文字列です({type(name).__name__} が渡されました)。",
                             f"An operator name is a string (got {type(name).__name__}).")
    if not name.startswith("aten::"):
        return "memory" if _RUNTIME_MEMORY.search(name) else "other"  # hipMemcpy, cudaMalloc, ...
    base = name.removeprefix("aten::").lower()
    if "conv" in base:  # convolution, conv2d, mkldnn_/cudnn_/miopen_convolution and their backward
        return "conv"
    if base in _MATMUL:
        return "matmul"
    if base in _MEMORY:
        return "memory"
    return "elementwise"  # activations, losses, reductions, the optimizer's _foreach_ arithmetic
