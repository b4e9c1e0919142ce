"""How long notebook 06's training explorer takes from a slider change to a new picture.

Thirty programmatic slider changes spread over both ranges, the learning rate and the epochs taking
turns, each one retraining a fresh model and redrawing. Prints the median and the 95th percentile
against the targets (100 ms and 200 ms) and writes build/bench/explorer_latency.json.
Run with `make bench`; `--repeats N` repeats the whole sequence, since other programs may share the CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import time
from pathlib import Path

import numpy as np
import torch

import helpers
from helpers.lessons import loop

TARGET_MEDIAN_MS = 100.0
TARGET_P95_MS = 200.0
CHANGES = 30
OUT = Path(__file__).resolve().parents[1] / "build" / "bench" / "explorer_latency.json"


def slider_changes(explorer, count: int = CHANGES, seed: int = 0) -> list[tuple[str, float]]:
    """(slider, value) pairs across each slider's range in a shuffled order, lr and epochs in turn."""
    lr_slider, epochs_slider = explorer.lr_slider, explorer.epochs_slider
    half = count // 2
    exponents = np.round(np.linspace(lr_slider.min, lr_slider.max, half), 1)
    epochs = np.round(np.linspace(epochs_slider.min, epochs_slider.max, half)).astype(int)
    lrs, counts = [float(lr_slider.base ** e) for e in exponents], [int(e) for e in epochs]
    order = random.Random(seed)
    order.shuffle(lrs)
    order.shuffle(counts)
    return [pair for lr, n in zip(lrs, counts, strict=True) for pair in (("lr", lr), ("epochs", n))]


def run_once(explorer, changes) -> list[dict]:
    sliders = {"lr": explorer.lr_slider, "epochs": explorer.epochs_slider}
    samples = []
    for name, value in changes:
        control = sliders[name]
        if control.value == value:  # no change, no redraw: step aside first, untimed
            control.value = control.min if name == "epochs" else control.base ** control.min
        start = time.perf_counter()
        control.value = value
        wall_ms = (time.perf_counter() - start) * 1000
        history = explorer.history
        samples.append({"slider": name, "value": value, "lr": history.lr, "epochs_set": explorer.epochs_slider.value,
                        "epochs_run": history.epochs, "diverged": history.diverged, "wall_ms": wall_ms,
                        "redraw_ms": explorer.last_update_ms})
    return samples


def cpu_per_move(explorer, changes) -> dict:
    """CPU milliseconds per slider move: the explorer as it is (runs kept, only what changed redrawn, a
    150-dpi picture), against retraining a fresh model and drawing the whole figure at DPI for each move,
    as it once did; both measured here, on the same moves. Run after run_once, so that every run is kept,
    as in a class whose runs `make hub` trained once. Pictures already drawn are forgotten before each
    move: a student's random moves rarely come back to one of the last pictures."""
    import copy

    from helpers.engine.loop import train
    from helpers.lessons import slider as slider_module

    sliders = {"lr": explorer.lr_slider, "epochs": explorer.epochs_slider}
    kept = []
    for name, value in changes:
        control = sliders[name]
        if control.value == value:
            control.value = control.min if name == "epochs" else control.base ** control.min
        explorer._pictures.items.clear()
        start = time.process_time()
        control.value = value
        kept.append((time.process_time() - start) * 1000)
    scratch = []
    for name, value in changes[:10]:  # slow: ten are enough
        lr = value if name == "lr" else explorer.lr_slider.value
        epochs = value if name == "epochs" else explorer.epochs_slider.value
        start = time.process_time()
        model = copy.deepcopy(explorer._start)
        with loop._one_thread():
            train(model, explorer.X, explorer.y, loss_fn=explorer.loss_fn, lr=lr, num_epochs=epochs,
                  device=explorer.device, seed=explorer.seed)
        slider_module.png_bytes(explorer._train_and_draw(lr, epochs))
        scratch.append((time.process_time() - start) * 1000)
    kept_ms, scratch_ms = statistics.median(kept), statistics.median(scratch)
    return {"kept_ms": kept_ms, "scratch_ms": scratch_ms, "ratio": scratch_ms / kept_ms}


def summarise(times: list[float]) -> dict:
    median, p95 = statistics.median(times), float(np.percentile(times, 95))
    return {"median_ms": median, "p95_ms": p95, "median_ratio": median / TARGET_MEDIAN_MS,
            "p95_ratio": p95 / TARGET_P95_MS,
            "meets_target": median <= TARGET_MEDIAN_MS and p95 <= TARGET_P95_MS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="times to run the 30 changes (default 5)")
    args = parser.parse_args()

    helpers.setup(quiet=True)
    explorer = loop.training_explorer()  # the notebook's defaults
    changes = slider_changes(explorer)
    run_once(explorer, changes[:4])  # warm-up: first glyphs, first kernels
    runs = []
    print(f"{len(changes)} slider changes x {args.repeats}; targets: median <= {TARGET_MEDIAN_MS:.0f} ms, "
          f"p95 <= {TARGET_P95_MS:.0f} ms")
    for repeat in range(1, args.repeats + 1):
        samples = run_once(explorer, changes)
        result = summarise([s["wall_ms"] for s in samples])
        runs.append({"samples": samples, **result})
        print(f"run {repeat}: median {result['median_ms']:6.1f} ms ({result['median_ratio']:.2f} x target)  "
              f"p95 {result['p95_ms']:6.1f} ms ({result['p95_ratio']:.2f} x target)  "
              f"load {os.getloadavg()[0]:.2f}")
    medians = [r["median_ms"] for r in runs]
    p95s = [r["p95_ms"] for r in runs]
    overall = summarise([s["wall_ms"] for r in runs for s in r["samples"]])
    print(f"all runs: median {overall['median_ms']:.1f} ms ({overall['median_ratio']:.2f} x target), "
          f"p95 {overall['p95_ms']:.1f} ms ({overall['p95_ratio']:.2f} x target); "
          f"run medians {min(medians):.1f}-{max(medians):.1f} ms, run p95s {min(p95s):.1f}-{max(p95s):.1f} ms; "
          f"{'meets' if overall['meets_target'] else 'MISSES'} the target")
    cpu = cpu_per_move(explorer, changes)
    print(f"CPU per move: {cpu['kept_ms']:.1f} ms, against {cpu['scratch_ms']:.1f} ms retraining from scratch "
          f"and drawing it all: {cpu['ratio']:.1f}x less")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({
        "target": {"median_ms": TARGET_MEDIAN_MS, "p95_ms": TARGET_P95_MS},
        "settings": {"lr": 0.1, "num_epochs": 100, "hidden": 16, "points": 30,
                     "lr_range": [explorer.lr_slider.base ** explorer.lr_slider.min,
                                  explorer.lr_slider.base ** explorer.lr_slider.max],
                     "epochs_range": [explorer.epochs_slider.min, explorer.epochs_slider.max]},
        "machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
                    "python": platform.python_version(), "load_average_1m": os.getloadavg()[0]},
        "overall": overall,
        "cpu_per_move": cpu,
        "spread": {"run_median_ms": [min(medians), max(medians)], "run_p95_ms": [min(p95s), max(p95s)]},
        "runs": runs,
    }, indent=1))
    print(f"wrote {OUT.relative_to(OUT.parents[2])}")


if __name__ == "__main__":
    main()
