import pytest

import helpers
from helpers.lessons import feedback as checks
from helpers.lessons import overview

RIGHT_PHASES = {key: answer for key, (_, _, answer, *_) in overview.PHASE_QUESTIONS.items()}


def test_phases_right_answer():
    feedback = helpers.check_phases(RIGHT_PHASES)
    assert feedback.ok
    assert "正解" in repr(feedback) and "Correct" in repr(feedback)


def test_phases_accept_japanese_words():
    words = {"training": "学習", "inference": "推論"}
    assert helpers.check_phases({k: words[v] for k, v in RIGHT_PHASES.items()}).ok


def test_phases_wrong_answer_names_the_item_and_hints():
    answers = dict(RIGHT_PHASES, a="inference")
    feedback = helpers.check_phases(answers)
    assert not feedback.ok
    assert "a: " in feedback.message and "Weights are fixed after grading" in feedback.message
    assert "b: " not in feedback.message  # only what is off


@pytest.mark.parametrize("answers, ja, en", [
    (None, "まだ答え", "No answer yet"),
    (["training"], "辞書", "dict"),
    ({"a": "training"}, "まだ答えていない", "b, c, d, e"),
    (dict(RIGHT_PHASES, c="learning"), "'learning'", "not 'learning'"),
])
def test_phases_bad_input_gets_bilingual_hint(answers, ja, en):
    feedback = helpers.check_phases(answers)
    assert not feedback.ok and ja in feedback.message and en in feedback.message


def test_step_order_right_answer_in_either_language():
    assert helpers.check_step_order(list(overview.STEP_ORDER)).ok
    assert helpers.check_step_order(["入力", "順伝播", "損失", "逆伝播", "更新"]).ok
    assert helpers.check_step_order(["input", "forward pass", "loss", "backward", "optimizer"]).ok


def test_step_order_points_at_first_wrong_step():
    feedback = helpers.check_step_order(["input", "forward", "backprop", "loss", "update"])
    assert not feedback.ok
    assert "3番目" in feedback.message and "Step 3" in feedback.message


@pytest.mark.parametrize("order, en", [
    (None, "No answer yet"),
    ("input forward loss backprop update", "list"),
    (["input", "forward", "loss"], "five steps (3 given)"),
    (["input", "guess", "loss", "backprop", "update"], "'guess' is not a step name"),
])
def test_step_order_bad_input(order, en):
    feedback = helpers.check_step_order(order)
    assert not feedback.ok and en in feedback.message


def test_feedback_follows_language():
    helpers.set_language("en")
    feedback = helpers.check_step_order(None)
    assert feedback.message == "No answer yet: replace None in the cell above."
    assert repr(feedback).startswith("△ Hint")


def test_phase_questions_print_every_situation(capsys):
    helpers.phase_questions()
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out[::2]] == list(overview.PHASE_QUESTIONS)
    for key, (ja, en, *_) in overview.PHASE_QUESTIONS.items():  # each language on its own line
        assert f"{key}: {ja}" in out and "   " + en in out


def test_answers_are_read_as_one_number_or_refused():
    import numpy as np
    import torch

    for given, read in [(3, 3.0), (2.5, 2.5), (torch.tensor(3.0), 3.0), (torch.tensor([2.5]), 2.5),
                        (np.float64(1.5), 1.5), (np.array([4.0]), 4.0)]:
        assert checks.as_number(given) == read
    for given in [True, False, float("nan"), float("inf"), "3", None, torch.tensor([1.0, 2.0]), [3]]:
        assert checks.as_number(given) is None, given
    assert checks.is_whole_number(3) and checks.is_whole_number(np.int64(3))
    assert not checks.is_whole_number(3.0) and not checks.is_whole_number(True)


def test_the_verdict_line_above_each_message_in_each_language():
    """What a cell shows under the answer: ◎ (right) or △ (a hint), as on a graded Japanese test."""
    shown = {}
    for lang in ("both", "ja", "en"):
        helpers.set_language(lang)
        right, wrong = checks.correct("正しい。", "Right."), checks.hint("ちがう。", "Not quite.")
        shown[lang] = repr(right), repr(wrong)
        assert bool(right) and not bool(wrong)
    # one language per line: a one-language handout drops whole lines and keeps the mark
    assert shown["both"] == ("◎ 正解\n◎ Correct\n正しい。\nRight.", "△ ヒント\n△ Hint\nちがう。\nNot quite.")
    assert shown["ja"] == ("◎ 正解\n正しい。", "△ ヒント\nちがう。")
    assert shown["en"] == ("◎ Correct\nRight.", "△ Hint\nNot quite.")
