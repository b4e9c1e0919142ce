"""Step 3, loss (notebook 03): hand-written losses against PyTorch, the shape check, figures, checkers."""

import logging

import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

import helpers
from helpers.engine import loss as engine_loss
from helpers.lessons import loss, style


def texts(fig):
    """Every string drawn in a figure: titles, labels, legends and free text."""
    found = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        found += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        found += [t.get_text() for t in ax.texts]
        legend = ax.get_legend()
        if legend is not None:
            found += [t.get_text() for t in legend.get_texts()]
    return [t for t in found if t]


# --- the losses by hand --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hand_mse_and_mae_match_torch(seed):
    g = torch.Generator().manual_seed(seed)
    prediction, y = torch.randn(17, 3, generator=g), torch.randn(17, 3, generator=g)
    torch.testing.assert_close(loss.mse(prediction, y), nn.MSELoss()(prediction, y))
    torch.testing.assert_close(loss.mae(prediction, y), nn.L1Loss()(prediction, y))


def test_the_source_example_miss_of_three():
    assert loss.absolute_error(5.0, 8.0) == 3.0
    assert loss.squared_error(5.0, 8.0) == 9.0


def test_squaring_stops_signs_cancelling_and_weighs_big_misses_more():
    prediction, y = torch.tensor([5.0, 11.0]), torch.tensor([8.0, 8.0])  # misses -3 and +3
    assert (prediction - y).mean() == 0  # signed misses cancel
    assert loss.mse(prediction, y) == 9.0 and loss.mae(prediction, y) == 3.0
    big = torch.tensor([4.0]), torch.tensor([0.0])
    small = torch.tensor([1.0]), torch.tensor([0.0])
    assert loss.mse(*big) / loss.mse(*small) == 16  # four times the miss, sixteen times the loss
    assert loss.mae(*big) / loss.mae(*small) == 4


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hand_softmax_and_cross_entropy_match_torch(seed):
    g = torch.Generator().manual_seed(seed)
    logits = 3 * torch.randn(11, 4, generator=g)  # (batch, classes)
    y = torch.randint(0, 4, (11,), generator=g)  # (batch,)
    probabilities = loss.softmax(logits)
    torch.testing.assert_close(probabilities, torch.softmax(logits, dim=1))
    torch.testing.assert_close(probabilities.sum(dim=1), torch.ones(11))
    torch.testing.assert_close(loss.cross_entropy(logits, y), nn.CrossEntropyLoss()(logits, y))


def test_softmax_survives_large_scores():
    logits = torch.tensor([[1000.0, 0.0, -1000.0]])
    assert torch.isfinite(loss.softmax(logits)).all()
    torch.testing.assert_close(loss.cross_entropy(logits, torch.tensor([0])), torch.tensor(0.0))


def test_cross_entropy_sure_and_right_is_small_sure_and_wrong_is_large():
    y = torch.tensor([0])
    right = loss.cross_entropy(torch.tensor([[5.0, 0.0, 0.0]]), y)
    unsure = loss.cross_entropy(torch.tensor([[0.0, 0.0, 0.0]]), y)
    wrong = loss.cross_entropy(torch.tensor([[0.0, 5.0, 0.0]]), y)
    assert right < 0.1 < unsure < wrong
    torch.testing.assert_close(unsure, torch.log(torch.tensor(3.0)))


# --- check_shapes --------------------------------------------------------------------------------


def test_check_shapes_catches_the_silent_broadcast_of_mse():
    prediction, y = torch.zeros(5, 1), torch.zeros(5)
    assert (prediction - y).shape == (5, 5)  # the trap: a (5, 5) table of misses, no error
    with pytest.raises(helpers.BilingualError) as err:
        engine_loss.check_shapes(nn.MSELoss(), prediction, y)
    assert "(5, 1)" in err.value.ja and "(5,)" in err.value.ja
    assert "(5, 1)" in err.value.en and "MSELoss" in err.value.en
    engine_loss.check_shapes(nn.MSELoss(), prediction, y.unsqueeze(1))  # (5, 1) vs (5, 1): fine


