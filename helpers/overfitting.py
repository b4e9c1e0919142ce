"""Overfitting: a flexible model memorises its few training points and misses new ones (notebook 07).

The model is a polynomial: each input x is spread into `degree` features, and nn.Linear weighs them.
The training loss and the validation loss, drawn together, show when the model starts to memorise;
`early_stopping` stops training there. Plotters are pure; `overfitting_explorer` is the slider wrapper.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from . import data
from .checks import NO_ANSWER, Feedback, correct, hint, is_whole_number
from .loop import History, train
from .plots import PALETTE
from .text import BilingualError, bi, display_width
from .widgets import SliderFigure, slider

NOISE = 0.2  # how far each point strays from the rule y = sin(x)
LOW, HIGH = -3.0, 3.0  # the x range of data.make_curve
POOL = 100  # points drawn per set; a smaller set is the first n of them, so a larger one only adds
LR = 0.1
OPTIMIZER = "momentum"
NUM_EPOCHS = 200
MAX_DEGREE = 30
SEED = 8  # the draw of points used throughout: on it underfitting, a good fit and overfitting are all plain


def make_data(n_train: int = 15, n_val: int = 50, noise: float = NOISE, seed: int = SEED):
    """Training and validation points drawn separately from one rule, y = sin(x) + noise.

    Returns X (n_train, 1), y (n_train, 1), X_val (n_val, 1), y_val (n_val, 1).
    """
    for name, n in (("n_train", n_train), ("n_val", n_val)):
        if isinstance(n, bool) or not isinstance(n, Integral) or n < 0:
            raise BilingualError(f"{name} は 0 以上の整数です({n!r} が渡されました)。",
                                 f"{name} must be a whole number, 0 or more (got {n!r}).")
    X, y = data.make_curve(max(n_train, POOL), noise=noise, low=LOW, high=HIGH, seed=seed)
    # Another seed: validation points are new questions from the same rule, never training ones.
    X_val, y_val = data.make_curve(max(n_val, POOL), noise=noise, low=LOW, high=HIGH, seed=seed + 1000)
    return X[:n_train], y[:n_train], X_val[:n_val], y_val[:n_val]


def _check_degree(degree) -> int:
    if isinstance(degree, bool) or not isinstance(degree, Integral) or not 1 <= degree <= MAX_DEGREE:
        raise BilingualError(f"次数は 1 から {MAX_DEGREE} までの整数です({degree!r} が渡されました)。",
                             f"The degree must be a whole number from 1 to {MAX_DEGREE} (got {degree!r}).")
    return int(degree)


def poly_features(X, degree: int):
    """(batch, 1) -> (batch, degree): the Legendre polynomials P1 … P_degree of x / 3, scaled.

    They describe the same curves as x, x², …, x^degree, but over the data each column has about the
    same size (mean square 1), so gradient descent learns all of them with one learning rate.
    """
    degree = _check_degree(degree)
    if not isinstance(X, torch.Tensor) or X.dim() != 2 or X.shape[1] != 1:
        shape = tuple(X.shape) if isinstance(X, torch.Tensor) else type(X).__name__
        raise BilingualError(f"X は形 (バッチ, 1) のテンソルにします({shape} が渡されました)。",
                             f"X must be a tensor of shape (batch, 1) (got {shape}).")
    x = X / HIGH  # (batch, 1), now between -1 and 1
    columns = [torch.ones_like(x), x]
    for k in range(1, degree):  # Bonnet's recursion: (k + 1) P_{k+1} = (2k + 1) x P_k - k P_{k-1}
        columns.append(((2 * k + 1) * x * columns[k] - k * columns[k - 1]) / (k + 1))
    scale = torch.sqrt(2 * torch.arange(1, degree + 1, dtype=x.dtype, device=x.device) + 1)  # (degree,)
    return torch.cat(columns[1:degree + 1], dim=1) * scale  # (batch, degree); the constant is nn.Linear's bias


def polynomial_model(degree: int) -> nn.Linear:
    """nn.Linear(degree, 1) with every weight 0: each run starts from the same flat line y = 0."""
    model = nn.Linear(_check_degree(degree), 1)
    nn.init.zeros_(model.weight)
    nn.init.zeros_(model.bias)
    return model


def fit(degree: int, X, y, X_val=None, y_val=None, *, num_epochs: int = NUM_EPOCHS, lr: float = LR,
        callback=None, device=None):
    """Train a polynomial of this degree with helpers.train (momentum SGD, full batch): (model, history)."""
    model = polynomial_model(degree)
    history = train(model, poly_features(X, degree), y, loss_fn=nn.MSELoss(), lr=lr, num_epochs=num_epochs,
                    optimizer=OPTIMIZER, X_val=None if X_val is None else poly_features(X_val, degree),
                    y_val=y_val, device=device, callback=callback)
    return model, history


def predict(model: nn.Module, degree: int, X):
    """The model's answers for X (batch, 1), as a (batch, 1) tensor on the CPU."""
    device = next(model.parameters()).device
    with torch.inference_mode():
        return model(poly_features(X, degree).to(device)).cpu()  # (batch, 1)


