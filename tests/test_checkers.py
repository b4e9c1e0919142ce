"""The exercise checkers of the loop, overfitting, memory, precision, libraries and distributed lessons,
each tried as a learner answers: right in every form, each typical mistake named, bad input answered with
a hint. They live here, not beside their lesson's figures, so `make mutate` (mutation testing of the
checkers) runs them without those slower suites."""

import dataclasses
import math
import re
import threading
import time

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import helpers
from helpers.engine import data
from helpers.lessons import (
    backprop,
    code_exercises,
    distributed,
    exercises,
    forward,
    libraries,
    loop,
    loss,
    overfitting,
    overview,
    precision,
    training_vs_inference,
    update,
)
from helpers.lessons import feedback as checks
from helpers.lessons import input as lesson_input

# --- distributed ----------------------------------------------------------------------------------

def test_check_allreduce_position():
    assert distributed.check_allreduce_position((4, 5)).ok
    assert distributed.check_allreduce_position([4, 5]).ok
    assert "None" in distributed.check_allreduce_position(None).message
    assert "pair" in distributed.check_allreduce_position("4-5").message
    assert "no gradients" in distributed.check_allreduce_position((3, 4)).message
    assert "too late" in distributed.check_allreduce_position((5, 1)).message
    assert "neighbouring" in distributed.check_allreduce_position((2, 5)).message
    assert "1 to 5" in distributed.check_allreduce_position((6, 7)).message
    assert not distributed.check_allreduce_position((True, 5)).ok


def test_check_average():
    grads = torch.tensor(distributed.AVERAGE_QUESTION)
    assert distributed.check_average(grads.mean().item()).ok
    assert distributed.check_average(0.35).ok
    assert "None" in distributed.check_average(None).message
    assert "one number" in distributed.check_average("0.35").message
    assert "sum" in distributed.check_average(1.4).message
    assert "one worker's" in distributed.check_average(0.8).message
    assert "negative" in distributed.check_average(0.45).message


def test_check_batch_share():
    assert distributed.check_batch_share(32).ok
    assert "None" in distributed.check_batch_share(None).message
    assert "whole number" in distributed.check_batch_share(32.0).message
    assert "whole batch" in distributed.check_batch_share(128).message
    assert "multiply" in distributed.check_batch_share(512).message
    assert "equally" in distributed.check_batch_share(30).message


@pytest.mark.parametrize(("answer", "ok"), [
    (False, True), ("false", True), ("いいえ", True), ("no", True),
    (True, False), ("yes", False),
])
def test_check_uneven(answer, ok):
    feedback = distributed.check_uneven(answer)
    assert feedback.ok is ok
    assert len(feedback.message.splitlines()) >= 2  # a Japanese line and an English line


@pytest.mark.parametrize("bad", [float("nan"), 0.5, "maybe", [False], 0])
def test_check_uneven_answers_bad_input_with_a_hint(bad):
    feedback = distributed.check_uneven(bad)
    assert not feedback.ok and "True" in feedback.message and "False" in feedback.message
    assert not distributed.check_uneven(None).ok  # no answer yet


# --- training_vs_inference ------------------------------------------------------------------------

RIGHT_ROWS = {"a": "training", "b": "inference", "c": "inference", "d": "training", "e": "inference"}


def test_check_row():
    assert training_vs_inference.check_row(RIGHT_ROWS).ok
    assert training_vs_inference.check_row({**RIGHT_ROWS, "a": "学習", "b": "推論"}).ok
    assert not training_vs_inference.check_row(None).ok and "None" in training_vs_inference.check_row(None).message
    wrong = training_vs_inference.check_row({**RIGHT_ROWS, "b": "training"})
    assert not wrong.ok and wrong.message.startswith("b:")
    assert not training_vs_inference.check_row({"a": "training"}).ok
    assert "dict" in training_vs_inference.check_row(["training"]).message
    assert "'maybe'" in training_vs_inference.check_row({**RIGHT_ROWS, "c": "maybe"}).message


def test_check_memory_order():
    assert training_vs_inference.check_memory_order(["optimizer", "weights", "gradients", "activations"]).ok
    assert training_vs_inference.check_memory_order(["optimizer", "gradients", "weights", "activations"]).ok  # a tie
    assert training_vs_inference.check_memory_order(["オプティマイザ", "重み", "勾配", "活性値"]).ok
    assert not training_vs_inference.check_memory_order(None).ok
    wrong = training_vs_inference.check_memory_order(["weights", "optimizer", "gradients", "activations"])
    assert not wrong.ok and "Item 1" in wrong.message
    assert not training_vs_inference.check_memory_order(["optimizer", "weights", "gradients"]).ok
    assert not training_vs_inference.check_memory_order(["optimizer", "weights", "weights", "activations"]).ok
    assert "not one of the parts" in training_vs_inference.check_memory_order(["cache", "weights"]).message
    assert "list" in training_vs_inference.check_memory_order("optimizer").message


def test_check_adam_state():
    assert training_vs_inference.check_adam_state(2).ok
    assert training_vs_inference.check_adam_state(2.0).ok
    assert not training_vs_inference.check_adam_state(None).ok
    assert "momentum" in training_vs_inference.check_adam_state(1).message
    assert not training_vs_inference.check_adam_state(3).ok
    assert "number" in training_vs_inference.check_adam_state("2").message
    assert not training_vs_inference.check_adam_state(True).ok


# --- libraries ------------------------------------------------------------------------------------

def test_check_library_right():
    assert libraries.check_library({"matmul": "rocBLAS", "conv": "MIOpen", "memory": "HIP"}).ok
    assert libraries.check_library({"matmul": "hipblaslt", "conv": "miopen", "memory": "hip"}).ok
    assert libraries.check_library({"matmul": "rocBLAS / hipBLASLt", "conv": " MIOPEN ", "memory": "Hip"}).ok


