"""Notebook 06, the loop and epochs: diminishing returns and the exercises (the learning-rate/epochs
explorer lives in loop_explorer and is reached from here)."""

from __future__ import annotations

import math
import re

from matplotlib.figure import Figure

from ..engine.loop import History
from ..engine.text import BilingualError, bi, bilines
from .code_exercises import COUNT_UPDATES
from .feedback import NO_ANSWER, Feedback, as_number, correct, hint
from .loop_explorer import (  # noqa: F401  (notebook 06's explorer, reached as lesson.training_explorer)
    LIVE_DPI,
    STRIP_LRS,
    TrainingExplorer,
    _mlp,
    _one_thread,
    training_explorer,
)
from .stepper import stepper  # noqa: F401  (notebook 06 reuses 00's stepper)
from .style import role, series

# --- Notebook 06: diminishing returns ----------------------------------------------------------

def drop_share_epoch(losses, share: float = 0.9) -> int:
    """The first epoch (from 1) by which `share` of the whole drop, losses[0] - losses[-1], had happened."""
    losses = [float(v) for v in losses]
    if len(losses) < 2:
        raise BilingualError(f"損失が {len(losses)} 個しかありません。2エポック以上の記録が必要です。",
                             f"Only {len(losses)} loss value(s): at least two epochs are needed.")
    if not 0 < share < 1:
        raise BilingualError(f"割合は 0 より大きく 1 より小さい数です({share})。",
                             f"The share must be above 0 and below 1 (got {share}).")
    target = losses[0] - share * (losses[0] - losses[-1])
    return next(epoch for epoch, value in enumerate(losses, start=1) if value <= target)


def diminishing_returns(losses, share: float = 0.9) -> Figure:
    """Loss per epoch, marking the epoch by which `share` of the drop happened and how long the rest took."""
    epoch = drop_share_epoch(losses, share)
    total = len(losses)
    first, last = float(losses[0]), float(losses[-1])
    fig = Figure(figsize=(6.5, 3.6))
    ax = fig.add_subplot()
    epochs = range(1, total + 1)
    # the quick epochs and the slow ones only need to differ, from each other and the training curve
    slow, quick = series(2, avoid=(role("training"),))
    ax.axvspan(0.5, epoch, color=quick, alpha=0.12, linewidth=0)
    ax.axvspan(epoch, total + 0.5, color=slow, alpha=0.12, linewidth=0)
    ax.plot(epochs, losses, color=role("training"), linewidth=2)
    ax.axvline(epoch, color=role("ink"), linestyle="--", linewidth=1)
    ax.plot([epoch], [losses[epoch - 1]], "o", color=role("ink"))
    percent, rest = round(share * 100), round((1 - share) * 100)
    drop = first - last
    ax.text(epoch + 0.02 * total, first - 0.08 * drop,
            bi(f"← 最初の {epoch} エポックで、減り幅の {percent}%",
               f"← the first {epoch} epochs: {percent}% of the drop", sep="\n"),
            ha="left", va="top", fontsize=10, color=role("ink"))
    ax.text((epoch + total) / 2, last + 0.3 * drop,
            bi(f"残りの {rest}% に、さらに {total - epoch} エポック", f"the last {rest}%: {total - epoch} more epochs",
               sep="\n"), ha="center", va="bottom", fontsize=10, color=role("ink"))
    ax.set_xlim(0.5, total + 0.5)
    ax.set_ylim(bottom=0)
    ax.set_xlabel(bi("エポック", "epoch"))
    ax.set_ylabel(bi("学習データの損失", "training loss"))
    ax.set_title(bi("はじめは速く、あとはゆっくり", "quick at first, slow later"))
    fig.tight_layout()
    return fig



# --- Notebook 06: exercises ---------------------------------------------------------------------

EPOCH_QUESTION = {"rows": 200, "batch_size": 32, "num_epochs": 10}