# --- Early stopping -----------------------------------------------------------------------------

def _check_patience(patience) -> int:
    if isinstance(patience, bool) or not isinstance(patience, Integral) or patience < 1:
        raise BilingualError(f"patience は 1 以上の整数です({patience!r} が渡されました)。",
                             f"patience must be a whole number of at least 1 (got {patience!r}).")
    return int(patience)


class EarlyStopping:
    """A callback for helpers.train: stop once the validation loss has gone `patience` epochs without a new best.

    Given the model, it also keeps a copy of the weights from the best epoch and puts them back when it
    stops, so the model ends at its best epoch rather than `patience` epochs later. Without validation
    data History.best_epoch follows the training loss instead.
    """

    def __init__(self, patience: int = 20, model: nn.Module | None = None):
        self.patience = _check_patience(patience)
        self.model = model
        self.best_weights: dict | None = None

    def __call__(self, epoch: int, history: History) -> bool:
        if self.model is not None and history.best_epoch == epoch:  # a new best: remember these weights
            self.best_weights = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        if epoch - history.best_epoch < self.patience:
            return False
        if self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)
        return True  # True stops training


def early_stopping(patience: int = 20, model: nn.Module | None = None) -> EarlyStopping:
    """A helpers.train callback that stops after `patience` epochs without a new best validation loss.

    With model=..., the model's weights from the best epoch are put back when training stops.
    """
    return EarlyStopping(patience, model)


def stop_epoch(val_losses, patience: int) -> int:
    """The epoch (from 1) at which early_stopping(patience) stops on these losses; the last if never."""
    patience = _check_patience(patience)
    best, best_epoch = float("inf"), 0
    for epoch, value in enumerate(val_losses, start=1):
        if value < best:  # strictly lower, as History.best_epoch keeps the first of equal losses
            best, best_epoch = value, epoch
        if epoch - best_epoch >= patience:
            return epoch
    return len(val_losses)


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
    ax.plot(grid, np.sin(grid), color=PALETTE[7], linestyle="--", linewidth=1.2,
            label=bi("本当の規則 sin x", "true rule sin x"))
    if X_val is not None and len(X_val):
        ax.scatter(_flat(X_val), _flat(y_val), s=14, facecolor="none", edgecolor=PALETTE[1], linewidth=1,
                   label=bi("検証データ", "validation data"), zorder=2)
    ax.scatter(_flat(X), _flat(y), s=26, color=PALETTE[0], label=bi("学習データ", "training data"), zorder=3)
    if curve is not None:
        ax.plot(grid, _flat(curve), color=PALETTE[3], linewidth=2, label=bi("モデル", "model"), zorder=4)
    ax.set_xlim(LOW, HIGH)
    ax.set_ylim(*_Y_LIMITS)
    ax.set_xlabel("x")
    ax.set_ylabel("y")


def _draw_losses(ax, history: History, stop: int | None = None) -> None:
    epochs = np.arange(1, history.epochs + 1)
    ax.plot(epochs, history.losses, color=PALETTE[0], linewidth=2,
            label=bi(f"学習 {history.losses[-1]:.4f}", f"training {history.losses[-1]:.4f}"))
    if history.val_losses:
        ax.plot(epochs, history.val_losses, color=PALETTE[1], linewidth=2,
                label=bi(f"検証 {history.val_losses[-1]:.4f}", f"validation {history.val_losses[-1]:.4f}"))
        best = history.best_epoch
        ax.axvline(best, color=PALETTE[2], linestyle=":", linewidth=1.5)
        ax.plot([best], [history.val_losses[best - 1]], "o", color=PALETTE[2],
                label=bi(f"最良 {best} エポック目", f"best: epoch {best}"))
    if stop is not None:
        ax.axvline(stop, color=PALETTE[4], linestyle="--", linewidth=1.5,
                   label=bi(f"早期終了 {stop} エポック目", f"early stop: epoch {stop}"))
    ax.set_yscale("log")
    # One fixed scale: a run can be compared with the last, and the ticks never change.
    ax.set_ylim(*_LOSS_LIMITS)
    ax.set_yticks(_LOSS_TICKS, [f"{v:g}" for v in _LOSS_TICKS])
    ax.minorticks_off()
    ax.set_xlim(0, history.epochs + 1)
    ax.set_xlabel(bi("エポック", "epoch"))
    ax.set_ylabel(bi("損失", "loss"))
    ax.legend(loc="upper right", fontsize=7)