def test_check_library_wrong_and_empty():
    assert not libraries.check_library(None).ok
    assert "None" in libraries.check_library(None).message
    assert not libraries.check_library("rocBLAS").ok
    missing = libraries.check_library({"matmul": "rocBLAS"})
    assert not missing.ok and "conv" in missing.message
    nvidia = libraries.check_library({"matmul": "cuBLAS", "conv": "MIOpen", "memory": "HIP"})
    assert not nvidia.ok and "NVIDIA" in nvidia.message
    swapped = libraries.check_library({"matmul": "MIOpen", "conv": "rocBLAS", "memory": "HIP"})
    assert not swapped.ok and "matmul" in swapped.message and "memory" not in swapped.message
    cpu = libraries.check_library({"matmul": "rocBLAS", "conv": "oneDNN", "memory": "HIP"})
    assert not cpu.ok and "CPU" in cpu.message


def test_check_flops():
    assert libraries.check_flops(2 * 1024 ** 3).ok
    assert libraries.check_flops(2.147483648e9).ok
    assert libraries.check_flops(2 * 8 ** 3, n=8).ok
    assert not libraries.check_flops(None).ok
    assert not libraries.check_flops("2n^3").ok
    assert not libraries.check_flops(True).ok
    only_multiplications = libraries.check_flops(1024 ** 3)
    assert not only_multiplications.ok and "addition" in only_multiplications.message
    assert "outputs" in libraries.check_flops(1024 ** 2).message
    assert not libraries.check_flops(12345).ok


def test_check_backward_ratio():
    assert libraries.check_backward_ratio(2).ok
    assert libraries.check_backward_ratio(2.0).ok
    assert not libraries.check_backward_ratio(None).ok
    assert not libraries.check_backward_ratio("2").ok
    assert "two kinds" in libraries.check_backward_ratio(1).message
    assert "together" in libraries.check_backward_ratio(3).message
    assert "Upside down" in libraries.check_backward_ratio(0.5).message
    assert not libraries.check_backward_ratio(4).ok


# --- overfitting ----------------------------------------------------------------------------------

def test_check_best_epoch():
    assert not overfitting.check_best_epoch(None)
    assert "None" in overfitting.check_best_epoch(None).message
    assert overfitting.check_best_epoch(6)
    assert overfitting.check_best_epoch(np.int64(6))
    assert "from 1" in overfitting.check_best_epoch(5).message  # the 0-based index
    assert "training loss" in overfitting.check_best_epoch(12).message
    assert "another epoch is lower" in overfitting.check_best_epoch(3).message
    assert "run from 1 to 12" in overfitting.check_best_epoch(0).message
    for bad in ("6", 6.0, True, [6]):
        feedback = overfitting.check_best_epoch(bad)
        assert not feedback and "whole number" in feedback.message


def test_check_stop_epoch():
    assert not overfitting.check_stop_epoch(None)
    assert overfitting.check_stop_epoch(9)
    assert overfitting.stop_epoch(overfitting.EXERCISE_VAL_LOSSES, overfitting.EXERCISE_PATIENCE) == 9
    assert "how many epochs" in overfitting.check_stop_epoch(6).message  # the best epoch itself
    assert "still falling" in overfitting.check_stop_epoch(3).message
    for wrong in (7, 8, 10, 12):
        feedback = overfitting.check_stop_epoch(wrong)
        assert not feedback and "count again" in feedback.message
    assert "whole number" in overfitting.check_stop_epoch("9").message


def test_check_diagnosis():
    right = {"A": "overfitting", "B": "underfitting", "C": "good", "D": "overfitting"}
    assert overfitting.check_diagnosis(right)
    assert overfitting.check_diagnosis({"A": "過学習", "B": "学習不足", "C": "ちょうどよい", "D": " Overfit "})
    assert not overfitting.check_diagnosis(None)
    assert "dict" in overfitting.check_diagnosis(["overfitting"]).message
    missing = overfitting.check_diagnosis({"A": "overfitting"})
    assert not missing and "B, C, D" in missing.message
    unknown = overfitting.check_diagnosis({**right, "C": "great"})
    assert not unknown and "'great'" in unknown.message
    wrong = overfitting.check_diagnosis({**right, "B": "good", "C": "underfitting"})
    assert not wrong
    assert "B:" in wrong.message and "C:" in wrong.message and "A:" not in wrong.message
    assert "underfitting" not in wrong.message  # a clue, not the answer


# --- loop -----------------------------------------------------------------------------------------

