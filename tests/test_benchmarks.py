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
