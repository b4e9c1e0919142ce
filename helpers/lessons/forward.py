"""Notebook 02, step 2 forward pass: a linear layer by loops, activations, the cost of each part,
convolution filters by hand, their figures and exercises."""

from __future__ import annotations

import statistics
import time

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from ..engine.device import synchronize
from ..engine.forward import check_input, count_parameters
from ..engine.text import BilingualError, bi
from .code_exercises import LINEAR
from .feedback import NO_ANSWER, Feedback, as_number, correct, hint
from .style import role, series


def linear_by_loops(X, weight, bias=None):
    """nn.Linear written out one multiply at a time: out[n, j] = sum_i X[n, i] * weight[j, i] + bias[j]."""
    if X.dim() != 2 or weight.dim() != 2 or X.shape[1] != weight.shape[1]:
        raise BilingualError(
            f"X は (バッチ, {weight.shape[-1]}) の形にします。重みの形 {tuple(weight.shape)} に対して、"
            f"X の形は {tuple(X.shape)} です。",
            f"X must have shape (batch, {weight.shape[-1]}) for a weight of shape {tuple(weight.shape)}; "
            f"got {tuple(X.shape)}.")
    batch, outputs = X.shape[0], weight.shape[0]
    out = torch.zeros(batch, outputs, dtype=X.dtype, device=X.device)  # (batch, outputs)
    # Slow on purpose: every term below is one weight times one input.
    for n in range(batch):
        for j in range(outputs):
            total = bias[j] if bias is not None else 0.0
            for i in range(X.shape[1]):
                total = total + X[n, i] * weight[j, i]
            out[n, j] = total
    return out


def _layers(model: nn.Module) -> list[nn.Module]:
    if not isinstance(model, nn.Sequential):
        raise BilingualError(
            f"nn.Sequential のモデルを渡してください({type(model).__name__} が渡されました)。",
            f"Pass an nn.Sequential model (got {type(model).__name__}).")
    return list(model)


def activations(model: nn.Module, X) -> list[tuple[str, torch.Tensor]]:
    """Every layer's output (its activations) for X, in order: [("0 Linear", tensor), ...]."""
    check_input(model, X)
    out, h = [], X
    with torch.no_grad():  # only looking: nothing here is kept for a backward pass
        for i, layer in enumerate(_layers(model)):
            h = layer(h)  # (batch, features of this layer)
            out.append((f"{i} {type(layer).__name__}", h))
    return out


# --- Notebook 02: where the time goes ------------------------------------------------------------

PART_NAMES = {
    "matmul": ("行列積", "matrix multiplication"),
    "bias": ("バイアスの足し算", "bias addition"),
    "activation": ("活性化関数", "activation function"),
}


def forward_flops(model: nn.Module, batch: int) -> dict[str, int]:
    """Arithmetic operations in one forward pass of a Linear/activation stack, per kind of work.

    A matrix product (batch, in) @ (in, out) does batch * out dot products of length in: one multiply
    and one add each, so 2 * batch * in * out. A bias or an activation touches each output once.
    """
    flops = dict.fromkeys(PART_NAMES, 0)
    width = None
    for layer in _layers(model):
        if isinstance(layer, nn.Linear):
            flops["matmul"] += 2 * batch * layer.in_features * layer.out_features
            if layer.bias is not None:
                flops["bias"] += batch * layer.out_features
            width = layer.out_features
        elif width is not None:
            flops["activation"] += batch * width
    return flops


def time_forward_parts(model: nn.Module, X, repeats: int = 5) -> dict[str, float]:
    """Median seconds one forward pass spends in matrix products, bias additions and activations.

    Each kind of work runs on its own (all its ops back to back, one wait at the end), on the inputs
    it gets in a real forward pass. A first, untimed round warms up caches and libraries.
    """
    check_input(model, X)
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise BilingualError(f"repeats は 1 以上の整数です({repeats!r})。",
                             f"repeats must be a whole number of at least 1 (got {repeats!r}).")
    products, sums, functions = [], [], []
    with torch.no_grad():
        h = X  # (batch, features)
        for layer in _layers(model):
            if isinstance(layer, nn.Linear):
                products.append((h, layer.weight))
                h = h @ layer.weight.T  # (batch, out_features)
                if layer.bias is not None:
                    sums.append((h, layer.bias))
                    h = h + layer.bias
            else:
                functions.append((layer, h))
                h = layer(h)
        parts = {
            "matmul": lambda: [a @ w.T for a, w in products],
            "bias": lambda: [a + b for a, b in sums],
            "activation": lambda: [f(a) for f, a in functions],
        }
        seconds = {name: [] for name in parts}
        for round_ in range(repeats + 1):
            for name, run in parts.items():
                synchronize(X.device)
                start = time.perf_counter()
                run()
                synchronize(X.device)
                if round_ > 0:
                    seconds[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in seconds.items()}