def loss_curves(history: History, stop: int | None = None, title: str | None = None) -> Figure:
    """Training and validation loss per epoch on one plot (log scale); the best epoch, and a stop, marked."""
    if not history.losses:
        raise BilingualError("まだ1エポックも学習していないので、描く損失がありません。",
                             "No epoch has been trained yet, so there is no loss to draw.")
    fig = Figure(figsize=(6.2, 3.3))
    ax = fig.add_subplot()
    _draw_losses(ax, history, stop)
    ax.set_title(title or bi("損失(対数目盛り)", "loss (log scale)"), fontsize=11)
    fig.tight_layout()
    return fig


def fit_figure(model: nn.Module, degree: int, X, y, X_val=None, y_val=None, title: str | None = None) -> Figure:
    """The model's curve over the training points (and validation points), with the true rule."""
    fig = Figure(figsize=(6.2, 3.3))
    ax = fig.add_subplot()
    _draw_fit(ax, predict(model, degree, _GRID), X, y, X_val, y_val)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title or bi(f"次数 {degree} の多項式", f"a polynomial of degree {degree}"), fontsize=11)
    fig.tight_layout()
    return fig


def _legend_below(fig: Figure, ax, bottom: float) -> None:
    fig.legend(*ax.get_legend_handles_labels(), loc="lower center", ncol=4, fontsize=7,
               bbox_to_anchor=(0.5, 0.0))
    fig.subplots_adjust(bottom=bottom)


def fit_capacities(degrees, X, y, X_val, y_val, *, num_epochs: int = NUM_EPOCHS, lr: float = LR,
                   device=None) -> dict:
    """One run per degree on the same data: degree -> (model, history)."""
    return {degree: fit(degree, X, y, X_val, y_val, num_epochs=num_epochs, lr=lr, device=device)
            for degree in degrees}


def capacity_comparison(runs: dict, X, y, X_val, y_val) -> Figure:
    """The runs of fit_capacities side by side: each fitted curve with its final training and validation loss."""
    fig = Figure(figsize=(7.2, 3.2))
    axes = np.atleast_1d(fig.subplots(1, len(runs), sharey=True))
    for ax, (degree, (model, history)) in zip(axes, runs.items(), strict=True):
        _draw_fit(ax, predict(model, degree, _GRID), X, y, X_val, y_val)
        ax.set_title(bi(f"次数 {degree}", f"degree {degree}"), fontsize=10)
        ax.text(0.03, 0.97, bi(f"学習 {history.losses[-1]:.4f}", f"train {history.losses[-1]:.4f}") + "\n"
                + bi(f"検証 {history.val_losses[-1]:.4f}", f"val {history.val_losses[-1]:.4f}"),
                transform=ax.transAxes, ha="left", va="top", fontsize=7,
                bbox=dict(boxstyle="round,pad=0.3", facecolor="white", alpha=0.85, edgecolor="#BBBBBB"))
    for ax in axes[1:]:
        ax.set_ylabel("")
    fig.tight_layout()
    _legend_below(fig, axes[0], 0.24)
    return fig


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
    fig = Figure(figsize=(7.0, 3.4))
    fit_ax, loss_ax = fig.subplots(1, 2)
    _draw_fit(fit_ax, predict(model, degree, _GRID), X, y, X_val, y_val)
    fit_ax.set_title(bi(f"次数 {degree}、学習データ {n_train} 個", f"degree {degree}, {n_train} training points",
                        sep="\n"), fontsize=9)
    _draw_losses(loss_ax, history)
    loss_ax.set_title(bi("損失(対数目盛り)", "loss (log scale)", sep="\n"), fontsize=9)
    # Fixed margins instead of tight_layout: a redraw costs less, and the panels never jump.
    fig.subplots_adjust(left=0.08, right=0.98, top=0.86, wspace=0.36)
    _legend_below(fig, fit_ax, 0.26)
    return fig


