"""Notebook 09's helpers: the library table, the profile grouping and its fallback, speed, checkers."""

import json
import os
import sys
from pathlib import Path

import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

import helpers
from helpers.lessons import libraries, libraries_names, libraries_profile, libraries_runtime, libraries_sweep, style
from helpers.lessons.libraries_profile import Record

ROOT = Path(__file__).resolve().parents[1]


def small_setup(size=8):
    """A tiny CNN, its data, loss and optimizer: enough to profile in well under a second."""
    X, y = helpers.engine.data.make_bars(n=16, size=size)
    model = libraries_profile.make_cnn(size=size, channels=(4, 8))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    return model, X, y, nn.CrossEntropyLoss(), optimizer


# --- the table ----------------------------------------------------------------------------------

def test_table_covers_five_steps_and_three_backends():
    rows = libraries_names.library_table()
    assert [row["step"] for row in rows] == ["input", "forward", "loss", "backward", "update"]
    for row in rows:
        for backend in ("rocm", "cuda", "cpu"):
            assert row[backend].strip(), (row["step"], backend)
        assert row["step_ja"] and row["step_en"] and row["work_ja"] and row["work_en"]


def test_table_names_the_right_libraries():
    rows = {row["step"]: row for row in libraries_names.library_table()}
    assert "HIP" in rows["input"]["rocm"] and "CUDA" in rows["input"]["cuda"]
    for step in ("forward", "backward"):
        assert "rocBLAS" in rows[step]["rocm"] and "hipBLASLt" in rows[step]["rocm"]
        assert "MIOpen" in rows[step]["rocm"]
        assert "cuBLAS" in rows[step]["cuda"] and "cuDNN" in rows[step]["cuda"]
        assert "oneDNN" in rows[step]["cpu"] and "MKL" in rows[step]["cpu"]
    assert all("PyTorch" in rows[s][b] for s in ("loss", "update") for b in ("rocm", "cuda", "cpu"))


def test_backend_of_cpu_and_gpu_builds(monkeypatch):
    assert libraries_names.backend_of("cpu") == "cpu"
    assert libraries_names.backend_of(torch.device("cpu")) == "cpu"
    monkeypatch.setattr(libraries_names, "build", lambda: "rocm")
    assert libraries_names.backend_of("cuda") == "rocm"  # a ROCm build names its AMD GPU "cuda"
    monkeypatch.setattr(libraries_names, "build", lambda: "cuda")
    assert libraries_names.backend_of("cuda") == "cuda"


def test_table_markdown_is_a_real_table_and_the_notebook_holds_it():
    table = libraries_names.table_markdown()
    lines = table.splitlines()
    assert len(lines) == 2 + len(libraries_names.STEPS)
    assert all(line.count("|") == lines[0].count("|") for line in lines)  # every row has every column
    assert "MIOpen" in table and "cuDNN" in table and "oneDNN" in table and "\n" not in lines[2]
    notebook = json.loads((ROOT / "notebooks" / "09_libraries.ipynb").read_text(encoding="utf-8"))
    markdown = ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "markdown"]
    assert any(table in cell for cell in markdown)  # the notebook's table is this one, word for word


def test_table_markdown_rejects_bad_rows():
    with pytest.raises(helpers.BilingualError, match="library_table"):
        libraries_names.table_markdown([{"step": "input"}])


# --- the CPU build --------------------------------------------------------------------------------

CONFIG = """PyTorch built with:
  - Intel(R) oneAPI Math Kernel Library Version 2024.2-Product Build 20240605 for Intel(R) 64
  - Intel(R) MKL-DNN v3.12.0 (Git Hash 80afa71049cd69a3df32adcccb623b12cd7baa22)
  - CPU capability usage: AVX2
  - Build settings: BLAS_INFO=mkl, BUILD_TYPE=Release, LAPACK_INFO=mkl, USE_CUDA=0, USE_CUDNN=OFF,
    USE_MKLDNN=ON, USE_ROCM=OFF,
"""
PARALLEL = "ATen/Parallel:\n\tat::get_num_threads() : 4\nATen parallel backend: OpenMP\n"


