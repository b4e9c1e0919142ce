"""Notebook 07's figures: fits and loss curves by degree, and the capacity and data-size sliders."""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from ..engine.loop import History
from ..engine.text import BilingualError, bi
from .overfitting_models import HIGH, LOW, LR, NOISE, NUM_EPOCHS, SEED, fit, make_data, predict
from .slider import SliderFigure, slider
from .style import role

# --- Figures ------------------------------------------------------------------------------------

_GRID = torch.linspace(LOW, HIGH, 200).unsqueeze(1)  # (points, 1): where the fitted curve is drawn
_Y_LIMITS = (-2.2, 2.2)  # fixed, so a wild curve is clipped rather than squashing the points
# Log-scale ticks written as plain numbers: "0.01" reads more easily than 10⁻², and draws faster.
_LOSS_TICKS = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
_LOSS_LIMITS = (1e-4, 10.0)


def _flat(t) -> np.ndarray:
    return t.detach().cpu().reshape(-1).numpy()


def _draw_fit(ax, curve, X, y, X_val=None, y_val=None) -> None:
    grid = _flat(_GRID)
    ax.plot(grid, np.sin(grid), color=role("truth"), linestyle="--", linewidth=1.2,
            label=bi("本当の規則 sin x", "true rule sin x"))
    if X_val is not None and len(X_val):
        ax.scatter(_flat(X_val), _flat(y_val), s=14, facecolor="none", edgecolor=role("validation"), linewidth=1,
                   label=bi("検証データ", "validation data"), zorder=2)
    ax.scatter(_flat(X), _flat(y), s=26, color=role("training"), label=bi("学習データ", "training data"), zorder=3)
    if curve is not None:
        ax.plot(grid, _flat(curve), color=role("prediction"), linewidth=2, label=bi("モデル", "model"), zorder=4)
    ax.set_xlim(LOW, HIGH)
    ax.set_ylim(*_Y_LIMITS)
    ax.set_xlabel(bi("入力 x", "input x"))
    ax.set_ylabel("y")


def _draw_losses(ax, history: History, stop: int | None = None) -> None:
    epochs = np.arange(1, history.epochs + 1)
    ax.plot(epochs, history.losses, color=role("training"), linewidth=2,
            label=f"{bi('学習', 'training')} {history.losses[-1]:.4f}")  # each number once
    if history.val_losses:
        ax.plot(epochs, history.val_losses, color=role("validation"), linewidth=2,
                label=f"{bi('検証', 'validation')} {history.val_losses[-1]:.4f}")
        best = history.best_epoch
        ax.axvline(best, color=role("goal"), linestyle=":", linewidth=1.5)
        ax.plot([best], [history.val_losses[best - 1]], "o", color=role("goal"),
                label=bi(f"最良 {best} エポック目", f"best: epoch {best}"))
    if stop is not None:
        ax.axvline(stop, color=role("stop"), linestyle="--", linewidth=1.5,
                   label=bi(f"早期終了 {stop} エポック目", f"early stop: epoch {stop}"))
    ax.set_yscale("log")
    # One fixed scale: a run can be compared with the last, and the ticks never change.
    ax.set_ylim(*_LOSS_LIMITS)
    ax.set_yticks(_LOSS_TICKS, [f"{v:g}" for v in _LOSS_TICKS])
    ax.minorticks_off()
    ax.set_xlim(0, history.epochs + 1)
    ax.set_xlabel(bi("エポック", "epoch"))
    ax.set_ylabel(bi("損失", "loss"))


def loss_curves(history: History, stop: int | None = None, title: str | None = None) -> Figure:
    """Training and validation loss per epoch on one plot (log scale); the best epoch, and a stop, marked."""
    if not history.losses:
        raise BilingualError("まだ1エポックも学習していないので、描く損失がありません。",
                             "No epoch has been trained yet, so there is no loss to draw.")
    fig = Figure(figsize=(7.6, 3.3))
    ax = fig.add_subplot()
    _draw_losses(ax, history, stop)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), borderaxespad=0.3, fontsize=9)  # off the curves
    ax.set_title(title or bi("損失(対数目盛り)", "loss (log scale)"), fontsize=11)
    fig.tight_layout()
    return fig


def fit_figure(model: nn.Module, degree: int, X, y, X_val=None, y_val=None, title: str | None = None) -> Figure:
    """The model's curve over the training points (and validation points), with the true rule."""
    fig = Figure(figsize=(6.2, 3.3))
    ax = fig.add_subplot()
    _draw_fit(ax, predict(model, degree, _GRID), X, y, X_val, y_val)
    ax.legend(loc="lower right", fontsize=9)
    ax.set_title(title or bi(f"次数 {degree} の多項式", f"a polynomial of degree {degree}"), fontsize=11)
    fig.tight_layout()
    return fig


def _legend_below(fig: Figure, ax, bottom: float) -> None:
    fig.legend(*ax.get_legend_handles_labels(), loc="lower center", ncol=2, fontsize=9,
               bbox_to_anchor=(0.5, 0.0), columnspacing=1.5)
    fig.subplots_adjust(bottom=bottom)


# What each capacity of notebook 07 shows, for the titles of its comparison.
VERDICTS = {1: ("学習不足", "underfitting"), 4: ("ちょうどよい", "a good fit"), 14: ("過学習", "overfitting")}


