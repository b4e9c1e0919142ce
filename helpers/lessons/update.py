"""Notebook 05, step 5 update: one SGD step by hand, gradient descent on one weight, the
learning-rate figures and slider, and the exercises."""

from __future__ import annotations

import math
from itertools import pairwise

import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..engine.data import make_line
from ..engine.text import BilingualError, bi, bilines
from ..engine.update import check_lr
from .code_exercises import SGD_STEP, TRAIN_LOOP
from .feedback import NO_ANSWER, Feedback, as_number, correct, hint
from .slider import SliderFigure, slider
from .style import role, series

# --- SGD by hand --------------------------------------------------------------------------------

def sgd_step(parameters, lr) -> None:
    """Plain SGD written out: every weight w becomes w - lr * w.grad (what torch.optim.SGD does)."""
    lr = check_lr(lr)
    with torch.no_grad():  # the update itself is not part of the next loss's computation graph
        for w in parameters:
            if w.grad is None:  # a weight the loss did not depend on has nothing to correct
                continue
            # alpha=lr subtracts lr * grad in one rounding, exactly as torch.optim.SGD computes it
            w.sub_(w.grad, alpha=lr)


# --- One weight on its loss curve ----------------------------------------------------------------

W0 = -1.0  # where the one-weight examples start: far from the bottom, so the path is visible

# verdict -> (short Japanese, short English, what the path did in Japanese, in English)
VERDICTS = {
    "small": ("小さすぎ", "too small", "まだ坂の途中", "still crawling down"),
    "good": ("ちょうどよい", "good", "谷底に着いた", "reached the bottom"),
    "large": ("大きすぎ", "too large", "行きすぎて左右にジグザグ", "overshoots and zig-zags"),
    "diverged": ("大きすぎて発散", "far too large", "谷底から遠ざかっていく", "diverges"),
}


def one_weight_data(n: int = 20, slope: float = 3.0, noise: float = 0.3, seed: int = 0):
    """Points near y = slope * x, for a model with a single weight: x (n,), y (n,), float64."""
    X, y = make_line(n=n, slope=slope, intercept=0.0, noise=noise, seed=seed)  # (n, 1) each
    # float64, so that even a diverging path stays a finite number for many steps
    return X.squeeze(1).double(), y.squeeze(1).double()


def one_weight_loss(w, x, y):
    """loss(w) = mean((w * x - y)^2); w may be a number or a (k,) tensor of candidate weights."""
    w = torch.as_tensor(w, dtype=x.dtype)
    prediction = w.unsqueeze(-1) * x  # (k, n), or (n,) for one weight
    return ((prediction - y) ** 2).mean(dim=-1)


def best_weight(x, y) -> float:
    """The bottom of the one-weight loss curve: the w where its slope is 0, sum(x*y) / sum(x*x)."""
    return ((x * y).sum() / (x * x).sum()).item()


def _check_steps(steps) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise BilingualError(f"ステップ数は 1 以上の整数です({steps!r} が渡されました)。",
                             f"The number of steps must be a whole number of at least 1 (got {steps!r}).")
    return steps


def descent_path(x, y, w0: float, lr, steps: int) -> list[float]:
    """The weight after 0, 1, …, steps updates (autograd + sgd_step); stops early if it overflows."""
    lr, steps = check_lr(lr), _check_steps(steps)
    w = torch.tensor(float(w0), dtype=x.dtype, requires_grad=True)
    path = [w.item()]
    for _ in range(steps):
        w.grad = None
        one_weight_loss(w, x, y).backward()  # steps 2-4: forward, loss, gradient in w.grad
        sgd_step([w], lr)  # step 5
        if not math.isfinite(w.item()):
            break
        path.append(w.item())
    return path


