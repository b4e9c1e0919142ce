"""Each notebook run from a fresh kernel: wall time and the kernel's peak memory (RSS); then the whole
series as `make test` runs it (strict nbval, one notebook per worker process), timed on the wall.

Targets: the series as make test runs it in at most 60 s; at most 1 GB peak RSS per notebook kernel.
Usage: python benchmarks/notebooks.py [--json PATH] [notebooks ...]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SERIES_TARGET_S = 60.0
RSS_TARGET_MB = 1024.0

# Appended to a copy of the notebook: the kernel reports its own peak RSS (KiB on Linux, bytes on macOS).
PEAK_RSS = ("import resource, sys\n"
            "_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "print('PEAK_RSS_MB', _peak / (2**20 if sys.platform == 'darwin' else 1024))")


# What every notebook pays before its own content: a kernel, PyTorch, helpers.setup() and the first
# optimizer (whose first use imports torch._dynamo).
BASELINE = ("import helpers\nhelpers.setup(quiet=True)",
            "import torch\ntorch.optim.SGD(torch.nn.Linear(1, 1).parameters(), lr=0.1)")


def run(path: Path, nb=None) -> dict:
    from nbclient import NotebookClient

    nb = nb or nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PEAK_RSS))
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    peak = float(text.split("PEAK_RSS_MB")[1].split()[0])
    return {"seconds": seconds, "peak_rss_mb": peak}


def as_make_test(paths) -> dict:
    """Wall time of strict nbval over paths, with the flags `make test` uses (`make test-flags`)."""
    flags = subprocess.run(["make", "--no-print-directory", "-s", "test-flags"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *flags, *map(str, paths)]
    start = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    summary = (result.stdout.strip().splitlines() or [""])[-1]
    workers = re.search(r"-n\s+(\S+)", " ".join(flags))
    return {"seconds": seconds, "passed": result.returncode == 0, "summary": summary,
            "workers": workers.group(1) if workers else "1", "cpus": os.cpu_count(),
            "command": shlex.join(["pytest", *flags, "notebooks"])}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    results = {}
    for path in paths:
        results[path.name] = figures = run(path)
        print(f"{path.name:36s} {figures['seconds']:6.1f} s  peak RSS {figures['peak_rss_mb']:7.0f} MB"
              f"  ({figures['peak_rss_mb'] / RSS_TARGET_MB:.2f} of {RSS_TARGET_MB:.0f} MB)", flush=True)
    baseline = min(run(ROOT / "notebooks", nbformat.v4.new_notebook(  # the better of two: less noise
        cells=[nbformat.v4.new_code_cell(c) for c in BASELINE]))["seconds"] for _ in range(2))
    total = sum(r["seconds"] for r in results.values())
    print(f"{'fixed cost per notebook':36s} {baseline:6.1f} s  (kernel, PyTorch, setup, first optimizer:"
          f" {baseline * len(results):.1f} s of the series)")
    print(f"{'series, one after another':36s} {total:6.1f} s", flush=True)
    parallel = as_make_test(paths)
    print(f"{'series as make test runs it':36s} {parallel['seconds']:6.1f} s  "
          f"({parallel['seconds'] / SERIES_TARGET_S:.2f} of the {SERIES_TARGET_S:.0f} s target; "
          f"{parallel['command']}, {parallel['cpus']} CPUs: {parallel['summary']})")
    summary = {"notebooks": results, "sequential_seconds": total, "series_seconds": parallel["seconds"],
               "make_test": parallel,
               "fixed_seconds_per_notebook": baseline, "series_target_s": SERIES_TARGET_S,
               "rss_target_mb": RSS_TARGET_MB}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return summary


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