def _loss_box(ax, history: History) -> None:
    ax.text(0.03, 0.97, f"{bi('学習', 'training')} {history.losses[-1]:.4f}\n"
            f"{bi('検証', 'validation')} {history.val_losses[-1]:.4f}",
            transform=ax.transAxes, ha="left", va="top", fontsize=9,
            bbox=dict(boxstyle="round,pad=0.3", facecolor=role("paper"), alpha=0.85, edgecolor=role("muted")))


def _fits_side_by_side(height: float, panels) -> Figure:
    """Fitted curves side by side on one y axis, each with its title and final losses.

    panels: (title, title size or None, model, degree, X, y, X_val, y_val, history) for each axes.
    """
    panels = list(panels)
    fig = Figure(figsize=(7.4, height))
    axes = np.atleast_1d(fig.subplots(1, len(panels), sharey=True))
    for ax, (title, size, model, degree, X, y, X_val, y_val, history) in zip(axes, panels, strict=True):
        _draw_fit(ax, predict(model, degree, _GRID), X, y, X_val, y_val)
        ax.set_title(title, **({} if size is None else {"fontsize": size}))  # None: the style's title size
        _loss_box(ax, history)
    for ax in axes[1:]:
        ax.set_ylabel("")
    fig.tight_layout()
    _legend_below(fig, axes[0], 0.27)
    return fig


def capacity_comparison(runs: dict, X, y, X_val, y_val) -> Figure:
    """The runs of fit_capacities side by side: each fitted curve with its final training and validation loss."""
    def title(degree):
        name = VERDICTS.get(degree)
        return bi(f"次数 {degree}", f"degree {degree}") + (f"\n{bi(*name)}" if name else "")

    return _fits_side_by_side(3.6, ((title(degree), None, model, degree, X, y, X_val, y_val, history)
                                    for degree, (model, history) in runs.items()))


# The explorer's saved picture: the settings of the notice under it, each with what it shows.
STRIP_SETTINGS = ((1, 15, "学習不足", "underfitting"), (14, 15, "過学習", "overfitting"),
                  (14, 100, "データを増やすと", "with more data"))


def overfitting_strip(n_val: int = 50, settings=STRIP_SETTINGS, device=None) -> Figure:
    """A few (degree, training points) settings side by side, each a fresh fit with its final losses."""
    def panel(degree, n_train, ja, en):
        X, y, X_val, y_val = make_data(n_train, n_val)
        model, history = fit(degree, X, y, X_val, y_val, device=device)
        title = f"{bi('次数', 'degree')} {degree}\n{bi('学習データ', 'points')} {n_train}\n{bi(ja, en)}"
        return title, 10, model, degree, X, y, X_val, y_val, history

    return _fits_side_by_side(3.9, (panel(*setting) for setting in settings))


def overfitting_figure(degree: int, n_train: int, n_val: int, *, noise: float = NOISE, seed: int = SEED,
                       num_epochs: int = NUM_EPOCHS, lr: float = LR, device=None) -> Figure:
    """Train one polynomial on fresh data; left its fit, right its training and validation losses."""
    X, y, X_val, y_val = make_data(n_train, n_val, noise=noise, seed=seed)
    try:
        model, history = fit(degree, X, y, X_val, y_val, num_epochs=num_epochs, lr=lr, device=device)
    except BilingualError as err:
        if n_val == 0:  # helpers.train's own message, then what to do with the slider
            raise BilingualError(
                err.ja + "\n検証データがないと、過学習しているかどうか確かめられません。\n"
                         "検証データの数を 1 以上にしてください。",
                err.en + "\nWithout validation data there is no way to see overfitting:\n"
                         "set the validation points to 1 or more.") from None
        raise
    if history.diverged:
        raise BilingualError(f"学習が発散しました(学習率 {lr:g})。学習率を下げてください。",
                             f"Training diverged (learning rate {lr:g}): lower the learning rate.")
    fig = Figure(figsize=(7.4, 3.9))
    fit_ax, loss_ax = fig.subplots(1, 2)
    _draw_fit(fit_ax, predict(model, degree, _GRID), X, y, X_val, y_val)
    fit_ax.set_title(bi(f"次数 {degree}、学習データ {n_train} 個", f"degree {degree}, {n_train} training points",
                        sep="\n"), fontsize=9)
    _draw_losses(loss_ax, history)
    loss_ax.set_title(bi("損失(対数目盛り)", "loss (log scale)", sep="\n"), fontsize=9)
    # Fixed margins instead of tight_layout: a redraw costs less, and the panels never jump.
    fig.subplots_adjust(left=0.08, right=0.98, top=0.86, wspace=0.36, bottom=0.3)
    # one legend under both panels, off the curves: the fit's entries, then the losses'
    handles, labels = fit_ax.get_legend_handles_labels()
    more, more_labels = loss_ax.get_legend_handles_labels()
    fig.legend(handles + more, labels + more_labels, loc="lower center", ncol=3, fontsize=9,
               bbox_to_anchor=(0.5, 0.0), columnspacing=1.2)
    return fig


def overfitting_explorer(degree: int = 14, n_train: int = 15, n_val: int = 50, device=None) -> SliderFigure:
    """Sliders for the degree (capacity), the training points and the validation points over one figure."""
    sliders = {
        "degree": slider(degree, 1, 15, 1, "次数(モデルの自由度)", "degree (capacity)"),
        "n_train": slider(n_train, 5, 100, 5, "学習データの数", "training points"),
        "n_val": slider(n_val, 0, 100, 5, "検証データの数", "validation points"),
    }
    return SliderFigure(lambda **values: overfitting_figure(**values, device=device), sliders,
                        strip=lambda: overfitting_strip(n_val, device=device))
