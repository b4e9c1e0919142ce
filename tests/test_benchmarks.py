"""The benchmark scripts' pure parts: results pages are updated in place, one section per device."""

import importlib.util

from conftest import ROOT


def load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def facts(device, seconds=1.0):
    return {"date": "2026-01-01", "device": device, "backend": f"CUDA 13.0: {device}", "torch": "2.x",
            "python": "3.12", "unit_tests": "10 passed", "notebooks": {"00_overview.ipynb": (True, seconds)},
            "gemm_gflops": {1024: 1000.0}, "peak_tflops": 67.0}


def test_gpu_results_keep_other_devices_and_replace_their_own(tmp_path):
    gpu_check = load("gpu_check")
    page = tmp_path / "results.md"
    page.write_text(f"# Results\n\nbefore\n\n{gpu_check.START}\n{gpu_check.END}\n\nafter\n", encoding="utf-8")
    gpu_check.write_results(page, facts("NVIDIA H200", 1.0))
    gpu_check.write_results(page, facts("AMD Instinct MI300X", 2.0))
    gpu_check.write_results(page, facts("NVIDIA H200", 3.0))
    text = page.read_text(encoding="utf-8")
    assert text.startswith("# Results\n\nbefore") and text.rstrip().endswith("after")
    assert text.count("### NVIDIA H200") == 1 and text.count("### AMD Instinct MI300X") == 1
    assert "| 00_overview.ipynb | passed | 3.0 |" in text and "| 00_overview.ipynb | passed | 1.0 |" not in text
    assert "| 1024 | 1,000 | 1% |" in text


def test_peaks_are_found_by_device_name():
    gpu_check = load("gpu_check")
    assert gpu_check.peak_for("NVIDIA H200") == 67.0
    assert gpu_check.peak_for("AMD Instinct MI300X") == 163.4
    assert gpu_check.peak_for("Some Future GPU") is None


def test_bench_results_replace_only_this_machines_section(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    run = load("run")
    page = tmp_path / "results.md"
    page.write_text(f"# R\n\n{run.START}\n{run.END}\n\n## GPU\n", encoding="utf-8")

    def facts(machine, seconds):
        return {"date": "2026-01-01", "machine": machine, "device": "CPU: 2 threads", "torch": "2.x",
                "python": "3.11",
                "notebooks": {"notebooks": {"00_overview.ipynb": {"seconds": seconds, "peak_rss_mb": 300.0}},
                              "series_seconds": seconds, "series_target_s": 60.0, "rss_target_mb": 1024.0},
                "slider": {"median_ms": 50.0, "p95_ms": 150.0, "median_ratio": 0.5, "p95_ratio": 0.75,
                           "cpu_per_move": {"kept_ms": 4.0, "scratch_ms": 100.0, "ratio": 25.0}},
                "loop": {"full batch": {"ratio_median": 1.02, "target_ratio": 1.05}},
                "train_vs_infer": {"training_step_ms": 3.0, "inference_ms": 1.0, "time_ratio": 3.0,
                                   "training_bytes": 8 * 2**20, "inference_bytes": 2 * 2**20, "memory_ratio": 4.0}}

    run.write_results(page, facts("x86_64 2 CPUs", 30.0))
    run.write_results(page, facts("arm64 8 CPUs", 20.0))
    run.write_results(page, facts("x86_64 2 CPUs", 45.0))
    text = page.read_text(encoding="utf-8")
    assert text.count("### x86_64 2 CPUs") == 1 and text.count("### arm64 8 CPUs") == 1
    assert "| 45.0 s | ≤ 60 s | 0.75 |" in text and "| 30.0 s |" not in text
    assert "| 4.0 ms (25× less) | ≥ 10× less | 0.40 |" in text  # CPU per move against retraining
    assert text.rstrip().endswith("## GPU")
