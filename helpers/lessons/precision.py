"""Notebook 10, weights and precision: the exercises and their checkers. Notebook 10 reaches the
learned weights (precision_weights), number formats (precision_formats) and INT8
(precision_int8) through this module."""

from __future__ import annotations

import math

from .feedback import NO_ANSWER, Feedback, as_number, correct, hint

# Notebook 10 reaches everything it uses through this module (`lesson` there).
from .measure import operators_run, time_inference  # noqa: F401
from .precision_formats import (  # noqa: F401
    FORMATS,
    bytes_per_number,
    format_table,
    stored_after_update,
    survives,
    update_traces,
    vanishing_figure,
)
from .precision_int8 import (  # noqa: F401
    QMAX,
    QMIN,
    Int8Linear,
    dequantize,
    model_bytes,
    pytorch_comparison,
    pytorch_int8,
    quantization_figure,
    quantize,
    quantize_model,
    quantize_per_channel,
    saved_bytes,
)
from .precision_kernels import int8_matmul, int8_speed, load_torchao, torchao_int8  # noqa: F401
from .precision_weights import (  # noqa: F401
    MaxFinder,
    accuracy,
    attention_figure,
    changed_elements,
    filters_figure,
    make_cnn,
    make_max_data,
    matrix_change_figure,
    qkv_weights,
)

# --- Exercises ----------------------------------------------------------------------------------------


SCALE_RANGE = (-2.0, 2.0)  # exercise 1: weights between -2 and 2, symmetric int8


def check_scale(answer) -> Feedback:
    """Exercise 1: the symmetric int8 scale for weights in [-2, 2]."""
    if answer is None:
        return hint(*NO_ANSWER)
    value = as_number(answer)
    if value is None:
        return hint("数を1つ答えます(例: answer = 0.5、割り算のまま answer = 1 / 3 でもよい)。",
                    "Answer with one number (e.g. answer = 0.5; a division such as 1 / 3 is fine too).")
    largest = max(abs(v) for v in SCALE_RANGE)
    truth = largest / QMAX
    if math.isclose(value, truth, rel_tol=1e-3):
        return correct(f"正解です。スケール = {largest:g} / {QMAX} ≈ {truth:.6f}。1 目盛りが約 {truth:.4f} で、"
                       f"誤差は最大その半分です。",
                       f"Right: scale = {largest:g} / {QMAX} ≈ {truth:.6f}. One step is about {truth:.4f}, and "
                       f"the error is at most half of that.")
    if math.isclose(value, 1 / truth, rel_tol=1e-3):
        return hint("逆数になっています。スケールは「整数 1 つぶんが、元の値でいくつか」です。",
                    "That is the inverse: the scale is how much one integer step is worth in the original values.")
    if math.isclose(value, (SCALE_RANGE[1] - SCALE_RANGE[0]) / (QMAX - QMIN), rel_tol=1e-3):
        return hint("それは非対称(アフィン)の 255 目盛りの式です。対称では 0 をはさんで片側に何目盛りありますか。",
                    "That is the affine formula with 255 steps. With symmetric quantization, how many steps lie on "
                    "each side of 0?")
    if math.isclose(value, largest / 128, rel_tol=1e-3):
        return hint("int8 の正の側は 128 まで届きません。いちばん大きい正の整数はいくつですか。",
                    "The positive side of int8 does not reach 128. What is the largest positive integer?")
    return hint("対称量子化のスケールは「いちばん大きい絶対値 ÷ いちばん大きい正の整数」です。",
                "For symmetric quantization the scale is the largest absolute value ÷ the largest positive integer.")


SIZE_COUNT = 1_000_000  # exercise 2: how many weights