def test_parse_build_config_reads_the_libraries():
    info = libraries_names.parse_build_config(CONFIG, PARALLEL)
    assert info["blas"] == "mkl" and info["blas_name"] == "MKL" and info["lapack"] == "mkl"
    assert info["mkl_version"] == "2024.2" and info["onednn_version"] == "3.12.0"
    assert info["cpu_capability"] == "AVX2" and info["use_mkldnn"] is True
    assert info["use_cuda"] is False and info["use_rocm"] is False
    assert info["threads"] == 4 and info["parallel_backend"] == "OpenMP"


def test_parse_build_config_openblas_and_missing_facts():
    info = libraries_names.parse_build_config("Build settings: BLAS_INFO=open, USE_ROCM=ON,")
    assert info["blas_name"] == "OpenBLAS" and info["use_rocm"] is True
    assert info["mkl_version"] is None and info["threads"] is None
    assert libraries_names.parse_build_config("")["blas_name"] == "?"


def test_cpu_build_info_matches_torch_backends():
    info = libraries_names.cpu_build_info()
    assert info["mkldnn"] == torch.backends.mkldnn.is_available()
    assert info["mkl"] == torch.backends.mkl.is_available()
    assert info["blas_name"]
    summary = libraries_names.build_summary(info)
    assert "BLAS" in summary and "oneDNN" in summary and len(summary.splitlines()) == 10  # 5 per language


# --- classifying operators ----------------------------------------------------------------------

@pytest.mark.parametrize(("name", "kind"), [
    ("aten::mm", "matmul"), ("aten::addmm", "matmul"), ("aten::bmm", "matmul"), ("aten::matmul", "matmul"),
    ("aten::linear", "matmul"),
    ("aten::convolution", "conv"), ("aten::conv2d", "conv"), ("aten::mkldnn_convolution", "conv"),
    ("aten::cudnn_convolution", "conv"), ("aten::miopen_convolution", "conv"),
    ("aten::convolution_backward", "conv"), ("aten::_convolution", "conv"),
    ("aten::relu", "elementwise"), ("aten::clamp_min", "elementwise"), ("aten::threshold_backward", "elementwise"),
    ("aten::_foreach_add_", "elementwise"), ("aten::nll_loss_forward", "elementwise"), ("aten::sum", "elementwise"),
    ("aten::copy_", "memory"), ("aten::to", "memory"), ("aten::empty", "memory"),
    ("aten::view", "view"), ("aten::expand", "view"), ("aten::transpose", "view"),
    ("aten::t", "view"), ("hipMemcpyAsync", "memory"), ("cudaMalloc", "memory"),
    ("AddmmBackward0", "other"), ("Optimizer.step#SGD.step", "other"), ("hipLaunchKernel", "other"),
])
def test_classify_op(name, kind):
    assert libraries_names.classify_op(name) == kind


def test_classify_op_wants_a_name():
    with pytest.raises(helpers.BilingualError):
        libraries_names.classify_op(None)


@pytest.mark.parametrize(("kind", "backend", "library"), [
    ("matmul", "rocm", "rocBLAS / hipBLASLt"), ("conv", "rocm", "MIOpen"), ("memory", "rocm", "HIP"),
    ("matmul", "cuda", "cuBLAS / cuBLASLt"), ("conv", "cuda", "cuDNN"), ("memory", "cuda", "CUDA runtime"),
])
def test_library_for_gpus(kind, backend, library):
    assert libraries_names.library_for(kind, backend) == library


def test_library_for_cpu_follows_the_build():
    assert libraries_names.library_for("matmul", "cpu", {"blas_name": "OpenBLAS"}) == "OpenBLAS"
    assert libraries_names.library_for("conv", "cpu", {"mkldnn": True}) == "oneDNN (mkldnn)"
    assert libraries_names.library_for("conv", "cpu", {"mkldnn": False}) == "PyTorch (CPU)"
    with pytest.raises(helpers.BilingualError):
        libraries_names.library_for("painting", "cpu")


