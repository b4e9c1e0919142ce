"""`make gpu-check`: the whole series on the "cuda" device (AMD ROCm or NVIDIA CUDA), with figures.

Runs the unit tests and every notebook (strict nbval) with TRAINING_FLOW_DEVICE=cuda, times each
notebook, measures FP32 matrix-product GFLOP/s against the device's published peak, and writes the
figures into the GPU section of docs/results.md (one subsection per device, dated) and a JSON file.
Usage: python benchmarks/gpu_check.py [--results docs/results.md] [--json build/gpu-check.json]
       [-- extra pytest arguments for the unit tests]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- gpu-check:start -->", "<!-- gpu-check:end -->"

# Published FP32 peaks (TFLOP/s, dense, no TF32/tensor-core shortcuts), matched on the device name.
PEAK_FP32_TFLOPS = {
    "H200": 67.0, "H100 80GB HBM3": 67.0, "H100 SXM": 67.0, "H100 PCIe": 51.2, "H100": 51.2,
    "A100": 19.5, "L40S": 91.6, "RTX 4090": 82.6,
    "MI300X": 163.4, "MI300A": 122.6, "MI250X": 95.7, "MI210": 45.3, "Radeon RX 7900 XTX": 61.4,
}


def peak_for(name: str) -> float | None:
    for key, tflops in PEAK_FP32_TFLOPS.items():
        if key.lower() in name.lower():
            return tflops
    return None


def pytest_run(args: list[str], env: dict) -> tuple[bool, float, str]:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                            cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    summary = lines[-1] if lines else result.stderr.strip()[-300:]
    if result.returncode != 0:
        print(result.stdout[-6000:], result.stderr[-2000:], sep="\n")
    return result.returncode == 0, seconds, summary


def gemm_sweep(device, sizes=(1024, 2048, 4096, 8192), repeats=10) -> dict[int, float]:
    """Achieved GFLOP/s of float32 n×n matrix products on the device (2n³ operations each)."""
    import torch

    results = {}
    for n in sizes:
        a = torch.randn(n, n, device=device)
        b = torch.randn(n, n, device=device)
        for _ in range(3):
            a @ b
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        torch.cuda.synchronize()
        results[n] = 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9
    return results


def section(facts: dict) -> str:
    lines = [f"### {facts['device']}", "",
             f"{facts['date']} · {facts['backend']} · torch {facts['torch']} · Python {facts['python']}", "",
             f"- 単体テスト / unit tests: {facts['unit_tests']}", "",
             "| ノートブック / notebook | 結果 / result | 秒 / s |", "|---|---|---|"]
    for name, (ok, seconds) in facts["notebooks"].items():
        lines.append(f"| {name} | {'passed' if ok else 'FAILED'} | {seconds:.1f} |")
    peak = facts["peak_tflops"]
    lines += ["", "| 行列の大きさ / matrix n | GFLOP/s | ピーク比 / of peak |", "|---|---|---|"]
    for n, gflops in facts["gemm_gflops"].items():
        share = f"{gflops / (peak * 1000):.0%}" if peak else "?"
        lines.append(f"| {n} | {gflops:,.0f} | {share} |")
    lines += ["", f"FP32 ピーク / peak: {f'{peak} TFLOP/s' if peak else '不明 / unknown'}"
              " (TF32 なし / without TF32)", ""]
    return "\n".join(lines)


def write_results(path: Path, facts: dict) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else f"{START}\n{END}\n"
    head, rest = text.split(START, 1)
    body, tail = rest.split(END, 1)
    parts = [p for p in re.split(r"(?m)^(?=### )", body.strip("\n")) if p.strip()]
    parts = [p for p in parts if not p.startswith(f"### {facts['device']}\n")]
    parts.append(section(facts))
    path.write_text(head + START + "\n" + "\n".join(p.rstrip("\n") + "\n" for p in parts) + END + tail,
                    encoding="utf-8")


def save(path: Path, facts: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(facts, indent=2), encoding="utf-8")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=ROOT / "docs" / "results.md")
    parser.add_argument("--json", type=Path, default=ROOT / "build" / "gpu-check.json")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments for the unit tests")
    args = parser.parse_args(argv)

    import torch

    import helpers

    if not torch.cuda.is_available():
        print(helpers.bilines("GPU が見つからないので、GPU チェックはできません。",
                              "No GPU found: the GPU check cannot run."))
        print(helpers.bilines(*helpers.engine.device.explain_no_gpu()))
        return 1
    device = torch.device("cuda")
    env = dict(os.environ, TRAINING_FLOW_DEVICE="cuda")
    facts = {
        "date": datetime.date.today().isoformat(),
        "device": torch.cuda.get_device_name(0),
        "backend": helpers.describe_device(device),
        "torch": torch.__version__,
        "python": sys.version.split()[0],
    }
    print(facts["backend"], flush=True)
    facts["notebooks"], facts["unit_tests"], ok = {}, "not run", True
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        passed, seconds, summary = pytest_run(
            [str(path.relative_to(ROOT)), "--nbval", "--nbval-current-env",
             "--nbval-sanitize-with", "tests/sanitize.cfg", "--nbval-cell-timeout=600"], env)
        facts["notebooks"][path.name] = (passed, seconds)
        ok = ok and passed
        print(f"{path.name}: {'passed' if passed else 'FAILED'} in {seconds:.1f} s ({summary})", flush=True)
        save(args.json, facts)  # what is done so far survives a time limit
    facts["gemm_gflops"] = gemm_sweep(device)
    facts["peak_tflops"] = peak_for(facts["device"])
    for n, gflops in facts["gemm_gflops"].items():
        print(f"GEMM n={n}: {gflops:,.0f} GFLOP/s", flush=True)
    passed, seconds, facts["unit_tests"] = pytest_run(["tests", "-m", "not browser", *args.pytest_args], env)
    print(f"unit tests: {facts['unit_tests']} ({seconds:.0f} s)", flush=True)
    ok = ok and passed
    save(args.json, facts)
    write_results(args.results, facts)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
