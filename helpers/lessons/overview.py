"""Notebook 00, the overview: which situations are training and which are inference, and the order
of the five steps (also used by 08)."""

from __future__ import annotations

from ..engine.text import labelled
from .feedback import NO_ANSWER, Feedback, correct, hint
from .figures import loss_and_weights  # noqa: F401  (notebook 00)
from .stepper import stepper  # noqa: F401  (notebook 00)

# --- Notebook 00: training or inference? -------------------------------------------------------

# key -> (situation in Japanese, in English, answer, hint in Japanese, in English)
PHASE_QUESTIONS = {
    "a": ("重みが毎回書きかわる", "the weights are rewritten every cycle", "training",
          "重みを直すのは、答え合わせをしたあとです。", "Weights are fixed after grading the answer."),
    "b": ("正解データがなくても動く", "it runs without any ground truth", "inference",
          "正解がいるのは答え合わせ(損失)のときだけです。",
          "Ground truth is needed only to grade (the loss)."),
    "c": ("逆伝播(損失から後ろへさかのぼる計算)をする", "it runs backpropagation (a pass from the loss backwards)",
          "training",
          "後ろ向きにたどるのは、間違いの原因を探すためです。",
          "Tracing backwards is for finding the cause of a mistake."),
    "d": ("スマホのカメラが写真の顔を見つける", "a phone camera finds the faces in a photo", "inference",
          "カメラは予測を出すだけで、その場で自分を直してはいません。",
          "The camera only makes a prediction; it does not fix itself on the spot."),
    "e": ("計算がとても重い", "it needs a great deal of computation", "training",
          "順伝播・逆伝播・更新のすべてをするのはどちらでしょう。",
          "Which phase runs the forward pass, backpropagation and the update?"),
}

_PHASE_WORDS = {
    "training": "training", "train": "training", "学習": "training", "訓練": "training",
    "inference": "inference", "infer": "inference", "推論": "inference",
}


def check_situations(answers, questions: dict, done: tuple[str, str]) -> Feedback:
    """Answers map each key of questions (ja, en, truth, hint_ja, hint_en) to training or inference."""
    if answers is None:
        return hint(*NO_ANSWER)
    if not isinstance(answers, dict):
        return hint("{'a': 'training', 'b': 'inference', ...} のような辞書で答えます。",
                    "Answer with a dict such as {'a': 'training', 'b': 'inference', ...}.")
    missing = [k for k in questions if k not in answers]
    if missing:
        keys = ", ".join(missing)
        return hint(f"まだ答えていない項目があります: {keys}", f"Some items have no answer yet: {keys}")
    wrong = []
    for key, (_, _, truth, hint_ja, hint_en) in questions.items():
        given = _PHASE_WORDS.get(str(answers[key]).strip().lower())
        if given is None:
            return hint(f"{key}: {answers[key]!r} ではなく 'training'(学習)か 'inference'(推論)で答えます。",
                        f"{key}: answer 'training' (学習) or 'inference' (推論), not {answers[key]!r}.")
        if given != truth:
            wrong.append((key, hint_ja, hint_en))
    if wrong:
        return hint("\n".join(f"{k}: {h}" for k, h, _ in wrong),
                    "\n".join(f"{k}: {h}" for k, _, h in wrong))
    return correct(*done)


def check_phases(answers) -> Feedback:
    """Notebook 00: answers maps each situation "a"…"e" to "training"/"学習" or "inference"/"推論"."""
    return check_situations(answers, PHASE_QUESTIONS, (
        "5問すべて正解です。学習 = 直す、推論 = 使う。",
        "All five right. Training = fix yourself; inference = use what you learned."))


# --- Notebook 00: the order of the five steps --------------------------------------------------

STEP_ORDER = ("input", "forward", "loss", "backprop", "update")

_STEP_WORDS = {
    "input": "input", "入力": "input", "data": "input",
    "forward": "forward", "forward pass": "forward", "順伝播": "forward", "フォワードパス": "forward",
    "loss": "loss", "損失": "loss",
    "backprop": "backprop", "backward": "backprop", "backpropagation": "backprop",
    "逆伝播": "backprop", "バックプロパゲーション": "backprop",
    "update": "update", "optimizer": "update", "step": "update", "更新": "update", "最適化": "update",
}

_STEP_CLUES = {
    "input": ("問題を読まないと、何も始まりません。", "Nothing starts before the question is read."),
    "forward": ("答え合わせの前に、まず答えを書きます。", "You write an answer before you can grade it."),
    "loss": ("どれだけ外れたかが分かってはじめて、原因を探せます。",
             "Only once you know how far off you were can you look for the cause."),
    "backprop": ("直す前に、どの重みがどれだけ悪かったかを調べます。",
                 "Before fixing, find out which weights were how much to blame."),
    "update": ("赤ペンで直すのは最後です。", "Correcting in red pen comes last."),
}


def check_step_order(order) -> Feedback:
    """Notebook 00: order lists the five steps, e.g. ["input", "forward", ...] or ["入力", ...]."""
    if order is None:
        return hint(*NO_ANSWER)
    if isinstance(order, str) or not hasattr(order, "__iter__"):
        return hint("5つのステップ名をリストで答えます: ['input', ...]",
                    "Answer with a list of the five step names: ['input', ...]")
    names = []
    for item in order:
        name = _STEP_WORDS.get(str(item).strip().lower())
        if name is None:
            return hint(f"{item!r} はステップ名ではありません。使える名前: {', '.join(STEP_ORDER)}",
                        f"{item!r} is not a step name. Use: {', '.join(STEP_ORDER)}")
        names.append(name)
    if len(names) != len(STEP_ORDER):
        return hint(f"ステップは5つです({len(names)}個 書かれています)。",
                    f"There are five steps ({len(names)} given).")
    for position, (given, truth) in enumerate(zip(names, STEP_ORDER, strict=True), start=1):
        if given != truth:
            clue_ja, clue_en = _STEP_CLUES[truth]
            return hint(f"{position}番目がちがいます。{clue_ja}",
                        f"Step {position} is not right. {clue_en}")
    return correct("正しい順番です。入力 → 順伝播 → 損失 → 逆伝播 → 更新、そしてくり返し。",
                   "Right order: input → forward → loss → backprop → update, then repeat.")


def phase_questions() -> None:
    """Print notebook 00's situations a…e, to be answered "training" or "inference"."""
    for key, (ja, en, *_) in PHASE_QUESTIONS.items():
        print(labelled(key, ja, en))