# --- grouping a profile -----------------------------------------------------------------------------

def test_group_records_by_step_and_kind_keeps_the_fastest():
    records = []
    for run, (fwd, bwd) in enumerate([(3.0, 2.0), (1.0, 2.0), (9.0, 2.0)]):  # slowed down by other programs
        t = 1000.0 * run
        records += [
            Record("step/forward", t, t + 100, 0.1),
            Record("aten::addmm", t + 10, t + 50, fwd, (("Cijk_gemm", fwd / 2),)),
            Record("aten::relu", t + 60, t + 70, 0.5),
            Record("step/backward", t + 200, t + 400, 0.0),
            Record("aten::mm", t + 210, t + 300, bwd),
        ]
    records.append(Record("aten::mm", 5000, 5100, 100.0))  # outside every step: not counted
    seconds, ops, kernels = libraries_profile.group_records(records)
    assert seconds["forward"] == {"matmul": 1.0, "elementwise": 0.5, "other": 0.1}  # the fastest run
    assert seconds["backward"] == {"matmul": 2.0, "other": 0.0}
    assert seconds["input"] == {} and seconds["update"] == {}
    assert ops["aten::addmm"] == pytest.approx(1.0)  # from the same fastest run as the table
    assert ops["aten::mm"] == pytest.approx(2.0)
    assert kernels["forward"] == {"Cijk_gemm": 0.5} and kernels["backward"] == {}
    # one statistic: the operators of a kind add up to that kind's column of the table
    assert ops["aten::addmm"] + ops["aten::mm"] == pytest.approx(
        seconds["forward"]["matmul"] + seconds["backward"]["matmul"])


def test_profile_a_real_step_on_cpu_gives_groups():
    model, X, y, loss_fn, optimizer = small_setup()
    profile = libraries_profile.profile_training_step(model, X, y, loss_fn, optimizer, repeats=2, warmup=1)
    assert profile.source == "profiler" and profile.message == "" and profile.clock == "cpu"
    assert profile.backend == "cpu"
    by_step = profile.by_step()
    assert set(by_step) == set(libraries_names.STEPS)
    for step in ("forward", "loss", "backward", "update"):
        assert by_step[step] > 0, step
    kinds = profile.by_kind()
    assert kinds["conv"] > 0 and kinds["matmul"] > 0 and kinds["elementwise"] > 0
    assert profile.seconds["forward"]["conv"] > 0 and profile.seconds["backward"]["conv"] > 0
    assert "matmul" not in profile.seconds["update"] and "conv" not in profile.seconds["update"]
    assert any(libraries_names.classify_op(name) == "conv" for name in profile.ops)
    assert 0 < profile.share("matmul", "conv") <= 1
    assert profile.total() == pytest.approx(sum(by_step.values()))
    table = libraries_profile.profile_table(profile)
    assert "conv" in table and "backpropagation" in table


def test_profile_leaves_no_profiler_chatter_on_stderr(capfd):
    model, X, y, loss_fn, optimizer = small_setup()
    libraries_profile.profile_training_step(model, X, y, loss_fn, optimizer, repeats=1, warmup=0)
    err = capfd.readouterr().err
    assert "STAGE:" not in err and "USDT:" not in err


def test_other_stderr_passes_through_while_profiling(capfd):
    with libraries_profile._profiler_chatter_hidden():
        os.write(2, b"STAGE:2026-01-01 10:00:00 1:1 ActivityProfilerController.cpp:1] warm up\n")
        os.write(2, b"a real problem\n")
    sys.stderr.flush()
    err = capfd.readouterr().err
    assert "a real problem" in err and "STAGE" not in err


def broken_profiler(**kwargs):
    raise RuntimeError("profiler unavailable on this backend")


