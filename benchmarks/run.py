"""`make bench`: the series' speed and memory in one run, printed and written to files.

Per notebook run time and kernel peak RSS; notebook 06's slider latency; helpers.train against a
plain loop; training vs inference time and memory (notebook 08's model). Every figure is printed with
its ratio to the target, written to build/bench/results.json, and put in docs/results.md (one
section per machine and device, dated). Targets are reported, never asserted: machines are noisy.
Usage: python benchmarks/run.py [--quick]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import sys
from pathlib import Path

# The sibling benchmark scripts: Python puts this script's folder first on the import path.
import explorer_latency
import loop_overhead

import notebooks

ROOT = Path(__file__).resolve().parents[1]

START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def training_vs_inference(device) -> dict:
    import torch
    from torch import nn

    from helpers.lessons import measure, training_vs_inference

    model = training_vs_inference.make_mlp().to(device)
    X, y = (t.to(device) for t in training_vs_inference.make_batch())
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    infer_s = measure.time_inference(model, X, repeats=30)
    train_s = measure.time_training_step(model, X, y, nn.MSELoss(), optimizer, repeats=30)
    weights = measure.parameter_bytes(model)
    training_bytes = (weights + measure.gradient_bytes(model) + measure.optimizer_state_bytes(optimizer)
                      + measure.saved_activation_bytes(model, X))
    return {"inference_ms": infer_s * 1000, "training_step_ms": train_s * 1000, "time_ratio": train_s / infer_s,
            "inference_bytes": weights, "training_bytes": training_bytes,
            "memory_ratio": training_bytes / weights}


def slider_latency(repeats: int) -> dict:
    import helpers
    from helpers.lessons import loop

    helpers.setup(quiet=True)
    explorer = loop.training_explorer()
    changes = explorer_latency.slider_changes(explorer)
    explorer_latency.run_once(explorer, changes[:4])  # warm-up
    samples = [s["wall_ms"] for _ in range(repeats) for s in explorer_latency.run_once(explorer, changes)]
    cpu = explorer_latency.cpu_per_move(explorer, changes)
    return explorer_latency.summarise(samples) | {"changes": len(samples), "cpu_per_move": cpu}


def section(facts: dict) -> str:
    nb, sl, lo, ti = facts["notebooks"], facts["slider"], facts["loop"], facts["train_vs_infer"]
    worst_rss = max(r["peak_rss_mb"] for r in nb["notebooks"].values())
    rows = [
        ("シリーズ全体(make test と同じ並列実行)/ series as make test runs it", f"{nb['series_seconds']:.1f} s",
         "≤ 60 s", nb["series_seconds"] / nb["series_target_s"]),
        ("ノートブックあたり最大 RSS / peak RSS per notebook", f"{worst_rss:.0f} MB", "≤ 1024 MB",
         worst_rss / nb["rss_target_mb"]),
        ("スライダー中央値 / slider median", f"{sl['median_ms']:.0f} ms", "≤ 100 ms", sl["median_ratio"]),
        ("スライダー p95 / slider p95", f"{sl['p95_ms']:.0f} ms", "≤ 200 ms", sl["p95_ratio"]),
        ("1回の操作の CPU 時間(学習し直す場合との比)/ CPU per slider move (vs retraining)",
         f"{sl['cpu_per_move']['kept_ms']:.1f} ms ({sl['cpu_per_move']['ratio']:.0f}× less)", "≥ 10× less",
         10 / sl["cpu_per_move"]["ratio"]),
    ]
    for name, case in lo.items():
        rows.append((f"ループのオーバーヘッド / loop overhead ({name})", f"{case['ratio_median']:.3f}×", "≤ 1.05×",
                     case["ratio_median"] / case["target_ratio"]))
    lines = [f"### {facts['machine']} · {facts['device']}", "",
             f"{facts['date']} · torch {facts['torch']} · Python {facts['python']}", "",
             "| 項目 / figure | 測定値 / measured | 目標 / target | 目標比 / ratio |", "|---|---|---|---|"]
    lines += [f"| {n} | {m} | {t} | {r:.2f} |" for n, m, t, r in rows]
    if "sequential_seconds" in nb:
        lines += ["", f"1冊ずつ順に実行すると / one notebook after another: {nb['sequential_seconds']:.1f} s; "
                  f"make test: `{nb['make_test']['command']}` ({nb['make_test']['summary']})"]
    fixed = nb.get("fixed_seconds_per_notebook")
    if fixed:
        lines += ["", f"1冊ごとの固定費(カーネル起動・PyTorch・setup・最初のオプティマイザ)/ fixed cost per notebook "
                  f"(kernel, PyTorch, setup, first optimizer): {fixed:.1f} s × {len(nb['notebooks'])} = "
                  f"{fixed * len(nb['notebooks']):.1f} s"]
    lines += ["", "| ノートブック / notebook | 秒 / s | ピーク RSS / peak RSS (MB) |", "|---|---|---|"]
    lines += [f"| {name} | {r['seconds']:.1f} | {r['peak_rss_mb']:.0f} |" for name, r in nb["notebooks"].items()]
    lines += ["", f"学習 1 ステップ / one training step: {ti['training_step_ms']:.2f} ms, "
              f"推論 / inference: {ti['inference_ms']:.2f} ms → {ti['time_ratio']:.1f}×; "
              f"メモリ / memory {ti['training_bytes'] / 2**20:.1f} MB vs {ti['inference_bytes'] / 2**20:.1f} MB"
              f" → {ti['memory_ratio']:.1f}× (08 のモデル / notebook 08's model)", ""]
    return "\n".join(lines)


def write_results(path: Path, facts: dict) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else f"{START}\n{END}\n"
    head, rest = text.split(START, 1)
    body, tail = rest.split(END, 1)
    title = f"### {facts['machine']} · {facts['device']}\n"
    parts = [p for p in re.split(r"(?m)^(?=### )", body.strip("\n")) if p.strip() and not p.startswith(title)]
    parts.append(section(facts))
    path.write_text(head + START + "\n" + "\n".join(p.rstrip("\n") + "\n" for p in parts) + END + tail,
                    encoding="utf-8")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a rough look)")
    parser.add_argument("--results", type=Path, default=ROOT / "docs" / "results.md")
    parser.add_argument("--json", type=Path, default=ROOT / "build" / "bench" / "results.json")
    args = parser.parse_args(argv)

    import torch

    import helpers

    device = helpers.setup(quiet=True)  # as in the notebooks: one CPU thread
    facts = {"date": datetime.date.today().isoformat(),
             "machine": f"{platform.machine()} {os.cpu_count()} CPUs", "device": helpers.describe_device(device),
             "torch": torch.__version__, "python": platform.python_version()}
    print(f"{facts['machine']} · {facts['device']} · torch {facts['torch']}\n", flush=True)
    print("== notebooks ==", flush=True)
    facts["notebooks"] = notebooks.main([])
    print("\n== slider latency (06 explorer) ==", flush=True)
    facts["slider"] = slider_latency(1 if args.quick else 3)
    s = facts["slider"]
    print(f"{s['changes']} changes: median {s['median_ms']:.0f} ms ({s['median_ratio']:.2f} of target), "
          f"p95 {s['p95_ms']:.0f} ms ({s['p95_ratio']:.2f} of target); CPU per move "
          f"{s['cpu_per_move']['kept_ms']:.1f} ms, {s['cpu_per_move']['ratio']:.1f}x less than retraining", flush=True)
    print("\n== loop overhead ==", flush=True)
    facts["loop"] = loop_overhead.main(["--repeats", "7" if args.quick else "21"])
    print("\n== training vs inference ==", flush=True)
    facts["train_vs_infer"] = t = training_vs_inference(device)
    print(f"training step {t['training_step_ms']:.2f} ms vs inference {t['inference_ms']:.2f} ms: "
          f"{t['time_ratio']:.1f}x; memory {t['memory_ratio']:.1f}x", flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(facts, indent=2), encoding="utf-8")
    write_results(args.results, facts)
    print(f"\nwrote {args.json.relative_to(ROOT)} and {args.results.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
