"""Notebook 09: which library runs each step on ROCm, CUDA and the CPU, the build's own libraries,
and which library an `aten::` operation belongs to."""

from __future__ import annotations

import re

import torch

from ..engine.device import build
from ..engine.text import BilingualError, bilines

# --- The table: five steps x three backends ------------------------------------------------------

STEPS = {
    "input": ("1 入力", "1 input"),
    "forward": ("2 順伝播", "2 forward pass"),
    "loss": ("3 損失", "3 loss"),
    "backward": ("4 逆伝播", "4 backpropagation"),
    "update": ("5 更新", "5 update"),
}
BACKENDS = {"rocm": ("AMD ROCm 版", "AMD ROCm"), "cuda": ("NVIDIA CUDA 版", "NVIDIA CUDA"),
            "cpu": ("CPU 版", "CPU")}

# step -> (the work in Japanese, in English, {backend: library}). PyTorch runs every step; these are
# the libraries it calls for the heavy part. A library is one name for both languages (in code
# spans, as names are) or a (Japanese, English) pair where words describe it.
_TABLE = {
    "input": ("データをデバイスのメモリへ運ぶ", "move the batch into device memory", {
        "rocm": ("HIP のメモリ関数(`hipMalloc`、`hipMemcpyWithStream` など)",
                 "HIP (`hipMalloc`, `hipMemcpyWithStream`, ...)"),
        "cuda": ("CUDA ランタイム(`cudaMalloc`、`cudaMemcpyAsync` など)",
                 "CUDA runtime (`cudaMalloc`, `cudaMemcpyAsync`, ...)"),
        "cpu": ("PyTorch のアロケータ(RAM、コピーなし)", "PyTorch allocator (RAM, nothing to copy)")}),
    "forward": ("行列積・畳み込み・活性化", "matrix products, convolutions, activations", {
        "rocm": "`rocBLAS` / `hipBLASLt` + `MIOpen`",
        "cuda": "`cuBLAS` / `cuBLASLt` + `cuDNN`",
        "cpu": ("`MKL` か `OpenBLAS` + `oneDNN`", "`MKL` or `OpenBLAS` + `oneDNN`")}),
    "loss": ("外れ具合を1つの数に", "one number for the miss", {
        "rocm": ("PyTorch 自身のカーネル(HIP で書かれたもの)", "PyTorch's own kernels, written in HIP"),
        "cuda": ("PyTorch 自身の CUDA カーネル", "PyTorch's own CUDA kernels"),
        "cpu": ("PyTorch 自身の CPU カーネル", "PyTorch's own CPU kernels")}),
    "backward": ("勾配の行列積・畳み込み", "gradient matrix products and convolutions", {
        "rocm": ("autograd から `rocBLAS` / `hipBLASLt` + `MIOpen` を呼ぶ",
                 "autograd → `rocBLAS` / `hipBLASLt` + `MIOpen`"),
        "cuda": ("autograd から `cuBLAS` / `cuBLASLt` + `cuDNN` を呼ぶ",
                 "autograd → `cuBLAS` / `cuBLASLt` + `cuDNN`"),
        "cpu": ("autograd から `MKL` か `OpenBLAS` + `oneDNN` を呼ぶ",
                "autograd → `MKL` or `OpenBLAS` + `oneDNN`")}),
    "update": ("重みを少し動かす(要素ごと)", "nudge every weight (elementwise)", {
        "rocm": ("PyTorch のオプティマイザ(HIP で書かれたカーネル)",
                 "PyTorch optimizer (its own kernels, written in HIP)"),
        "cuda": ("PyTorch のオプティマイザ(CUDA カーネル)", "PyTorch optimizer (CUDA kernels)"),
        "cpu": ("PyTorch のオプティマイザ(CPU カーネル)", "PyTorch optimizer (CPU kernels)")}),
}


def _pair(value: str | tuple[str, str]) -> tuple[str, str]:
    return (value, value) if isinstance(value, str) else value


def library_table() -> list[dict[str, str]]:
    """One row per step: its key, name and work (ja, en) and the library on each backend
    (row["rocm"] in English, row["rocm_ja"] in Japanese; the same text where it is only names)."""
    rows = []
    for key, (step_ja, step_en) in STEPS.items():
        work_ja, work_en, libraries = _TABLE[key]
        row = {"step": key, "step_ja": step_ja, "step_en": step_en, "work_ja": work_ja, "work_en": work_en}
        for backend, value in libraries.items():
            row[f"{backend}_ja"], row[backend] = _pair(value)
        rows.append(row)
    return rows