def test_profiler_failure_falls_back_to_timing_with_a_bilingual_message(japanese):
    model, X, y, loss_fn, optimizer = small_setup()
    profile = libraries_profile.profile_training_step(model, X, y, loss_fn, optimizer, repeats=2, warmup=0,
                                              profiler=broken_profiler)
    assert profile.source == "timer"
    assert "プロファイラ" in profile.message and "profiler could not be used" in profile.message
    assert "RuntimeError" in profile.message
    assert set(profile.by_kind()) == {"unsplit"}
    assert all(s >= 0 for s in profile.by_step().values()) and profile.total() > 0
    assert profile.share("matmul", "conv") == 0
    assert "unsplit" in libraries_profile.profile_table(profile)
    fig = libraries_profile.profile_figure(profile.seconds)
    assert len(fig.legends[0].get_texts()) == 1  # one kind of work: the time not split by library


def test_an_empty_profile_falls_back_too():
    class Empty:
        def __init__(self, **kwargs):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def events(self):
            return []

    model, X, y, loss_fn, optimizer = small_setup()
    profile = libraries_profile.profile_training_step(model, X, y, loss_fn, optimizer, repeats=1, warmup=0,
                                              profiler=Empty)
    assert profile.source == "timer" and "no operators" in profile.message


def test_fallback_message_without_an_error():
    message = libraries_profile.fallback_message()
    assert "time.perf_counter" in message and "プロファイラ" in message


def test_profile_checks_its_counts():
    model, X, y, loss_fn, optimizer = small_setup()
    with pytest.raises(helpers.BilingualError, match="repeats"):
        libraries_profile.profile_training_step(model, X, y, loss_fn, optimizer, repeats=0)
    with pytest.raises(helpers.BilingualError, match="model"):
        libraries_profile.profile_training_step("model", X, y, loss_fn, optimizer)


def test_training_step_trains_like_a_plain_loop():
    model, X, y, loss_fn, optimizer = small_setup()
    twin, _, _, _, _ = small_setup()
    twin_optimizer = torch.optim.SGD(twin.parameters(), lr=0.05, momentum=0.9)
    seen = []

    def section(step):
        seen.append(step)
        return libraries_profile._no_section(step)

    batch_loss = libraries_profile.training_step(model, X, y, loss_fn, optimizer, section)
    expected = loss_fn(twin(X), y)
    twin_optimizer.zero_grad()
    expected.backward()
    twin_optimizer.step()
    assert seen == list(libraries_names.STEPS)
    assert batch_loss.item() == pytest.approx(expected.item())
    for p, q in zip(model.parameters(), twin.parameters(), strict=True):
        assert torch.allclose(p, q)


def test_profile_figure(japanese):
    seconds = {"forward": {"conv": 0.002, "elementwise": 0.001}, "backward": {"conv": 0.004, "matmul": 0.001},
               "update": {"elementwise": 0.0005}}
    fig = libraries_profile.profile_figure(seconds, {"conv": "MIOpen", "matmul": "rocBLAS / hipBLASLt"})
    ax = fig.axes[0]
    # each step's row of stacked bars ends at its total milliseconds; the rows read 1 input ... 5 update
    assert [t.get_text().split("\n")[-1] for t in ax.get_yticklabels()] == [
        "1 input", "2 forward pass", "3 loss", "4 backpropagation", "5 update"]
    ends = [0.0] * 5
    for bar in ax.patches:
        row = round(bar.get_y() + bar.get_height() / 2)
        ends[row] = max(ends[row], bar.get_x() + bar.get_width())
    assert ends == pytest.approx([0.0, 3.0, 0.0, 5.0, 0.5])
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("MIOpen" in t for t in labels) and len(labels) == 3
    assert style.missing_glyphs(fig) == []
    with pytest.raises(helpers.BilingualError):
        libraries_profile.profile_figure({"painting": {}})


# --- work, memory, speed ---------------------------------------------------------------------------

