"""The code exercises of notebooks 01–06: each checker accepts the right code and names each mistake."""

import json
import re
import threading
from pathlib import Path

import pytest
import torch

from helpers.lessons import code_exercises as ex
from helpers.lessons.exercises import call_with_limit

ALL = [ex.SPLIT_BATCHES, ex.LINEAR, ex.MSE, ex.GRADIENT, ex.SGD_STEP, ex.TRAIN_LOOP, ex.COUNT_UPDATES]
MISTAKES = [(exercise, mistake) for exercise in ALL for mistake in exercise.mistakes]


@pytest.mark.parametrize("exercise", ALL, ids=lambda e: e.name)
def test_right_answer_is_accepted(exercise):
    feedback = exercise.check(exercise.reference)
    assert feedback.ok and "Correct" in repr(feedback)


@pytest.mark.parametrize("exercise", ALL, ids=lambda e: e.name)
def test_the_solution_shown_is_accepted(exercise):
    namespace = {"torch": torch, "math": __import__("math")}
    exec(exercise.solution_code, namespace)  # the code a learner would copy
    assert exercise.check(namespace[exercise.name]).ok


@pytest.mark.parametrize("exercise, mistake", MISTAKES,
                         ids=[f"{e.name}-{m.wrong.__name__}" for e, m in MISTAKES])
def test_each_named_mistake_gets_its_own_hint(exercise, mistake):
    feedback = exercise.check(mistake.wrong)
    assert not feedback.ok
    assert mistake.ja in feedback.message and mistake.en in feedback.message


@pytest.mark.parametrize("exercise", ALL, ids=lambda e: e.name)
def test_hint_and_solution_in_both_languages(exercise):
    assert exercise.hint_text[0] in repr(exercise.hint()) and exercise.hint_text[1] in repr(exercise.hint())
    assert f"def {exercise.name}(" in repr(exercise.solution())


def test_endless_loop_is_stopped_with_a_hint():
    def mse(prediction, target):
        while True:
            pass

    feedback = ex.MSE.check(mse)
    assert not feedback.ok and "終わらない" in feedback.message and "never ends" in feedback.message


def test_endless_loop_off_the_main_thread_is_stopped_too():
    box = []

    def spin():
        while not box:
            pass

    worker = threading.Thread(target=lambda: box.append(call_with_limit(spin, 0.2)))
    worker.start()
    worker.join(5)
    assert box and box[0].timed_out


def test_an_error_becomes_a_hint_not_a_traceback():
    feedback = ex.MSE.check(lambda prediction, target: prediction / undefined_name)  # noqa: F821
    assert not feedback.ok and "NameError" in feedback.message and "エラー" in feedback.message


@pytest.mark.parametrize("exercise, fn, ja, en", [
    (ex.MSE, lambda p, t: None, "何も返していません", "returns nothing"),
    (ex.MSE, lambda p, t: (p - t.reshape(p.shape)) ** 2, "1つの数", "one number"),
    (ex.MSE, lambda p, t: 4.5, "torch.Tensor", "torch.Tensor"),
    (ex.GRADIENT, lambda w, x, y: 3.0, "torch.Tensor", "got float"),
    (ex.MSE, "mse", "関数", "function"),
])
def test_wrong_type_gets_a_bilingual_hint(exercise, fn, ja, en):
    feedback = exercise.check(fn)
    assert not feedback.ok and ja in feedback.message and en in feedback.message


def test_missing_requires_grad_is_named():
    def gradient(w, x, y):
        w = torch.tensor(w)
        loss = ((w * x - y) ** 2).mean()
        loss.backward()
        return w.grad

    feedback = ex.GRADIENT.check(gradient)
    assert not feedback.ok and "requires_grad=True" in feedback.message


def test_an_untransposed_weight_is_named():
    feedback = ex.LINEAR.check(lambda X, W, b: X @ W + b)
    assert not feedback.ok and "X @ W.T" in feedback.message


def test_update_outside_no_grad_is_named():
    def sgd_step(parameters, lr):
        for w in parameters:
            w -= lr * w.grad

    feedback = ex.SGD_STEP.check(sgd_step)
    assert not feedback.ok and "torch.no_grad()" in feedback.message


def test_a_loop_that_steps_before_backward_is_not_accepted():
    def train_loop(model, X, y, loss_fn, optimizer, num_epochs):
        for _ in range(num_epochs):
            loss = loss_fn(model(X), y)
            optimizer.zero_grad()
            optimizer.step()
            loss.backward()

    assert not ex.TRAIN_LOOP.check(train_loop).ok


def test_the_checker_leaves_no_alarm_behind():
    import signal

    before = signal.getsignal(signal.SIGALRM)
    ex.MSE.check(ex.MSE.reference)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) is before


NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("0[0-6]_*.ipynb"))


def _code(path):
    return ["".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


@pytest.mark.parametrize("path", NOTEBOOKS[1:], ids=lambda p: p.name)
def test_every_step_notebook_has_a_code_exercise(path):
    assert any(re.search(r"^def \w+\(", c, re.M) and "_exercise.check(" in c for c in _code(path))


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.name < "05"], ids=lambda p: p.name)
def test_helpers_train_waits_until_all_five_steps_are_taught(path):
    assert "helpers.train" not in path.read_text()