# --- Notebook 02: a convolution filter is a weight too -------------------------------------------

def make_image(size: int = 24, shape: str = "square"):
    """A grayscale picture drawn by code: a bright "square" or letter "T" on black, shape (size, size)."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 8:
        raise BilingualError(f"画像の大きさは 8 以上の整数です({size!r})。",
                             f"The image size must be a whole number of at least 8 (got {size!r}).")
    image = torch.zeros(size, size)  # (height, width): 0 is black, 1 is white
    q = size // 4
    if shape == "square":
        image[q:size - q, q:size - q] = 1.0
    elif shape == "T":
        image[q:q + max(2, size // 6), q:size - q] = 1.0  # the bar
        middle = size // 2
        image[q:size - q, middle - size // 12 - 1:middle + size // 12 + 1] = 1.0  # the stem
    else:
        raise BilingualError(f"形は 'square' か 'T' です({shape!r})。",
                             f"The shape must be 'square' or 'T' (got {shape!r}).")
    return image


def conv_by_hand(image, kernel):
    """A 3x3 (or k x k) filter slid over the image: each output is a weighted sum of the pixels under it.

    Like nn.Conv2d (no padding, stride 1): a (H, W) image gives a (H - k + 1, W - k + 1) feature map.
    """
    if image.dim() != 2 or kernel.dim() != 2 or kernel.shape[0] != kernel.shape[1]:
        raise BilingualError(
            f"画像は (高さ, 幅)、フィルタは (k, k) の形にします(画像 {tuple(image.shape)}、"
            f"フィルタ {tuple(kernel.shape)} が渡されました)。",
            f"The image must have shape (height, width) and the filter (k, k); got image "
            f"{tuple(image.shape)} and filter {tuple(kernel.shape)}.")
    k = kernel.shape[0]
    height, width = image.shape[0] - k + 1, image.shape[1] - k + 1
    if height < 1 or width < 1:
        raise BilingualError(f"画像 {tuple(image.shape)} がフィルタ ({k}, {k}) より小さいです。",
                             f"The image {tuple(image.shape)} is smaller than the filter ({k}, {k}).")
    out = torch.zeros(height, width, dtype=image.dtype, device=image.device)  # (H - k + 1, W - k + 1)
    # Shift the whole image under each weight of the filter once, instead of looping over pixels.
    for r in range(k):
        for c in range(k):
            out += kernel[r, c] * image[r:r + height, c:c + width]
    return out


# Exercise 3's candidates: which one lights up at vertical edges (a left-right change)?
FILTER_CHOICES = {
    "a": torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -1.0, -1.0]]),
    "b": torch.full((3, 3), 1.0 / 9.0),
    "c": torch.tensor([[-1.0, 0.0, 1.0], [-1.0, 0.0, 1.0], [-1.0, 0.0, 1.0]]),
}


def filter_choices() -> None:
    """Print exercise 3's three filters a, b, c."""
    for key, kernel in FILTER_CHOICES.items():
        rows = "\n".join("   " + "  ".join(f"{v:6.3f}" for v in row) for row in kernel.tolist())
        print(f"{key}:\n{rows}")


# --- Notebook 02: figures -------------------------------------------------------------------------

def _numpy(t):
    return torch.as_tensor(t).detach().cpu().float().numpy()