def overfitting_explorer(degree: int = 14, n_train: int = 15, n_val: int = 50, device=None) -> SliderFigure:
    """Sliders for the degree (capacity), the training points and the validation points over one figure."""
    sliders = {
        "degree": slider(degree, 1, 15, 1, "次数(モデルの自由度)", "degree (capacity)"),
        "n_train": slider(n_train, 5, 100, 5, "学習データの数", "training points"),
        "n_val": slider(n_val, 0, 100, 5, "検証データの数", "validation points"),
    }
    return SliderFigure(lambda **values: overfitting_figure(**values, device=device), sliders)


# --- Exercises ----------------------------------------------------------------------------------

# Validation loss per epoch of a short run, for Try it 1 and Try it 2.
EXERCISE_VAL_LOSSES = (0.92, 0.61, 0.44, 0.35, 0.31, 0.29, 0.30, 0.33, 0.38, 0.45, 0.53, 0.62)
EXERCISE_PATIENCE = 3


def history_table(history: History) -> str:
    """Epoch, training loss and validation loss, one line per epoch, rounded."""
    header = [bi("エポック", "epoch"), bi("学習の損失", "training loss"), bi("検証の損失", "validation loss")]
    rows = [[str(epoch), f"{train_loss:.4f}", f"{val_loss:.4f}"] for epoch, (train_loss, val_loss)
            in enumerate(zip(history.losses, history.val_losses, strict=True), start=1)]
    widths = [max(display_width(row[j]) for row in [header, *rows]) for j in range(len(header))]
    return "\n".join("  ".join(" " * (w - display_width(text)) + text for text, w in zip(row, widths, strict=True))
                     for row in [header, *rows])


def exercise_history() -> History:
    """The short run of the exercises: its training loss keeps falling, its validation loss turns up."""
    losses = [0.9 * 0.7 ** k for k in range(len(EXERCISE_VAL_LOSSES))]
    return History(losses=losses, val_losses=list(EXERCISE_VAL_LOSSES), lr=LR)


def check_best_epoch(answer) -> Feedback:
    """Try it 1: the epoch (from 1) of exercise_history() with the lowest validation loss."""
    if answer is None:
        return hint(*NO_ANSWER)
    if not is_whole_number(answer):
        return hint(f"エポック番号を整数で答えます(例: 3)。{answer!r} は整数ではありません。",
                    f"Answer with an epoch number, a whole number such as 3; {answer!r} is not one.")
    losses = EXERCISE_VAL_LOSSES
    truth = min(range(len(losses)), key=losses.__getitem__) + 1
    if answer == truth:
        return correct(f"正解です。{truth} エポック目の検証損失 {losses[truth - 1]:.2f} がいちばん低く、"
                       f"そこから先は学習データを覚えこむほど新しい問題で外れます。",
                       f"Right: epoch {truth} has the lowest validation loss, {losses[truth - 1]:.2f}; "
                       f"after it the model memorises its training data and misses new questions.")
    if not 1 <= answer <= len(losses):
        return hint(f"エポックは 1 から {len(losses)} までです({answer})。",
                    f"The epochs run from 1 to {len(losses)} (got {answer}).")
    if answer == truth - 1:
        return hint("エポックは 1 から数えます(Python の添字は 0 から)。",
                    "Epochs are counted from 1 (Python's indices start at 0).")
    if answer == len(losses):
        return hint("最後のエポックは学習の損失がいちばん低い所です。見るのは検証の損失です。",
                    "The last epoch has the lowest training loss; look at the validation loss instead.")
    return hint(f"{answer} エポック目の検証損失は {losses[answer - 1]:.2f} です。もっと低いエポックがあります。",
                f"Epoch {answer} has validation loss {losses[answer - 1]:.2f}; another epoch is lower.")


