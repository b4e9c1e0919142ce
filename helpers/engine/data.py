"""Step 1, input: generated training data and its targets, checked before the model sees them, and
split into mini-batches (notebook 01). Nothing is downloaded: every data set is made here."""

from __future__ import annotations

import math

import torch

from .text import BilingualError


def _rows(t) -> int:
    return t.shape[0] if t.dim() > 0 else 0


def check_data(X, y, name: str = "X") -> None:
    """Raise a bilingual error unless X is (batch, ...) and y has the same batch, all numbers finite."""
    for label, t in ((name, X), ("y", y)):
        if not isinstance(t, torch.Tensor):
            raise BilingualError(f"{label} は torch.Tensor にします({type(t).__name__} が渡されました)。",
                                 f"{label} must be a torch.Tensor (got {type(t).__name__}).")
        if t.dim() == 0 or t.shape[0] == 0:
            raise BilingualError(f"{label} が空です(形 {tuple(t.shape)})。1行以上のデータが必要です。",
                                 f"{label} is empty (shape {tuple(t.shape)}); at least one row is needed.")
        if t.is_floating_point() and not torch.isfinite(t).all():
            bad = int((~torch.isfinite(t)).sum())
            values = "value: remove it" if bad == 1 else "values: remove them"
            raise BilingualError(f"{label} に NaN か無限大が {bad} 個あります。学習の前に取り除いてください。",
                                 f"{label} holds {bad} NaN or infinite {values} before training.")
    if X.dim() < 2:
        raise BilingualError(
            f"{name} の形は (バッチ, 特徴量) です。形 {tuple(X.shape)} なら {name}.unsqueeze(1) で "
            f"({X.shape[0]}, 1) にします。",
            f"{name} must have shape (batch, features). For shape {tuple(X.shape)}, "
            f"{name}.unsqueeze(1) gives ({X.shape[0]}, 1).")
    if _rows(X) != _rows(y):
        raise BilingualError(
            f"{name} は {_rows(X)} 行、y は {_rows(y)} 行です。問題と正解は同じ数だけ必要です。",
            f"{name} has {_rows(X)} rows but y has {_rows(y)}: every question needs its answer.")


def make_line(n: int = 20, slope: float = 2.0, intercept: float = 1.0, noise: float = 0.3,
              low: float = -2.0, high: float = 2.0, seed: int = 0):
    """Points near the line y = slope * x + intercept: X (n, 1), y (n, 1)."""
    g = torch.Generator().manual_seed(seed)
    X = low + (high - low) * torch.rand(n, 1, generator=g)  # (batch, 1)
    y = slope * X + intercept + noise * torch.randn(n, 1, generator=g)  # (batch, 1)
    return X, y


def make_curve(n: int = 30, noise: float = 0.2, low: float = -3.0, high: float = 3.0, seed: int = 0):
    """Points near y = sin(x): a pattern a straight line cannot follow. X (n, 1), y (n, 1)."""
    g = torch.Generator().manual_seed(seed)
    X = low + (high - low) * torch.rand(n, 1, generator=g)  # (batch, 1)
    y = torch.sin(X) + noise * torch.randn(n, 1, generator=g)  # (batch, 1)
    return X, y


def make_blobs(n_per_class: int = 30, classes: int = 3, spread: float = 0.6, seed: int = 0):
    """Points in `classes` clouds around a circle: X (n, 2) coordinates, y (n,) class numbers."""
    g = torch.Generator().manual_seed(seed)
    angles = torch.arange(classes) * (2 * math.pi / classes)
    centres = 2.0 * torch.stack([angles.cos(), angles.sin()], dim=1)  # (classes, 2)
    y = torch.arange(classes).repeat_interleave(n_per_class)  # (batch,)
    X = centres[y] + spread * torch.randn(len(y), 2, generator=g)  # (batch, 2)
    order = torch.randperm(len(y), generator=g)
    return X[order], y[order]


def split(X, y, val_fraction: float = 0.25, seed: int = 0):
    """Shuffle once and split into (X_train, y_train, X_val, y_val)."""
    if not 0 <= val_fraction < 1:
        raise BilingualError(f"検証用の割合は 0 以上 1 未満です({val_fraction})。",
                             f"The validation fraction must be at least 0 and below 1 (got {val_fraction}).")
    order = torch.randperm(len(X), generator=torch.Generator().manual_seed(seed))
    n_val = round(len(X) * val_fraction)
    val, train = order[:n_val], order[n_val:]
    return X[train], y[train], X[val], y[val]


def check_batch_size(batch_size) -> int | None:
    """batch_size as given; a bilingual error unless it is None (all rows at once) or a whole number >= 1."""
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                   or batch_size < 1):
        raise BilingualError(
            f"batch_size は 1 以上の整数か、全部を一度に使う None です({batch_size!r} が渡されました)。",
            f"batch_size must be a whole number of at least 1, or None for all rows at once "
            f"(got {batch_size!r}).")
    return batch_size


def batches(X, y, batch_size: int | None = None, generator: torch.Generator | None = None):
    """Yield (X_batch, y_batch); shuffled when a generator is given; None means one full batch."""
    check_batch_size(batch_size)
    n = len(X)
    if batch_size is None or batch_size >= n:
        yield X, y
        return
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    order = order.to(X.device)
    for start in range(0, n, batch_size):
        index = order[start:start + batch_size]
        yield X[index], y[index]


def make_bars(n: int = 40, size: int = 5, noise: float = 0.1, seed: int = 0):
    """Tiny pictures of one bar: X (n, 1, size, size) pixels, y (n,) with 0 = horizontal, 1 = vertical."""
    if size < 2:
        raise BilingualError(f"画像の大きさは 2 以上にします({size})。",
                             f"The picture size must be at least 2 (got {size}).")
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)  # (batch,)
    where = torch.randint(0, size, (n, 1, 1), generator=g)  # which row or column holds the bar
    rows = torch.arange(size).view(1, size, 1)
    cols = torch.arange(size).view(1, 1, size)
    bars = torch.where(y.view(n, 1, 1) == 0, rows == where, cols == where).float()  # (batch, size, size)
    X = bars.unsqueeze(1) + noise * torch.randn(n, 1, size, size, generator=g)  # (batch, 1, size, size)
    return X, y
