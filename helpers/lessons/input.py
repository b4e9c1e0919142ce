"""Notebook 01, step 1 input: previews and pictures of the data and its mini-batches, and the
exercises on shapes and batch counts."""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.figure import Figure

from ..engine.text import BilingualError, bi, text_table
from .code_exercises import SPLIT_BATCHES
from .feedback import NO_ANSWER, Feedback, correct, hint, is_whole_number
from .style import role, series


def preview(X, y, rows: int = 5, digits: int = 4) -> str:
    """The first rows of X and y as a small text table, numbers rounded; one header line per language."""
    X2 = X.reshape(len(X), -1)[:rows]  # (rows, features): a picture shows as its flat pixels
    y2 = y.reshape(len(y), -1)[:rows]  # (rows, targets)
    if X2.shape[1] == 1:
        x_ja, x_en = ["x(問題)"], ["x (question)"]
    else:
        x_ja = x_en = [f"x{j + 1}" for j in range(X2.shape[1])]
    if y2.shape[1] == 1:
        y_ja, y_en = ["y(正解ラベル)"], ["y (target)"]
    else:
        y_ja = y_en = [f"y{j + 1}" for j in range(y2.shape[1])]

    def cell(v) -> str:
        return f"{v:.{digits}f}" if isinstance(v, float) else str(v)

    body = [[str(i)] + [cell(v) for v in X2[i].tolist()] + [cell(v) for v in y2[i].tolist()]
            for i in range(len(X2))]
    return text_table(list(zip(["行", *x_ja, *y_ja], ["row", *x_en, *y_en], strict=True)), body)


# --- Figures of notebook 01 -------------------------------------------------------------------


def _flat(t) -> np.ndarray:
    # matplotlib reads NumPy arrays; a tensor may sit on a GPU or carry autograd history.
    return t.detach().cpu().reshape(-1).numpy()


def _scatter_axes(fig: Figure, title: str):
    ax = fig.add_subplot()
    ax.set_xlabel(bi("入力 x", "input x"))
    ax.set_ylabel(bi("y(正解ラベル)", "y (target)"))
    ax.set_title(title)
    return ax


def plot_line_data(X, y, slope: float | None = None, intercept: float | None = None) -> Figure:
    """The points (x, y) of a 1-feature data set, with the rule y = slope * x + intercept when given."""
    fig = Figure(figsize=(6.5, 3.6))
    ax = _scatter_axes(fig, bi("学習データ:問題 x と正解 y", "training data: questions x, answers y"))
    x, t = _flat(X), _flat(y)
    ax.scatter(x, t, color=role("training"), s=28, label=bi("データ", "data"), zorder=3)
    if slope is not None and intercept is not None:
        line_x = np.array([x.min(), x.max()])
        ax.plot(line_x, slope * line_x + intercept, color=role("truth"), linewidth=2,
                label=bi(f"元の規則 y = {slope:g}x + {intercept:g}", f"the rule y = {slope:g}x + {intercept:g}"))
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def plot_blobs(X, y) -> Figure:
    """Points with two features (x1, x2), coloured by their class number y."""
    fig = Figure(figsize=(6.0, 3.8))
    ax = fig.add_subplot()
    X, y = X.detach().cpu().numpy(), y.detach().cpu().numpy()
    classes = sorted(set(y.tolist()))
    for k, colour in zip(classes, series(len(classes)), strict=True):
        mask = y == k
        ax.scatter(X[mask, 0], X[mask, 1], color=colour, s=22,
                   label=bi(f"クラス {k}", f"class {k}"))
    ax.set_xlabel(bi("特徴量 x1", "feature x1"))
    ax.set_ylabel(bi("特徴量 x2", "feature x2"))
    ax.set_title(bi("正解はクラス番号(色)", "answer = class number (colour)"))
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return fig


