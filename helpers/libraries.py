"""Which library does the work in each of the five steps: rocBLAS, MIOpen, HIP and their kin (notebook 09).

PyTorch runs the training loop itself and hands the heavy arithmetic to a vendor library: on AMD ROCm
rocBLAS / hipBLASLt (matrix products), MIOpen (convolutions) and HIP (memory); on NVIDIA cuBLAS /
cuBLASLt, cuDNN and the CUDA runtime; on a CPU MKL or OpenBLAS and oneDNN. This module names them,
profiles one training step to watch them work, and measures matrix-product speed; the checkers at
the end belong to the notebook's exercises.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import statistics
import sys
import tempfile
import time
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from numbers import Real

import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator
from torch import nn

from . import backprop, forward, loss, update
from .checks import NO_ANSWER, Feedback, as_number, correct, hint
from .device import build, synchronize
from .plots import PALETTE
from .text import BilingualError, bi, bilines, display_width

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


# --- One training step, five labelled sections ----------------------------------------------------

LABEL_PREFIX = "step/"


def make_cnn(size: int = 16, channels: tuple[int, int] = (16, 32), classes: int = 2, seed: int = 0) -> nn.Sequential:
    """A small CNN for (batch, 1, size, size) pictures: two 3x3 convolutions with ReLU, a linear head."""
    c1, c2 = channels
    with torch.random.fork_rng(devices=[]):  # the same weights every time, without touching the global seed
        torch.manual_seed(seed)
        return nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(),  # (batch, c1, size, size)
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(),  # (batch, c2, size, size)
            nn.Flatten(),  # (batch, c2 * size * size)
            nn.Linear(c2 * size * size, classes),  # (batch, classes)
        )


def _model_device(model: nn.Module) -> torch.device:
    if not isinstance(model, nn.Module):
        raise BilingualError(f"model は torch.nn.Module にします({type(model).__name__} が渡されました)。",
                             f"model must be a torch.nn.Module (got {type(model).__name__}).")
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


@contextlib.contextmanager
def _no_section(step: str):
    yield


def training_step(model: nn.Module, X, y, loss_fn, optimizer, section=None):
    """The five steps once; each runs inside section(step) (a profiler label or a timer). Returns the loss."""
    section = section or _no_section
    device = _model_device(model)
    with section("input"):
        X, y = X.to(device), y.to(device)  # 1 input: (batch, 1, size, size) and (batch,) onto the device
    with section("forward"):
        prediction = forward.forward(model, X)  # 2 forward pass: (batch, classes)
    with section("loss"):
        batch_loss = loss.compute_loss(loss_fn, prediction, y)  # 3 loss
    with section("backward"):
        backprop.backward(batch_loss, optimizer)  # 4 backpropagation
    with section("update"):
        update.step(optimizer)  # 5 update
    return batch_loss.detach()


# --- Grouping a profile by step and by kind -------------------------------------------------------

@dataclass(frozen=True)
class Record:
    """One profiled event: its name, start and end (microseconds) and its own (self) time in seconds."""

    name: str
    start: float
    end: float
    seconds: float


def group_records(records: Iterable[Record]) -> tuple[dict, dict]:
    """(seconds[step][kind], seconds per operator name), per training step.

    An event belongs to the step whose label ("step/forward", ...) was open when it started; the
    label's own time is Python and dispatch between operators, so it counts as "other". When several
    steps were recorded, each cell keeps the fastest of them: another program busy on the same
    processor can only add time, so the fastest is the closest to the step's own cost. Each operator's
    time is the mean over the steps.
    """
    records = list(records)
    labels = sorted((r for r in records if r.name.startswith(LABEL_PREFIX)), key=lambda r: r.start)
    starts = [r.start for r in labels]
    position = {id(r): i for i, r in enumerate(labels)}
    per_label: list[dict[str, float]] = [{} for _ in labels]
    ops: dict[str, float] = {}
    for r in records:
        if r.name.startswith(LABEL_PREFIX):
            i, kind = position[id(r)], "other"
        else:
            i = bisect_right(starts, r.start) - 1
            if i < 0 or r.start >= labels[i].end:
                continue  # outside the five steps (the profiler's own start and stop)
            kind = classify_op(r.name)
            ops[r.name] = ops.get(r.name, 0.0) + r.seconds
        per_label[i][kind] = per_label[i].get(kind, 0.0) + r.seconds
    seconds: dict[str, dict[str, float]] = {}
    for step in STEPS:
        runs = [kinds for label, kinds in zip(labels, per_label, strict=True)
                if label.name == LABEL_PREFIX + step]
        found = {kind for kinds in runs for kind in kinds}
        seconds[step] = {kind: min(kinds.get(kind, 0.0) for kinds in runs) for kind in KINDS if kind in found}
    repeats = max((sum(label.name == LABEL_PREFIX + step for label in labels) for step in STEPS), default=0)
    return seconds, {name: s / max(repeats, 1) for name, s in ops.items()}


def _records(events, clock: str) -> list[Record]:
    """FunctionEvents -> Records; "gpu" takes each CPU operator's own GPU kernel time."""
    out = []
    for e in events:
        if getattr(e, "device_type", None) not in (None, torch.autograd.DeviceType.CPU):
            continue  # GPU kernels are counted through the CPU operator that launched them
        if clock == "gpu":
            us = getattr(e, "self_device_time_total", None)
            if us is None:  # older PyTorch
                us = getattr(e, "self_cuda_time_total", 0.0)
        else:
            us = e.self_cpu_time_total
        out.append(Record(e.name, e.time_range.start, e.time_range.end, us / 1e6))
    return out


