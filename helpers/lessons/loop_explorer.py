"""Notebook 06's training-loop explorer: a learning-rate slider and an epochs slider over what a fresh
MLP trained that long does, with runs kept (loop_runs) and only what changed redrawn."""

from __future__ import annotations

import math
from contextlib import contextmanager

import ipywidgets as widgets
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator
from torch import nn

from ..engine import data
from ..engine.loop import History
from ..engine.text import BilingualError, bi
from .loop_runs import Recent, RunStore
from .slider import SliderFigure, png_bytes, quick_png, slider, wrap_message
from .style import MIN_FONT_PT, role


@contextmanager
def _one_thread():
    """Tensors this small gain nothing from threads, and idle threads stall when other programs share the CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _mlp(hidden: int, seed: int) -> nn.Module:
    """A fresh small MLP, the same for the same seed; the global random state is left untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return nn.Sequential(nn.Linear(1, hidden), nn.Tanh(), nn.Linear(hidden, 1))


# The live picture's dpi: sharp on a projector (at least 150 dpi) with about half the pixels of DPI,
# so that a slider move draws, encodes and sends half as much; the saved strip stays at DPI.
LIVE_DPI = 150

# The saved picture's three learning rates: the regimes of the notice under the explorer.
STRIP_LRS = {0.0001: ("小さすぎ", "too small"), 0.1: ("ちょうどよい", "good"), 0.3: ("大きすぎ", "too large")}


