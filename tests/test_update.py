"""Step 5, update (notebook 05): hand SGD against torch.optim.SGD, the one-weight path, its figures,
the learning-rate slider at its limits, the optimizers by name and the exercises' checkers."""

import copy
import math

import matplotlib
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

import helpers
from helpers.engine import update as engine_update
from helpers.engine.text import BilingualError
from helpers.lessons import style, update


def texts(fig):
    """Every piece of text drawn in a figure: titles, labels, annotations, legends."""
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text)]


# --- sgd_step --------------------------------------------------------------------------------------

def random_model(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2))


@pytest.mark.parametrize("lr", [1e-3, 0.01, 0.1, 0.37, 2.5])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sgd_step_matches_torch_sgd_exactly(lr, seed):
    by_torch = random_model(seed)
    by_hand = copy.deepcopy(by_torch)
    before = [p.detach().clone() for p in by_torch.parameters()]
    X, y = torch.randn(16, 3), torch.randn(16, 2)  # (batch, features), (batch, outputs)
    for model in (by_torch, by_hand):
        nn.functional.mse_loss(model(X), y).backward()
    torch.optim.SGD(by_torch.parameters(), lr=lr).step()
    update.sgd_step(by_hand.parameters(), lr)
    for old, a, b in zip(before, by_torch.parameters(), by_hand.parameters(), strict=True):
        assert torch.equal(a, b)
        assert not torch.equal(a, old)  # the step really moved the weights


def test_sgd_step_is_w_minus_lr_times_gradient():
    w = torch.tensor([1.0, -2.0], requires_grad=True)
    w.grad = torch.tensor([0.5, -4.0])
    update.sgd_step([w], 0.25)
    assert torch.allclose(w.detach(), torch.tensor([1.0 - 0.125, -2.0 + 1.0]))


def test_sgd_step_skips_weights_without_gradient_and_checks_lr():
    w = torch.tensor([3.0], requires_grad=True)
    update.sgd_step([w], 0.1)  # no .grad yet: nothing to correct
    assert w.item() == 3.0
    w.grad = torch.tensor([1.0])
    for bad in (0, -0.1, float("nan"), "fast"):
        with pytest.raises(BilingualError, match="学習率"):
            update.sgd_step([w], bad)
    assert w.item() == 3.0


# --- the one-weight problem ------------------------------------------------------------------------

def reference_path(xs, ys, w0, lr, steps):
    """Gradient descent on mean((w x - y)^2) with the derivative worked out by hand, in plain floats."""
    path = [w0]
    w = w0
    for _ in range(steps):
        grad = sum(2 * x * (w * x - y) for x, y in zip(xs, ys, strict=True)) / len(xs)
        w = w - lr * grad
        path.append(w)
    return path


@pytest.mark.parametrize("lr", [0.01, 0.3, 0.9, 1.1])
def test_descent_path_matches_a_hand_derivative(lr):
    x, y = update.one_weight_data()
    got = update.descent_path(x, y, -1.0, lr, 12)
    want = reference_path(x.tolist(), y.tolist(), -1.0, lr, 12)
    assert len(got) == 13
    assert got == pytest.approx(want, rel=1e-9, abs=1e-9)


def test_descent_path_stops_when_the_weight_overflows():
    x, y = update.one_weight_data()
    path = update.descent_path(x, y, -1.0, 1e6, 200)
    assert 1 < len(path) < 201
    assert all(math.isfinite(w) for w in path)


def test_one_weight_data_loss_and_bottom():
    x, y = update.one_weight_data()
    assert x.shape == y.shape == (20,) and x.dtype == torch.float64
    bottom = update.best_weight(x, y)
    assert bottom == pytest.approx(3.0, abs=0.3)  # the data follow y = 3x plus noise
    grid = torch.linspace(bottom - 1, bottom + 1, 101, dtype=x.dtype)
    losses = update.one_weight_loss(grid, x, y)  # (101,)
    assert losses.shape == (101,)
    assert losses.argmin().item() == 50  # the bottom sits in the middle of the grid
    assert update.one_weight_loss(2.0, x, y).item() == pytest.approx(((2.0 * x - y) ** 2).mean().item())


@pytest.mark.parametrize(("lr", "verdict"), [(0.01, "small"), (0.3, "good"), (0.9, "large"),
                                             (1.2, "diverged"), (1e6, "diverged")])
def test_path_verdict(lr, verdict):
    x, y = update.one_weight_data()
    path = update.descent_path(x, y, update.W0, lr, 10)
    assert update.path_verdict(path, update.best_weight(x, y), 10) == verdict