def check_epoch_count(answer) -> Feedback:
    """Notebook 06: how many update steps train with EPOCH_QUESTION's rows, batch size and epochs."""
    if answer is None:
        return hint(*NO_ANSWER)
    value = as_number(answer)
    if value is None:
        return hint(f"更新の回数を整数で答えます(例: 42)。{answer!r} は数ではありません。",
                    f"Answer with the number of updates as a whole number (e.g. 42); {answer!r} is not a number.")
    rows, size, epochs = EPOCH_QUESTION["rows"], EPOCH_QUESTION["batch_size"], EPOCH_QUESTION["num_epochs"]
    per_epoch = math.ceil(rows / size)
    truth = per_epoch * epochs
    if value == truth:
        return correct(f"正解です。1エポックは {per_epoch} 回の更新(最後の小さなバッチも1回)、"
                       f"{epochs} エポックで {truth} 回です。",
                       f"Right: one epoch is {per_epoch} updates (the last, smaller batch counts too), "
                       f"so {epochs} epochs make {truth}.")
    if value == per_epoch:
        return hint("それは1エポック分の回数です。エポックは何回ありますか?",
                    "That is the count for one epoch. How many epochs are there?")
    if value == epochs:
        return hint("1エポックの中でも、バッチごとに1回ずつ更新します。",
                    "Within one epoch, the weights are updated once per batch.")
    if value == rows * epochs or value == rows:
        return hint("更新は1行ごとではなく、1バッチごとに1回です。",
                    "There is one update per batch, not one per row.")
    if value != int(value) or value == (rows // size) * epochs:
        return hint(f"{rows} 行を {size} 行ずつ分けると、最後に余った行も小さなバッチになって1回更新します。",
                    f"Splitting {rows} rows into batches of {size}, the rows left over form one more, "
                    f"smaller batch, and it too makes an update.")
    return hint("1エポックのバッチ数(= 更新の回数)を数えてから、エポック数を掛けます。",
                "Count the batches in one epoch (one update each), then multiply by the number of epochs.")


_EARLY = {"1-10", "1~10", "early", "first", "前半", "最初"}
_LATE = {"50-60", "50~60", "late", "last", "後半", "あと"}


def loss_drop(losses, first: int, last: int) -> float:
    """How much the loss fell from epoch `first` to epoch `last` (epochs counted from 1)."""
    return float(losses[first - 1]) - float(losses[last - 1])


def check_diminishing(answer, history) -> Feedback:
    """Notebook 06: which drop is larger in history, epochs 1→10 ("1-10") or epochs 50→60 ("50-60")?"""
    if answer is None:
        return hint(*NO_ANSWER)
    losses = history.losses if isinstance(history, History) else list(history)
    if len(losses) < 60:
        return hint(f"この問題には 60 エポック以上の記録がいります({len(losses)} エポックしかありません)。",
                    f"This question needs a history of at least 60 epochs (it has {len(losses)}).")
    key = re.sub(r"\s|エポック|epochs?", "", str(answer).strip().lower()).replace("–", "-").replace("→", "-")
    choice = "early" if key in _EARLY else "late" if key in _LATE else None
    if choice is None:
        return hint(f"'1-10' か '50-60' で答えます({answer!r} が入っています)。",
                    f"Answer '1-10' or '50-60' (got {answer!r}).")
    early, late = loss_drop(losses, 1, 10), loss_drop(losses, 50, 60)
    truth = "early" if early > late else "late"
    if choice == truth:
        return correct(f"正解です。エポック 1→10 で {early:.4f}、50→60 で {late:.4f} 下がりました。"
                       "同じ 10 エポックでも、あとになるほど得られるものは小さくなります。",
                       f"Right: the loss fell by {early:.4f} over epochs 1→10 and by {late:.4f} over 50→60. "
                       "The same ten epochs buy less and less as training goes on.")
    return hint("history.losses[0] - history.losses[9] と history.losses[49] - history.losses[59] を"
                "計算して比べてみましょう。損失の曲線のどこが急でしたか?",
                "Compute history.losses[0] - history.losses[9] and history.losses[49] - history.losses[59] "
                "and compare them. Where was the loss curve steep?")


# key -> learning rate to try with the explorer's slider at 100 epochs
LR_QUESTIONS = {"a": 0.0001, "b": 0.1, "c": 1.0}
_LR_TRUTH = {"a": "slow", "b": "good", "c": "diverge"}
_LR_WORDS = {
    "slow": "slow", "too small": "slow", "small": "slow", "遅い": "slow", "小さすぎ": "slow", "小さすぎる": "slow",
    "good": "good", "ok": "good", "ちょうどよい": "good", "よい": "good", "良い": "good",
    "diverge": "diverge", "diverges": "diverge", "diverged": "diverge", "too large": "diverge",
    "large": "diverge", "発散": "diverge", "大きすぎ": "diverge", "大きすぎる": "diverge",
}
_LR_CLUES = {
    "slow": ("100 エポックのあいだに、損失は最初の値からどれだけ下がりましたか?",
             "How far below its first value did the loss get in 100 epochs?"),
    "good": ("最後の損失と、右の図で線がデータの点をなぞっているかを見ましょう。",
             "Look at the final loss, and at whether the line on the right follows the data points."),
    "diverge": ("スライダーをその値に合わせたとき、図の中に何が出るかを読みましょう。",
                "Set the slider to that value and read what appears inside the figure."),
}


def lr_questions() -> None:
    """Print notebook 06's learning rates a…c, to be answered "slow", "good" or "diverge"."""
    for key, lr in LR_QUESTIONS.items():
        print(f"{key}: lr = {lr:g}")


def check_lr_regimes(answers) -> Feedback:
    """Notebook 06: answers maps "a"…"c" to "slow" (遅い), "good" (ちょうどよい) or "diverge" (発散)."""
    if answers is None:
        return hint(*NO_ANSWER)
    if not isinstance(answers, dict):
        return hint("{'a': 'slow', 'b': 'good', 'c': 'diverge'} のような辞書で答えます。",
                    "Answer with a dict such as {'a': 'slow', 'b': 'good', 'c': 'diverge'}.")
    missing = [key for key in LR_QUESTIONS if key not in answers]
    if missing:
        keys = ", ".join(missing)
        return hint(f"まだ答えていない項目があります: {keys}", f"Some items have no answer yet: {keys}")
    wrong = []
    for key, truth in _LR_TRUTH.items():
        given = _LR_WORDS.get(str(answers[key]).strip().lower())
        if given is None:
            return hint(f"{key}: {answers[key]!r} ではなく 'slow'(遅い)、'good'(ちょうどよい)、"
                        f"'diverge'(発散)のどれかで答えます。",
                        f"{key}: answer 'slow', 'good' or 'diverge', not {answers[key]!r}.")
        if given != truth:
            wrong.append((key, *_LR_CLUES[truth]))
    if wrong:
        return hint("\n".join(f"{k} (lr = {LR_QUESTIONS[k]:g}): {ja}" for k, ja, _ in wrong),
                    "\n".join(f"{k} (lr = {LR_QUESTIONS[k]:g}): {en}" for k, _, en in wrong))
    return correct("3つとも正解です。小さすぎる学習率は進まず、大きすぎる学習率は発散します。",
                   "All three right: too small a learning rate barely moves, too large a one diverges.")


def epoch_question() -> None:
    """Print notebook 06's question for check_epoch_count."""
    rows, size, epochs = EPOCH_QUESTION["rows"], EPOCH_QUESTION["batch_size"], EPOCH_QUESTION["num_epochs"]
    print(bilines(f"学習データ {rows} 行、バッチの大きさ {size}、{epochs} エポック。更新は全部で何回?",
                  f"{rows} rows of training data, batch size {size}, {epochs} epochs: how many updates in all?"))


updates_exercise = COUNT_UPDATES  # notebook 06's code exercise: check(), hint(), solution()