def table_markdown(rows: list[dict[str, str]] | None = None) -> str:
    """The steps x backends table as a Markdown table: searchable, translatable, and kept in handouts
    (every cell is one name, or a "日本語 / English" pair that a one-language copy splits)."""
    rows = library_table() if rows is None else rows
    if not rows or any({*BACKENDS, *(f"{b}_ja" for b in BACKENDS)} - set(row) for row in rows):
        raise BilingualError("rows は library_table() の結果を渡します。",
                             "rows must be what library_table() returns.")

    def cell(ja: str, en: str) -> str:
        return en if ja == en else f"{ja} / {en}"

    lines = ["| ステップ / step | 仕事 / work | " + " | ".join(cell(*b) for b in BACKENDS.values()) + " |",
             "|---|---|" + "---|" * len(BACKENDS)]
    for row in rows:
        cells = [cell(row[f"{key}_ja"], row[key]) for key in BACKENDS]
        lines.append(f"| {row['step_ja']} / {row['step_en']} | {row['work_ja']} / {row['work_en']} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


def backend_of(device: torch.device | str) -> str:
    """"rocm", "cuda" or "cpu" for the table's columns ("mps" for Apple's GPU, which has none)."""
    device = torch.device(device)
    if device.type == "cuda":
        return build()  # a ROCm build reports an AMD GPU as "cuda" too: the build tells them apart
    if device.type == "mps":
        return "mps"
    return "cpu"


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
    """A few lines about the CPU libraries, instead of the whole build dump: the Japanese lines, then
    the English ones."""
    blas = info["blas_name"] + (f" {info['mkl_version']}" if info.get("mkl_version") and info["blas_name"] == "MKL"
                                else "")
    onednn = f"v{info['onednn_version']}" if info.get("onednn_version") else ""
    capability, backend, threads = (info.get("cpu_capability") or "?", info.get("parallel_backend") or "?",
                                    info.get("threads") or "?")

    def lines(words: dict[str, str], yes: str, no: str, comma: str) -> str:
        mkldnn = yes if info.get("mkldnn") else no
        return "\n".join([
            f"BLAS({words['matmul']}): {blas}",
            f"oneDNN / mkldnn({words['conv']}): {mkldnn}{comma + onednn if onednn else ''}",
            f"MKL: {yes if info.get('mkl') else no}",
            f"{words['isa']}: {capability}",
            f"{words['parallel']}: {backend}{comma}{words['threads']}: {threads}",
        ])

    ja = lines({"matmul": "行列積", "conv": "畳み込み", "isa": "CPU の命令セット", "parallel": "並列化",
                "threads": "スレッド"}, "使える", "使えない", "、")
    en = lines({"matmul": "matrix products", "conv": "convolutions", "isa": "CPU instruction set",
                "parallel": "parallel backend", "threads": "threads"}, "available", "not available", ", ")
    en = en.replace("(", " (")
    return bilines(ja, en)


# --- Kinds of work and who runs them --------------------------------------------------------------

KINDS = {
    "matmul": ("行列積", "matrix product"),
    "conv": ("畳み込み", "convolution"),
    "elementwise": ("要素ごとの計算", "elementwise"),  # activations, losses, reductions, the update
    "memory": ("メモリ確保・コピー", "memory and copies"),
    "view": ("形だけの変更", "metadata only"),  # view, t, transpose, expand: no kernel, no memory touched
    "other": ("PyTorch の段取り", "PyTorch bookkeeping"),
    "unsplit": ("内訳なし(ステップ全体)", "not split (whole step)"),
}

_KIND_LIBRARIES = {
    "matmul": {"rocm": "rocBLAS / hipBLASLt", "cuda": "cuBLAS / cuBLASLt", "mps": "MPS"},
    "conv": {"rocm": "MIOpen", "cuda": "cuDNN", "mps": "MPS"},
    "elementwise": {"rocm": "PyTorch (HIP)", "cuda": "PyTorch (CUDA)", "cpu": "PyTorch (CPU)",
                    "mps": "PyTorch (MPS)"},
    "memory": {"rocm": "HIP", "cuda": "CUDA runtime", "cpu": "PyTorch allocator", "mps": "Metal"},
    "view": dict.fromkeys(("rocm", "cuda", "cpu", "mps"), "PyTorch (no kernel)"),
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
           "index_select", "cat", "stack", "resize_", "set_", "_local_scalar_dense", "item",
           "record_stream", "pin_memory"}
# Views change only the shape and strides the tensor is read with: no kernel runs, no byte moves.
_VIEW = {"view", "_reshape_alias", "_unsafe_view", "t", "transpose", "permute", "expand", "as_strided",
         "flatten", "unsqueeze", "squeeze", "select", "slice", "detach", "alias", "lift_fresh",
         "resolve_conj", "resolve_neg", "numpy_T", "reshape"}
_RUNTIME_MEMORY = re.compile(r"malloc|free|memcpy|memset|hostalloc", re.IGNORECASE)


def classify_op(name: str) -> str:
    """The kind of work a profiled operator does: "matmul", "conv", "elementwise", "memory", "view"
    (metadata only) or "other".

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
    if base in _VIEW:
        return "view"
    if base in _MEMORY:
        return "memory"
    return "elementwise"  # activations, losses, reductions, the optimizer's _foreach_ arithmetic
