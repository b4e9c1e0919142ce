"""Notebook 06's explorer: every run it has trained, kept epoch by epoch, so a slider move rarely trains.

With plain SGD on the full batch, training is deterministic and the first k epochs of a longer run are
exactly a k-epoch run: the epochs slider only slices a run, and a learning rate seen before is not
trained again. A run is trained only as far as asked, and resumed from where it stopped (plain SGD keeps
no state between steps, so resuming is the same as having gone on). Finished runs can also be kept in
a folder (TRAINING_FLOW_EXPLORER_CACHE), which a class shares: one kernel trains, the others read.
"""

from __future__ import annotations

import copy
import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..engine.loop import History, train

CACHE_ENV = "TRAINING_FLOW_EXPLORER_CACHE"
FORMAT = 1  # bump when what is stored changes


def same_lr(lr) -> float:
    """lr to 12 significant digits: a browser's 10 ** -0.7 and Python's are then the same run."""
    return float(f"{float(lr):.12g}")


@dataclass
class Run:
    """One learning rate's run: the loss after each epoch and the model's line over the grid after it."""

    lr: float
    losses: list[float] = field(default_factory=list)
    fits: list[torch.Tensor] = field(default_factory=list)  # (points,) each, one per epoch
    diverged: bool = False  # the epoch after the last loss made the loss infinite or NaN
    model: torch.nn.Module | None = None  # the model after the last epoch, to resume from

    def done(self, max_epochs: int) -> bool:
        return self.diverged or len(self.losses) >= max_epochs

    def history(self, num_epochs: int) -> History:
        """What train(..., num_epochs) from the start would return."""
        if num_epochs <= len(self.losses):
            return History(losses=self.losses[:num_epochs], lr=self.lr)
        return History(losses=list(self.losses), lr=self.lr, diverged=self.diverged)


class RunStore:
    """The explorer's runs by learning rate, trained on demand; `trained_epochs` counts the epochs trained.

    The caller sets the thread count: results are the same only for the same number of threads.
    """""

    def __init__(self, start: torch.nn.Module, X, y, grid, *, loss_fn, seed: int, device, max_epochs: int,
                 folder: str | os.PathLike | None = None):
        self.start, self.X, self.y, self.grid = start, X, y, grid
        self.loss_fn, self.seed, self.device, self.max_epochs = loss_fn, seed, device, max_epochs
        self.runs: dict[float, Run] = {}
        self.trained_epochs = 0
        self._model = None  # ((lr, epochs), model)
        if folder is None:
            folder = os.environ.get(CACHE_ENV) or None
        self.folder = Path(folder) if folder else None
        self._key = self._base_key() if self.folder else b""

    def get(self, lr: float, num_epochs: int) -> tuple[History, torch.Tensor | None]:
        """(history, fit): the run of num_epochs at lr, and the model's line (None if it diverged)."""
        lr = same_lr(lr)
        run = self.runs.get(lr) or self._load(lr) or Run(lr)
        self.runs[lr] = run
        if len(run.losses) < num_epochs and not run.diverged:
            self._extend(run, num_epochs - len(run.losses))
            if run.done(self.max_epochs):
                self._save(run)
        history = run.history(num_epochs)
        return history, None if history.diverged else run.fits[history.epochs - 1]

    def model(self, lr: float, num_epochs: int) -> torch.nn.Module:
        """The model trained num_epochs at lr from the start (kept for the latest setting only)."""
        lr = same_lr(lr)
        key = (lr, num_epochs)
        if self._model is None or self._model[0] != key:
            model = copy.deepcopy(self.start)
            train(model, self.X, self.y, loss_fn=self.loss_fn, lr=lr, num_epochs=num_epochs, device=self.device,
                  seed=self.seed)
            self._model = (key, model)
        return self._model[1]

    def _extend(self, run: Run, epochs: int) -> None:
        if run.model is None:
            run.model = copy.deepcopy(self.start)  # the same starting weights every time

        def record(_epoch, _history):
            with torch.inference_mode():
                run.fits.append(run.model(self.grid).squeeze(1).cpu())  # (points,)

        history = train(run.model, self.X, self.y, loss_fn=self.loss_fn, lr=run.lr, num_epochs=epochs,
                        device=self.device, seed=self.seed, callback=record)  # full batch: one update per epoch
        self.trained_epochs += history.epochs + history.diverged
        run.losses += history.losses
        run.diverged = history.diverged

    # --- the shared folder ------------------------------------------------------------------------

    def _base_key(self) -> bytes:
        """Everything a run depends on but the learning rate: data, grid, starting weights, versions."""
        digest = hashlib.sha256(f"{FORMAT} {torch.__version__} {torch.backends.cpu.get_cpu_capability()} "
                                f"{self.device} {self.seed} {self.max_epochs} {self.loss_fn!r}".encode())
        for tensor in (self.X, self.y, self.grid, *self.start.state_dict().values()):
            digest.update(repr((tuple(tensor.shape), str(tensor.dtype))).encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        digest.update(repr(self.start).encode())
        return digest.digest()

    def _path(self, lr: float) -> Path:
        name = hashlib.sha256(self._key + float(lr).hex().encode()).hexdigest()[:32]
        return self.folder / f"run-{name}.npz"

    def _load(self, lr: float) -> Run | None:
        if self.folder is None:
            return None
        try:
            with np.load(self._path(lr)) as stored:
                losses, fits, diverged = stored["losses"], stored["fits"], bool(stored["diverged"])
        except (OSError, KeyError, ValueError):  # absent, or unreadable: train it here
            return None
        if len(losses) != len(fits) or not (diverged or len(losses) >= self.max_epochs):
            return None
        return Run(lr, [float(v) for v in losses], list(torch.from_numpy(fits.copy())), diverged)

    def _save(self, run: Run) -> None:
        if self.folder is None:
            return
        fits = torch.stack(run.fits).numpy() if run.fits else np.zeros((0, len(self.grid)), np.float32)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.folder, suffix=".tmp", delete=False) as out:
                np.savez(out, losses=np.array(run.losses, dtype=np.float64), fits=fits,
                         diverged=np.array(run.diverged))
            os.replace(out.name, self._path(run.lr))  # atomic: a reader never sees half a file
        except OSError:  # a read-only folder is fine: the run stays in this kernel
            pass


class Recent:
    """The last `size` values made, by key: get(key, make) calls make() only for a key not kept."""

    def __init__(self, size: int):
        self.size, self.items = size, {}

    def get(self, key, make):
        value = self.items.pop(key, None)
        if value is None:
            value = make()
        self.items[key] = value  # the most recent last
        while len(self.items) > self.size:
            del self.items[next(iter(self.items))]
        return value