def test_check_epoch_count():
    q = loop.EPOCH_QUESTION
    X, y = torch.zeros(q["rows"], 1), torch.zeros(q["rows"], 1)
    per_epoch = sum(1 for _ in data.batches(X, y, q["batch_size"]))
    truth = per_epoch * q["num_epochs"]
    assert truth == math.ceil(q["rows"] / q["batch_size"]) * q["num_epochs"]
    assert loop.check_epoch_count(truth).ok
    assert loop.check_epoch_count(float(truth)).ok
    none = loop.check_epoch_count(None)
    assert not none.ok and checks.NO_ANSWER[0] in none.message
    for wrong, clue in [(per_epoch, "one epoch"), (q["num_epochs"], "once per batch"),
                        (q["rows"] * q["num_epochs"], "not one per row"),
                        (q["rows"] // q["batch_size"] * q["num_epochs"], "left over"),
                        (truth + 3, "Count the batches")]:
        feedback = loop.check_epoch_count(wrong)
        assert not feedback.ok and clue in feedback.message, (wrong, feedback.message)
        assert str(truth) not in feedback.message
    for bad in ("seventy", True, [70]):
        feedback = loop.check_epoch_count(bad)
        assert not feedback.ok and "whole number" in feedback.message


@pytest.fixture(scope="module")
def sixty_epochs():
    model = loop._mlp(16, 0)
    X, y = data.make_curve(30, seed=0)
    return helpers.train(model, X, y, loss_fn=nn.MSELoss(), lr=0.2, num_epochs=80)


def test_check_diminishing(sixty_epochs):
    losses = sixty_epochs.losses
    assert loop.loss_drop(losses, 1, 10) > loop.loss_drop(losses, 50, 60)
    for right in ("1-10", "1–10", " early ", "前半", "1 - 10 epochs"):
        assert loop.check_diminishing(right, sixty_epochs).ok, right
    assert loop.check_diminishing("1-10", losses).ok  # a list of losses works too
    wrong = loop.check_diminishing("50-60", sixty_epochs)
    assert not wrong.ok and "losses[49]" in wrong.message
    assert not loop.check_diminishing(None, sixty_epochs).ok
    form = loop.check_diminishing("both", sixty_epochs)
    assert not form.ok and "'1-10'" in form.message
    short = loop.check_diminishing("1-10", losses[:30])
    assert not short.ok and "60" in short.message
    # the checker reads the history it is given: a curve that speeds up later flips the answer
    late = [1.0] * 50 + [1.0 - 0.05 * i for i in range(1, 31)]
    assert loop.check_diminishing("50-60", late).ok and not loop.check_diminishing("1-10", late).ok


def test_check_lr_regimes():
    right = {"a": "slow", "b": "good", "c": "diverge"}
    assert loop.check_lr_regimes(right).ok
    assert loop.check_lr_regimes({"a": "遅い", "b": "ちょうどよい", "c": "発散"}).ok
    wrong = loop.check_lr_regimes({"a": "good", "b": "good", "c": "diverge"})
    assert not wrong.ok and "a (lr = 0.0001)" in wrong.message and "b (" not in wrong.message
    assert not loop.check_lr_regimes(None).ok
    assert "dict" in loop.check_lr_regimes(["slow"]).message
    assert "c" in loop.check_lr_regimes({"a": "slow", "b": "good"}).message
    unknown = loop.check_lr_regimes({"a": "fast", "b": "good", "c": "diverge"})
    assert not unknown.ok and "'fast'" in unknown.message


# --- precision ------------------------------------------------------------------------------------

def test_check_scale():
    assert not precision.check_scale(None).ok
    assert precision.check_scale(2 / 127).ok
    assert precision.check_scale(0.015748).ok
    assert precision.check_scale(torch.tensor(2 / 127)).ok
    assert "255" in precision.check_scale(4 / 255).message
    assert "128" in precision.check_scale(2 / 128).message
    assert "inverse" in precision.check_scale(63.5).message
    assert not precision.check_scale(0.1).ok
    assert not precision.check_scale("2/127").ok and "number" in precision.check_scale("2/127").message
    assert not precision.check_scale(True).ok


def test_check_size():
    assert not precision.check_size(None).ok
    assert precision.check_size((4_000_000, 1_000_000)).ok
    assert precision.check_size([4e6, 1e6]).ok
    assert "bits" in precision.check_size((32_000_000, 8_000_000)).message
    assert "reversed" in precision.check_size((1_000_000, 4_000_000)).message
    assert "multiply" in precision.check_size((4, 1)).message
    assert "INT8" in precision.check_size((4_000_000, 2_000_000)).message
    assert "FP32" in precision.check_size((2_000_000, 1_000_000)).message
    assert not precision.check_size(4_000_000).ok
    assert not precision.check_size(("4MB", "1MB")).ok


def test_check_vanish():
    truth = {"float32": True, "float16": True, "bfloat16": False, "int8": False}
    assert precision.vanish_truth() == truth
    assert not precision.check_vanish(None).ok
    assert precision.check_vanish(truth).ok
    assert precision.check_vanish({"float32": "yes", "float16": "残る", "bfloat16": "no", "int8": "消える"}).ok
    wrong = dict(truth, float16=False)
    feedback = precision.check_vanish(wrong)
    assert not feedback.ok and "float16" in feedback.message and "bfloat16" not in feedback.message
    assert "int8" in precision.check_vanish({"float32": True}).message
    assert not precision.check_vanish({**truth, "int8": "maybe"}).ok
    assert not precision.check_vanish([True, True, False, False]).ok


# --- every checker, every kind of answer, in each language ------------------------------------------

RIGHT_DIAGNOSIS = {"A": "overfitting", "B": "underfitting", "C": "good", "D": "overfitting"}
RIGHT_LR_REGIMES = {"a": "slow", "b": "good", "c": "diverge"}
RIGHT_VERDICTS = {"a": "too large", "b": "too small", "c": "good"}
RIGHT_VANISH = {"float32": True, "float16": True, "bfloat16": False, "int8": False}
RIGHT_PHASES = {key: answer for key, (_, _, answer, *_) in overview.PHASE_QUESTIONS.items()}
EPOCHS = loop.EPOCH_QUESTION
LATE_CURVE = [1.0] * 50 + [1.0 - 0.05 * i for i in range(1, 31)]

# (checker, answers): one answer for each way in: none yet, the wrong kind, each named mistake, right.
ANSWERS = [
    (helpers.check_phases, [None, ["training"], {"a": "training"}, dict(RIGHT_PHASES, c="learning"),
                            dict(RIGHT_PHASES, a="inference"), RIGHT_PHASES]),
    (helpers.check_step_order, [None, "input forward", ["input", "forward"], ["input", "guess", "loss", "x", "y"],
                                ["input", "forward", "backprop", "loss", "update"],
                                ["input", "forward", "loss", "backprop", "update"]]),
    (lesson_input.check_shape, [None, "365, 4", (365, 4, 1), (4, 365), (366, 4), (365, 5), (365, 4)]),
    (lesson_input.check_batch_count, [None, 4.0, 0, 3, 5, 4]),
    (forward.check_linear_output, [None, "2.5", 10.5, 2.0, 3.0, 2.5]),
    (forward.check_param_count, [None, 16.5, 12, 7, 15, 16]),
    (forward.check_filter, [None, 3, "a", "b", "d", " C "]),
    (loss.check_miss, [None, "3", -3, 13, 9, 3]),
    (loss.check_squared_error, [None, [3.5], 0, 2.25, 7, 14, 1.5, 3.5]),
    (loss.check_loss_order, [None, "cab", ["a", "b"], ["b", "a", "c"], ["a", "c", "b"], ["c", "a", "b"]]),
    (backprop.check_gradient, [None, "15", -15, 5, 7.5, 30, 15]),
    (backprop.check_chain_rule, [None, "-18", 18, -6.5, 100, -18]),
    (backprop.check_accumulate, [None, "6", 3, 0, 9, 5, 6]),
    (update.check_new_weight, [None, "1.95", 2.05, 1.5, 0.05, 7, 1.95]),
    (update.check_direction, [None, ["down", "up"], {"a": "down"}, {"a": "sideways", "b": "up"},
                              {"a": "up", "b": "up"}, {"a": "down", "b": "up"}]),
    (update.check_lr_verdict, [None, "too small", {"a": "too large"}, dict(RIGHT_VERDICTS, c="fine"),
                               dict(RIGHT_VERDICTS, a="good", c="too large"), RIGHT_VERDICTS]),
    (loop.check_epoch_count, [None, "seventy", 7, 10, 2000, 60, 73, 70]),
    (lambda answer: loop.check_diminishing(answer, LATE_CURVE), [None, "both", "1-10", "50-60"]),
    (lambda answer: loop.check_diminishing(answer, LATE_CURVE[:30]), ["1-10"]),
    (loop.check_lr_regimes, [None, ["slow"], {"a": "slow"}, dict(RIGHT_LR_REGIMES, a="fast"),
                             dict(RIGHT_LR_REGIMES, a="good"), RIGHT_LR_REGIMES]),
    (overfitting.check_best_epoch, [None, "6", 0, 5, 12, 3, 6]),
    (overfitting.check_stop_epoch, [None, "9", 6, 3, 7, 9]),
    (overfitting.check_diagnosis, [None, ["overfitting"], {"A": "overfitting"}, dict(RIGHT_DIAGNOSIS, C="great"),
                                   dict(RIGHT_DIAGNOSIS, B="good"), RIGHT_DIAGNOSIS]),
    (training_vs_inference.check_row, [None, ["training"], {"a": "training"}, dict(RIGHT_ROWS, c="maybe"),
                                       dict(RIGHT_ROWS, b="training"), RIGHT_ROWS]),
    (training_vs_inference.check_memory_order, [None, "optimizer", ["cache"], ["optimizer", "weights"],
                                                ["weights", "optimizer", "gradients", "activations"],
                                                ["optimizer", "weights", "gradients", "activations"]]),
    (training_vs_inference.check_adam_state, [None, "2", 1, 3, 2]),
    (precision.check_scale, [None, "2/127", 4 / 255, 2 / 128, 63.5, 0.1, 2 / 127]),
    (precision.check_size, [None, 4_000_000, ("4MB", "1MB"), (32_000_000, 8_000_000), (1_000_000, 4_000_000),
                            (4, 1), (4_000_000, 2_000_000), (2_000_000, 1_000_000), (5, 7), (4_000_000, 1_000_000)]),
    (precision.check_vanish, [None, [True], {"float32": True}, dict(RIGHT_VANISH, int8="maybe"),
                              dict(RIGHT_VANISH, float16=False), RIGHT_VANISH]),
    (libraries.check_library, [None, "rocBLAS", {"matmul": "rocBLAS"},
                               {"matmul": "cuBLAS", "conv": "MIOpen", "memory": "HIP"},
                               {"matmul": "MIOpen", "conv": "rocBLAS", "memory": "HIP"},
                               {"matmul": "rocBLAS", "conv": "MIOpen", "memory": "HIP"}]),
    (libraries.check_flops, [None, "2n^3", 1024 ** 3, 1024 ** 2, 2 * 1024 ** 2, 12345, 2 * 1024 ** 3]),
    (libraries.check_backward_ratio, [None, "2", 1, 3, 0.5, 4, 2]),
    (distributed.check_allreduce_position, [None, "4-5", (3, 4), (5, 1), (2, 5), (6, 7), (4, 5)]),
    (distributed.check_average, [None, "0.35", 1.4, 0.8, 0.45, 0.1, 0.35]),
    (distributed.check_batch_share, [None, 32.0, 128, 512, 30, 32]),
    (distributed.check_uneven, [None, "maybe", True, False]),
]
CASES = [pytest.param(checker, answer, id=f"{i}-{j}") for i, (checker, answers) in enumerate(ANSWERS)
         for j, answer in enumerate(answers)]
_JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def answered(checker, answer, lang):
    helpers.set_language(lang)
    try:
        return checker(answer)
    finally:
        helpers.set_language(None)


@pytest.mark.parametrize("checker, answer", CASES)
def test_every_answer_is_answered_in_japanese_and_in_english(checker, answer):
    """Each language's reader gets a whole message in that language: Japanese first, then English."""
    ja, en, both = (answered(checker, answer, lang) for lang in ("ja", "en", "both"))
    assert ja.ok is en.ok is both.ok
    assert isinstance(ja.message, str) and isinstance(en.message, str)
    assert both.message == f"{ja.message}\n{en.message}"
    assert _JAPANESE.search(ja.message), ja.message
    assert en.message != en.message.upper(), en.message  # a hint, not a shout


def test_each_checker_has_its_right_answer_and_a_hint_in_the_table():
    for checker, answers in ANSWERS:
        if len(answers) == 1:
            continue
        verdicts = [bool(checker(answer)) for answer in answers]
        assert verdicts[-1] and not any(verdicts[:-1]), (checker, verdicts)


# (checker, value, tolerance, "abs" or "rel"): the right answer or a named mistake, and how near counts.
NEAR_MISSES = [
    (forward.check_linear_output, 2.5, 1e-6, "abs"),  # right: 2×3 + (-1)×4 + 0.5
    (forward.check_linear_output, 2.0, 1e-6, "abs"),  # the bias forgotten
    (forward.check_linear_output, 10.5, 1e-6, "abs"),  # the sign of a weight lost
    (loss.check_squared_error, 3.5, 1e-3, "abs"),  # right
    (loss.check_squared_error, 0.0, 1e-3, "abs"),  # signed misses cancel
    (loss.check_squared_error, 1.5, 1e-3, "abs"),  # the mean absolute error
    (loss.check_squared_error, 14.0, 1e-3, "abs"),  # the sum, not the mean
    (loss.check_squared_error, 2.25, 1e-3, "abs"),  # averaged, then squared
    (update.check_new_weight, 1.95, 1e-6, "abs"),  # right: 2.0 - 0.1 × 0.5
    (update.check_new_weight, 2.05, 1e-6, "abs"),  # the wrong direction
    (update.check_new_weight, 1.5, 1e-6, "abs"),  # no learning rate
    (update.check_new_weight, 2.5, 1e-6, "abs"),  # no learning rate, wrong direction
    (update.check_new_weight, 0.05, 1e-6, "abs"),  # the step, not the new weight
    (update.check_new_weight, -0.05, 1e-6, "abs"),
    (distributed.check_average, 0.35, 1e-6, "abs"),  # right: the mean of four workers
    (distributed.check_average, 1.4, 1e-6, "abs"),  # the sum
    (distributed.check_average, 0.8, 1e-6, "abs"),  # one worker's gradient
    (libraries.check_flops, 2 * 1024 ** 3, 1e-6, "rel"),  # right
    (libraries.check_flops, 1024 ** 3, 1e-6, "rel"),  # the multiplications only
    (libraries.check_flops, 1024 ** 2, 1e-6, "rel"),  # about the outputs
    (libraries.check_flops, 2 * 1024 ** 2, 1e-6, "rel"),
    (libraries.check_backward_ratio, 2.0, 0.01, "abs"),  # right
    (libraries.check_backward_ratio, 1.0, 0.01, "abs"),
    (libraries.check_backward_ratio, 3.0, 0.01, "abs"),
    (libraries.check_backward_ratio, 0.5, 0.01, "abs"),
    (precision.check_scale, 2 / 127, 1e-3, "rel"),  # right
    (precision.check_scale, 63.5, 1e-3, "rel"),  # the inverse
    (precision.check_scale, 4 / 255, 1e-3, "rel"),  # 255 steps for the range
    (precision.check_scale, 2 / 128, 1e-3, "rel"),  # 128 steps
]


@pytest.mark.parametrize("checker, value, tolerance, kind", NEAR_MISSES)
def test_near_misses_on_both_sides_of_each_tolerance(checker, value, tolerance, kind):
    """Half the tolerance away gets the same answer as the value itself; three tolerances away does not."""
    def at(distance):
        return value + distance if kind == "abs" else value * (1 + distance)

    helpers.set_language("en")
    exact = checker(value)
    for inside in (at(tolerance / 2), at(-tolerance / 2)):
        assert checker(inside).message == exact.message and checker(inside).ok is exact.ok, inside
    for outside in (at(3 * tolerance), at(-3 * tolerance)):
        assert checker(outside).message != exact.message, outside


@pytest.mark.parametrize("checker, value", [(c, v) for c, v, *_ in NEAR_MISSES if c(v).ok])
def test_the_right_number_is_right_as_a_tensor_a_numpy_number_and_a_one_element_array(checker, value):
    for typed in (torch.tensor(value, dtype=torch.float64), np.float64(value), np.array([value]),
                  torch.tensor([value], dtype=torch.float64)):
        assert checker(typed).ok, type(typed)
    assert not checker(str(value)).ok  # a string is not read as a number: the hint asks for one


def test_the_batch_count_names_every_batch_and_the_smaller_last_one():
    helpers.set_language("en")
    assert lesson_input.check_batch_count(4).message == ("Right: 4 batches (32, 32, 32, 4 rows). "
                                                         "Only the last one is smaller.")
    assert lesson_input.check_batch_count(1).message.startswith("Too few: 1 batches hold at most 32 rows")
    assert lesson_input.check_batch_count(0).message == "There is at least one batch."
    assert lesson_input.check_batch_count(5).message.startswith("Too many: 4 batches already hold all 100 rows")


# --- the code exercises' checking (exercises.py) --------------------------------------------------------

@pytest.mark.parametrize("a, b, atol, agree", [
    (0.0, 5e-6, 1e-5, True), (0.0, 3e-5, 1e-5, False), (0.0, 5e-6, 1e-7, False), (1, 1.0, 1e-5, True),
    (torch.zeros(2), torch.full((2,), 5e-6), 1e-5, True), (torch.zeros(2), torch.full((2,), 3e-5), 1e-5, False),
    (torch.zeros(2, 1), torch.zeros(2), 1e-5, False),  # the same numbers in another shape
    ([torch.zeros(1), 1.0], (torch.zeros(1), 1.0), 1e-5, True), ([0.0], [5e-6], 1e-7, False),
    ([1.0], [1.0, 2.0], 1e-5, False), ([1.0], 1.0, 1e-5, False), (1.0, [1.0], 1e-5, False),
    (True, 1, 1e-5, False), (1, True, 1e-5, False), (True, True, 1e-5, True),  # True is no number here
    ("a", "a", 1e-5, True), ("a", "b", 1e-5, False), (None, None, 1e-5, True), (None, 0, 1e-5, False),
])
def test_a_result_agrees_with_the_right_one_within_the_tolerance_and_in_kind(a, b, atol, agree):
    assert exercises.same(a, b, atol) is agree
    assert exercises.same(b, a, atol) is agree


def test_the_default_tolerance_of_results_is_1e_5():
    assert exercises.same(1.0, 1.0 + 5e-6) and not exercises.same(1.0, 1.0 + 3e-5)


def test_a_wrong_type_or_shape_is_named_and_a_fitting_one_is_not():
    assert exercises.tensor_shape_reason(4.5, torch.zeros(1)) == (
        "torch.Tensor を返してください(float が返りました)。", "Return a torch.Tensor (got float).")
    assert exercises.tensor_shape_reason(torch.zeros(3), torch.zeros(3, 1)) == (
        "形が (3, 1) になるはずが (3,) でした。", "The shape should be (3, 1) but is (3,).")
    assert exercises.tensor_shape_reason(torch.zeros(3), torch.zeros(3)) is None
    assert exercises.tensor_shape_reason(torch.zeros(3), [0.0]) is None  # nothing to compare the shape with


def _double(x):
    return 2 * x


DOUBLE = exercises.CodeExercise(
    name="double", reference=_double, seconds=0.5, describe=exercises.tensor_shape_reason,
    cases=[lambda fn: fn(torch.tensor([1.0])), lambda fn: fn(torch.tensor([2.0, 3.0])),
           lambda fn: fn(torch.tensor([0.5]))],
    mistakes=[exercises.Mistake(lambda x: 2 * x + 1, "1 多い。", "One too many.")],
    error_hints={"must match the size": ("大きさ。", "The sizes do not fit.")})


def learner_code(source):
    """A function as typed into a notebook cell (its own file name, so its line numbers are its own)."""
    namespace = {}
    exec(compile(source, "<cell>", "exec"), namespace)
    return namespace["double"]


@pytest.mark.parametrize("fn, ok, en", [
    (lambda x: x * 2, True, "It matches the right result on all 3 cases."),
    (lambda x: 2 * x + 5e-6, True, "It matches the right result on all 3 cases."),  # within the tolerance
    (lambda x: 2 * x + 1e-4, False, "Only 0 of 3 cases match. Try hint()."),
    (lambda x: 2 * x + 1, False, "One too many."),
    (lambda x: 2 * x if len(x) > 1 or x.item() > 0.5 else x, False, "Only 2 of 3 cases match. Try hint()."),
    (lambda x: (2 * x).unsqueeze(0), False, "The shape should be (1,) but is (1, 1)."),
    (lambda x: None, False, "It returns nothing yet: write the body and return the result."),
    (lambda x: x + torch.zeros(5), False, "The sizes do not fit."),
    ("double", False, "double must be a function (def double(...):)."),
    (learner_code("def double(x):\n    y = 2 * x\n    return y / undefined\n"), False,
     "Your function raised an error (line 3): NameError: name 'undefined' is not defined"),
])
def test_the_code_checker_answers_each_kind_of_function(fn, ok, en):
    helpers.set_language("en")
    feedback = DOUBLE.check(fn)
    assert (feedback.ok, feedback.message) == (ok, en)


def test_the_code_checker_works_off_the_main_thread_too():
    """A widget's callback may run the checker in another thread: no alarm there, a watching thread instead."""
    helpers.set_language("en")
    box = []
    fns = [_double, learner_code("def double(x):\n    return x / undefined\n")]
    worker = threading.Thread(target=lambda: box.extend(DOUBLE.check(fn) for fn in fns))
    worker.start()
    worker.join(10)
    assert [f.ok for f in box] == [True, False]
    assert box[1].message == "Your function raised an error (line 2): NameError: name 'undefined' is not defined"


def test_an_endless_loop_that_was_stopped_does_not_run_on():
    spins = []

    def double(x):
        while True:
            spins.append(1)

    assert DOUBLE.check(double).ok is False
    seen = len(spins)
    time.sleep(0.2)
    assert len(spins) == seen  # stopped, not left spinning in the background


# --- properties of single checkers -------------------------------------------------------------------

@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.lists(st.floats(0, 10), min_size=60, max_size=61))
def test_the_larger_drop_is_the_one_the_hint_says_to_compute(losses):
    """The hint: compare losses[0] - losses[9] with losses[49] - losses[59]; 60 epochs are enough."""
    early, late = losses[0] - losses[9], losses[49] - losses[59]
    if early == late:
        return  # a tie: neither drop is larger
    right, wrong = ("1-10", "50-60") if early > late else ("50-60", "1-10")
    assert loop.check_diminishing(right, losses).ok and not loop.check_diminishing(wrong, losses).ok