@dataclass(frozen=True)
class StepProfile:
    """One training step's time: seconds[step][kind], how it was measured, and a note if it fell back."""

    seconds: dict[str, dict[str, float]]
    backend: str
    source: str  # "profiler" or "timer" (time.perf_counter, when the profiler could not run)
    clock: str  # "cpu" or "gpu": whose time the numbers are
    ops: dict[str, float] = field(default_factory=dict)
    message: str = ""

    def by_step(self) -> dict[str, float]:
        return {step: sum(kinds.values()) for step, kinds in self.seconds.items()}

    def by_kind(self) -> dict[str, float]:
        totals = dict.fromkeys(KINDS, 0.0)
        for kinds in self.seconds.values():
            for kind, s in kinds.items():
                totals[kind] += s
        return {kind: s for kind, s in totals.items() if s > 0}

    def total(self) -> float:
        return sum(self.by_step().values())

    def share(self, *kinds: str) -> float:
        """The fraction of the step's time spent in these kinds of work."""
        total = self.total()
        return sum(self.by_kind().get(k, 0.0) for k in kinds) / total if total > 0 else 0.0


@contextlib.contextmanager
def _profiler_chatter_hidden():
    """Hide the profiler's own progress lines (libkineto writes "STAGE:"/"USDT:" lines straight to the
    process's stderr); anything else written there in the meantime is passed on."""
    chatter = re.compile(r"^(STAGE|USDT|INFO|LOG|WARNING|ERROR):\d{4}-\d\d-\d\d .*(Profiler|Kineto|Activity)",
                         re.IGNORECASE)
    try:
        saved = os.dup(2)
    except OSError:  # no real stderr to redirect
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as caught:
        sys.stderr.flush()
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            rest = [line for line in caught.read().decode(errors="replace").splitlines()
                    if line.strip() and not chatter.search(line)]
            if rest:
                print("\n".join(rest), file=sys.stderr)


def fallback_message(err: BaseException | None = None) -> str:
    """The bilingual note shown when the profiler cannot run and each step is timed instead."""
    why = f"({type(err).__name__}: {str(err).splitlines()[0][:120] if str(err) else '-'})" if err else ""
    return bilines(
        f"プロファイラが使えませんでした{why}。かわりに各ステップを time.perf_counter で測りました。"
        "ステップごとの時間は分かりますが、どのライブラリの計算だったかという内訳は分かりません。",
        f"The profiler could not be used {why}. Instead each step was timed with time.perf_counter: "
        "that gives the time of each step, but not which library's work it was.")