def path_verdict(path, bottom: float, steps: int | None = None) -> str:
    """"small", "good", "large" or "diverged": what a path of weights did on its way to the bottom."""
    start, last = abs(path[0] - bottom), abs(path[-1] - bottom)
    if (steps is not None and len(path) < steps + 1) or last > start + 1e-9:  # 1e-9: rounding at the bottom
        return "diverged"
    sides = [w > bottom for w in path]
    crossed = any(a != b for a, b in pairwise(sides))
    if last > 0.05 * start:  # still more than 5% of the way away from the bottom
        return "large" if crossed else "small"
    return "good"


def _draw_descent(ax, x, y, w0: float, lr: float, steps: int, compact: bool) -> str:
    """Draw the loss curve and the path of the updates on ax; returns the path's verdict."""
    bottom = best_weight(x, y)
    path = descent_path(x, y, w0, lr, steps)
    verdict = path_verdict(path, bottom, steps)
    reach = max(1.25 * abs(w0 - bottom), 1.0)  # room on both sides, even when starting at the bottom
    low, high = bottom - reach, bottom + reach
    grid = torch.linspace(low, high, 200, dtype=x.dtype)  # (200,) candidate weights
    curve = one_weight_loss(grid, x, y)  # (200,)
    ax.plot(grid.tolist(), curve.tolist(), color=role("training"), linewidth=2,
            label=bi("損失の曲線", "loss curve"))
    ax.axvline(bottom, color=role("goal"), linestyle=":", linewidth=1.5, label=bi("谷底", "bottom"))
    # a diverging path leaves the picture: only the points still inside are drawn
    visible = path[:next((i for i, w in enumerate(path) if not low <= w <= high), len(path))]
    losses = one_weight_loss(torch.tensor(visible, dtype=x.dtype), x, y).tolist()
    ax.plot(visible, losses, "o", color=role("after"), markersize=4 if compact else 5, zorder=3,
            label=bi("更新の道すじ", "path of the updates"))
    ax.plot(visible[:1], losses[:1], "s", color=role("ink"), markersize=6, zorder=4,
            label=bi("スタート", "start"))
    arrows = list(pairwise(zip(visible, losses, strict=True)))
    if len(visible) < len(path):  # the first step out of the picture: an arrow that leaves it
        outside = path[len(visible)]
        arrows.append(((visible[-1], losses[-1]),
                       (outside, one_weight_loss(outside, x, y).item())))
    for (w_a, l_a), (w_b, l_b) in arrows:
        arrow = ax.annotate("", xy=(w_b, l_b), xytext=(w_a, l_a), annotation_clip=False,
                            arrowprops=dict(arrowstyle="->", color=role("after"), linewidth=1, alpha=0.8))
        arrow.arrow_patch.set_clip_box(ax.bbox)  # cut at the frame, like the curve
    top = curve.max().item()
    ax.set_xlim(low, high)
    ax.set_ylim(-0.03 * top, 1.05 * top)
    ax.set_xlabel(bi("重み w", "weight w"))
    if verdict == "diverged":
        if compact:
            warning = bilines("発散:谷底から\n遠ざかっていく", "diverges: each step\nlands further off")
        else:
            warning = bilines(
                "学習率が大きすぎて発散しています。\n一歩ごとに谷底から遠ざかり、損失がふくらみます。",
                "The learning rate is far too large: the weight diverges.\n"
                "Each step lands further from the bottom and the loss grows.")
        ax.text(0.5, 0.47, warning, transform=ax.transAxes, ha="center", va="center",
                fontsize=9 if compact else 10, color=role("alert"),
                bbox=dict(boxstyle="round", facecolor=role("paper"), edgecolor=role("alert")))
    return verdict