def test_the_uneven_split_question_reads_true_and_false_in_words():
    helpers.set_language("en")
    for right in (False, "false", " FALSE ", "no", "いいえ"):
        assert distributed.check_uneven(right).ok, right
    for wrong in (True, "true", "True ", "yes", "はい"):
        feedback = distributed.check_uneven(wrong)
        assert not feedback.ok and feedback.message.startswith("64 is not divisible by 3."), wrong
    right = distributed.check_uneven(False).message
    assert "64 rows split into 22, 21, 21." in right and "(22/64 and so on)" in right


@pytest.mark.parametrize("pair, en", [
    ((True, 5), "Answer with a pair of step numbers, such as (1, 2)."),  # True is no step number
    ((1, 2, 3), "Answer with a pair of step numbers, such as (1, 2)."),
    ((5, 6), "The steps are numbered 1 to 5."), ((0, 1), "The steps are numbered 1 to 5."),
    ((5, 1), "After the update is too late"), ((3, 4), "There are no gradients there yet"),
])
def test_the_all_reduce_position_at_the_ends_of_the_steps(pair, en):
    helpers.set_language("en")
    assert distributed.check_allreduce_position(pair).message.startswith(en)


def test_the_share_of_a_batch_is_a_whole_number_of_rows():
    assert distributed.check_batch_share(32).ok and distributed.check_batch_share(np.int64(32)).ok
    assert not distributed.check_batch_share(32.0).ok  # rows are counted, not measured