def test_check_shapes_for_l1_and_cross_entropy():
    with pytest.raises(helpers.BilingualError):
        engine_loss.check_shapes(nn.L1Loss(), torch.zeros(4, 2), torch.zeros(4, 1))
    engine_loss.check_shapes(nn.CrossEntropyLoss(), torch.zeros(4, 3), torch.zeros(4, dtype=torch.long))
    with pytest.raises(helpers.BilingualError) as err:
        engine_loss.check_shapes(nn.CrossEntropyLoss(), torch.zeros(4, 3), torch.zeros(4, 1, dtype=torch.long))
    assert "(batch, classes)" in err.value.en and "(4, 1)" in err.value.en


def test_compute_loss_is_one_number():
    value = engine_loss.compute_loss(nn.MSELoss(), torch.tensor([5.0]), torch.tensor([8.0]))
    assert value.dim() == 0 and value.item() == 9.0


# --- figures and the slider ----------------------------------------------------------------------


def test_loss_curves_marks_the_prediction_and_speaks_both_languages(japanese, caplog):
    with caplog.at_level(logging.WARNING, logger="matplotlib"):
        fig = loss.loss_curves(prediction=5, answer=8)
        assert isinstance(fig, Figure)
        assert style.missing_glyphs(fig) == []
    assert caplog.records == []  # e.g. no "findfont" from a bold Japanese font
    drawn = texts(fig)
    assert "二乗誤差 / squared error" in drawn and "絶対誤差 / absolute error" in drawn  # one scale, one legend
    ax = fig.axes[0]
    values = {a.get_text(): a.get_color() for a in ax.texts if a.get_text() in ("9", "3")}
    # each value once, beside its dot, in its curve's colour
    assert values == {"9": ax.lines[0].get_color(), "3": ax.lines[2].get_color()}
    assert any("損失" in t and "loss" in t for t in drawn)
    assert any("外れ / miss 3" in t for t in drawn)  # the number once, after both words
    assert any("たくさん直す" in t and "much to fix" in t for t in drawn)


def test_loss_curves_says_small_loss_little_to_fix(japanese):
    drawn = texts(loss.loss_curves(prediction=7.5, answer=8))
    assert any("少し直せばよい" in t and "little to fix" in t for t in drawn)
    assert any("nothing to fix" in t for t in texts(loss.loss_curves(prediction=8, answer=8)))


def test_loss_curves_follows_the_language_setting(japanese):
    helpers.set_language("en")
    drawn = texts(loss.loss_curves())
    assert "loss" in drawn and not any("損失" in t for t in drawn)


@pytest.mark.parametrize("bad", [dict(prediction=float("nan")), dict(answer="8"), dict(low=5, high=5)])
def test_loss_curves_rejects_bad_input_in_both_languages(bad):
    with pytest.raises(helpers.BilingualError) as err:
        loss.loss_curves(**bad)
    assert err.value.ja and err.value.en


def test_slider_redraws_at_its_limits(japanese):
    explorer = loss.loss_explorer(answer=8, prediction=5)
    control = explorer.sliders["prediction"]
    assert (control.min, control.max, control.value) == (0.0, 16.0, 5.0)
    assert control.continuous_update is False
    for value, miss in ((control.min, "miss 8"), (control.max, "miss 8"), (8.0, "miss 0")):
        before = explorer.image.value
        control.value = value
        assert any(miss in t for t in texts(explorer.figure))
        squared, absolute = [line for line in explorer.figure.axes[0].lines
                             if len(line.get_xdata()) == 1]  # the marked prediction on each loss
        assert (squared.get_xdata()[0], squared.get_ydata()[0]) == (value, (value - 8) ** 2)
        assert (absolute.get_xdata()[0], absolute.get_ydata()[0]) == (value, abs(value - 8))
        assert explorer.image.value and explorer.image.value != before
    assert "image/png" in explorer._repr_mimebundle_()[0]  # readers without a kernel see a picture


def test_loss_explorer_rejects_a_prediction_outside_the_slider():
    with pytest.raises(helpers.BilingualError):
        loss.loss_explorer(prediction=20)