def answers_plot(X, y, predictions: dict, title: str | None = None) -> Figure:
    """The targets as dots and each model's predictions as a line, against the input x."""
    x = _numpy(X).reshape(-1)
    order = x.argsort()
    fig = Figure(figsize=(6.5, 3.6))
    ax = fig.add_subplot()
    ax.scatter(x, _numpy(y).reshape(-1), color=role("truth"), s=18, label=bi("正解ラベル", "target"))
    # one model's predictions in the prediction colour; several models' only need to differ
    colours = [role("prediction")] if len(predictions) == 1 else series(len(predictions), avoid=(role("truth"),))
    for colour, (label, prediction) in zip(colours, predictions.items(), strict=True):
        ax.plot(x[order], _numpy(prediction).reshape(-1)[order], color=colour, linewidth=2,
                label=label)
    ax.set_xlabel(bi("入力 x", "input x"))
    ax.set_ylabel("y")
    ax.set_title(title or bi("生まれたてのモデルの予測", "a new model's predictions"))
    # Below the axes, so the legend never hides a point.
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=9)
    fig.tight_layout()
    return fig


def hidden_units_plot(x, before, after, units: int = 6) -> Figure:
    """Hidden units against x: before the activation function (straight lines) and after ReLU (hinges)."""
    xs = _numpy(x).reshape(-1)
    order = xs.argsort()
    fig = Figure(figsize=(6.5, 3.2))
    axes = fig.subplots(1, 2, sharex=True, sharey=True)  # one scale: ReLU keeps the positive part as it was
    for ax, values, ja, en in ((axes[0], before, "ReLU の前 z = w x + b", "before ReLU"),
                               (axes[1], after, "ReLU の後(活性値)", "after ReLU (activations)")):
        v = _numpy(values)
        shown = min(units, v.shape[1])
        for j, colour in enumerate(series(shown)):  # unit j has the same colour in both panels
            ax.plot(xs[order], v[order, j], color=colour, linewidth=1.8)
        ax.axhline(0, color=role("grid"), linewidth=0.8)
        ax.set_title(bi(ja, en, sep="\n"), fontsize=10)
        ax.set_xlabel(bi("入力 x", "input x"))
    axes[0].set_ylabel(bi("隠れユニットの値", "hidden unit value"))
    fig.tight_layout()
    return fig


def timing_plot(seconds: dict[str, float]) -> Figure:
    """Milliseconds per forward pass for each kind of work, as horizontal bars."""
    names = [n for n in PART_NAMES if n in seconds]
    ms = [1000 * seconds[n] for n in names]
    total = sum(ms) or 1.0
    fig = Figure(figsize=(6.5, 2.6))
    ax = fig.add_subplot()
    labels = [bi(*PART_NAMES[n], sep="\n") for n in names]
    ax.barh(labels, ms, color=series(len(names)))
    for i, v in enumerate(ms):
        ax.text(v, i, f" {v:.2f} ms ({100 * v / total:.0f}%)", va="center", fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(0, max(ms) * 1.45 if max(ms) > 0 else 1)
    ax.set_xlabel(bi("1回の順伝播あたりの時間 [ms]", "time per forward pass [ms]"))
    ax.set_title(bi("順伝播の時間の内訳", "where a forward pass spends its time"))
    fig.tight_layout()
    return fig


def filter_figure(image, kernel, feature_map, name: str | None = None) -> Figure:
    """Input picture, the filter's weights (numbers written in) and the feature map, side by side."""
    img, k, fmap = _numpy(image), _numpy(kernel), _numpy(feature_map)
    fig = Figure(figsize=(6.8, 2.6))
    axes = fig.subplots(1, 3)
    axes[0].imshow(img, cmap="gray", vmin=0, vmax=max(1.0, float(img.max())))
    axes[0].set_title(bi("入力画像", "input image", sep="\n"), fontsize=10)
    limit = float(abs(k).max()) or 1.0
    axes[1].imshow(k, cmap="coolwarm", vmin=-limit, vmax=limit)
    for (r, c), v in np.ndenumerate(k):
        axes[1].text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=9)
    axes[1].set_title(name or bi("フィルタ(重み)", "filter (weights)", sep="\n"), fontsize=10)
    limit = float(abs(fmap).max()) or 1.0
    axes[2].imshow(fmap, cmap="coolwarm", vmin=-limit, vmax=limit)
    axes[2].set_title(bi("出力(特徴マップ)", "output (feature map)", sep="\n"), fontsize=10)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
    fig.tight_layout()
    return fig


# --- Notebook 02: exercise checkers ---------------------------------------------------------------


