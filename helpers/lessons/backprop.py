"""Notebook 04, step 4 backpropagation: the exercises and their checkers. The tiny network and its
gradients are in backprop_network, the figures in backprop_figures; notebook 04 reaches all of
them through this module."""

from __future__ import annotations

import math

# Notebook 04 reaches everything it uses through this module (`lesson` there).
from .backprop_figures import plot_grad_bars, plot_graph, slope_explorer  # noqa: F401
from .backprop_network import (  # noqa: F401
    chain_rule_grads,
    chain_rule_steps,
    finite_difference_grads,
    flat_grads,
    tiny_forward,
    tiny_loss,
    tiny_network,
    weight_grads,
)
from .code_exercises import GRADIENT
from .feedback import NO_ANSWER, Feedback, as_number, correct, hint

# --- Exercises of notebook 04 ---------------------------------------------------------------------

GRADIENT_QUESTION = {"w": 1.5, "x": 3.0, "y": 2.0}  # dL/dw of (w·x - y)^2 = 2 (w·x - y) x = 2 × 2.5 × 3 = 15
CHAIN_QUESTION = (("dL/dp", -4.0), ("dp/dh", 1.5), ("dh/dz", 1.0), ("dz/dw1", 3.0))  # product -18
ACCUMULATE_QUESTION = 3.0  # .grad after one backward(); after a second one without zero_grad: 6


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-3, abs_tol=1e-3)


_NUMBER_HINT = ("1つの数で答えます(例: -3.5)。", "Answer with one number (e.g. -3.5).")


def check_gradient(answer) -> Feedback:
    """Notebook 04: dL/dw of L = (w·x - y)^2 at w = 1.5, x = 3, y = 2."""
    if answer is None:
        return hint(*NO_ANSWER)
    value = as_number(answer)
    if value is None:
        return hint(*_NUMBER_HINT)
    w, x, y = GRADIENT_QUESTION["w"], GRADIENT_QUESTION["x"], GRADIENT_QUESTION["y"]
    miss = w * x - y
    truth = 2 * miss * x
    if _close(value, truth):
        return correct(f"正解です。dL/dw = 2(w·x - y)·x = 2 × {miss:g} × {x:g} = {truth:g}。正なので、w を"
                       f"少し下げると損失が下がります。",
                       f"Right: dL/dw = 2(w·x - y)·x = 2 × {miss:g} × {x:g} = {truth:g}. It is positive, so "
                       f"lowering w a little lowers the loss.")
    if _close(value, -truth):
        return hint("符号が逆です。予測 w·x は正解 y より大きいですか、小さいですか。",
                    "The sign is flipped: is the prediction w·x above or below the answer y?")
    if _close(value, 2 * miss):
        return hint("内側の w·x を w で微分した分(x)を掛け忘れていませんか。",
                    "Did you forget to multiply by the inner derivative, d(w·x)/dw = x?")
    if _close(value, miss * x):
        return hint("2乗を微分すると前に 2 が出ます。", "Differentiating a square brings down a factor 2.")
    if _close(value, miss ** 2):
        return hint("それは損失そのものです。勾配は、w を少し動かしたときの損失の変わり方です。",
                    "That is the loss itself; the gradient is how the loss changes when w moves a little.")
    return hint("L = (w·x - y)² を w で微分します:外側の2乗と内側の w·x、2つの微分の積です。",
                "Differentiate L = (w·x - y)² by w: the outer square's derivative times the inner w·x's.")


def check_chain_rule(answer) -> Feedback:
    """Notebook 04: dL/dw1 from the local derivatives in CHAIN_QUESTION."""
    if answer is None:
        return hint(*NO_ANSWER)
    value = as_number(answer)
    if value is None:
        return hint(*_NUMBER_HINT)
    factors = [v for _, v in CHAIN_QUESTION]
    truth = math.prod(factors)
    if _close(value, truth):
        return correct(f"正解です。局所的な微分を全部掛けて {truth:g}。逆伝播は、この掛け算を出力側から順に"
                       f"くり返すだけです。",
                       f"Right: multiply every local derivative to get {truth:g}. Backpropagation repeats this "
                       f"multiplication, starting from the output.")
    if _close(value, sum(factors)):
        return hint("連鎖律では、局所的な微分を足すのではなく掛けます。",
                    "The chain rule multiplies the local derivatives; it does not add them.")
    if _close(value, -truth):
        return hint("符号を確かめましょう。負の数はいくつありますか。",
                    "Check the sign: how many of the numbers are negative?")
    if any(_close(value, truth / f) for f in factors if f != 0):
        return hint("掛け忘れた局所的な微分があります。4つ全部掛けます。",
                    "One local derivative is missing from the product: multiply all four.")
    return hint("dL/dw1 = dL/dp × dp/dh × dh/dz × dz/dw1。4つの数を掛けます。",
                "dL/dw1 = dL/dp × dp/dh × dh/dz × dz/dw1: multiply the four numbers.")


def check_accumulate(answer) -> Feedback:
    """Notebook 04: what w.grad holds after a second backward() of the same loss, without zero_grad."""
    if answer is None:
        return hint(*NO_ANSWER)
    value = as_number(answer)
    if value is None:
        return hint(*_NUMBER_HINT)
    once = ACCUMULATE_QUESTION
    if _close(value, 2 * once):
        return correct(f"正解です。.grad は上書きされず足されるので {once:g} + {once:g} = {2 * once:g}。"
                       f"だから毎回 zero_grad() で消してから backward() します。",
                       f"Right: .grad is added to, not replaced, so {once:g} + {once:g} = {2 * once:g}. "
                       f"That is why zero_grad() comes before every backward().")
    if _close(value, once):
        return hint("backward() は .grad を置きかえるでしょうか。上の「勾配はたまる」の実験を見直しましょう。",
                    "Does backward() replace .grad? Look again at the accumulation experiment above.")
    if _close(value, 0.0):
        return hint(".grad を消すのは zero_grad() だけです。この問題では呼んでいません。",
                    "Only zero_grad() clears .grad, and it was not called here.")
    if _close(value, once ** 2):
        return hint("2回目の勾配は1回目に掛けられるのではありません。", "The second gradient is not multiplied in.")
    return hint("1回目の backward() で .grad は 3。2回目の勾配はどう扱われるでしょう。",
                "After the first backward(), .grad is 3. What happens to the second gradient?")


gradient_exercise = GRADIENT  # notebook 04's code exercise: check(), hint(), solution()