def test_misses_before_after_shows_each_mse(japanese):
    X = torch.tensor([[0.0], [1.0], [2.0]])  # (batch, 1)
    y = torch.tensor([[1.0], [3.0], [5.0]])
    fig = loss.misses_before_after(X, y, torch.zeros(3, 1), y + 0.1)
    assert isinstance(fig, Figure) and style.missing_glyphs(fig) == []
    drawn = texts(fig)
    assert any("学習前" in t and "before" in t and "11.6667" in t for t in drawn)
    assert any("学習後" in t and "after" in t and "0.0100" in t for t in drawn)
    assert any("正解ラベル" in t and "target" in t for t in drawn)


def test_misses_before_after_rejects_rows_that_do_not_match():
    with pytest.raises(helpers.BilingualError):
        loss.misses_before_after(torch.zeros(3, 1), torch.zeros(3, 1), torch.zeros(2, 1), torch.zeros(3, 1))
    with pytest.raises(helpers.BilingualError):
        loss.misses_before_after(torch.zeros(3, 2), torch.zeros(3, 1), torch.zeros(3, 1), torch.zeros(3, 1))


# --- checkers ------------------------------------------------------------------------------------


def test_check_miss():
    assert loss.check_miss(3)
    assert loss.check_miss(3.0)
    assert loss.check_miss(torch.tensor(3.0))
    assert "None" in loss.check_miss(None).message
    minus = loss.check_miss(-3)
    assert not minus and "direction" in minus.message
    assert not loss.check_miss(13)
    assert not loss.check_miss(9)
    assert not loss.check_miss("3") and "number" in loss.check_miss("3").message
    assert not loss.check_miss(True)


def test_check_squared_error():
    prediction = torch.tensor(loss.SQUARED_ERROR_PREDICTION)
    y = torch.tensor(loss.SQUARED_ERROR_ANSWER)
    assert loss.check_squared_error(nn.MSELoss()(prediction, y))
    assert loss.check_squared_error(3.5)
    assert "None" in loss.check_squared_error(None).message
    assert "cancel" in loss.check_squared_error(0).message  # signed misses add up to 0 here
    assert "MAE" in loss.check_squared_error(1.5).message
    assert "divide" in loss.check_squared_error(14).message
    assert "average first" in loss.check_squared_error(2.25).message
    other = loss.check_squared_error(7)
    assert not other and "3.5" not in other.message  # a hint never gives the answer away
    assert not loss.check_squared_error([3.5])


def test_check_loss_order():
    assert loss.check_loss_order(["c", "a", "b"])
    assert loss.check_loss_order(("C", " a", "b"))
    assert "None" in loss.check_loss_order(None).message
    assert not loss.check_loss_order("cab")
    assert not loss.check_loss_order(["a", "b"])
    assert "almost no probability" in loss.check_loss_order(["a", "b", "c"]).message
    assert not loss.check_loss_order(["a", "c", "b"])


def test_checker_messages_are_bilingual():
    for feedback in (loss.check_miss(5), loss.check_squared_error(7), loss.check_loss_order(["b", "a", "c"]),
                     loss.check_miss(3)):
        lines = feedback.message.splitlines()
        assert len(lines) == 2 and any("\u3040" <= ch <= "\u30ff" for ch in lines[0])


def test_cross_entropy_curve_marks_each_case(japanese):
    fig = loss.cross_entropy_curve({"a": 0.9, "b": 0.05})
    assert isinstance(fig, Figure) and style.missing_glyphs(fig) == []
    drawn = texts(fig)
    assert "a: 0.11" in drawn and "b: 3.00" in drawn  # -log(0.9), -log(0.05)
    assert any("正解クラスの確率" in t and "probability p of the right class" in t for t in drawn)
    assert any("損失" in t and "loss" in t for t in drawn)


@pytest.mark.parametrize("p", [0, 1.5, "0.5"])
def test_cross_entropy_curve_rejects_a_probability_outside_0_1(p):
    with pytest.raises(helpers.BilingualError):
        loss.cross_entropy_curve({"a": p})