def test_training_flops_counts_forward_and_backward():
    X = torch.zeros(2, 1, 4, 4)
    model = libraries_profile.make_cnn(size=4, channels=(3, 5), classes=2)
    conv1 = 2 * (2 * 3 * 4 * 4) * (1 * 9)
    conv2 = 2 * (2 * 5 * 4 * 4) * (3 * 9)
    linear = 2 * (2 * 2) * (5 * 4 * 4)
    flops = libraries_sweep.training_flops(model, X)
    assert flops["forward"] == conv1 + conv2 + linear
    assert flops["backward"] == 2 * (conv1 + conv2 + linear) - conv1  # the data needs no gradient
    with pytest.raises(helpers.BilingualError):
        libraries_sweep.training_flops(model, "X")


def test_make_cnn_same_weights_and_shapes():
    a, b = libraries_profile.make_cnn(), libraries_profile.make_cnn()
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert a(torch.zeros(3, 1, 16, 16)).shape == (3, 2)


def test_tensor_bytes_is_numel_times_element_size():
    assert libraries_runtime.tensor_bytes(torch.zeros(64, 1, 16, 16)) == 64 * 16 * 16 * 4
    assert libraries_runtime.tensor_bytes(torch.zeros(10, dtype=torch.float64)) == 80
    assert libraries_runtime.tensor_bytes(torch.zeros(3, dtype=torch.int8)) == 3
    with pytest.raises(helpers.BilingualError):
        libraries_runtime.tensor_bytes([1, 2])


def test_cuda_memory_is_none_off_the_gpu():
    assert libraries_runtime.cuda_memory_during(lambda: None, "cpu") is None


def test_conv_benchmark_switch_is_restored():
    before = torch.backends.cudnn.benchmark
    with libraries_runtime.conv_benchmark(True):
        assert torch.backends.cudnn.benchmark is True
    assert torch.backends.cudnn.benchmark == before
    with pytest.raises(ValueError), libraries_runtime.conv_benchmark(True):
        raise ValueError
    assert torch.backends.cudnn.benchmark == before


def test_first_and_rest():
    calls = []
    first, rest = libraries_runtime.first_and_rest(lambda: calls.append(1), "cpu", repeats=3)
    assert len(calls) == 4 and first >= 0 and rest >= 0


def test_flops_and_gflops():
    assert libraries_sweep.matmul_flops(1024) == 2 * 1024 ** 3
    assert libraries_sweep.gflops(1000, 2.0) == pytest.approx(1.0)
    with pytest.raises(helpers.BilingualError):
        libraries_sweep.gflops(10, 0)
    with pytest.raises(helpers.BilingualError):
        libraries_sweep.matmul_flops(0)


def test_matmul_sweep_is_positive():
    speeds = libraries_sweep.matmul_sweep([16, 64], "cpu", repeats=2)
    assert set(speeds) == {16, 64} and all(v > 0 for v in speeds.values())


def test_crossover():
    cpu = {64: 10.0, 128: 20.0, 256: 30.0, 512: 40.0}
    assert libraries_sweep.crossover(cpu, {64: 5.0, 128: 25.0, 256: 100.0, 512: 400.0}) == 128
    assert libraries_sweep.crossover(cpu, {64: 50.0, 128: 5.0, 256: 100.0, 512: 400.0}) == 256  # must stay ahead
    assert libraries_sweep.crossover(cpu, {64: 1.0, 128: 1.0, 256: 1.0, 512: 1.0}) is None
    assert libraries_sweep.crossover(cpu, None) is None


def test_sweep_figure(japanese):
    fig = libraries_sweep.sweep_figure({"CPU": {64: 1.0, 1024: 50.0}, "GPU": {64: 0.5, 1024: 5000.0}}, crossover_at=256)
    assert isinstance(fig, Figure) and len(fig.axes[0].lines) == 3
    assert style.missing_glyphs(fig) == []
    alone = libraries_sweep.sweep_figure({"CPU": {64: 1.0, 128: 4.0}}).axes[0]
    assert [line.get_label() for line in alone.lines] == ["CPU"]  # no crossover: no dashed line
    assert [t.get_text() for t in alone.get_xticklabels()] == ["64", "128"]
    with pytest.raises(helpers.BilingualError):
        libraries_sweep.sweep_figure({})