@pytest.mark.parametrize("checker, answer, en", [
    (backprop.check_accumulate, 9, "The second gradient is not multiplied in."),  # 3², not 3 + 3
    (loss.check_miss, 13, "Did you add the prediction and the answer?"),
    (loss.check_miss, 14, "Think of how far apart"),
    (loss.check_loss_order, ["c", "a", "b"], "Right (c: 0.11, a: 1.08, b: 3.00)."),  # -log of 0.90, 0.34, 0.05
    (loss.check_loss_order, ["a", "c", "b"], "The higher the probability of the right class"),  # b last is right
    (loss.check_loss_order, ["b", "a", "c"], "The largest loss goes to the model"),
    (overfitting.check_best_epoch, 1, "Epoch 1 has validation loss 0.92; another epoch is lower."),  # 1 counts
    (overfitting.check_best_epoch, 12, "The last epoch has the lowest training loss"),
    (overfitting.check_best_epoch, 13, "The epochs run from 1 to 12 (got 13)."),
    (precision.check_vanish, RIGHT_VANISH, "All four right. Survives: float32, float16. Vanishes: bfloat16, int8."),
    (update.check_lr_verdict, RIGHT_VERDICTS, "All three right. The learning rates were a = 1.1, b = 0.01, c = 0.4."),
])
def test_the_message_a_reader_gets_for_an_answer_at_a_boundary(checker, answer, en):
    helpers.set_language("en")
    assert checker(answer).message.startswith(en)


