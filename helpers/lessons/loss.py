"""Notebook 03, step 3 loss: squared, absolute and cross-entropy errors by hand, the loss figures,
the prediction slider and the exercises."""

from __future__ import annotations

import math

import torch
from matplotlib.figure import Figure

from ..engine.text import BilingualError, bi
from . import feedback
from .code_exercises import MSE
from .feedback import Feedback, as_number
from .input import best_line  # noqa: F401  (notebook 03 uses it too)
from .slider import SliderFigure, slider
from .style import role, series

# --- Notebook 03: the losses written out by hand -----------------------------------------------
# nn.MSELoss, nn.L1Loss and nn.CrossEntropyLoss compute the same numbers; these show how.


def squared_error(prediction, y):
    """Each miss squared: no sign to cancel out, and a big miss counts far more than a small one."""
    return (prediction - y) ** 2


def absolute_error(prediction, y):
    """Each miss without its sign: a miss of 3 costs 3, whichever side it falls on."""
    return abs(prediction - y)


def mse(prediction, y):
    """Mean squared error over a batch (what nn.MSELoss computes)."""
    return squared_error(prediction, y).mean()


def mae(prediction, y):
    """Mean absolute error over a batch (what nn.L1Loss computes)."""
    return absolute_error(prediction, y).mean()


def softmax(logits):
    """Scores (batch, classes) -> probabilities (batch, classes), each row adding up to 1."""
    # Subtracting each row's largest score changes no probability but keeps exp() from overflowing.
    e = (logits - logits.max(dim=1, keepdim=True).values).exp()  # (batch, classes)
    return e / e.sum(dim=1, keepdim=True)


def cross_entropy(logits, y):
    """-log(probability given to the right class), averaged over the batch (nn.CrossEntropyLoss)."""
    probabilities = softmax(logits)  # (batch, classes)
    right = probabilities[torch.arange(len(y)), y]  # (batch,): the probability of each right class
    return -right.log().mean()


# --- Notebook 03: figures --------------------------------------------------------------------


def _finite_number(value, ja: str, en: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BilingualError(f"{ja}は有限の数にします({value!r} が渡されました)。",
                             f"The {en} must be a finite number (got {value!r}).")
    return float(value)


def verdict(miss: float) -> tuple[str, str, str]:
    """What a miss of this size means for training: (Japanese, English, colour)."""
    if miss == 0:
        return "損失 0 → ぴったり正解。直すところはありません", "loss 0 → exactly right: nothing to fix", role("goal")
    if miss <= 1:
        return "損失が小さい → かなり近い。少し直せばよい", "small loss → close: only a little to fix", role("goal")
    return "損失が大きい → まだ大きく外れている。たくさん直す", "large loss → still far off: much to fix", role("alert")


def _check_limits(prediction, answer, low, high) -> tuple[float, float, float, float]:
    prediction = _finite_number(prediction, "予測", "prediction")
    answer = _finite_number(answer, "正解", "answer")
    low, high = _finite_number(low, "下限", "lower limit"), _finite_number(high, "上限", "upper limit")
    if not low < high:
        raise BilingualError(f"下限 {low:g} は上限 {high:g} より小さくします。",
                             f"The lower limit {low:g} must be below the upper limit {high:g}.")
    return prediction, answer, low, high


# the two losses: colour, line style, name; drawn on one scale so their sizes compare directly. The
# two colours only need to differ, from each other and from the answer and prediction marked beside them.
_SQUARED, _ABSOLUTE = series(2, avoid=(role("truth"), role("prediction")))
_LOSSES = ((squared_error, _SQUARED, "-", "二乗誤差", "squared error"),
           (absolute_error, _ABSOLUTE, "--", "絶対誤差", "absolute error"))


def _draw_losses(ax, prediction: float, answer: float, low: float, high: float, compact: bool) -> None:
    """Both losses over the prediction axis on one scale, the answer and the current prediction marked."""
    xs = torch.linspace(min(low, prediction), max(high, prediction), 241)  # every prediction we draw
    top = max(float(squared_error(xs, answer).max()), 1.0)
    for (error, colour, style, ja, en), above in zip(_LOSSES, (True, False), strict=True):
        value = float(error(prediction, answer))
        ax.plot(xs, error(xs, answer), color=colour, linestyle=style, linewidth=2, label=bi(ja, en))
        ax.plot([prediction], [value], "o", color=colour, markersize=7 if compact else 8, zorder=3)
        # the value beside its dot, on the side away from the answer; the square's above, the other's below
        right = prediction >= answer
        ax.annotate(f"{value:g}", (prediction, value), xytext=(7 if right else -7, 3 if above else -3),
                    textcoords="offset points", ha="left" if right else "right", va="bottom" if above else "top",
                    color=colour, fontsize=10 if compact else 11)
    ax.axvline(answer, color=role("truth"), linestyle=":", linewidth=1)
    ax.vlines(prediction, 0, float(squared_error(prediction, answer)), color=role("prediction"), linestyle=":",
              linewidth=1.5)
    ax.set_ylim(0, 1.12 * top)
    ax.set_xlabel(bi("予測", "prediction"))


def loss_curves(prediction: float = 5.0, answer: float = 8.0, low: float = 0.0, high: float = 16.0) -> Figure:
    """Squared and absolute error as functions of the prediction, on one scale, the current prediction marked."""
    prediction, answer, low, high = _check_limits(prediction, answer, low, high)
    miss = abs(prediction - answer)
    fig = Figure(figsize=(6.5, 3.8))
    ax = fig.add_subplot()
    _draw_losses(ax, prediction, answer, low, high, compact=False)
    ax.set_ylabel(bi("損失", "loss"))
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), borderaxespad=0.3)
    ax.text(answer, ax.get_ylim()[1], bi("正解ラベル", "target"), ha="center", va="bottom", fontsize=9,
            color=role("truth"))
    ax.set_title(f"{bi('予測', 'prediction')} {prediction:g}, {bi('正解ラベル', 'target')} {answer:g} → "
                 f"{bi('外れ', 'miss')} {miss:g}", pad=16)
    ja, en, colour = verdict(miss)
    fig.text(0.5, 0.02, bi(ja, en, sep="\n"), ha="center", va="bottom", fontsize=10, color=colour)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    return fig


