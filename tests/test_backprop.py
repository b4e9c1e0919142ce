import logging
import math
from collections import Counter

import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

import helpers
from helpers.engine import backprop as engine_backprop
from helpers.engine.text import BilingualError
from helpers.lessons import backprop, backprop_figures, backprop_network, style


def texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def random_mlp(seed):
    """A small float64 MLP of random size, with random data to fit."""
    g = torch.Generator().manual_seed(seed)
    features, hidden, outputs = (int(torch.randint(1, 4, (1,), generator=g)) for _ in range(3))
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(features, hidden), nn.Tanh(), nn.Linear(hidden, outputs)).double()
    X = torch.randn(5, features, generator=g, dtype=torch.float64)  # (batch, features)
    y = torch.randn(5, outputs, generator=g, dtype=torch.float64)  # (batch, outputs)
    return model, X, y


# --- backward (used by the loop) -----------------------------------------------------------------

def test_backward_clears_old_gradients_then_fills_new_ones():
    model = nn.Linear(2, 1)
    X, y = torch.randn(4, 2), torch.randn(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    nn.MSELoss()(model(X), y).backward()
    first = model.weight.grad.clone()
    engine_backprop.backward(nn.MSELoss()(model(X), y), optimizer)
    assert torch.allclose(model.weight.grad, first)  # not 2 * first: the old gradient was cleared


# --- the tiny network ----------------------------------------------------------------------------

def test_tiny_network_default_numbers_are_the_readable_ones():
    net = backprop.tiny_network()
    assert net.values["p"] == 5.0 and net.values["y"] == 8.0 and net.loss == 9.0
    assert net.grads == {"L": 1.0, "p": -6.0, "h": -12.0, "z": -12.0, "w1": -24.0, "b1": -12.0,
                         "w2": -15.0, "b2": -6.0}
    assert "x" not in net.grads and "y" not in net.grads  # data gets no blame


def test_tiny_network_matches_a_plain_torch_computation():
    w1 = torch.tensor(0.7, requires_grad=True)
    loss = (1.5 * torch.tanh(w1 * -1.2 + 0.3) - 0.4 - 2.0) ** 2
    loss.backward()
    net = backprop.tiny_network(x=-1.2, w1=0.7, b1=0.3, w2=1.5, b2=-0.4, y=2.0, activation="tanh")
    assert math.isclose(net.loss, loss.item(), rel_tol=1e-6)
    assert math.isclose(net.grads["w1"], w1.grad.item(), rel_tol=1e-5)


@pytest.mark.parametrize("bad", [{"activation": "sigmoid"}, {"x": float("nan")}, {"w1": "1"}, {"y": True}])
def test_tiny_network_bad_input_is_a_bilingual_error(bad):
    with pytest.raises(BilingualError):
        backprop.tiny_network(**bad)


def random_tiny(seed, activation):
    g = torch.Generator().manual_seed(seed)
    numbers = dict(zip(("x", "w1", "b1", "w2", "b2", "y"), (2 * torch.rand(6, generator=g) - 1).tolist(),
                       strict=True))
    return numbers, backprop.tiny_network(**numbers, activation=activation)


@pytest.mark.parametrize("activation", backprop_network.ACTIVATIONS)
@pytest.mark.parametrize("seed", range(8))
def test_chain_rule_by_hand_equals_autograd(activation, seed):
    _, net = random_tiny(seed, activation)
    by_hand = backprop.chain_rule_grads(net)
    assert set(by_hand) == set(net.grads) - {"L"}
    for name, value in by_hand.items():
        assert math.isclose(value, net.grads[name], rel_tol=1e-12, abs_tol=1e-12), name


def test_relu_blocks_the_blame_when_its_input_is_negative():
    net = backprop.tiny_network(w1=-1.0)  # z = -1.5, so ReLU passes nothing back
    assert backprop_network.local_derivatives(net)["dh/dz"] == 0.0
    assert backprop.chain_rule_grads(net)["w1"] == 0.0 == net.grads["w1"]


def test_chain_steps_read_as_products():
    steps = {s.target: s for s in backprop.chain_rule_steps(backprop.tiny_network())}
    assert [name for name, _ in steps["w1"].factors] == ["dL/dp", "dp/dh", "dh/dz", "dz/dw1"]
    assert str(steps["w1"]).endswith("= -24.0000")
    assert "(-6.0000) × (2.0000) × (1.0000) × (2.0000)" in str(steps["w1"])


def test_local_formulas_name_every_local_derivative():
    assert set(backprop_network.LOCAL_FORMULAS) == set(backprop_network.local_derivatives(backprop.tiny_network()))


def test_chain_rule_needs_a_tiny_net():
    with pytest.raises(BilingualError):
        backprop.chain_rule_grads({"x": 1.0})


@pytest.mark.parametrize("activation", backprop_network.ACTIVATIONS)
@pytest.mark.parametrize("seed", range(4))
def test_finite_differences_on_the_tiny_network_equal_autograd(activation, seed):
    numbers, net = random_tiny(seed, activation)
    params = {name: torch.tensor(numbers[name], dtype=torch.float64) for name in backprop_network.WEIGHTS}
    fd = backprop.finite_difference_grads(
        lambda: backprop.tiny_loss(x=numbers["x"], y=numbers["y"], activation=activation, **params), params)
    for name in backprop_network.WEIGHTS:
        assert math.isclose(fd[name].item(), net.grads[name], rel_tol=1e-6, abs_tol=1e-7), name


# --- finite differences and autograd on real networks ---------------------------------------------

@pytest.mark.parametrize("seed", range(6))
def test_finite_differences_equal_autograd_on_random_small_networks(seed):
    model, X, y = random_mlp(seed)
    loss_fn = nn.MSELoss()

    def fn():
        return loss_fn(model(X), y)

    fn().backward()
    fd = backprop.finite_difference_grads(fn, model)
    for name, p in model.named_parameters():
        assert fd[name].shape == p.shape
        assert torch.allclose(fd[name], p.grad, rtol=1e-6, atol=1e-8), name


@pytest.mark.parametrize("seed", range(3))
def test_autograd_grads_equal_backward(seed):
    model, X, y = random_mlp(seed)
    loss_fn = nn.MSELoss()
    grads = backprop_network.autograd_grads(lambda: loss_fn(model(X), y), model)
    assert all(p.grad is None for p in model.parameters())  # .grad left alone
    loss_fn(model(X), y).backward()
    for name, p in model.named_parameters():
        assert torch.equal(grads[name], p.grad), name


def test_finite_differences_put_every_weight_back():
    model, X, y = random_mlp(0)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    backprop.finite_difference_grads(lambda: nn.MSELoss()(model(X), y), model)
    assert all(torch.equal(before[n], p) for n, p in model.named_parameters())


def test_finite_differences_in_float32_are_refused():
    model = nn.Linear(1, 1)  # float32
    with pytest.raises(BilingualError, match="float64"):
        backprop.finite_difference_grads(lambda: model.weight.sum(), model)


@pytest.mark.parametrize("h", [0, -1e-3, 1.0, True, "0.1"])
def test_finite_differences_bad_step_is_a_bilingual_error(h):
    params = {"w": torch.tensor(1.0, dtype=torch.float64)}
    with pytest.raises(BilingualError):
        backprop.finite_difference_grads(lambda: params["w"] ** 2, params, h=h)


@pytest.mark.parametrize("params", [{}, [torch.tensor(1.0, dtype=torch.float64)], {"w": 1.0}])
def test_finite_differences_bad_params_are_a_bilingual_error(params):
    with pytest.raises(BilingualError):
        backprop.finite_difference_grads(lambda: 0.0, params)


def test_finite_differences_need_a_single_number_loss():
    params = {"w": torch.ones(2, dtype=torch.float64)}
    with pytest.raises(BilingualError, match="one number"):
        backprop.finite_difference_grads(lambda: params["w"] * 2, params)


# --- a real model's gradients --------------------------------------------------------------------

def test_weight_grads_before_backward_is_a_bilingual_error():
    with pytest.raises(BilingualError, match="backward"):
        backprop.weight_grads(nn.Linear(1, 1))


def test_weight_grads_and_flat_grads_list_every_number():
    model = nn.Sequential(nn.Linear(1, 3), nn.Tanh(), nn.Linear(3, 1))
    nn.MSELoss()(model(torch.randn(6, 1)), torch.randn(6, 1)).backward()
    grads = backprop.weight_grads(model)
    assert list(grads) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    flat = backprop.flat_grads(grads)
    assert len(flat) == sum(p.numel() for p in model.parameters()) == 10
    assert flat[1] == ("0.weight", 1, model[0].weight.grad[1, 0].item())


def test_grad_bars_draw_one_bar_per_weight_with_its_sign(japanese, caplog):
    grads = {"w": torch.tensor([[0.5, -2.0]]), "b": torch.tensor([0.25])}
    with caplog.at_level(logging.WARNING, logger="matplotlib"):
        fig = backprop_figures.plot_grad_bars(grads)
        assert isinstance(fig, Figure)
        assert style.missing_glyphs(fig) == []
    assert caplog.records == []
    ax = fig.axes[0]
    assert [bar.get_height() for bar in ax.patches] == [0.5, 2.0, 0.25]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["w[0]", "w[1]", "b"]
    assert texts(fig) == ["+0.500", "-2.000", "+0.250"]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["w", "b"]  # one colour per tensor, named


def test_grad_bars_name_each_layers_parameters(japanese):
    grads = {"0.weight": torch.ones(2, 1), "0.bias": torch.ones(2), "2.weight": torch.ones(1, 2),
             "2.bias": torch.ones(1)}
    fig = backprop_figures.plot_grad_bars(grads)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["w1[0]", "w1[1]", "b1[0]", "b1[1]",
                                                                     "w2[0]", "w2[1]", "b2"]
    assert fig.legends[0].get_texts()[0].get_text() == "w1 (0.weight): 1層目の重み / layer 1 weights"


def test_grad_bars_without_gradients_is_a_bilingual_error():
    with pytest.raises(BilingualError):
        backprop_figures.plot_grad_bars({})


# --- the graph and the slope ---------------------------------------------------------------------

@pytest.mark.parametrize("activation", backprop_network.ACTIVATIONS)
def test_graph_shows_every_value_and_gradient(japanese, caplog, activation):
    net = backprop.tiny_network(activation=activation)
    with caplog.at_level(logging.WARNING, logger="matplotlib"):
        fig = backprop_figures.plot_graph(net)
        assert isinstance(fig, Figure)
        assert style.missing_glyphs(fig) == []
    assert caplog.records == []  # e.g. no "findfont: Failed to find font weight bold"
    shown = Counter(texts(fig))
    expected = Counter(backprop_figures.graph_number(v) for v in net.values.values())
    expected += Counter(backprop_figures.graph_number(v) for v in net.grads.values())
    expected["-"] += 2  # x and y: data, no gradient
    assert not expected - shown  # every number is there, as many times as it occurs
    for name in net.values:
        assert name in shown
    assert f"h = {activation}(z)" in shown
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "値 / value" in legend and "勾配 / gradient" in legend


def test_graph_numbers_follow_the_network():
    net = backprop.tiny_network(w2=3.0)  # p = 7.5, L = 0.25, dL/dp = -1
    shown = texts(backprop_figures.plot_graph(net))
    assert "7.5" in shown and "0.25" in shown and "-1" in shown


def test_graph_needs_a_tiny_net():
    with pytest.raises(BilingualError):
        backprop_figures.plot_graph({"x": 1.0})


def test_graph_labels_follow_language(japanese):
    helpers.set_language("en")
    fig = backprop_figures.plot_graph(backprop.tiny_network())
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend[0] == "value"


def test_slope_is_the_gradient(japanese):
    fig = backprop_figures.plot_slope(2.5)
    assert "-12.00" in fig.axes[0].get_title()  # gradient -12, printed once
    assert style.missing_glyphs(fig) == []
    tangent = fig.axes[0].lines[1]
    xs, ys = tangent.get_data()
    assert math.isclose((ys[1] - ys[0]) / (xs[1] - xs[0]), -12.0, rel_tol=1e-6)


@pytest.mark.parametrize("w", [float("inf"), "2", None])
def test_slope_bad_input_is_a_bilingual_error(w):
    with pytest.raises(BilingualError):
        backprop_figures.plot_slope(w)


def test_slope_explorer_draws_at_the_slider_limits(japanese):
    explorer = backprop_figures.slope_explorer()
    w = explorer.sliders["w"]
    for value in (w.min, w.max, w.value):
        w.value = value
        ax = explorer.figure.axes[0]
        assert f"{value:.2f}" in ax.get_title()
        # the marked point is the loss (w·x - y)² of the default one-weight model (x = 2, y = 8) at this w
        assert ax.collections[0].get_offsets().tolist() == [pytest.approx([value, (value * 2 - 8) ** 2])]
        assert explorer.image.value  # a PNG was drawn


# --- checkers ------------------------------------------------------------------------------------

@pytest.mark.parametrize("checker", [backprop.check_gradient, backprop.check_chain_rule, backprop.check_accumulate])
def test_checkers_without_an_answer_say_so(checker):
    feedback = checker(None)
    assert not feedback.ok and "None" in feedback.message


@pytest.mark.parametrize("checker", [backprop.check_gradient, backprop.check_chain_rule, backprop.check_accumulate])
@pytest.mark.parametrize("answer", ["8", [8], True, torch.ones(2)])
def test_checkers_ask_for_one_number(checker, answer):
    feedback = checker(answer)
    assert not feedback.ok and "one number" in feedback.message


def test_check_gradient_against_torch():
    q = backprop.GRADIENT_QUESTION
    w = torch.tensor(q["w"], requires_grad=True)
    ((w * q["x"] - q["y"]) ** 2).backward()
    assert backprop.check_gradient(w.grad.item()).ok
    assert backprop.check_gradient(w.grad).ok  # a 0-d tensor is one number too
    assert backprop.check_gradient(15).ok and not backprop.check_gradient(15.5).ok


# w·x - y = 2.5 and x = 3: each slip gives its own number, so each gets its own hint.
@pytest.mark.parametrize(("answer", "clue"), [(-15, "sign"), (5, "inner derivative"), (7.5, "factor 2"),
                                              (6.25, "loss itself"), (3.0, "Differentiate")])
def test_check_gradient_wrong_answers_get_a_hint(answer, clue):
    feedback = backprop.check_gradient(answer)
    assert not feedback.ok and clue in feedback.message


def test_check_chain_rule():
    truth = math.prod(v for _, v in backprop.CHAIN_QUESTION)
    assert backprop.check_chain_rule(truth).ok and truth == -18
    assert "multiplies" in backprop.check_chain_rule(sum(v for _, v in backprop.CHAIN_QUESTION)).message
    assert "sign" in backprop.check_chain_rule(18).message
    assert "missing" in backprop.check_chain_rule(-6).message  # forgot dz/dw1 = 3
    assert not backprop.check_chain_rule(100).ok


def test_check_accumulate_against_torch():
    w = torch.tensor(1.0, requires_grad=True)
    for _ in range(2):
        (backprop.ACCUMULATE_QUESTION * w).backward()  # each backward() adds 3 to w.grad
    assert backprop.check_accumulate(w.grad).ok
    assert "replace" in backprop.check_accumulate(3).message
    assert "zero_grad" in backprop.check_accumulate(0).message
    assert not backprop.check_accumulate(9).ok
    assert not backprop.check_accumulate(5).ok


def test_checker_messages_follow_language():
    helpers.set_language("en")
    assert backprop.check_accumulate(6).message.startswith("Right")


def test_weight_grads_are_a_copy_that_later_backward_calls_leave_alone():
    model = nn.Linear(1, 1)
    X, y = torch.randn(4, 1), torch.randn(4, 1)
    nn.MSELoss()(model(X), y).backward()
    grads = backprop.weight_grads(model)
    saved = grads["bias"].clone()
    nn.MSELoss()(model(X), y).backward()  # adds to model.bias.grad in place
    assert torch.equal(grads["bias"], saved)
    assert torch.allclose(model.bias.grad, 2 * saved)