# --- checkers -----------------------------------------------------------------------------------------

def test_library_questions_print(capsys):
    libraries.library_questions()
    out = capsys.readouterr().out
    assert "matmul:" in out and "conv:" in out and "memory:" in out


def test_conv_library_version_is_text_or_none(monkeypatch):
    version = libraries_runtime.conv_library_version()
    assert version is None or version.isdigit()
    monkeypatch.setattr(torch.backends.cudnn, "version", lambda: 90100)
    assert libraries_runtime.conv_library_version() == "90100"

    def broken():
        raise RuntimeError("no cudnn")

    monkeypatch.setattr(torch.backends.cudnn, "version", broken)
    assert libraries_runtime.conv_library_version() is None


# --- GPU kernels and the BLAS choice (names from the libraries' documentation) -------------------

@pytest.mark.parametrize(("name", "backend", "library"), [
    ("Cijk_Alik_Bljk_SB_MT64x64x16_MI32x32x2x1", "rocm", "rocBLAS / hipBLASLt"),
    ("miopenSp3AsmConv_v21_1_3_gfx9_fp32", "rocm", "MIOpen"),
    ("sm90_xmma_gemm_f32f32_tf32f32_f32_tn_n", "cuda", "cuBLAS / cuBLASLt"),
    ("cudnn::winograd_nonfused::winogradForwardData4x4", "cuda", "cuDNN"),
    ("void at::native::vectorized_elementwise_kernel<4, at::native::relu>", "rocm", "PyTorch (HIP)"),
    ("Memcpy HtoD (Pageable -> Device)", "cuda", "CUDA runtime"),
    ("some_unknown_kernel", "cuda", "?"),
])
def test_kernel_library_reads_the_name(name, backend, library):
    assert libraries.kernel_library(name, backend) == library


def test_kernel_lines_keep_the_longest_per_step_and_cut_long_names():
    kernels = {"forward": {"a" * 100: 3e-3, "b": 1e-3, "c": 2e-3, "d": 0.5e-3}, "update": {}}
    lines = libraries.kernel_lines(kernels, "cuda", top=2)
    assert len(lines) == 2 and "3.000 ms" in lines[0] and "2.000 ms" in lines[1]
    assert "…" in lines[0] and "a" * 60 not in lines[0]
    with pytest.raises(helpers.BilingualError):
        libraries.kernel_library(None, "cuda")


def test_preferred_blas_is_asked_only_on_a_gpu():
    assert libraries.preferred_blas("cpu") is None
    if torch.cuda.is_available():
        assert libraries.preferred_blas("cuda") in {"Cublas", "Cublaslt", "Ck", "Default"}


def test_a_cpu_profile_has_no_gpu_kernels_and_an_mlp_is_matrix_products():
    model = libraries.make_mlp(features=64, width=256)
    X, y = torch.randn(32, 64), torch.randint(0, 2, (32,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    profile = libraries.profile_training_step(model, X, y, nn.CrossEntropyLoss(), optimizer, repeats=2, warmup=1)
    assert profile.source == "profiler" and not any(profile.kernels.values())
    assert profile.share("conv") == 0 and profile.share("matmul") > profile.share("elementwise")


def test_peak_live_bytes_counts_a_layers_input_and_output_together():
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU())
    X = torch.randn(32, 64)

    def run():
        with torch.inference_mode():
            return model(X)

    one = 32 * 64 * 4  # one (32, 64) float32 activation
    assert libraries.peak_live_bytes(run) == 2 * one  # a layer's input and output exist together
    assert libraries.peak_live_bytes(lambda: None) == 0