# The slider's saved picture: a miss of 1 (both losses 1), a middling one and a big one.
STRIP_PREDICTIONS = (7.0, 5.0, 1.0)


def loss_strip(answer: float = 8.0, predictions=STRIP_PREDICTIONS, low: float = 0.0, high: float = 16.0) -> Figure:
    """Both losses at a few predictions side by side, on one scale: the bigger the miss, the more the square weighs."""
    fig = Figure(figsize=(7.2, 3.3))
    axes = fig.subplots(1, len(predictions), sharey=True)
    for ax, prediction in zip(axes, predictions, strict=True):
        prediction, answer, low, high = _check_limits(prediction, answer, low, high)
        _draw_losses(ax, prediction, answer, low, high, compact=True)
        ax.set_title(f"{bi('外れ', 'miss')} {abs(prediction - answer):g}")
    axes[0].set_ylabel(bi("損失", "loss"))
    claim = bi("二乗誤差は大きな外れを重く数える", "the square weighs big misses more")
    fig.suptitle(f"{bi('正解ラベル', 'target')} {answer:g}: {claim}", fontsize=11)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=2, bbox_to_anchor=(0.5, 0))
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def loss_explorer(answer: float = 8.0, prediction: float = 5.0, low: float = 0.0, high: float = 16.0):
    """A slider for the prediction above `loss_curves`: watch both losses as the guess moves."""

    prediction = _finite_number(prediction, "予測", "prediction")
    if not low <= prediction <= high:
        raise BilingualError(f"予測 {prediction:g} はスライダーの範囲 {low:g}〜{high:g} に入れます。",
                             f"The prediction {prediction:g} must lie within the slider's range {low:g} to {high:g}.")
    loss_curves(prediction, answer, low, high)  # bad answer or limits: the error shows here, not in a widget
    control = slider(prediction, float(low), float(high), 0.5, "予測", "prediction", readout_format=".1f")
    return SliderFigure(lambda prediction: loss_curves(prediction, answer, low, high), {"prediction": control},
                        strip=lambda: loss_strip(answer, low=low, high=high))


def _column(values, name: str):
    values = torch.as_tensor(values).detach().cpu().float()
    if values.dim() > 2 or (values.dim() == 2 and values.shape[1] != 1):
        raise BilingualError(f"{name} の形は (バッチ,) か (バッチ, 1) にします(形 {tuple(values.shape)})。",
                             f"{name} must have shape (batch,) or (batch, 1) (got {tuple(values.shape)}).")
    return values.reshape(-1)  # (batch,)


