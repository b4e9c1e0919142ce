"""Notebook 09: one training step of a small CNN under the PyTorch profiler, grouped by step and by
kind of work, as a table and a figure."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import time
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from matplotlib.figure import Figure
from torch import nn

from ..engine import backprop, forward, loss, update
from ..engine.device import synchronize
from ..engine.text import BilingualError, bi, bilines, labelled, text_table
from .libraries_names import KINDS, STEPS, backend_of, classify_op, library_for
from .style import series

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


def make_mlp(features: int = 256, width: int = 1024, classes: int = 2, seed: int = 0) -> nn.Sequential:
    """A small MLP for (batch, features) rows: two hidden linear layers with ReLU; all matrix products."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return nn.Sequential(
            nn.Linear(features, width), nn.ReLU(),  # (batch, width)
            nn.Linear(width, width), nn.ReLU(),  # (batch, width)
            nn.Linear(width, classes),  # (batch, classes)
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
    """One profiled event: its name, start and end (microseconds), its own (self) time in seconds and
    the GPU kernels it launched, as (kernel name, seconds) pairs (none on a CPU)."""

    name: str
    start: float
    end: float
    seconds: float
    kernels: tuple = ()


def group_records(records: Iterable[Record]) -> tuple[dict, dict, dict]:
    """(seconds[step][kind], seconds per operator, seconds[step][kernel]) for one training step.

    An event belongs to the step whose label ("step/forward", ...) was open when it started; the
    label's own time is Python and dispatch between operators, so it counts as "other". When several
    steps were recorded, each step keeps its fastest run, and the table, the operators and the kernels
    all come from that same run, so they add up to the same totals. The fastest, because another
    program busy on the same processor can only add time: it is the closest to the step's own cost.
    """
    records = list(records)
    labels = sorted((r for r in records if r.name.startswith(LABEL_PREFIX)), key=lambda r: r.start)
    starts = [r.start for r in labels]
    position = {id(r): i for i, r in enumerate(labels)}
    per_label: list[dict[str, float]] = [{} for _ in labels]
    ops_per_label: list[dict[str, float]] = [{} for _ in labels]
    kernels_per_label: list[dict[str, float]] = [{} for _ in labels]
    for r in records:
        if r.name.startswith(LABEL_PREFIX):
            i, kind = position[id(r)], "other"
        else:
            i = bisect_right(starts, r.start) - 1
            if i < 0 or r.start >= labels[i].end:
                continue  # outside the five steps (the profiler's own start and stop)
            kind = classify_op(r.name)
            ops_per_label[i][r.name] = ops_per_label[i].get(r.name, 0.0) + r.seconds
            for kernel, s in r.kernels:
                kernels_per_label[i][kernel] = kernels_per_label[i].get(kernel, 0.0) + s
        per_label[i][kind] = per_label[i].get(kind, 0.0) + r.seconds
    seconds: dict[str, dict[str, float]] = {}
    ops: dict[str, float] = {}
    kernels: dict[str, dict[str, float]] = {}
    for step in STEPS:
        runs = [i for i, label in enumerate(labels) if label.name == LABEL_PREFIX + step]
        if not runs:
            seconds[step], kernels[step] = {}, {}
            continue
        best = min(runs, key=lambda i: sum(per_label[i].values()))  # this step's fastest run
        seconds[step] = {kind: per_label[best][kind] for kind in KINDS if kind in per_label[best]}
        for name, s in ops_per_label[best].items():
            ops[name] = ops.get(name, 0.0) + s
        kernels[step] = dict(kernels_per_label[best])
    return seconds, ops, kernels


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
        kernels = tuple((k.name, k.duration / 1e6) for k in getattr(e, "kernels", ()))
        out.append(Record(e.name, e.time_range.start, e.time_range.end, us / 1e6, kernels))
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
    kernels: dict[str, dict[str, float]] = field(default_factory=dict)  # step -> GPU kernel -> seconds

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
        seconds, ops, kernels = group_records(records)
        if not ops:
            raise RuntimeError("no operators were recorded inside the five steps")
    except Exception as err:  # any failure of the profiler: fall back rather than stop the lesson
        return StepProfile(_timed_steps(run, device, repeats), backend, "timer",
                           "gpu" if device.type == "cuda" else "cpu", message=fallback_message(err))
    return StepProfile(seconds, backend, "profiler", clock, ops, kernels=kernels)


def step_legend() -> str:
    """The five steps' numbers and names, one line per language: the tables below use the numbers."""
    return bilines("ステップ: " + "、".join(ja for ja, _ in STEPS.values()),
                   "steps: " + ", ".join(en for _, en in STEPS.values()))


def profile_table(profile: StepProfile, info: dict | None = None) -> str:
    """Milliseconds per step and kind as aligned text (each number once), with each kind's library on
    this backend."""
    kinds = [k for k in KINDS if k in profile.by_kind()]
    rows = []
    for step, (ja, _) in STEPS.items():
        row = profile.seconds.get(step, {})
        rows.append([ja.split()[0], *(f"{1e3 * row.get(k, 0.0):.3f}" for k in kinds),
                     f"{1e3 * sum(row.values()):.3f}"])
    table = text_table([("ステップ", "step"), *((k, k) for k in kinds), ("合計", "total")], rows)
    lines = [step_legend(), bilines("単位: ミリ秒(学習1ステップあたり)", "unit: milliseconds per training step"),
             table]
    for k in kinds:
        library = library_for(k, profile.backend, info)
        lines.append(labelled(k, f"{KINDS[k][0]} → {library}", f"{KINDS[k][1]} → {library}"))
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
    for colour, kind in zip(series(len(kinds)), kinds, strict=True):
        ms = [1e3 * seconds.get(s, {}).get(kind, 0.0) for s in steps]
        label = bi(*KINDS[kind])
        if kind in libraries:
            label += f": {libraries[kind]}"
        ax.barh(range(len(steps)), ms, left=left, color=colour, label=label)
        left = [a + b for a, b in zip(left, ms, strict=True)]
    ax.set_yticks(range(len(steps)), [bi(*STEPS[s], sep="\n") for s in steps], fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(0, max(left + [1e-9]) * 1.05)
    ax.set_xlabel(bi("1ステップあたりの時間 [ms]", "time per training step [ms]"))
    ax.set_title(title or bi("1回の学習ステップの時間の内訳", "where one training step spends its time"),
                 fontsize=10.5)
    # Below the axes, so the legend never hides a bar.
    fig.legend(fontsize=9, loc="lower center", ncol=2, bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, 0.17, 1, 1))
    return fig