def descent_figure(lr=0.3, steps: int = 10, w0: float = W0, x=None, y=None) -> Figure:
    """One weight on its loss curve and the path of `steps` SGD updates at learning rate lr."""
    lr, steps = check_lr(lr), _check_steps(steps)
    if x is None or y is None:
        x, y = one_weight_data()
    fig = Figure(figsize=(6.5, 3.6))
    ax = fig.add_subplot()
    verdict = _draw_descent(ax, x, y, w0, lr, steps, compact=False)
    short_ja, short_en, long_ja, long_en = VERDICTS[verdict]
    ax.set_ylabel(bi("損失", "loss"))
    ax.set_title(bi(f"学習率 {lr:.3g}、{steps} 回更新:{short_ja}({long_ja})",
                    f"learning rate {lr:.3g}, {steps} updates: {short_en} ({long_en})", sep="\n"),
                 fontsize=10)
    ax.legend(fontsize=9, loc="upper right")
    fig.tight_layout()
    return fig


def lr_panels(lrs=(0.02, 0.3, 0.9), steps: int = 10, w0: float = W0, x=None, y=None) -> Figure:
    """The same start and number of updates at several learning rates, side by side."""
    steps = _check_steps(steps)
    lrs = [check_lr(lr) for lr in lrs]
    if x is None or y is None:
        x, y = one_weight_data()
    fig = Figure(figsize=(6.9, 2.9))
    axes = fig.subplots(1, len(lrs), sharey=True, squeeze=False)[0]
    for ax, lr in zip(axes, lrs, strict=True):
        verdict = _draw_descent(ax, x, y, w0, lr, steps, compact=True)
        short_ja, short_en, _, _ = VERDICTS[verdict]
        ax.set_title(f"lr = {lr:g}\n{bi(short_ja, short_en)}", fontsize=10)
    axes[0].set_ylabel(bi("損失", "loss"))
    fig.tight_layout()
    return fig


def lr_explorer(lr=0.3, steps: int = 10):
    """A learning-rate slider (log scale) and a steps slider above descent_figure."""

    return SliderFigure(descent_figure, {
        "lr": slider(lr, -3, 0.5, 0.05, "学習率", "learning rate", log=True, readout_format=".3g"),
        "steps": slider(steps, 1, 30, 1, "更新の回数", "updates"),
    }, strip=lambda: lr_panels(lrs=STRIP_LRS, steps=steps))


# The slider's saved picture: too small, good, and far too large (it diverges), at the same start.
STRIP_LRS = (0.02, 0.3, 1.1)


# --- Figures for training runs -------------------------------------------------------------------

def curves_figure(curves: dict, title: str | None = None, log: bool = True) -> Figure:
    """Several loss histories on one plot: curves maps a label to a list of losses."""
    fig = Figure(figsize=(6.5, 3.6))
    ax = fig.add_subplot()
    for colour, (label, losses) in zip(series(len(curves)), curves.items(), strict=True):  # only "not the same"
        ax.plot(range(1, len(losses) + 1), losses, color=colour, linewidth=2,
                label=str(label))
    if log:
        ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are counted in whole numbers
    ax.set_xlabel(bi("エポック", "epoch"))
    ax.set_ylabel(bi("損失", "loss"))
    ax.set_title(title or bi("損失の下がり方をくらべる", "how the loss falls, side by side"), fontsize=11)
    ax.legend(fontsize=9)
    fig.tight_layout()
    return fig


def predictions_figure(X, y, before, after) -> Figure:
    """Ground truth and the model's answers before and after training, against the input x."""
    def column(t):
        return t.detach().cpu().reshape(-1)  # (batch,)

    x, truth, first, last = column(X), column(y), column(before), column(after)
    order = x.argsort()
    fig = Figure(figsize=(6.5, 3.6))
    ax = fig.add_subplot()
    ax.plot(x.tolist(), truth.tolist(), "o", color=role("truth"), markersize=5, label=bi("正解ラベル", "target"))
    ax.plot(x[order].tolist(), first[order].tolist(), "--", color=role("before"), linewidth=2,
            label=bi("学習前の予測", "prediction before training"))
    ax.plot(x[order].tolist(), last[order].tolist(), "-", color=role("prediction"), linewidth=2,
            label=bi("学習後の予測", "prediction after training"))
    ax.set_xlabel(bi("入力 x", "input x"))
    ax.set_ylabel("y")
    ax.set_title(bi("デタラメだった予測が正解に近づく", "random predictions move toward the answers"),
                 fontsize=11)
    ax.legend(fontsize=9)
    fig.tight_layout()
    return fig