def misses_before_after(X, y, before, after, names=(("学習前", "before"), ("学習後", "after"))) -> Figure:
    """The data, two sets of predictions (before and after, or as named), and each miss as a dotted line."""
    X, y, before, after = (_column(v, name) for v, name in ((X, "X"), (y, "y"), (before, "before"),
                                                           (after, "after")))
    if not len(X) == len(y) == len(before) == len(after):
        raise BilingualError(
            f"X, y, before, after の行数がそろっていません({len(X)}, {len(y)}, {len(before)}, {len(after)})。",
            f"X, y, before and after must have the same number of rows "
            f"(got {len(X)}, {len(y)}, {len(before)}, {len(after)}).")
    order = X.argsort()
    fig = Figure(figsize=(6.5, 3.2))
    axes = fig.subplots(1, 2, sharey=True)
    for ax, prediction, (ja, en) in zip(axes, (before, after), names, strict=True):
        ax.vlines(X, y, prediction, color=role("before"), linestyle=":", linewidth=1.2)
        ax.plot(X, y, "o", color=role("truth"), markersize=4, label=bi("正解ラベル", "target"))
        ax.plot(X[order], prediction[order], color=role("prediction"), linewidth=2, label=bi("予測", "prediction"))
        ax.set_title(f"{bi(ja, en)}\nMSE = {float(mse(prediction, y)):.4f}", fontsize=10)
        ax.set_xlabel(bi("入力 x", "input x"))
    axes[0].set_ylabel("y")
    axes[0].legend(fontsize=9, loc="upper left")
    fig.tight_layout()
    return fig


def cross_entropy_curve(cases: dict[str, float] | None = None) -> Figure:
    """-log(p) against p, the probability given to the right class; cases (label -> p) are marked on it."""
    cases = dict(cases or {})
    for label, p in cases.items():
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 < p <= 1:
            raise BilingualError(f"{label}: 確率は 0 より大きく 1 以下です({p!r} が渡されました)。",
                                 f"{label}: a probability must be above 0 and at most 1 (got {p!r}).")
    # Down to the smallest case, or 0.01: below that -log(p) climbs steeply off the figure.
    ps = torch.linspace(min([0.01, *cases.values()]), 1, 200)
    fig = Figure(figsize=(6.5, 3.6))
    ax = fig.add_subplot()
    ax.plot(ps, -ps.log(), color=role("loss"), linewidth=2)
    # the cases only need to differ, from each other and from the loss curve
    for colour, (label, p) in zip(series(len(cases), avoid=(role("loss"),)), cases.items(), strict=True):
        value = -math.log(p)
        ax.plot([p], [value], "o", color=colour, markersize=8, zorder=3)
        right = p > 0.6  # label points near the right edge on their left, inside the axes
        ax.annotate(f"{label}: {value:.2f}", (p, value), xytext=(-4, 28) if right else (8, 6),
                    textcoords="offset points", ha="right" if right else "left", fontsize=9, color=colour)
    ax.set_xlim(0, 1.05)
    ax.set_ylim(bottom=0)
    ax.set_xlabel(bi("正解クラスの確率 p", "probability p of the right class"))
    ax.set_ylabel(bi("損失 −log(p)", "loss −log(p)"))
    ax.set_title(bi("自信を持ってまちがえるほど損失は大きい", "the surer the wrong answer, the larger the loss",
                    sep="\n"), fontsize=10)
    fig.tight_layout()
    return fig


# --- Notebook 03: exercise checkers ----------------------------------------------------------


_ONE_NUMBER = ("数を1つ答えます(例: answer = 1.5)。", "Answer with one number (e.g. answer = 1.5).")


def check_miss(answer) -> Feedback:
    """Notebook 03: the model predicted 5 and the answer is 8. How big is the miss?"""
    if answer is None:
        return feedback.hint(*feedback.NO_ANSWER)
    value = as_number(answer)
    if value is None:
        return feedback.hint(*_ONE_NUMBER)
    if value == 3:
        return feedback.correct("外れは 3 です。損失は、この外れを1つの数にしたものです。",
                              "The miss is 3. A loss is this miss turned into one number.")
    if value == -3:
        return feedback.hint("外れの大きさに向きはありません。予測が上でも下でも、外れは正の数です。",
                           "The size of a miss has no direction: above or below, it is a positive number.")
    if value == 13:
        return feedback.hint("予測と正解を足していませんか? 外れは2つの差です。",
                           "Did you add the prediction and the answer? The miss is their difference.")
    return feedback.hint("予測と正解が数直線の上でどれだけ離れているかを考えましょう。",
                       "Think of how far apart the prediction and the answer lie on the number line.")


