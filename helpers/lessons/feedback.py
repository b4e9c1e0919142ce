"""What every exercise checker answers: a Feedback (right, or a hint), in both languages, and the
parsing of a learner's number that all checkers share."""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real

from ..engine.text import bilines


@dataclass(frozen=True)
class Feedback:
    """A checker's answer: ok is True when correct; message says why, in the chosen language(s)."""

    ok: bool
    message: str

    def __repr__(self) -> str:
        # ◎ and △ (as on a graded Japanese test) render in every Japanese font; emoji often do not.
        # One language per line: the mark heads each language's line, so a handout keeps it whole.
        mark = bilines("◎ 正解", "◎ Correct") if self.ok else bilines("△ ヒント", "△ Hint")
        return f"{mark}\n{self.message}"

    def __bool__(self) -> bool:
        return self.ok


def correct(ja: str, en: str) -> Feedback:
    return Feedback(True, bilines(ja, en))


def hint(ja: str, en: str) -> Feedback:
    return Feedback(False, bilines(ja, en))


def as_number(answer) -> float | None:
    """An exercise answer as a float: a plain number or a one-element tensor or NumPy value.

    None for anything else, True/False, NaN and infinity included, so the checker can say "one number".
    """
    if isinstance(answer, bool):
        return None
    if not isinstance(answer, Real) and hasattr(answer, "item"):
        try:
            answer = answer.item()  # a one-element tensor or array; larger ones raise
        except (ValueError, RuntimeError):
            return None
    if isinstance(answer, bool) or not isinstance(answer, Real) or not math.isfinite(answer):
        return None
    return float(answer)


def is_whole_number(answer) -> bool:
    """True for an int-like answer (3, numpy.int64(3)); False for 3.0 and for True/False."""
    return isinstance(answer, Integral) and not isinstance(answer, bool)


NO_ANSWER = ("まだ答えが入っていません。上のセルの None を書きかえてください。",
             "No answer yet: replace None in the cell above.")
