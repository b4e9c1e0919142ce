"""Notebook 07, overfitting: the exercises and their checkers. Data, models and early stopping are
in overfitting_models, the figures and sliders in overfitting_figures; notebook 07 reaches them
through this module."""

from __future__ import annotations

from ..engine.loop import History
from ..engine.text import text_table
from .feedback import NO_ANSWER, Feedback, correct, hint, is_whole_number

# Notebook 07 reaches everything it uses through this module (`lesson` there).
from .overfitting_figures import capacity_comparison, fit_figure, loss_curves, overfitting_explorer  # noqa: F401
from .overfitting_models import (  # noqa: F401
    LR,
    early_stopping,
    fit_capacities,
    make_data,
    make_test_data,
    poly_features,
    polynomial_model,
    stop_epoch,
)

# --- Exercises ----------------------------------------------------------------------------------

# Validation loss per epoch of a short run, for Try it 1 and Try it 2.
EXERCISE_VAL_LOSSES = (0.92, 0.61, 0.44, 0.35, 0.31, 0.29, 0.30, 0.33, 0.38, 0.45, 0.53, 0.62)
EXERCISE_PATIENCE = 3


def history_table(history: History) -> str:
    """Epoch, training loss and validation loss, one line per epoch, rounded."""
    rows = [[str(epoch), f"{train_loss:.4f}", f"{val_loss:.4f}"] for epoch, (train_loss, val_loss)
            in enumerate(zip(history.losses, history.val_losses, strict=True), start=1)]
    return text_table([("エポック", "epoch"), ("学習の損失", "training loss"), ("検証の損失", "validation loss")],
                      rows)


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
    rows = [[key, f"{train_loss:.3f}", f"{val_loss:.3f}"] for key, (train_loss, val_loss, _) in DIAGNOSIS_CASES.items()]
    print(text_table([("実行", "run"), ("学習の損失", "training loss"), ("検証の損失", "validation loss")], rows,
                     left=1))


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
