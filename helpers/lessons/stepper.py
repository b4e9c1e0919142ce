"""Notebooks 00 and 06: the five-step stepper. Each press of "next step" runs one of the five steps on a
tiny model, lights that step on the cycle figure and shows what it produced."""

from __future__ import annotations

import html

import ipywidgets as widgets
import torch
from torch import nn

from ..engine.data import batches
from ..engine.text import bi, bilines
from .figures import STEPS, five_step_cycle
from .slider import png_bytes, with_still


def _numbers(t) -> str:
    return "[" + ", ".join(f"{v:.3f}" for v in t.reshape(-1).tolist()) + "]"


class FiveSteps:
    """A tiny training run (nn.Linear(1, 1), 6 points, batches of 3, SGD) walked one step at a time."""

    def __init__(self, n: int = 6, batch_size: int = 3, lr: float = 0.1, seed: int = 0):
        self.X = torch.linspace(-1.0, 1.0, n).unsqueeze(1)  # (batch, 1)
        self.y = 2 * self.X + 1  # (batch, 1): the targets follow y = 2x + 1
        self.batch_size, self.lr, self.seed = batch_size, lr, seed
        self.reset()

    def reset(self) -> None:
        """Fresh weights from the seed, epoch 1, step 1 next."""
        with torch.random.fork_rng(devices=[]):  # the notebook's own random numbers stay as they were
            torch.manual_seed(self.seed)
            self.model = nn.Linear(1, 1)
        self.loss_fn = nn.MSELoss()
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=self.lr)
        self.shuffle = torch.Generator().manual_seed(self.seed)
        self.epoch, self.updates, self.next_step = 1, 0, 0  # next_step: 0-4 for steps 1-5
        self.last_step: int | None = None  # the step that ran last, None before the first press
        self._queue = list(batches(self.X, self.y, self.batch_size, self.shuffle))
        self.batch_number = 0
        self.X_batch = self.y_batch = self.prediction = self.loss = None

    @property
    def batches_per_epoch(self) -> int:
        return -(-len(self.X) // self.batch_size)

    def weights(self) -> tuple[float, float]:
        return self.model.weight.item(), self.model.bias.item()

    def step(self) -> tuple[str, str]:
        """Run the next of the five steps; return what it produced, (ja, en)."""
        i = self.next_step
        if i == 0:  # 1 input: the next batch; a new epoch once every batch has been read
            if not self._queue:
                self.epoch += 1
                self._queue = list(batches(self.X, self.y, self.batch_size, self.shuffle))
                self.batch_number = 0
            self.X_batch, self.y_batch = self._queue.pop(0)
            self.batch_number += 1
            where = f"{self.batch_number}/{self.batches_per_epoch}"
            out = (f"エポック {self.epoch}、バッチ {where}: x = {_numbers(self.X_batch)}、y = {_numbers(self.y_batch)}",
                   f"epoch {self.epoch}, batch {where}: x = {_numbers(self.X_batch)}, y = {_numbers(self.y_batch)}")
        elif i == 1:  # 2 forward pass
            self.prediction = self.model(self.X_batch)
            out = (f"予測 = model(X) = {_numbers(self.prediction.detach())}",
                   f"prediction = model(X) = {_numbers(self.prediction.detach())}")
        elif i == 2:  # 3 loss
            self.loss = self.loss_fn(self.prediction, self.y_batch)
            out = (f"loss = loss_fn(prediction, y) = {self.loss.item():.4f}",
                   f"loss = loss_fn(prediction, y) = {self.loss.item():.4f}")
        elif i == 3:  # 4 backpropagation
            self.optimizer.zero_grad()
            self.loss.backward()
            dw, db = self.model.weight.grad.item(), self.model.bias.grad.item()
            out = (f"zero_grad()、backward() → 勾配 dL/dw = {dw:+.4f}、dL/db = {db:+.4f}",
                   f"zero_grad(), backward() -> gradients dL/dw = {dw:+.4f}, dL/db = {db:+.4f}")
        else:  # 5 update
            (w0, b0) = self.weights()
            self.optimizer.step()
            self.updates += 1
            (w1, b1) = self.weights()
            out = (f"step() → 新しい重み w {w0:.4f} → {w1:.4f}、b {b0:.4f} → {b1:.4f}",
                   f"step() -> new weights w {w0:.4f} -> {w1:.4f}, b {b0:.4f} -> {b1:.4f}")
        self.last_step, self.next_step = i, (i + 1) % len(STEPS)
        return out

    @property
    def epoch_done(self) -> bool:
        """True right after the last update of an epoch."""
        return self.last_step == len(STEPS) - 1 and not self._queue

    def run_to_epoch_end(self) -> list[tuple[str, str]]:
        """Run steps until the current epoch's last update (at least one step)."""
        produced = [self.step()]
        while not self.epoch_done:
            produced.append(self.step())
        return produced


class Stepper(widgets.VBox):
    """The widget: next step, run to the end of the epoch, reset; the lit cycle figure and what each step made."""

    def __init__(self, **kwargs):
        self.steps = FiveSteps(**kwargs)
        self.next_button = widgets.Button(description=bi("次のステップ", "next step"),
                                          layout=widgets.Layout(width="auto"))
        self.epoch_button = widgets.Button(description=bi("エポックの最後まで", "run to the end of the epoch"),
                                           layout=widgets.Layout(width="auto"))
        self.reset_button = widgets.Button(description=bi("リセット", "reset"), layout=widgets.Layout(width="auto"))
        self.image = widgets.Image(format="png", layout=widgets.Layout(width="520px"))
        self.output = widgets.HTML()
        self.next_button.on_click(lambda _: self.press_next())
        self.epoch_button.on_click(lambda _: self.press_epoch())
        self.reset_button.on_click(lambda _: self.press_reset())
        super().__init__([widgets.HBox([self.next_button, self.epoch_button, self.reset_button]),
                          self.image, self.output])
        self.lines: list[tuple[str, str]] = []
        self._draw()

    def _repr_mimebundle_(self, **kwargs):
        # JupyterLab shows the live widget; a reader without a kernel (a book, GitHub) sees the cycle.
        return with_still(super()._repr_mimebundle_(**kwargs), bytes(self.image.value))

    def _draw(self) -> None:
        s = self.steps
        w, b = s.weights()
        note = bilines(f"エポック {s.epoch}、更新 {s.updates} 回", f"epoch {s.epoch}, {s.updates} updates")
        note += f"\nw = {w:.3f}, b = {b:.3f}"
        self.image.value = png_bytes(five_step_cycle(active=s.last_step, note=note))
        shown = self.lines[-6:]  # the latest steps, newest last
        self.output.value = "<pre>" + html.escape("\n".join(bilines(j, e) for j, e in shown)) + "</pre>"

    def press_next(self) -> None:
        i = self.steps.next_step
        ja, en = self.steps.step()
        self.lines.append((f"{i + 1}. {STEPS[i][0]}: {ja}", f"{i + 1}. {STEPS[i][1]}: {en}"))
        self._draw()

    def press_epoch(self) -> None:
        start = self.steps.next_step
        for k, (ja, en) in enumerate(self.steps.run_to_epoch_end()):
            i = (start + k) % len(STEPS)
            self.lines.append((f"{i + 1}. {STEPS[i][0]}: {ja}", f"{i + 1}. {STEPS[i][1]}: {en}"))
        self._draw()

    def press_reset(self) -> None:
        self.steps.reset()
        self.lines = []
        self._draw()


def stepper(**kwargs) -> Stepper:
    """The five-step stepper of notebooks 00 and 06."""
    return Stepper(**kwargs)