def test_bad_steps_are_explained():
    x, y = update.one_weight_data()
    for bad in (0, -1, 2.5, True):
        with pytest.raises(BilingualError, match="ステップ数"):
            update.descent_path(x, y, 0.0, 0.1, bad)


# --- figures ---------------------------------------------------------------------------------------

def test_descent_figure_draws_the_path_and_names_the_verdict(japanese):
    fig = update.descent_figure(0.3, 10)
    assert isinstance(fig, Figure)
    title = fig.axes[0].get_title()
    assert "ちょうどよい" in title and "good" in title
    assert style.missing_glyphs(fig) == []
    assert not any("発散" in t for t in texts(fig))


@pytest.mark.parametrize("lr", [1.2, 3.0])
def test_divergence_shows_a_bilingual_warning(japanese, lr):
    fig = update.descent_figure(lr, 10)
    warning = [t for t in texts(fig) if "発散しています" in t]
    assert warning and "diverges" in warning[0]
    assert fig.axes[0].lines  # the curve is still drawn: never an empty plot
    assert style.missing_glyphs(fig) == []


def test_bad_lr_in_the_plotter_is_a_bilingual_error():
    with pytest.raises(BilingualError, match="learning rate"):
        update.descent_figure(0, 10)


def test_lr_panels_one_per_learning_rate(japanese):
    fig = update.lr_panels()
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    titles = [ax.get_title() for ax in fig.axes]
    assert ["too small" in titles[0], "good" in titles[1], "too large" in titles[2]] == [True] * 3
    assert style.missing_glyphs(fig) == []


def test_lr_explorer_at_the_slider_limits(japanese):
    explorer = update.lr_explorer()
    lr, steps = explorer.sliders["lr"], explorer.sliders["steps"]
    assert explorer.figure is not None and not lr.continuous_update
    seen = []
    for lr_value in (10 ** lr.min, 10 ** lr.max):
        for steps_value in (steps.min, steps.max):
            lr.value, steps.value = lr_value, steps_value
            assert explorer.image.value  # a PNG was drawn
            seen.append(explorer.figure.axes[0].get_title())
    assert "too small" in seen[0]  # lr = 0.001 barely moves
    assert "far too large" in seen[-1]  # lr ≈ 3 diverges
    assert any("発散しています" in t for t in texts(explorer.figure))


def test_curves_and_predictions_figures(japanese):
    fig = update.curves_figure({"sgd": [3.0, 1.0, 0.5], "adam": [3.0, 2.0, 0.4]})
    assert isinstance(fig, Figure)
    assert [line.get_label() for line in fig.axes[0].lines] == ["sgd", "adam"]
    assert fig.axes[0].get_yscale() == "log"
    X = torch.tensor([[1.0], [-1.0], [0.0]])
    fig = update.predictions_figure(X, 2 * X, torch.zeros(3, 1), 2 * X + 0.1)
    assert len(fig.axes[0].lines) == 3
    assert fig.axes[0].lines[2].get_xdata().tolist() == [-1.0, 0.0, 1.0]  # lines drawn left to right
    assert style.missing_glyphs(fig) == []


# --- check_lr and make_optimizer ---------------------------------------------------------------------

@pytest.mark.parametrize("bad", [0, -0.1, float("inf"), float("nan"), None, "abc"])
def test_check_lr_rejects_bad_rates_in_both_languages(bad):
    with pytest.raises(BilingualError) as err:
        engine_update.check_lr(bad)
    assert "学習率" in str(err.value) and "learning rate" in str(err.value)


def test_check_lr_accepts_numbers():
    assert engine_update.check_lr(0.1) == 0.1
    assert engine_update.check_lr("0.5") == 0.5
    assert repr(engine_update.check_lr(1)) == "1.0"  # what History.lr and the messages show
    assert engine_update.check_lr(np.float32(0.5)) == 0.5 and engine_update.check_lr(torch.tensor(0.25)) == 0.25


def test_make_optimizer_by_name():
    model = nn.Linear(2, 1)
    sgd = engine_update.make_optimizer("sgd", model.parameters(), 0.1)
    assert type(sgd) is torch.optim.SGD and sgd.param_groups[0]["momentum"] == 0
    momentum = engine_update.make_optimizer("momentum", model.parameters(), 0.1)
    assert type(momentum) is torch.optim.SGD and momentum.param_groups[0]["momentum"] == 0.9
    adam = engine_update.make_optimizer("adam", model.parameters(), 0.01)
    assert type(adam) is torch.optim.Adam and adam.param_groups[0]["lr"] == 0.01
    with pytest.raises(BilingualError, match="sgd, momentum, adam"):
        engine_update.make_optimizer("rmsprop", model.parameters(), 0.1)
    with pytest.raises(BilingualError, match="学習率"):
        engine_update.make_optimizer("sgd", model.parameters(), 0)