# The typical mistakes as a learner might write them: other words, the same behaviour. Each must get the
# hint of its mistake (tests/test_exercises.py submits the checker's own wrong code, which names itself).
LEARNER_MISTAKES = [
    ("SPLIT_BATCHES", 0, "def f(X, y, b):\n    n = len(X) - len(X) % b\n"
                         "    return [(X[s:s + b], y[s:s + b]) for s in range(0, n, b)]"),
    ("SPLIT_BATCHES", 1, "def f(X, y, b):\n    out = []\n    for s in range(0, len(X), b):\n"
                         "        out.append((X[s:s + b], y))\n    return out"),
    ("SPLIT_BATCHES", 2, "def f(X, y, b):\n    return [(X[s:s + b], y[s:s + b]) for s in range(len(X) - b + 1)]"),
    ("LINEAR", 0, "def f(X, W, b):\n    return torch.matmul(X, W.t())"),
    ("MSE", 0, "def f(p, t):\n    return torch.sum((p - t.view_as(p)) ** 2)"),
    ("MSE", 1, "def f(p, t):\n    return torch.mean(torch.abs(p - t.view_as(p)))"),
    ("MSE", 2, "def f(p, t):\n    return torch.mean(p - t.view_as(p)) ** 2"),
    ("MSE", 3, "def f(p, t):\n    return torch.mean((p - t) ** 2)"),
    ("GRADIENT", 0, "def f(w, x, y):\n    w = torch.tensor(w, requires_grad=True)\n"
                    "    return torch.mean((x * w - y) ** 2).detach()"),
    ("GRADIENT", 1, "def f(w, x, y):\n    w = torch.tensor(w, requires_grad=True)\n"
                    "    torch.sum((x * w - y) ** 2).backward()\n    return w.grad"),
    ("SGD_STEP", 0, "def f(parameters, lr):\n    with torch.no_grad():\n        for p in parameters:\n"
                    "            p.add_(lr * p.grad)"),
    ("SGD_STEP", 1, "def f(parameters, lr):\n    with torch.no_grad():\n        for p in parameters:\n"
                    "            p.sub_(p.grad)"),
    ("SGD_STEP", 2, "def f(parameters, lr):\n    with torch.no_grad():\n        for p in parameters:\n"
                    "            p = p - p.grad * lr"),
    ("TRAIN_LOOP", 0, "def f(model, X, y, loss_fn, optimizer, num_epochs):\n    for epoch in range(num_epochs):\n"
                      "        loss_fn(model(X), y).backward()\n        optimizer.step()"),
    ("TRAIN_LOOP", 1, "def f(model, X, y, loss_fn, optimizer, num_epochs):\n    for epoch in range(num_epochs):\n"
                      "        optimizer.zero_grad()\n        loss_fn(model(X), y).backward()"),
    ("TRAIN_LOOP", 2, "def f(model, X, y, loss_fn, optimizer, num_epochs):\n    optimizer.zero_grad()\n"
                      "    loss_fn(model(X), y).backward()\n    optimizer.step()"),
    ("TRAIN_LOOP", 3, "def f(model, X, y, loss_fn, optimizer, num_epochs):\n    for epoch in range(num_epochs - 1):\n"
                      "        optimizer.zero_grad()\n        loss_fn(model(X), y).backward()\n"
                      "        optimizer.step()"),
    ("COUNT_UPDATES", 0, "def f(n_rows, batch_size, num_epochs):\n    return int(n_rows / batch_size) * num_epochs"),
    ("COUNT_UPDATES", 1, "def f(n_rows, batch_size, num_epochs):\n    return num_epochs * n_rows / batch_size"),
    ("COUNT_UPDATES", 2, "def f(n_rows, batch_size, num_epochs):\n    return -(-n_rows // batch_size)"),
]