# Exercise 1: nn.Linear(2, 1) with weight [[2, -1]] and bias [0.5], input x = [3, 4].
LINEAR_EXERCISE = {"weight": [[2.0, -1.0]], "bias": [0.5], "x": [3.0, 4.0]}


def check_linear_output(answer) -> Feedback:
    """Exercise 1: the output of weight [[2, -1]], bias [0.5] for input x = [3, 4], worked by hand."""
    if answer is None:
        return hint(*NO_ANSWER)
    value = as_number(answer)
    if value is None:
        return hint("数を1つ書きます(例: 1.5)。", "Answer with one number (e.g. 1.5).")
    (w1, w2), b, (x1, x2) = LINEAR_EXERCISE["weight"][0], LINEAR_EXERCISE["bias"][0], LINEAR_EXERCISE["x"]
    truth = w1 * x1 + w2 * x2 + b
    if abs(value - truth) < 1e-6:
        return correct(f"正解です: 2×3 + (-1)×4 + 0.5 = {truth:g}。"
                       "入力ごとに重みを掛けて足し、最後にバイアスを足します。",
                       f"Right: 2×3 + (-1)×4 + 0.5 = {truth:g}. Multiply each input by its weight, add them up, "
                       "then add the bias.")
    if abs(value - (truth - b)) < 1e-6:
        return hint("掛けて足すところは合っています。最後に足すものを忘れていませんか。",
                    "The multiply-and-add part is right. Is something missing at the end?")
    if abs(value - (w1 * x1 - w2 * x2 + b)) < 1e-6:
        return hint("2つ目の重みの符号を見直しましょう。", "Look again at the sign of the second weight.")
    return hint("入力の1つ目には重みの1つ目、2つ目には2つ目を掛けて足し、バイアスを加えます。",
                "Multiply the first input by the first weight, the second by the second, add them, "
                "then add the bias.")


def check_param_count(answer) -> Feedback:
    """Exercise 2: how many numbers nn.Linear(3, 4) holds (weights and biases together)."""
    if answer is None:
        return hint(*NO_ANSWER)
    value = as_number(answer)
    if value is None or value != int(value):
        return hint("整数を1つ書きます(例: 10)。", "Answer with one whole number (e.g. 10).")
    truth = count_parameters(nn.Linear(3, 4))
    if value == truth:
        return correct("正解です: 重み 4×3 = 12 個とバイアス 4 個で 16 個。",
                       "Right: 4×3 = 12 weights plus 4 biases makes 16.")
    if value == 12:
        return hint("重み行列の分は合っています。出力ごとに1つずつある数を忘れていませんか。",
                    "The weight matrix is counted right. Each output also has one more number of its own.")
    if value == 7:
        return hint("入力と出力の「組」ごとに重みが1つあります。足すのではなく掛けてみましょう。",
                    "There is one weight per (input, output) pair: multiply rather than add.")
    return hint("重みは (出力, 入力) の形の行列、バイアスは出力の数だけあります。",
                "The weights form an (outputs, inputs) matrix, and there is one bias per output.")


def check_filter(answer) -> Feedback:
    """Exercise 3: which of the filters a, b, c lights up at vertical edges."""
    if answer is None:
        return hint(*NO_ANSWER)
    if not isinstance(answer, str) or answer.strip().lower() not in FILTER_CHOICES:
        return hint("'a', 'b', 'c' のどれか1文字で答えます。", "Answer with one letter: 'a', 'b' or 'c'.")
    key = answer.strip().lower()
    if key == "c":
        return correct("正解です: c は左の列と右の列の差をとるので、左右で明るさが変わる所(縦の縁)で大きくなります。",
                       "Right: c takes the right column minus the left one, so it is large where brightness "
                       "changes from left to right: a vertical edge.")
    if key == "a":
        return hint("a は上の行と下の行を比べます。上下で明るさが変わるのは、どの向きの縁でしょう。",
                    "a compares the row above with the row below. Which edges change from top to bottom?")
    return hint("b は重みが全部同じなので、周りをならす(ぼかす)だけです。縁では何も目立ちません。",
                "b has all weights equal: it only averages (blurs) its neighbourhood, so edges do not stand out.")


linear_exercise = LINEAR  # notebook 02's code exercise: check(), hint(), solution()
