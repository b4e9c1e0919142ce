"""Loop overhead: helpers.train against a plain hand-written PyTorch loop doing the same work.

Runs are interleaved (helpers, plain, helpers, plain, ...) so machine noise hits both alike; the
figure is the median of the per-pair time ratios. Target: at most 1.05.
Usage: python benchmarks/loop_overhead.py [--repeats N] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from torch import nn

import helpers
from helpers.engine import data

TARGET = 1.05
CASES = {
    # name: (rows, hidden width, batch size, epochs)
    "full batch, 64 rows, MLP 1-32-1": (64, 32, None, 200),
    "mini-batches of 16, 256 rows, MLP 1-32-1": (256, 32, 16, 20),
}


def make_model(width: int) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(1, width), nn.Tanh(), nn.Linear(width, 1))


def plain_loop(model, X, y, lr, num_epochs, batch_size, seed=0):
    """What a reader would write by hand: the five steps, one .item() per epoch."""
    loss_fn = nn.MSELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    losses = []
    n = len(X)
    for _ in range(num_epochs):
        if batch_size is None:
            loss = loss_fn(model(X), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            continue
        order = torch.randperm(n, generator=generator)
        total = 0.0
        batch_losses = []
        for start in range(0, n, batch_size):
            index = order[start:start + batch_size]
            loss = loss_fn(model(X[index]), y[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            batch_losses.append(loss.detach() * len(index))
        total = torch.stack(batch_losses).sum().item()
        losses.append(total / n)
    return losses


def measure(rows, width, batch_size, num_epochs, repeats):
    X, y = data.make_curve(n=rows)
    ours, plain, ratios = [], [], []
    for _ in range(repeats):
        model = make_model(width)
        start = time.perf_counter()
        helpers.train(model, X, y, loss_fn=nn.MSELoss(), lr=0.05, num_epochs=num_epochs,
                      batch_size=batch_size)
        t_ours = time.perf_counter() - start
        model = make_model(width)
        start = time.perf_counter()
        plain_loop(model, X, y, 0.05, num_epochs, batch_size)
        t_plain = time.perf_counter() - start
        ours.append(t_ours)
        plain.append(t_plain)
        ratios.append(t_ours / t_plain)
    return {
        "helpers_train_ms": statistics.median(ours) * 1000,
        "plain_loop_ms": statistics.median(plain) * 1000,
        "ratio_median": statistics.median(ratios),
        "target_ratio": TARGET,
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(torch.get_num_threads())
    results = {}
    for name, case in CASES.items():
        measure(*case, repeats=2)  # warm-up
        results[name] = figures = measure(*case, repeats=args.repeats)
        verdict = "ok" if figures["ratio_median"] <= TARGET else "MISSED"
        print(f"{name}: helpers.train {figures['helpers_train_ms']:.1f} ms, plain {figures['plain_loop_ms']:.1f} ms,"
              f" ratio {figures['ratio_median']:.3f} (target <= {TARGET}) {verdict}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return results


if __name__ == "__main__":
    main()