@pytest.mark.parametrize("name, index, source", LEARNER_MISTAKES,
                         ids=[f"{name}-{index}" for name, index, _ in LEARNER_MISTAKES])
def test_a_typical_mistake_in_the_learners_own_words_gets_its_hint(name, index, source):
    namespace = {"torch": torch}
    exec(compile(source, "<cell>", "exec"), namespace)
    exercise = getattr(code_exercises, name)
    helpers.set_language("en")
    feedback = exercise.check(namespace["f"])
    assert (feedback.ok, feedback.message) == (False, exercise.mistakes[index].en)


@pytest.mark.parametrize("checker, answers, keys", [
    (loop.check_lr_regimes, {"a": "good", "b": "slow", "c": "diverge"}, ["a (lr = 0.0001)", "b (lr = 0.1)"]),
    (update.check_lr_verdict, dict(RIGHT_VERDICTS, a="good", c="too large"), ["a", "c"]),
    (overfitting.check_diagnosis, dict(RIGHT_DIAGNOSIS, B="good", C="underfitting"), ["B", "C"]),
    (precision.check_vanish, dict(RIGHT_VANISH, float32=False, int8=True), ["float32", "int8"]),
    (libraries.check_library, {"matmul": "cuBLAS", "conv": "oneDNN", "memory": "HIP"}, ["matmul", "conv"]),
    (helpers.check_phases, {key: {"training": "inference", "inference": "training"}[value]
                            for key, value in RIGHT_PHASES.items()}, list(RIGHT_PHASES)),
])
def test_several_wrong_items_get_one_line_each_in_each_language(checker, answers, keys):
    for lang in ("ja", "en"):
        lines = answered(checker, answers, lang).message.splitlines()
        assert [line.split(":")[0] for line in lines] == keys, lines