def _timed_steps(run, device: torch.device, repeats: int) -> dict[str, dict[str, float]]:
    times: dict[str, list[float]] = {step: [] for step in STEPS}

    @contextlib.contextmanager
    def timer(step):
        synchronize(device)
        start = time.perf_counter()
        yield
        synchronize(device)
        times[step].append(time.perf_counter() - start)

    for _ in range(repeats):
        run(timer)
    return {step: {"unsplit": min(ts)} for step, ts in times.items()}  # the fastest, as group_records


def _check_count(value, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise BilingualError(f"{name} は {low} 以上の整数です({value!r} が渡されました)。",
                             f"{name} must be a whole number of at least {low} (got {value!r}).")
    return value


def profile_training_step(model: nn.Module, X, y, loss_fn, optimizer, *, repeats: int = 7, warmup: int = 2,
                          profiler: Callable | None = None) -> StepProfile:
    """Profile `repeats` training steps with torch.profiler; per-step seconds (the fastest of them)
    grouped by step and kind.

    On a GPU ("cuda", which ROCm builds use too) the numbers are GPU kernel time, else CPU time. If the
    profiler fails, each step is timed with time.perf_counter instead and `message` says why.
    profiler: a stand-in for torch.profiler.profile (tests pass a broken one).
    """
    repeats = _check_count(repeats, "repeats", 1)
    warmup = _check_count(warmup, "warmup", 0)
    device = _model_device(model)

    def run(section=None):
        training_step(model, X, y, loss_fn, optimizer, section)

    for _ in range(warmup):  # the first steps pay one-time costs: memory, kernel choice, library start-up
        run()
    synchronize(device)
    backend = backend_of(device)
    clock = "gpu" if device.type == "cuda" else "cpu"
    profiler = profiler or torch.profiler.profile
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)  # ROCm reports its kernels as CUDA too

    def label(step):
        return torch.profiler.record_function(LABEL_PREFIX + step)

    try:
        with _profiler_chatter_hidden():
            with profiler(activities=activities) as prof:
                for _ in range(repeats):
                    run(label)
                synchronize(device)
            records = _records(prof.events(), clock)
        seconds, ops = group_records(records)
        if not ops:
            raise RuntimeError("no operators were recorded inside the five steps")
    except Exception as err:  # any failure of the profiler: fall back rather than stop the lesson
        return StepProfile(_timed_steps(run, device, repeats), backend, "timer",
                           "gpu" if device.type == "cuda" else "cpu", message=fallback_message(err))
    return StepProfile(seconds, backend, "profiler", clock, ops)


def _pad(text: str, width: int) -> str:
    """text padded with spaces to `width` columns; Japanese characters take two columns."""
    return text + " " * max(width - display_width(text), 1)


def profile_table(profile: StepProfile, info: dict | None = None) -> str:
    """Milliseconds per step and kind as aligned text, with each kind's library on this backend."""
    kinds = [k for k in KINDS if k in profile.by_kind()]
    lines = [_pad(bi("ステップ", "step"), 30) + "".join(f"{k:>12}" for k in kinds) + f"{'total':>10}"]
    for step, names in STEPS.items():
        row = profile.seconds.get(step, {})
        cells = "".join(f"{1e3 * row.get(k, 0.0):12.3f}" for k in kinds)
        lines.append(_pad(bi(*names), 30) + f"{cells}{1e3 * sum(row.values()):10.3f}")
    lines.append(bi("(単位: ミリ秒 / 1ステップ)", "(milliseconds per training step)"))
    for k in kinds:
        lines.append(f"{k:>12}: {bi(*KINDS[k])} -> {library_for(k, profile.backend, info)}")
    return "\n".join(lines)


