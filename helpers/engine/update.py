"""Step 5, update: the learning-rate check and the optimizers by name (notebook 05). The step itself
is `optimizer.step()`."""

from __future__ import annotations

import math

import torch

from .text import BilingualError

OPTIMIZERS = ("sgd", "momentum", "adam")


def check_lr(lr) -> float:
    """The learning rate as a float; a bilingual error unless it is a finite number above 0."""
    try:
        value = float(lr)
    except (TypeError, ValueError):
        raise BilingualError(f"学習率は数です({lr!r} が渡されました)。",
                             f"The learning rate must be a number (got {lr!r}).") from None
    if not math.isfinite(value) or value <= 0:
        raise BilingualError(f"学習率は 0 より大きい有限の数です({lr!r} が渡されました)。例: lr=0.1",
                             f"The learning rate must be a finite number above 0 (got {lr!r}), e.g. lr=0.1.")
    return value


def make_optimizer(name: str, parameters, lr: float) -> torch.optim.Optimizer:
    """An optimizer by name: "sgd", "momentum" (SGD with momentum 0.9) or "adam"."""
    lr = check_lr(lr)
    if name == "sgd":
        return torch.optim.SGD(parameters, lr=lr)
    if name == "momentum":
        return torch.optim.SGD(parameters, lr=lr, momentum=0.9)
    if name == "adam":
        return torch.optim.Adam(parameters, lr=lr)
    raise BilingualError(f"オプティマイザは {', '.join(OPTIMIZERS)} のどれかです({name!r} が渡されました)。",
                         f"The optimizer must be one of {', '.join(OPTIMIZERS)} (got {name!r}).")


def step(optimizer) -> None:
    """Step 5: every weight moves by its optimizer's rule (for SGD: w <- w - lr * gradient)."""
    optimizer.step()