@pytest.mark.parametrize("checker, answers, missing", [
    (libraries.check_library, {"matmul": "rocBLAS"}, "conv, memory"),
    (update.check_direction, {"a": "down"}, "b"), (update.check_direction, {"c": "up"}, "a, b"),
    (update.check_lr_verdict, {"a": "too large"}, "b, c"),
    (loop.check_lr_regimes, {"b": "good"}, "a, c"),
    (precision.check_vanish, {"float32": True, "int8": False}, "float16, bfloat16"),
])
def test_the_items_without_an_answer_are_listed(checker, answers, missing):
    assert answered(checker, answers, "en").message.endswith(f": {missing}")
    assert answered(checker, answers, "ja").message.endswith(f": {missing}")


@pytest.mark.parametrize("checker, answer, ja", [
    (precision.check_size, (4_000_000, 1_000_000), "正解です。FP32 で 4,000,000 バイト(約 4 MB)、INT8 で 1,000,000"),
    (distributed.check_batch_share, 32, "正解です。128 行を 4 人で分けて、1人 32 行です。"),
    (overfitting.check_best_epoch, 6, "正解です。6 エポック目の検証損失 0.29 がいちばん低く"),
    (lesson_input.check_batch_count, 3, "足りません。3 個のバッチには最大 96 行しか入らず"),
    (loss.check_squared_error, 14, "2乗の合計までは合っています。最後に個数(4)で割って平均にします。"),
])
def test_the_numbers_in_a_japanese_message(checker, answer, ja):
    assert answered(checker, answer, "ja").message.startswith(ja)


def test_answers_of_the_wrong_kind_and_an_arrow_for_a_range():
    helpers.set_language("en")
    assert distributed.check_allreduce_position(45).message == "Answer with a pair of step numbers, such as (1, 2)."
    assert loss.check_loss_order(3).message == "Answer with a list such as ['a', 'b', 'c']."
    assert precision.check_size((4_000_000, 1_000_000)).message.startswith(
        "Right: 4,000,000 bytes in FP32 (about 4 MB), 1,000,000 bytes in INT8 (about 1 MB)")
    assert loop.check_diminishing("1→10", LATE_CURVE).ok is False and loop.check_diminishing("50→60", LATE_CURVE).ok


def test_the_code_checker_names_the_line_of_a_real_exercise_and_no_line_for_a_wrong_signature():
    helpers.set_language("en")
    wrong = learner_code("def double(p, t):\n    d = p - t\n    return d / undefined\n")
    assert code_exercises.MSE.check(wrong).message == (
        "Your function raised an error (line 3): NameError: name 'undefined' is not defined")
    assert code_exercises.MSE.check(learner_code("def double(p):\n    return p\n")).message == (
        "Your function raised an error: TypeError: double() takes 1 positional argument but 2 were given")
    helpers.set_language("ja")
    assert code_exercises.MSE.check(wrong).message == (
        "関数の中でエラーが出ました(3 行目): NameError: name 'undefined' is not defined")
    assert code_exercises.MSE.check(learner_code("def double(p):\n    return p\n")).message == (
        "関数の中でエラーが出ました: TypeError: double() takes 1 positional argument but 2 were given")
    assert DOUBLE.check(lambda x: None).message == "まだ何も返していません。関数の中身を書いて return してください。"
    assert DOUBLE.check(_double).message == "3 個の例すべてで、正しい結果と一致しました。"


def test_the_hint_and_the_solution_have_their_titles():
    assert repr(DOUBLE.hint()).startswith("△ ヒント\n△ Hint\n")
    assert repr(DOUBLE.solution()).startswith("解答の例\nA solution\n")


def test_an_exercise_with_its_own_tolerance_uses_it_for_the_answer_the_mistakes_and_the_count():
    loose = dataclasses.replace(DOUBLE, atol=1e-3)
    helpers.set_language("en")
    assert loose.check(lambda x: 2 * x + 5e-4).ok
    assert loose.check(lambda x: 2 * x + 1 + 5e-4).message == "One too many."
    assert loose.check(lambda x: 2 * x + 5e-4 if len(x) > 1 else x).message == "Only 1 of 3 cases match. Try hint()."


def test_a_loop_stopped_off_the_main_thread_never_keeps_python_from_exiting():
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            pass

    outcome = []
    caller = threading.Thread(target=lambda: outcome.append(exercises.call_with_limit(spin, 0.1)))
    caller.start()
    caller.join(5)
    try:
        assert outcome[0].timed_out
        left = [t for t in threading.enumerate() if t.is_alive() and not t.daemon and t is not threading.main_thread()]
        assert left == []  # the thread still running the loop is a daemon: Python may exit without it
    finally:
        stop.set()