# --- Exercises -----------------------------------------------------------------------------------


def check_new_weight(answer) -> Feedback:
    """Try it: w = 2.0, gradient 0.5, lr = 0.1. What is w after one SGD update?"""
    if answer is None:
        return hint(*NO_ANSWER)
    answer = as_number(answer)
    if answer is None:
        return hint("数を1つだけ書いて答えます(例: 1.23)。", "Answer with a single number, e.g. 1.23.")
    w, grad, lr = 2.0, 0.5, 0.1
    if math.isclose(answer, w - lr * grad, abs_tol=1e-6):
        return correct("正解です。2.0 − 0.1 × 0.5 = 1.95。重みは勾配の逆向きに、ほんの少しだけ動きました。",
                       "Right: 2.0 − 0.1 × 0.5 = 1.95. The weight moved a little, against its gradient.")
    if math.isclose(answer, w + lr * grad, abs_tol=1e-6):
        return hint("向きが逆です。勾配は損失が増える向きなので、引き算で逆へ進みます。",
                    "Wrong direction: the gradient points to where the loss grows, so subtract it.")
    if math.isclose(answer, w - grad, abs_tol=1e-6) or math.isclose(answer, w + grad, abs_tol=1e-6):
        return hint("学習率を掛け忘れていませんか。動く量は 学習率 × 勾配 です。",
                    "Did you forget the learning rate? The step is learning rate × gradient.")
    if math.isclose(abs(answer), lr * grad, abs_tol=1e-6):
        return hint("それは動く量です。聞いているのは、動いたあとの重みそのものです。",
                    "That is how far it moves; the question asks for the new weight itself.")
    return hint("w ← w − 学習率 × 勾配 に w = 2.0, 勾配 = 0.5, 学習率 = 0.1 を入れてみましょう。",
                "Put w = 2.0, gradient = 0.5, learning rate = 0.1 into w ← w − learning rate × gradient.")


_DIRECTION_WORDS = {
    "up": "up", "increase": "up", "increases": "up", "上": "up", "上がる": "up", "増える": "up",
    "大きくなる": "up", "+": "up",
    "down": "down", "decrease": "down", "decreases": "down", "下": "down", "下がる": "down",
    "減る": "down", "小さくなる": "down", "-": "down",
}

# key -> gradient of the weight, the direction it moves
DIRECTION_QUESTIONS = {"a": (0.8, "down"), "b": (-0.3, "up")}


def check_direction(answers) -> Feedback:
    """Try it: a weight with gradient +0.8 (a) and one with gradient -0.3 (b): "up" or "down"?"""
    if answers is None:
        return hint(*NO_ANSWER)
    if not isinstance(answers, dict):
        return hint("{'a': 'up', 'b': 'down'} のような辞書で答えます(日本語の '上がる'、'下がる' も可)。",
                    "Answer with a dict such as {'a': 'up', 'b': 'down'} (or '上がる', '下がる').")
    missing = [k for k in DIRECTION_QUESTIONS if k not in answers]
    if missing:
        keys = ", ".join(missing)
        return hint(f"まだ答えていない項目があります: {keys}", f"Some items have no answer yet: {keys}")
    for key, (grad, truth) in DIRECTION_QUESTIONS.items():
        given = _DIRECTION_WORDS.get(str(answers[key]).strip().lower())
        if given is None:
            return hint(f"{key}: {answers[key]!r} ではなく 'up'(上がる)か 'down'(下がる)で答えます。",
                        f"{key}: answer 'up' (上がる) or 'down' (下がる), not {answers[key]!r}.")
        if given != truth:
            return hint(f"{key}: 勾配 {grad:+g} に −学習率 を掛けると、符号はどうなるでしょう。",
                        f"{key}: multiply the gradient {grad:+g} by −learning rate: what is the sign?")
    return correct("2問とも正解です。更新は勾配の符号と逆向き:正の勾配なら下がり、負の勾配なら上がります。",
                   "Both right. The update goes against the gradient's sign: positive goes down, "
                   "negative goes up.")


