"""The loop: the five step modules composed into `train`, used from notebook 05 onwards.

One epoch is one pass over all the training data; each batch goes through the five steps.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from functools import partial

import torch
from torch import nn

from . import backprop, data, forward, loss, update
from .device import synchronize
from .text import BilingualError, bilines

STEP_NAMES = ("input", "forward", "loss", "backprop", "update")


@dataclass
class History:
    """What one call of `train` did: the loss per completed epoch, and whether training diverged."""

    losses: list[float] = field(default_factory=list)  # training loss, one per completed epoch
    val_losses: list[float] = field(default_factory=list)  # empty without validation data
    diverged: bool = False
    lr: float = 0.0
    stopped_early: bool = False
    step_seconds: dict[str, float] = field(default_factory=dict)  # only when time_steps=True

    @property
    def epochs(self) -> int:
        return len(self.losses)

    @property
    def best_epoch(self) -> int | None:
        """The epoch (from 1) with the lowest validation loss, else the lowest training loss."""
        curve = self.val_losses or self.losses
        return min(range(len(curve)), key=curve.__getitem__) + 1 if curve else None

    def explain(self) -> str:
        """A bilingual sentence on how the run ended."""
        if self.diverged:
            return bilines(
                f"学習が発散しました({self.epochs + 1} エポック目で損失が無限大か NaN)。学習率 {self.lr:g} が"
                f"大きすぎて、重みが谷を飛びこえるたびに外れが大きくなりました。学習率を下げてください。",
                f"Training diverged: the loss became infinite or NaN in epoch {self.epochs + 1}. "
                f"The learning rate {self.lr:g} is too large: each step jumped across the valley and "
                f"landed further off. Lower the learning rate.")
        if not self.losses:
            return bilines("まだ1エポックも終わっていません。", "No epoch has finished yet.")
        return bilines(f"{self.epochs} エポック学習しました。最後の損失 {self.losses[-1]:.4f}。",
                       f"Trained for {self.epochs} epochs; final loss {self.losses[-1]:.4f}.")


def _check_epochs(num_epochs) -> int:
    if isinstance(num_epochs, bool) or not isinstance(num_epochs, int) or num_epochs < 1:
        raise BilingualError(f"エポック数は 1 以上の整数です({num_epochs!r} が渡されました)。",
                             f"The number of epochs must be a whole number of at least 1 (got {num_epochs!r}).")
    return num_epochs


def _mean_loss(model, loss_fn, X, y) -> float:
    with torch.inference_mode():
        return loss.compute_loss(loss_fn, forward.forward(model, X), y).item()


def train(model: nn.Module, X, y, *, loss_fn, lr: float, num_epochs: int, optimizer="sgd",
          batch_size: int | None = None, X_val=None, y_val=None, device=None, callback=None,
          time_steps: bool = False, seed: int = 0) -> History:
    """Train model on (X, y) with the five steps, num_epochs times over all the data.

    optimizer: "sgd", "momentum", "adam", or a torch optimizer already made for model.
    batch_size: None uses all the data at once (full batch). X_val, y_val: a validation loss per epoch.
    device: where to train (default: where the model is). callback(epoch, history) after each epoch;
    returning True stops training. time_steps: add up the seconds spent in each of the five steps.
    A loss that becomes NaN or infinite stops training with history.diverged = True; it never raises.
    """
    if not isinstance(model, nn.Module):
        raise BilingualError(f"model は torch.nn.Module にします({type(model).__name__} が渡されました)。",
                             f"model must be a torch.nn.Module (got {type(model).__name__}).")
    num_epochs = _check_epochs(num_epochs)
    if isinstance(optimizer, torch.optim.Optimizer):
        lr = update.check_lr(lr)
        for group in optimizer.param_groups:
            group["lr"] = lr
    else:
        optimizer = update.make_optimizer(optimizer, model.parameters(), lr)
        lr = optimizer.param_groups[0]["lr"]
    data.check_data(X, y)
    validating = X_val is not None or y_val is not None
    if validating:
        if X_val is None or y_val is None or len(X_val) == 0:
            raise BilingualError("検証データが空です。X_val と y_val の両方に1行以上のデータを渡してください。",
                                 "The validation data is empty: pass at least one row in both X_val and y_val.")
        data.check_data(X_val, y_val, name="X_val")
    if device is None:
        device = next(model.parameters(), torch.empty(0)).device
    model.to(device)
    X, y = X.to(device), y.to(device)
    forward.check_input(model, X)
    if validating:
        X_val, y_val = X_val.to(device), y_val.to(device)
        forward.check_input(model, X_val)

    history = History(lr=lr)
    seconds = dict.fromkeys(STEP_NAMES, 0.0)
    generator = torch.Generator().manual_seed(seed) if batch_size is not None else None
    sync = partial(synchronize, device)  # only called when time_steps
    clock = time.perf_counter
    first = True

    model.train()
    for epoch in range(1, num_epochs + 1):
        batch_losses = []
        if time_steps:
            t = clock()
        for X_batch, y_batch in data.batches(X, y, batch_size, generator):  # 1 input
            if time_steps:
                sync()
                t = _tick(seconds, "input", t, clock)
            prediction = forward.forward(model, X_batch)  # 2 forward pass
            if time_steps:
                sync()
                t = _tick(seconds, "forward", t, clock)
            if first:  # checked once: a silent broadcast would train on the wrong numbers
                loss.check_shapes(loss_fn, prediction, y_batch)
                first = False
            batch_loss = loss.compute_loss(loss_fn, prediction, y_batch)  # 3 loss
            if time_steps:
                sync()
                t = _tick(seconds, "loss", t, clock)
            backprop.backward(batch_loss, optimizer)  # 4 backpropagation
            if time_steps:
                sync()
                t = _tick(seconds, "backprop", t, clock)
            update.step(optimizer)  # 5 update
            if time_steps:
                sync()
                t = _tick(seconds, "update", t, clock)
            batch_losses.append(batch_loss.detach())
        epoch_loss = _epoch_loss(batch_losses, len(X), batch_size)  # one sync per epoch, not per batch
        if not math.isfinite(epoch_loss):
            history.diverged = True
            break
        history.losses.append(epoch_loss)
        if validating:
            model.eval()
            history.val_losses.append(_mean_loss(model, loss_fn, X_val, y_val))
            model.train()
        if callback is not None and callback(epoch, history):
            history.stopped_early = epoch < num_epochs
            break
    model.eval()
    if time_steps:
        history.step_seconds = seconds
    return history


def _epoch_loss(batch_losses: list, n: int, batch_size: int | None) -> float:
    """The mean loss over all n rows, from each batch's mean (the last batch may be smaller)."""
    if len(batch_losses) == 1:
        return batch_losses[0].item()
    sizes = torch.full((len(batch_losses),), float(batch_size), device=batch_losses[0].device)
    sizes[-1] = n - batch_size * (len(batch_losses) - 1)
    return (torch.stack(batch_losses) * sizes).sum().item() / n


def _tick(seconds: dict, name: str, start: float, clock) -> float:
    now = clock()
    seconds[name] += now - start
    return now