def plot_batches(X, y, parts, highlight: int = 0) -> Figure:
    """All points faint, one mini-batch (parts[highlight], a pair X_batch, y_batch) drawn boldly."""
    if not 0 <= highlight < len(parts):
        raise BilingualError(f"バッチ番号は 0 から {len(parts) - 1} までです({highlight})。",
                             f"The batch number runs from 0 to {len(parts) - 1} (got {highlight}).")
    X_batch, y_batch = parts[highlight]
    fig = Figure(figsize=(6.5, 3.6))
    # Counted from 1 in the title, as a reader counts; `highlight` is a Python index from 0.
    title = bi(f"{len(parts)} 個のバッチのうち {highlight + 1} 個目", f"batch {highlight + 1} of {len(parts)}")
    ax = _scatter_axes(fig, title)
    ax.scatter(_flat(X), _flat(y), color=role("data"), s=28,
               label=bi("全データ", "all data"), zorder=2)
    ax.scatter(_flat(X_batch), _flat(y_batch), color=role("input"), s=60,
               edgecolor=role("ink"), linewidth=0.8, zorder=3,
               label=bi(f"このバッチ({len(X_batch)} 行)", f"this batch ({len(X_batch)} rows)"))
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def plot_images(X, y, count: int = 8) -> Figure:
    """The first `count` pictures of X (batch, 1, height, width), each titled with its answer y."""
    count = min(count, len(X))
    fig = Figure(figsize=(6.5, 2.1))
    pictures = X.detach().cpu().reshape(len(X), -1, *X.shape[-2:])[:, 0].numpy()  # (batch, height, width)
    for i in range(count):
        ax = fig.add_subplot(1, count, i + 1)
        ax.imshow(pictures[i], cmap="Greys", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        for spine in ax.spines.values():
            spine.set_visible(True)
        ax.set_title(f"y = {int(y[i])}", fontsize=10)
    title = bi("問題は画像、正解は 0(横線)か 1(縦線)", "question: a picture; answer: 0 (horizontal) or 1 (vertical)",
               sep="\n")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


# --- Exercises of notebook 01 -----------------------------------------------------------------

SHAPE_QUESTION = (365, 4)  # 365 days, 4 measurements a day
BATCH_QUESTION = (100, 32)  # 100 rows, batches of 32


def check_shape(answer) -> Feedback:
    """Notebook 01: the shape of X for 365 days of weather, 4 measurements a day, e.g. (10, 2)."""
    if answer is None:
        return hint(*NO_ANSWER)
    if isinstance(answer, str) or not isinstance(answer, (tuple, list, torch.Size)) \
            or not all(is_whole_number(v) for v in answer):
        return hint("(10, 2) のように、整数を並べたタプルで答えます。",
                    "Answer with a tuple of whole numbers, such as (10, 2).")
    rows, features = SHAPE_QUESTION
    if len(answer) != 2:
        return hint(f"表のデータの X は2次元 (バッチ, 特徴量) です({len(answer)} 個の数が書かれています)。",
                    f"X for a table has two dimensions, (batch, features) ({len(answer)} numbers given).")
    if tuple(answer) == (features, rows):
        return hint("順番が逆です。1行が1サンプルなので、サンプルの数が先にきます。",
                    "The order is reversed: one row is one sample, so the number of samples comes first.")
    if answer[0] != rows:
        return hint("1つ目(行の数)がちがいます。1行は1日分です。",
                    "The first number (rows) is off: one row holds one day.")
    if answer[1] != features:
        return hint("2つ目(特徴量の数)がちがいます。1日に何種類の測定値がありますか。",
                    "The second number (features) is off: how many kinds of measurement does a day have?")
    return correct(f"正解です。X の形は ({rows}, {features}):{rows} 行(日)× {features} 列(特徴量)。",
                   f"Right: X has shape ({rows}, {features}), {rows} rows (days) × {features} columns (features).")


def check_batch_count(answer) -> Feedback:
    """Notebook 01: how many mini-batches of 32 rows one epoch over 100 rows makes."""
    if answer is None:
        return hint(*NO_ANSWER)
    if not is_whole_number(answer):
        return hint("バッチの数を整数で答えます(例: 5)。",
                    "Answer with the number of batches as a whole number (e.g. 5).")
    n, size = BATCH_QUESTION
    if answer < 1:
        return hint("バッチは1個以上あります。", "There is at least one batch.")
    if answer * size < n:
        return hint(f"足りません。{answer} 個のバッチには最大 {answer * size} 行しか入らず、"
                    f"{n} 行のうち残りが読まれません。余った行は捨てずに使います。",
                    f"Too few: {answer} batches hold at most {answer * size} rows, so some of the {n} rows would "
                    f"go unread. Leftover rows are used, not dropped.")
    if (answer - 1) * size >= n:
        return hint(f"多すぎます。{answer - 1} 個でもう {n} 行すべてが入ります。空のバッチは作りません。",
                    f"Too many: {answer - 1} batches already hold all {n} rows; no batch is empty.")
    last = n - size * (answer - 1)
    sizes = ", ".join([str(size)] * (answer - 1) + [str(last)])
    return correct(f"正解です。{answer} 個のバッチ({sizes} 行)。最後のバッチだけ小さくなります。",
                   f"Right: {answer} batches ({sizes} rows). Only the last one is smaller.")


def best_line(X, y) -> torch.nn.Linear:
    """Notebooks 01 and 03: the straight line with the smallest MSE on (X, y), found by least squares.

    It stands in for a trained model until notebook 05, where the learner trains one.
    """
    A = torch.cat([X, torch.ones_like(X)], dim=1).detach().cpu().double()  # (batch, 2): x and a column of 1s
    solution = torch.linalg.lstsq(A, y.detach().cpu().double()).solution  # (2, 1): w and b
    model = torch.nn.Linear(1, 1)
    with torch.no_grad():
        model.weight.fill_(solution[0, 0].item())
        model.bias.fill_(solution[1, 0].item())
    return model.to(X.device)


batches_exercise = SPLIT_BATCHES  # notebook 01's code exercise: check(), hint(), solution()