def test_step_moves_weights_against_the_gradient():
    w = nn.Parameter(torch.tensor([1.0]))
    optimizer = engine_update.make_optimizer("sgd", [w], 0.5)
    w.grad = torch.tensor([2.0])
    engine_update.step(optimizer)
    assert w.item() == 0.0


def test_train_with_a_huge_lr_diverges_without_raising():
    X, y = helpers.engine.data.make_line()
    torch.manual_seed(0)
    history = helpers.train(nn.Linear(1, 1), X, y, loss_fn=nn.MSELoss(), lr=2.0, num_epochs=100)
    assert history.diverged and history.epochs < 100
    assert "発散" in history.explain() and "diverged" in history.explain()


# --- checkers ----------------------------------------------------------------------------------------

def test_check_new_weight():
    assert update.check_new_weight(1.95)
    assert update.check_new_weight(2.0 - 0.1 * 0.5)
    assert not update.check_new_weight(None)
    assert "None" in update.check_new_weight(None).message
    for wrong, clue in ((2.05, "逆"), (1.5, "学習率"), (0.05, "動く量"), (7.0, "w ←")):
        feedback = update.check_new_weight(wrong)
        assert not feedback and clue in feedback.message
        assert "1.95" not in feedback.message  # a hint never gives the answer away
    for wrong_type in ("1.95", [1.95], True, float("nan")):
        assert "single number" in update.check_new_weight(wrong_type).message


def test_check_direction():
    assert update.check_direction({"a": "down", "b": "up"})
    assert update.check_direction({"a": "下がる", "b": "上がる"})
    assert not update.check_direction(None)
    wrong = update.check_direction({"a": "up", "b": "up"})
    assert not wrong and "a:" in wrong.message
    assert "b:" in update.check_direction({"a": "down", "b": "down"}).message
    assert "b" in update.check_direction({"a": "down"}).message
    assert "dict" in update.check_direction(["down", "up"]).message
    assert "'sideways'" in update.check_direction({"a": "sideways", "b": "up"}).message


def test_check_lr_verdict():
    right = {"a": "too large", "b": "too small", "c": "good"}
    assert update.check_lr_verdict(right)
    assert update.check_lr_verdict({"a": "大きすぎ", "b": "小さすぎ", "c": "ちょうどよい"})
    assert not update.check_lr_verdict(None)
    wrong = update.check_lr_verdict({"a": "good", "b": "too small", "c": "too large"})
    assert not wrong and "a:" in wrong.message and "c:" in wrong.message and "b:" not in wrong.message
    assert "c" in update.check_lr_verdict({"a": "too large", "b": "too small"}).message
    assert "dict" in update.check_lr_verdict("too small").message
    assert "'fine'" in update.check_lr_verdict({**right, "c": "fine"}).message


def test_verdict_histories_match_their_answers():
    histories = update.verdict_histories()
    assert set(histories) == set(update.VERDICT_QUESTIONS)
    x, y = update.one_weight_data()
    for key, (lr, verdict) in update.VERDICT_QUESTIONS.items():
        losses = histories[key]
        path = update.descent_path(x, y, update.W0, lr, 20)
        shown = update.path_verdict(path, update.best_weight(x, y), 20)
        assert shown == verdict or (verdict == "large" and shown == "diverged")
        if verdict == "large":
            assert losses[-1] > losses[0]
        if verdict == "small":
            assert losses[0] > losses[-1] > 0.2 * losses[0]
        if verdict == "good":
            assert losses[-1] < 0.01 * losses[0] + min(losses)


def test_descent_figure_follows_the_language_setting(japanese):
    helpers.set_language("en")
    fig = update.descent_figure(0.3, 10)
    assert fig.axes[0].get_title().startswith("learning rate 0.3")
    assert fig.axes[0].get_xlabel() == "weight w"


def test_starting_at_the_bottom_still_draws(japanese):
    x, y = update.one_weight_data()
    fig = update.descent_figure(0.3, 5, w0=update.best_weight(x, y))
    low, high = fig.axes[0].get_xlim()
    assert high - low >= 2.0
    assert "good" in fig.axes[0].get_title()
