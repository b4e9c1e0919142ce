"""The loop (notebooks 05-11): the five steps, one batch at a time, num_epochs times over the data.

`train` checks its arguments once, then each batch goes through 1 input, 2 forward pass, 3 loss,
4 backpropagation and 5 update, written as the plain PyTorch calls. `StepClock` times the steps
when asked, without changing what the loop does.
"""

from __future__ import annotations

import math
import time
from contextlib import nullcontext
from dataclasses import dataclass, field

import torch
from torch import nn

from . import data, forward, loss, update
from .device import resolve, synchronize
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


def _check_options(callback, time_steps, seed) -> None:
    if callback is not None and not callable(callback):
        raise BilingualError(
            f"callback は callback(epoch, history) と呼べる関数か None です({type(callback).__name__})。",
            f"callback must be a function called as callback(epoch, history), or None "
            f"(got {type(callback).__name__}).")
    if not isinstance(time_steps, bool):
        raise BilingualError(f"time_steps は True か False です({time_steps!r} が渡されました)。",
                             f"time_steps must be True or False (got {time_steps!r}).")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise BilingualError(f"seed は整数です({seed!r} が渡されました)。",
                             f"seed must be a whole number (got {seed!r}).")


class StepClock:
    """Adds up the seconds spent in each of the five steps; when off, `with clock(...)` costs nothing."""

    _off = nullcontext()

    def __init__(self, device, enabled: bool):
        self.enabled, self.device = enabled, device
        self.seconds = dict.fromkeys(STEP_NAMES, 0.0)
        self._name, self._start = None, 0.0

    def __call__(self, name: str):
        if not self.enabled:
            return self._off
        self._name = name
        return self

    def __enter__(self):
        self._start = time.perf_counter()

    def __exit__(self, *exc):
        synchronize(self.device)  # GPU work is queued: wait for it before reading the clock
        self.seconds[self._name] += time.perf_counter() - self._start

    def each(self, name: str, iterable):
        """The items of iterable, the time spent fetching each one added to name's seconds."""
        iterator = iter(iterable)
        while True:
            with self(name):
                item = next(iterator, _END)
            if item is _END:
                return
            yield item


_END = object()


def _mean_loss(model, loss_fn, X, y) -> float:
    with torch.inference_mode():
        return loss_fn(model(X), y).item()


def _prepare(model, X, y, X_val, y_val, device):
    """Check the data, move model and data to device; returns (device, X, y, X_val, y_val)."""
    data.check_data(X, y)
    if X_val is not None or y_val is not None:
        if X_val is None or y_val is None or len(X_val) == 0:
            raise BilingualError("検証データが空です。X_val と y_val の両方に1行以上のデータを渡してください。",
                                 "The validation data is empty: pass at least one row in both X_val and y_val.")
        data.check_data(X_val, y_val, name="X_val")
    device = next(model.parameters(), torch.empty(0)).device if device is None else resolve(device)
    model.to(device)
    X, y = X.to(device), y.to(device)
    forward.check_input(model, X)
    if X_val is not None:
        X_val, y_val = X_val.to(device), y_val.to(device)
        forward.check_input(model, X_val)
    return device, X, y, X_val, y_val


def _optimizer(optimizer, model, lr):
    if isinstance(optimizer, torch.optim.Optimizer):
        lr = update.check_lr(lr)
        for group in optimizer.param_groups:
            group["lr"] = lr
        return optimizer
    return update.make_optimizer(optimizer, model.parameters(), lr)


def train(model: nn.Module, X, y, *, loss_fn, lr: float, num_epochs: int, optimizer="sgd",
          batch_size: int | None = None, X_val=None, y_val=None, device=None, callback=None,
          time_steps: bool = False, seed: int = 0) -> History:
    """Train model on (X, y) with the five steps, num_epochs times over all the data.

    optimizer: "sgd", "momentum", "adam", or a torch optimizer already made for model.
    batch_size: None uses all the data at once (full batch). X_val, y_val: a validation loss per epoch.
    device: where to train (default: where the model is). callback(epoch, history) after each epoch;
    returning True stops training. time_steps: add up the seconds spent in each of the five steps.
    seed: the order of the shuffled mini-batches.
    A loss that becomes NaN or infinite stops training with history.diverged = True; it never raises.
    """
    if not isinstance(model, nn.Module):
        raise BilingualError(f"model は torch.nn.Module にします({type(model).__name__} が渡されました)。",
                             f"model must be a torch.nn.Module (got {type(model).__name__}).")
    num_epochs = _check_epochs(num_epochs)
    batch_size = data.check_batch_size(batch_size)
    _check_options(callback, time_steps, seed)
    loss_fn = loss.checked_once(loss_fn)
    optimizer = _optimizer(optimizer, model, lr)
    device, X, y, X_val, y_val = _prepare(model, X, y, X_val, y_val, device)
    shuffle = torch.Generator().manual_seed(seed) if batch_size is not None else None
    history = History(lr=optimizer.param_groups[0]["lr"])
    clock = StepClock(device, enabled=time_steps)

    model.train()
    for epoch in range(1, num_epochs + 1):
        batch_losses = []
        for X_batch, y_batch in clock.each("input", data.batches(X, y, batch_size, shuffle)):  # 1 input
            with clock("forward"):
                prediction = model(X_batch)  # 2 forward pass
            with clock("loss"):
                batch_loss = loss_fn(prediction, y_batch)  # 3 loss
            with clock("backprop"):
                optimizer.zero_grad()  # 4 backpropagation: clear the old gradients, then fill .grad
                batch_loss.backward()
            with clock("update"):
                optimizer.step()  # 5 update
            batch_losses.append(batch_loss.detach())
        epoch_loss = _epoch_loss(batch_losses, len(X), batch_size)  # one sync per epoch, not per batch
        if not math.isfinite(epoch_loss):
            history.diverged = True
            break
        history.losses.append(epoch_loss)
        if X_val is not None:
            model.eval()  # dropout off, batch norm frozen: the loss the model would have in use
            history.val_losses.append(_mean_loss(model, loss_fn, X_val, y_val))
            model.train()
        if callback is not None and callback(epoch, history):
            history.stopped_early = epoch < num_epochs
            break
    model.eval()
    if time_steps:
        history.step_seconds = clock.seconds
    return history


def _epoch_loss(batch_losses: list, n: int, batch_size: int | None) -> float:
    """The mean loss over all n rows, from each batch's mean (the last batch may be smaller)."""
    if len(batch_losses) == 1:
        return batch_losses[0].item()
    sizes = torch.full((len(batch_losses),), float(batch_size), device=batch_losses[0].device)
    sizes[-1] = n - batch_size * (len(batch_losses) - 1)
    return (torch.stack(batch_losses) * sizes).sum().item() / n