# key -> the learning rate that made the history, and its verdict
VERDICT_QUESTIONS = {"a": (1.1, "large"), "b": (0.01, "small"), "c": (0.4, "good")}

_VERDICT_WORDS = {
    "too small": "small", "small": "small", "小さすぎ": "small", "小さすぎる": "small", "小さい": "small",
    "good": "good", "ok": "good", "just right": "good", "ちょうどよい": "good", "ちょうどいい": "good",
    "よい": "good", "適切": "good",
    "too large": "large", "large": "large", "too big": "large", "big": "large", "大きすぎ": "large",
    "大きすぎる": "large", "大きい": "large",
}

_VERDICT_CLUES = {
    "small": ("下がってはいますが、ゆっくりすぎませんか。", "It does go down, but how fast?"),
    "good": ("すばやく下がって、そのまま底に落ち着いています。", "It drops fast and then stays at the bottom."),
    "large": ("損失が減るどころか増えています。", "The loss grows instead of shrinking."),
}


def verdict_histories(steps: int = 20) -> dict[str, list[float]]:
    """Three loss histories of the one-weight problem, a…c, each made with a hidden learning rate."""
    x, y = one_weight_data()
    histories = {}
    for key, (lr, _) in VERDICT_QUESTIONS.items():
        path = descent_path(x, y, W0, lr, steps)
        after = torch.tensor(path[1:], dtype=x.dtype)  # the weight after update 1, 2, …
        histories[key] = one_weight_loss(after, x, y).tolist()
    return histories


def check_lr_verdict(answers) -> Feedback:
    """Try it: for histories a…c, was the learning rate "too small", "good" or "too large"?"""
    if answers is None:
        return hint(*NO_ANSWER)
    if not isinstance(answers, dict):
        return hint("{'a': 'too small', 'b': 'good', 'c': 'too large'} のような辞書で答えます。",
                    "Answer with a dict such as {'a': 'too small', 'b': 'good', 'c': 'too large'}.")
    missing = [k for k in VERDICT_QUESTIONS if k not in answers]
    if missing:
        keys = ", ".join(missing)
        return hint(f"まだ答えていない項目があります: {keys}", f"Some items have no answer yet: {keys}")
    wrong = []
    for key, (_, truth) in VERDICT_QUESTIONS.items():
        given = _VERDICT_WORDS.get(str(answers[key]).strip().lower())
        if given is None:
            return hint(f"{key}: {answers[key]!r} ではなく 'too small'(小さすぎ)、'good'(ちょうどよい)、"
                        f"'too large'(大きすぎ)のどれかで答えます。",
                        f"{key}: answer 'too small', 'good' or 'too large', not {answers[key]!r}.")
        if given != truth:
            wrong.append((key, *_VERDICT_CLUES[truth]))
    if wrong:
        return hint("\n".join(f"{k}: {ja}" for k, ja, _ in wrong), "\n".join(f"{k}: {en}" for k, _, en in wrong))
    rates = ", ".join(f"{k} = {lr:g}" for k, (lr, _) in VERDICT_QUESTIONS.items())
    return correct(f"3つとも正解です。学習率は {rates} でした。",
                   f"All three right. The learning rates were {rates}.")


sgd_exercise = SGD_STEP  # notebook 05's code exercises: check(), hint(), solution()
loop_exercise = TRAIN_LOOP
