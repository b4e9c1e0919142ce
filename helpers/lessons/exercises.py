"""Code exercises (notebooks 01–06): run the learner's function on several cases under a time limit,
name the typical mistake in both languages, and give a hint or the solution on request."""

from __future__ import annotations

import math
import signal
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from numbers import Real

import torch

from ..engine.text import bilines
from .feedback import Feedback


class _TimeUp(BaseException):
    """Raised inside the learner's code when its time is up (BaseException: a bare except cannot eat it)."""


@dataclass(frozen=True)
class Note:
    """A hint or a solution shown on request."""

    title: str
    text: str

    def __repr__(self) -> str:
        return f"{self.title}\n{self.text}"


@dataclass(frozen=True)
class Mistake:
    """A typical mistake, written as the wrong code itself, with the hint it earns."""

    wrong: Callable
    ja: str
    en: str


@dataclass(frozen=True)
class Outcome:
    """What one case gave: a result, or why there is none (raised, timed out)."""

    result: object = None
    error: BaseException | None = None
    timed_out: bool = False


def call_with_limit(thunk: Callable[[], object], seconds: float) -> Outcome:
    """Run thunk(); stop it after seconds (a signal alarm in the main thread, else a watching thread)."""
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
        def time_up(signum, frame):
            raise _TimeUp

        previous = signal.signal(signal.SIGALRM, time_up)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            return Outcome(result=thunk())
        except _TimeUp:
            return Outcome(timed_out=True)
        except Exception as err:  # the learner's own error becomes a hint, never a traceback
            return Outcome(error=err)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    box: list[Outcome] = []

    def run():
        try:
            box.append(Outcome(result=thunk()))
        except Exception as err:
            box.append(Outcome(error=err))

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    return box[0] if box else Outcome(timed_out=True)


def same(a, b, atol: float = 1e-5) -> bool:
    """True when two results agree: tensors of one shape and close values, or tuples of them."""
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(same(x, z, atol) for x, z in zip(a, b, strict=True))
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.shape == b.shape and torch.allclose(a.detach().double(), b.detach().double(), atol=atol)
    if isinstance(a, Real) and isinstance(b, Real) and not isinstance(a, bool) and not isinstance(b, bool):
        return math.isclose(a, b, abs_tol=atol)
    return type(a) is type(b) and a == b


def _where(err: BaseException) -> tuple[str, str]:
    """The line of the learner's code that raised, if it can be found: (ja, en)."""
    frames = traceback.extract_tb(err.__traceback__)
    own = [f for f in frames if not f.filename.endswith(("exercises.py", "code_exercises.py"))]
    return (f"({own[-1].lineno} 行目)", f" (line {own[-1].lineno})") if own else ("", "")


@dataclass
class CodeExercise:
    """One exercise whose answer is a function: check(fn), hint(), solution().

    cases: each takes a function, builds fresh inputs, calls it and returns what to compare.
    reference: the right function. mistakes: wrong functions with their hints, tried in order.
    describe(result, expected): a bilingual (ja, en) reason for a wrong type or shape, or None.
    """

    name: str
    cases: list
    reference: Callable
    mistakes: list = field(default_factory=list)
    hint_text: tuple = ("", "")
    solution_code: str = ""
    describe: Callable | None = None
    error_hints: dict = field(default_factory=dict)  # words in the error's message -> (ja, en)
    seconds: float = 2.0
    atol: float = 1e-5

    def _run(self, fn) -> list[Outcome]:
        return [call_with_limit(lambda case=case: case(fn), self.seconds) for case in self.cases]

    def check(self, fn) -> Feedback:
        """Run fn on every case and compare with the reference; a hint names the mistake."""
        if not callable(fn):
            return Feedback(False, bilines(f"{self.name} は関数にします(def {self.name}(...): の形)。",
                                           f"{self.name} must be a function (def {self.name}(...):)."))
        expected = [outcome.result for outcome in self._run(self.reference)]
        outcomes = self._run(fn)
        for outcome in outcomes:
            if outcome.timed_out:
                return Feedback(False, bilines(
                    f"{self.seconds:g} 秒たっても終わらなかったので止めました。終わらないループになっていませんか?",
                    f"Stopped after {self.seconds:g} s without finishing: is there a loop that never ends?"))
            if outcome.error is not None:
                err = outcome.error
                for words, reason in self.error_hints.items():
                    if words in str(err):
                        return Feedback(False, bilines(*reason))
                ja, en = _where(err)
                return Feedback(False, bilines(f"関数の中でエラーが出ました{ja}: {type(err).__name__}: {err}",
                                               f"Your function raised an error{en}: {type(err).__name__}: {err}"))
        results = [outcome.result for outcome in outcomes]
        if all(result is None for result in results):
            return Feedback(False, bilines("まだ何も返していません。関数の中身を書いて return してください。",
                                           "It returns nothing yet: write the body and return the result."))
        if all(same(r, e, self.atol) for r, e in zip(results, expected, strict=True)):
            return Feedback(True, bilines(f"{len(results)} 個の例すべてで、正しい結果と一致しました。",
                                          f"It matches the right result on all {len(results)} cases."))
        for mistake in self.mistakes:
            wrong = [outcome.result for outcome in self._run(mistake.wrong)]
            if all(same(r, w, self.atol) for r, w in zip(results, wrong, strict=True)):
                return Feedback(False, bilines(mistake.ja, mistake.en))
        if self.describe is not None:
            for result, exp in zip(results, expected, strict=True):
                reason = self.describe(result, exp)
                if reason is not None:
                    return Feedback(False, bilines(*reason))
        passed = sum(same(r, e, self.atol) for r, e in zip(results, expected, strict=True))
        return Feedback(False, bilines(
            f"{len(results)} 個の例のうち {passed} 個だけ合っています。hint() を見てみましょう。",
            f"Only {passed} of {len(results)} cases match. Try hint()."))

    def hint(self) -> Note:
        return Note(bilines("△ ヒント", "△ Hint"), bilines(*self.hint_text))

    def solution(self) -> Note:
        return Note(bilines("解答の例", "A solution"), self.solution_code.strip())


def tensor_shape_reason(result, expected):
    """A (ja, en) reason when a result is not a tensor or has another shape; None when both fit."""
    if not isinstance(result, torch.Tensor):
        return (f"torch.Tensor を返してください({type(result).__name__} が返りました)。",
                f"Return a torch.Tensor (got {type(result).__name__}).")
    if isinstance(expected, torch.Tensor) and result.shape != expected.shape:
        return (f"形が {tuple(expected.shape)} になるはずが {tuple(result.shape)} でした。",
                f"The shape should be {tuple(expected.shape)} but is {tuple(result.shape)}.")
    return None