class TrainingExplorer(SliderFigure):
    """A learning-rate slider and an epochs slider over what a fresh MLP, trained that long, does.

    `history` is the latest setting's History, `model` its trained model. Runs are kept epoch by epoch
    (loop_runs.RunStore): the same result as training from scratch, without training again; pictures
    already drawn are kept too. The figure is built once and only its lines
    and texts change: the axes stay fixed, so one run can be compared with the last, and a redraw
    repaints only what changed (blitting on the Agg canvas).
    """

    picture_dpi = LIVE_DPI

    def __init__(self, X, y, *, lr: float, num_epochs: int, hidden: int, seed: int, device,
                 lr_range: tuple[float, float], epochs_range: tuple[int, int], cache=None):
        data.check_data(X, y)
        if X.dim() != 2 or X.shape[1] != 1 or y.shape != X.shape:
            raise BilingualError(
                f"この図は1つの特徴量を描きます。X と y は形 (バッチ, 1) にします(X {tuple(X.shape)}、"
                f"y {tuple(y.shape)} が渡されました)。",
                f"This figure draws one feature: X and y must have shape (batch, 1) "
                f"(got X {tuple(X.shape)}, y {tuple(y.shape)}).")
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.X, self.y = X.to(self.device), y.to(self.device)  # (batch, 1) each
        self.hidden, self.seed = hidden, seed
        self.loss_fn = nn.MSELoss()
        self.history: History | None = None
        self._pictures = Recent(64)  # the pictures drawn last, about 40 kB each
        low, high = (float(X.min()), float(X.max()))
        self._grid = torch.linspace(low, high, 120, device=self.device).unsqueeze(1)  # (points, 1)
        self._start = _mlp(hidden, seed).to(self.device)  # the untrained model every run starts from
        self.lr_slider = slider(lr, math.log10(lr_range[0]), math.log10(lr_range[1]), 0.1,
                                "学習率", "learning rate", log=True, readout_format=".2")
        self.epochs_slider = slider(num_epochs, epochs_range[0], epochs_range[1], 1, "エポック数", "epochs")
        self.runs = RunStore(self._start, self.X, self.y, self._grid, loss_fn=self.loss_fn, seed=seed,
                             device=self.device, max_epochs=epochs_range[1], folder=cache)
        # The final loss is text under the picture, not drawn in it: typesetting it took a third of a redraw.
        self.summary = widgets.HTML()
        self._build_figure(epochs_range[1])
        super().__init__(self._train_and_draw, {"lr": self.lr_slider, "num_epochs": self.epochs_slider},
                         strip=self.strip)
        self.children = (*self.children, self.summary)

    def _build_figure(self, max_epochs: int) -> None:
        with torch.inference_mode():  # the untrained model's loss sets the loss axis once
            start = self.loss_fn(self._start(self.X), self.y).item()
        fig = Figure(figsize=(7.4, 3.6), dpi=LIVE_DPI)  # wide enough for both bilingual titles
        FigureCanvasAgg(fig)
        loss_ax, fit_ax = fig.subplots(1, 2)
        # Fixed limits: every run is drawn on the same axes, so moving a slider compares like with like.
        self._loss_axes(loss_ax, max_epochs, start)
        self._fit_axes(fit_ax)
        self._loss_line, = loss_ax.plot([], [], color=role("training"), linewidth=2, markersize=3, animated=True)
        self._fit_line, = fit_ax.plot(self._grid.squeeze(1).cpu(), torch.zeros(len(self._grid)),
                                      color=role("prediction"), linewidth=2, label=bi("予測", "prediction"),
                                      animated=True)
        fit_ax.legend(loc="upper left", bbox_to_anchor=(0, 1.02), borderaxespad=0.2)
        self._warning = fig.text(0.5, 0.5, "", ha="center", va="center", fontsize=MIN_FONT_PT,
                                 color=role("alert"), animated=True, visible=False,
                                 bbox=dict(boxstyle="round,pad=0.5", facecolor=role("paper"), alpha=0.92,
                                           edgecolor=role("alert")))
        fig.tight_layout()  # once: the layout never changes afterwards
        self._fig, self._background, self._dynamic = fig, None, (
            self._loss_line, self._fit_line, self._warning)

    def _loss_axes(self, ax, max_epochs: int, start: float) -> None:
        ax.set_yscale("log")
        ax.set_xlim(0, max_epochs)
        low, high = start / 20, start * 8
        ax.set_ylim(low, high)
        # plain numbers (0.05, 0.1, ...) read more easily than powers of ten
        ticks = [v * 10.0 ** k for k in range(-6, 7) for v in (1, 2, 5) if low <= v * 10.0 ** k <= high]
        ax.yaxis.set_major_locator(FixedLocator(ticks))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_locator(NullLocator())
        ax.set_xlabel(bi("エポック", "epoch"))
        ax.set_ylabel(bi("損失(対数目盛り)", "loss (log scale)"))
        ax.set_title(bi("学習データの損失", "training loss"))

    def _fit_axes(self, ax) -> None:
        X, y = self.X.cpu().squeeze(1), self.y.cpu().squeeze(1)  # (batch,)
        ax.scatter(X, y, s=14, color=role("truth"), alpha=0.6, label=bi("データ", "data"))
        margin = 0.3 * float(y.max() - y.min())
        ax.set_ylim(float(y.min()) - margin, float(y.max()) + 1.6 * margin)  # room for the legend above the data
        ax.set_xlabel(bi("入力 x", "input x"))
        ax.set_ylabel("y")
        ax.set_title(bi("予測とデータ", "prediction and data"))

    def strip(self, lrs=STRIP_LRS, num_epochs: int = 100) -> Figure:
        """Three telling learning rates side by side (too small, good, too large), for readers without a kernel."""
        with torch.inference_mode():
            start = self.loss_fn(self._start(self.X), self.y).item()
        fig = Figure(figsize=(7.4, 4.6))
        axes = fig.subplots(2, len(lrs), sharex="row", sharey="row")
        grid = self._grid.squeeze(1).cpu()
        for (loss_ax, fit_ax), (lr, (ja, en)) in zip(axes.T, lrs.items(), strict=True):
            with _one_thread():
                history, fit = self.runs.get(lr, num_epochs)
            self._loss_axes(loss_ax, num_epochs, start)
            loss_ax.plot(range(1, history.epochs + 1), history.losses, color=role("training"), linewidth=2)
            loss_ax.set_title(f"lr = {lr:g}\n{bi(ja, en)}")
            self._fit_axes(fit_ax)
            fit_ax.set_title("")
            if not history.diverged:
                fit_ax.plot(grid, fit, color=role("prediction"), linewidth=2, label=bi("予測", "prediction"))
        for ax in axes[:, 1:].flat:
            ax.set_ylabel("")
        for ax in axes[0]:
            ax.set_xlabel("")
        axes[0, 0].set_ylabel(bi("損失(対数)", "loss (log)"))
        fig.suptitle(bi(f"{num_epochs} エポック学習したあと", f"after {num_epochs} epochs of training"))
        fig.legend(*axes[1, 0].get_legend_handles_labels(), loc="lower center", ncol=2, bbox_to_anchor=(0.5, 0))
        fig.tight_layout(rect=(0, 0.06, 1, 1))
        return fig

    @property
    def model(self) -> nn.Module | None:
        """The model after the current setting's training (trained again only when asked for)."""
        if self.history is None:
            return None
        with _one_thread():
            return self.runs.model(self.history.lr, self.epochs_slider.value)

    def _train_and_draw(self, lr: float, num_epochs: int) -> Figure:
        with _one_thread():  # results are the same for the same thread count only
            history, fit = self.runs.get(lr, num_epochs)
        self.history = history
        self._loss_line.set_data(range(1, history.epochs + 1), history.losses)
        # one point alone draws no line: give short runs markers
        self._loss_line.set_marker("o" if history.epochs <= 20 else "")
        if history.diverged:
            self._fit_line.set_visible(False)
            self._warning.set_text(wrap_message(history.explain()))
            self.summary.value = f"<b>{bi('発散', 'diverged')}</b>"
        else:
            self._fit_line.set_ydata(fit)
            self._fit_line.set_visible(True)
            self.summary.value = f"{bi('最後の損失', 'final loss')}: <b>{history.losses[-1]:.4f}</b>"
        self._warning.set_visible(history.diverged)
        return self._fig

    def _png(self, fig: Figure) -> bytes:
        if fig is not self._fig:  # a message figure
            return png_bytes(fig)
        key = (self.history.lr, self.history.epochs, self.history.diverged, fig.canvas.get_width_height(physical=True))
        return self._pictures.get(key, lambda: self._draw_png(fig))

    def _draw_png(self, fig: Figure) -> bytes:
        canvas = fig.canvas
        renderer = canvas.get_renderer()
        size = (renderer.width, renderer.height)
        if self._background is None or self._background[0] != size:
            canvas.draw()  # everything but the animated artists: the still background, drawn once
            self._background = (size, canvas.copy_from_bbox(fig.bbox))
        canvas.restore_region(self._background[1])
        for artist in self._dynamic:
            fig.draw_artist(artist)
        return quick_png(canvas)


def training_explorer(X=None, y=None, *, lr: float = 0.1, num_epochs: int = 100, hidden: int = 16,
                      seed: int = 0, device=None, lr_range: tuple[float, float] = (1e-4, 10.0),
                      epochs_range: tuple[int, int] = (1, 200), cache=None) -> TrainingExplorer:
    """Sliders for the learning rate (log scale) and the epochs over a loss curve and the model's fit.

    X, y: (batch, 1) each; by default 30 points near y = sin(x). Each setting shows a fresh MLP
    (1 -> hidden -> 1, tanh) from the same seed trained with plain SGD on the full batch; a run is
    trained once and sliced for fewer epochs. device: where to train (default the CPU, the quickest
    for a model this small). cache: a folder to share finished runs in (default: the folder named by
    TRAINING_FLOW_EXPLORER_CACHE, else none).
    """
    if X is None and y is None:
        X, y = data.make_curve(30, seed=seed)
    return TrainingExplorer(X, y, lr=lr, num_epochs=num_epochs, hidden=hidden, seed=seed, device=device,
                            lr_range=lr_range, epochs_range=epochs_range, cache=cache)