# The batch of notebook 03's "Try it 2": predictions and their answers.
SQUARED_ERROR_PREDICTION = (5.0, 2.0, 6.0, 9.0)
SQUARED_ERROR_ANSWER = (8.0, 2.0, 5.0, 7.0)


def check_squared_error(answer) -> Feedback:
    """Notebook 03: the mean squared error of SQUARED_ERROR_PREDICTION against SQUARED_ERROR_ANSWER."""
    if answer is None:
        return feedback.hint(*feedback.NO_ANSWER)
    value = as_number(answer)
    if value is None:
        return feedback.hint(*_ONE_NUMBER)
    prediction = torch.tensor(SQUARED_ERROR_PREDICTION)
    y = torch.tensor(SQUARED_ERROR_ANSWER)
    n = len(y)
    truth = float(mse(prediction, y))
    if math.isclose(value, truth, abs_tol=1e-3):
        return feedback.correct(f"平均二乗誤差は {truth:g} です。3 の外れが 9 になり、ほとんどを占めています。",
                              f"The mean squared error is {truth:g}. The miss of 3 became 9, most of the total.")
    if math.isclose(value, float((prediction - y).mean()), abs_tol=1e-3):
        return feedback.hint("符号つきの外れを平均すると、プラスとマイナスが打ち消し合います。先に2乗しましょう。",
                           "Averaging the signed misses lets plus and minus cancel out. Square each one first.")
    if math.isclose(value, float(mae(prediction, y)), abs_tol=1e-3):
        return feedback.hint("それは絶対誤差の平均(MAE)です。外れを2乗してから平均します。",
                           "That is the mean absolute error (MAE). Square each miss before averaging.")
    if math.isclose(value, float(squared_error(prediction, y).sum()), abs_tol=1e-3):
        return feedback.hint(f"2乗の合計までは合っています。最後に個数({n})で割って平均にします。",
                           f"The sum of the squares is right. Now divide by how many there are ({n}).")
    if math.isclose(value, float(mae(prediction, y)) ** 2, abs_tol=1e-3):
        return feedback.hint("平均してから2乗していませんか? 1つずつ2乗してから平均します。",
                           "Did you average first and square afterwards? Square each miss, then average.")
    return feedback.hint(f"外れ(予測 − 正解)を1つずつ2乗し、{n} 個を足して {n} で割ります。",
                       f"Square each miss (prediction − answer), add the {n} squares and divide by {n}.")


# Notebook 03's "Try it 3": the probability each model gave to the right class.
RIGHT_CLASS_PROBABILITY = {"a": 0.34, "b": 0.05, "c": 0.90}


def check_loss_order(order) -> Feedback:
    """Notebook 03: order the models "a", "b", "c" from the smallest cross-entropy loss to the largest."""
    if order is None:
        return feedback.hint(*feedback.NO_ANSWER)
    if isinstance(order, str) or not isinstance(order, (list, tuple)):
        return feedback.hint("['a', 'b', 'c'] のようなリストで答えます。",
                             "Answer with a list such as ['a', 'b', 'c'].")
    names = [str(item).strip().lower() for item in order]
    if sorted(names) != sorted(RIGHT_CLASS_PROBABILITY):
        return feedback.hint("a, b, c を1回ずつ並べます。", "List each of a, b and c exactly once.")
    losses = {key: -math.log(p) for key, p in RIGHT_CLASS_PROBABILITY.items()}
    truth = sorted(losses, key=losses.__getitem__)
    if names == truth:
        values = ", ".join(f"{key}: {losses[key]:.2f}" for key in truth)
        return feedback.correct(f"正解です({values})。自信を持ってまちがえると、損失はとても大きくなります。",
                              f"Right ({values}). Being sure and wrong costs the most.")
    if names[-1] != truth[-1]:
        return feedback.hint("いちばん損失が大きいのは、正解のクラスにほとんど確率をあげなかったモデルです。",
                           "The largest loss goes to the model that gave the right class almost no probability.")
    return feedback.hint("正解のクラスの確率が高いほど、-log(確率) は小さくなります。",
                       "The higher the probability of the right class, the smaller -log(probability).")


mse_exercise = MSE  # notebook 03's code exercise: check(), hint(), solution()