def profile_figure(seconds: dict[str, dict[str, float]], libraries: dict[str, str] | None = None,
                   title: str | None = None) -> Figure:
    """Stacked bars: the time of each of the five steps, split by kind of work (ms per step)."""
    if not isinstance(seconds, dict) or not set(seconds) <= set(STEPS):
        raise BilingualError(f"seconds は {', '.join(STEPS)} をキーにした辞書です。",
                             f"seconds must be a dict keyed by {', '.join(STEPS)}.")
    libraries = libraries or {}
    steps = list(STEPS)
    kinds = [k for k in KINDS if any(seconds.get(s, {}).get(k, 0) > 0 for s in steps)]
    fig = Figure(figsize=(6.5, 3.9))
    ax = fig.add_subplot()
    left = [0.0] * len(steps)
    for colour, kind in zip(PALETTE, kinds, strict=False):
        ms = [1e3 * seconds.get(s, {}).get(kind, 0.0) for s in steps]
        label = bi(*KINDS[kind])
        if kind in libraries:
            label += f": {libraries[kind]}"
        ax.barh(range(len(steps)), ms, left=left, color=colour, label=label)
        left = [a + b for a, b in zip(left, ms, strict=True)]
    ax.set_yticks(range(len(steps)), [bi(*STEPS[s], sep="\n") for s in steps], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, max(left + [1e-9]) * 1.05)
    ax.set_xlabel(bi("1ステップあたりの時間 [ms]", "time per training step [ms]"))
    ax.set_title(title or bi("1回の学習ステップの時間の内訳", "where one training step spends its time"),
                 fontsize=10.5)
    # Below the axes, so the legend never hides a bar.
    fig.legend(fontsize=7.5, loc="lower center", ncol=2, bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, 0.17, 1, 1))
    return fig


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
    for colour, (name, points) in zip(PALETTE, curves.items(), strict=False):
        sizes = sorted(points)
        ax.plot(sizes, [points[n] for n in sizes], "o-", color=colour, label=name)
    if crossover_at is not None:
        ax.axvline(crossover_at, color=PALETTE[3], linestyle="--",
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
    ax.set_title(bi("大きな行列ほど計算器を使い切れる", "bigger matrices keep the hardware busier"),
                 fontsize=10.5)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# --- Exercises ----------------------------------------------------------------------------------

def _name(answer) -> str:
    return re.sub(r"[\s_\-]", "", str(answer)).lower()


# key -> (the job in Japanese, in English, accepted names, hint in Japanese, in English)
LIBRARY_QUESTIONS = {
    "matmul": ("行列積(Linear 層の重み × 入力)", "a matrix product (a Linear layer's weights × input)",
               {"rocblas", "hipblaslt", "hipblas", "rocblas/hipblaslt", "rocblas/hipblas"},
               "行列積は BLAS と呼ばれる種類のライブラリの仕事です。表の ROCm の列を見てください。",
               "Matrix products are the job of a BLAS library; look at the ROCm column of the table."),
    "conv": ("畳み込み(Conv2d のフィルタ)", "a convolution (a Conv2d filter)", {"miopen"},
             "畳み込みと活性化を受けもつ、深層学習専用のライブラリです。",
             "It is the library made for deep learning that runs convolutions and activations."),
    "memory": ("GPU メモリの確保と転送", "allocating and copying GPU memory", {"hip", "hipruntime"},
               "AMD の GPU で CUDA の代わりをする、いちばん土台の仕組みです。",
               "It is the base layer that stands in for CUDA on AMD GPUs."),
}
_OTHER_BACKENDS = {
    "cublas": "NVIDIA", "cublaslt": "NVIDIA", "cudnn": "NVIDIA", "cuda": "NVIDIA", "cudaruntime": "NVIDIA",
    "mkl": "CPU", "onednn": "CPU", "mkldnn": "CPU", "openblas": "CPU",
}


def library_questions() -> None:
    """Print the jobs to be matched with a ROCm library."""
    for key, (ja, en, *_) in LIBRARY_QUESTIONS.items():
        print(f"{key}: {bi(ja, en)}")


def check_library(answers) -> Feedback:
    """Notebook 09: answers maps "matmul", "conv", "memory" to the ROCm library that does that job."""
    if answers is None:
        return hint(*NO_ANSWER)
    if not isinstance(answers, dict):
        return hint("{'matmul': '...', 'conv': '...', 'memory': '...'} のような辞書で答えます。",
                    "Answer with a dict such as {'matmul': '...', 'conv': '...', 'memory': '...'}.")
    missing = [k for k in LIBRARY_QUESTIONS if answers.get(k) is None]
    if missing:
        keys = ", ".join(missing)
        return hint(f"まだ答えていない項目があります: {keys}", f"Some items have no answer yet: {keys}")
    notes_ja, notes_en = [], []
    for key, (_, _, accepted, hint_ja, hint_en) in LIBRARY_QUESTIONS.items():
        given = _name(answers[key])
        if given in accepted:
            continue
        other = _OTHER_BACKENDS.get(given)
        if other:
            notes_ja.append(f"{key}: {answers[key]} は {other} の名前です。AMD ROCm の名前で答えます。")
            notes_en.append(f"{key}: {answers[key]} is the {other} name; give the AMD ROCm one.")
        else:
            notes_ja.append(f"{key}: {hint_ja}")
            notes_en.append(f"{key}: {hint_en}")
    if notes_ja:
        return hint("\n".join(notes_ja), "\n".join(notes_en))
    return correct("3つとも正解です。行列積は rocBLAS / hipBLASLt、畳み込みは MIOpen、メモリは HIP。"
                   "それを呼び分けるのが PyTorch です。",
                   "All three right: matrix products rocBLAS / hipBLASLt, convolutions MIOpen, memory HIP, "
                   "and PyTorch calls each of them.")


def check_flops(answer, n: int = 1024) -> Feedback:
    """Notebook 09: the operations of an (n, n) @ (n, n) matrix product, counted as in GFLOP/s."""
    if answer is None:
        return hint(*NO_ANSWER)
    value = as_number(answer)
    if value is None:
        return hint("数で答えます(例: 2 * 10**9)。", "Answer with a number (e.g. 2 * 10**9).")
    truth = matmul_flops(n)
    if math.isclose(value, truth, rel_tol=1e-6):
        return correct(f"正解です。{n}×{n} の出力それぞれに {n} 回の掛け算と足し算: 2 × {n}³ = {truth:,d}。",
                       f"Right: each of the {n}×{n} outputs needs {n} multiplications and additions: "
                       f"2 × {n}³ = {truth:,d}.")
    if math.isclose(value, n ** 3, rel_tol=1e-6):
        return hint("掛け算だけを数えています。掛けたものを足す計算も1回と数えます。",
                    "That counts the multiplications only; each one is followed by an addition, which counts too.")
    if math.isclose(value, n ** 2, rel_tol=1e-6) or math.isclose(value, 2 * n ** 2, rel_tol=1e-6):
        return hint(f"それは出力の数くらいです。出力1つを作るのに、長さ {n} の掛け算と足し算がいります。",
                    f"That is about the number of outputs; each output needs {n} multiplications and additions.")
    return hint(f"出力の数 × 出力1つあたりの計算の数、で考えます({value:,.0f} は大きさがちがいます)。",
                f"Think: number of outputs × operations per output ({value:,.0f} is off).")


def check_backward_ratio(answer) -> Feedback:
    """Notebook 09: how many times a middle Linear layer's forward work its backward pass needs."""
    if answer is None:
        return hint(*NO_ANSWER)
    value = as_number(answer)
    if value is None:
        return hint("数で答えます(例: 1.5)。", "Answer with a number (e.g. 1.5).")
    if math.isclose(value, 2.0, abs_tol=0.01):
        return correct("正解です。入力の勾配と重みの勾配で、行列積が2回。だから逆伝播は順伝播の約2倍です。",
                       "Right: one matrix product for the input's gradient and one for the weights', "
                       "so backpropagation is about twice the forward work.")
    if math.isclose(value, 1.0, abs_tol=0.01):
        return hint("逆伝播は勾配を2種類作ります。重みの勾配と、もう1つは何でしょう。",
                    "Backpropagation makes two kinds of gradient: the weights', and which other one?")
    if math.isclose(value, 3.0, abs_tol=0.01):
        return hint("それは順伝播と逆伝播を合わせた量です。逆伝播だけでは?",
                    "That is forward and backward together; what about backward alone?")
    if math.isclose(value, 0.5, abs_tol=0.01):
        return hint("向きが逆です。逆伝播のほうが順伝播より仕事が多いです。",
                    "Upside down: backpropagation does more work than the forward pass.")
    return hint("逆伝播で作る勾配の種類を数えて、1つが順伝播と同じ量の行列積だと考えます。",
                "Count the kinds of gradient backpropagation makes; each costs one forward-sized matrix product.")