def check_size(answer) -> Feedback:
    """Exercise 2: (bytes in FP32, bytes in INT8) of SIZE_COUNT weights."""
    if answer is None:
        return hint(*NO_ANSWER)
    if isinstance(answer, (str, bytes)) or not isinstance(answer, (tuple, list)) or len(answer) != 2:
        return hint("(FP32 のバイト数, INT8 のバイト数) の2つの数で答えます(例: (10, 5))。",
                    "Answer with two numbers, (bytes in FP32, bytes in INT8), e.g. (10, 5).")
    values = [as_number(v) for v in answer]
    if any(v is None for v in values):
        return hint("2つとも数で答えます。", "Both must be numbers.")
    fp32, int8 = values
    truth = (SIZE_COUNT * bytes_per_number("float32"), SIZE_COUNT * bytes_per_number("int8"))
    if (fp32, int8) == truth:
        return correct(f"正解です。FP32 で {truth[0]:,} バイト(約 4 MB)、INT8 で {truth[1]:,} バイト(約 1 MB)。"
                       f"4 分の 1 です。",
                       f"Right: {truth[0]:,} bytes in FP32 (about 4 MB), {truth[1]:,} bytes in INT8 (about 1 MB): "
                       f"a quarter.")
    if (fp32, int8) == (truth[0] * 8, truth[1] * 8):
        return hint("それはビットの数です。1 バイトは 8 ビットです。", "Those are bits: one byte is 8 bits.")
    if (fp32, int8) == truth[::-1]:
        return hint("順番が逆です。先に FP32、次に INT8 を書きます。", "The order is reversed: FP32 first, then INT8.")
    if (fp32, int8) == (bytes_per_number("float32"), bytes_per_number("int8")):
        return hint("それは数 1 個ぶんです。重みの個数を掛けます。",
                    "That is for one number: multiply by the number of weights.")
    if fp32 != truth[0]:
        return hint(f"FP32 のほうが違います。FP32 は 1 個 {bytes_per_number('float32')} バイトです。",
                    f"The FP32 number is off: FP32 takes {bytes_per_number('float32')} bytes per number.")
    return hint("INT8 のほうが違います。INT8 は 1 個何バイトでしょう(8 ビット)。",
                "The INT8 number is off: how many bytes does one INT8 number (8 bits) take?")


# Exercise 3: a weight 1.0 gets an update of +0.001; int8 is symmetric with scale 0.01.
VANISH_QUESTION = {"w": 1.0, "delta": 1e-3, "scale": 0.01}

_YES = {"yes", "true", "survives", "残る", "はい"}
_NO = {"no", "false", "vanishes", "消える", "いいえ"}

_VANISH_CLUES = {
    "float32": ("float32 の eps は約 1.2e-7。0.001 はそれよりずっと大きいです。",
                "float32's eps is about 1.2e-7; 0.001 is far larger."),
    "float16": ("float16 の 1.0 のすぐ上の数は 1 + 0.000977。0.001 はその半分より大きいですか。",
                "In float16 the next number above 1.0 is 1 + 0.000977. Is 0.001 more than half of that gap?"),
    "bfloat16": ("bfloat16 の 1.0 のすぐ上の数は 1 + 0.0078。0.001 はその半分に届きますか。",
                 "In bfloat16 the next number above 1.0 is 1 + 0.0078. Does 0.001 reach half of that gap?"),
    "int8": ("スケール 0.01 の int8 では、1 目盛りが 0.01。0.001 は半目盛りに届きますか。",
             "With scale 0.01 one int8 step is 0.01. Does 0.001 reach half a step?"),
}


def vanish_truth() -> dict[str, bool]:
    """Exercise 3's answers, computed: whether the update survives in each format."""
    q = VANISH_QUESTION
    return {fmt: survives(q["w"], q["delta"], fmt, q["scale"]) for fmt in FORMATS}


def _yes_no(value) -> bool | None:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    return True if word in _YES else False if word in _NO else None


def check_vanish(answers) -> Feedback:
    """Exercise 3: for each format, True if the update +0.001 to the weight 1.0 survives, False if it vanishes."""
    if answers is None:
        return hint(*NO_ANSWER)
    if not isinstance(answers, dict):
        return hint("{'float32': True, 'float16': False, ...} のような辞書で答えます。",
                    "Answer with a dict such as {'float32': True, 'float16': False, ...}.")
    missing = [fmt for fmt in FORMATS if fmt not in answers]
    if missing:
        names = ", ".join(missing)
        return hint(f"まだ答えていない形式があります: {names}", f"Some formats have no answer yet: {names}")
    truth = vanish_truth()
    wrong = []
    for fmt in FORMATS:
        given = _yes_no(answers[fmt])
        if given is None:
            return hint(f"{fmt}: True(残る)か False(消える)で答えます({answers[fmt]!r} が書かれています)。",
                        f"{fmt}: answer True (survives) or False (vanishes), not {answers[fmt]!r}.")
        if given != truth[fmt]:
            wrong.append(fmt)
    if wrong:
        return hint("\n".join(f"{fmt}: {_VANISH_CLUES[fmt][0]}" for fmt in wrong),
                    "\n".join(f"{fmt}: {_VANISH_CLUES[fmt][1]}" for fmt in wrong))
    kept = ", ".join(fmt for fmt in FORMATS if truth[fmt])
    lost = ", ".join(fmt for fmt in FORMATS if not truth[fmt])
    return correct(f"4つとも正解です。残る: {kept}。消える: {lost}。更新が目盛りの半分より小さいと、丸めで消えます。",
                   f"All four right. Survives: {kept}. Vanishes: {lost}. An update smaller than half the gap "
                   f"between neighbouring numbers is rounded away.")