def check_stop_epoch(answer) -> Feedback:
    """Try it 2: the epoch at which early_stopping(EXERCISE_PATIENCE) stops the exercise run."""
    if answer is None:
        return hint(*NO_ANSWER)
    if not is_whole_number(answer):
        return hint(f"エポック番号を整数で答えます(例: 3)。{answer!r} は整数ではありません。",
                    f"Answer with an epoch number, a whole number such as 3; {answer!r} is not one.")
    truth = stop_epoch(EXERCISE_VAL_LOSSES, EXERCISE_PATIENCE)
    best = truth - EXERCISE_PATIENCE
    if answer == truth:
        return correct(f"正解です。最良の {best} エポック目のあと {EXERCISE_PATIENCE} エポック続けて"
                       f"良くならなかったので、{truth} エポック目で止まります。",
                       f"Right: after the best epoch, {best}, there were {EXERCISE_PATIENCE} epochs without "
                       f"improvement, so training stops at epoch {truth}.")
    if answer == best:
        return hint("最良のエポックに来た時点では、まだそれが最良だと分かりません。そのあと何エポック待つでしょう。",
                    "At the best epoch nobody knows yet that it is the best: how many epochs does training "
                    "wait after it?")
    if answer < best:
        return hint("そのエポックのあとも、検証の損失はまだ下がっています。",
                    "After that epoch the validation loss is still falling.")
    return hint(f"patience = {EXERCISE_PATIENCE} は「最良のエポックのあと、良くならないエポックが何回続いたら"
                f"止めるか」です。数え直してみましょう。",
                f"patience = {EXERCISE_PATIENCE} is how many epochs without a new best are allowed after the best "
                f"one; count again.")


# Losses after training, for Try it 3: key -> (training loss, validation loss, answer).
DIAGNOSIS_CASES = {
    "A": (0.004, 0.910, "overfitting"),
    "B": (0.250, 0.290, "underfitting"),
    "C": (0.070, 0.090, "good"),
    "D": (0.030, 0.420, "overfitting"),
}

_DIAGNOSIS_WORDS = {
    "overfitting": "overfitting", "overfit": "overfitting", "過学習": "overfitting",
    "underfitting": "underfitting", "underfit": "underfitting", "学習不足": "underfitting",
    "未学習": "underfitting",
    "good": "good", "good fit": "good", "just right": "good", "ok": "good", "fine": "good",
    "ちょうどよい": "good", "ちょうどいい": "good", "良い": "good", "よい": "good", "適切": "good",
}

_DIAGNOSIS_CLUES = {
    "overfitting": ("学習の損失と検証の損失の差を比べましょう。", "Compare the gap between the training and "
                    "validation losses."),
    "underfitting": ("学習データの損失そのものが小さいかどうかを見ましょう。", "Look at whether the training loss "
                     "itself is small."),
    "good": ("検証の損失を、ほかの実行の検証の損失と比べてみましょう。", "Compare its validation loss with those of "
             "the other runs."),
}


def diagnosis_questions() -> None:
    """Print the runs of Try it 3 with their final training and validation losses."""
    for key, (train_loss, val_loss, _) in DIAGNOSIS_CASES.items():
        print(f"{key}: {bi('学習', 'training')} {train_loss:.3f}   {bi('検証', 'validation')} {val_loss:.3f}")


def check_diagnosis(answers) -> Feedback:
    """Try it 3: answers maps "A" … "D" to "overfitting"/"過学習", "underfitting"/"学習不足" or "good"."""
    if answers is None:
        return hint(*NO_ANSWER)
    if not isinstance(answers, dict):
        return hint("{'A': 'overfitting', 'B': 'good', ...} のような辞書で答えます。",
                    "Answer with a dict such as {'A': 'overfitting', 'B': 'good', ...}.")
    missing = [k for k in DIAGNOSIS_CASES if k not in answers]
    if missing:
        keys = ", ".join(missing)
        return hint(f"まだ答えていない項目があります: {keys}", f"Some items have no answer yet: {keys}")
    wrong = []
    for key, (_, _, truth) in DIAGNOSIS_CASES.items():
        given = _DIAGNOSIS_WORDS.get(str(answers[key]).strip().lower())
        if given is None:
            return hint(f"{key}: {answers[key]!r} ではなく 'overfitting'(過学習)、'underfitting'(学習不足)、"
                        f"'good'(ちょうどよい)のどれかで答えます。",
                        f"{key}: answer 'overfitting' (過学習), 'underfitting' (学習不足) or 'good' "
                        f"(ちょうどよい), not {answers[key]!r}.")
        if given != truth:
            wrong.append((key, *_DIAGNOSIS_CLUES[truth]))
    if wrong:
        return hint("\n".join(f"{k}: {ja}" for k, ja, _ in wrong), "\n".join(f"{k}: {en}" for k, _, en in wrong))
    return correct("4つとも正解です。学習も検証も高い = 学習不足、学習だけ低い = 過学習、"
                   "どちらも低く近い = ちょうどよい。",
                   "All four right: both high = underfitting; only training low = overfitting; both low and "
                   "close = a good fit.")
