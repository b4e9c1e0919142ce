"""Step 2 helpers (notebook 02) against PyTorch's own layers, plus the checkers and figures."""

import pytest
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import nn

import helpers
from helpers.engine import forward as engine_forward
from helpers.lessons import forward, style


def mlp(sizes=(1, 8, 1)):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


# --- weights as numbers --------------------------------------------------------------------------

def test_count_parameters_matches_numel():
    assert engine_forward.count_parameters(nn.Linear(3, 4)) == 16
    assert engine_forward.count_parameters(mlp((1, 16, 1))) == 16 + 16 + 16 + 1


def test_linear_by_loops_equals_nn_linear_and_matmul():
    torch.manual_seed(0)
    layer = nn.Linear(3, 2)
    X = torch.randn(5, 3)
    with torch.no_grad():
        by_loops = forward.linear_by_loops(X, layer.weight, layer.bias)
        assert torch.allclose(by_loops, layer(X), atol=1e-6)
        assert torch.allclose(by_loops, X @ layer.weight.T + layer.bias, atol=1e-6)
        no_bias = forward.linear_by_loops(X, layer.weight)
        assert torch.allclose(no_bias, X @ layer.weight.T, atol=1e-6)


def test_linear_by_loops_names_the_expected_shape():
    with pytest.raises(helpers.BilingualError, match=r"\(batch, 3\)"):
        forward.linear_by_loops(torch.zeros(5, 2), torch.zeros(2, 3))


def test_activations_are_each_layers_output():
    torch.manual_seed(0)
    model = mlp((1, 8, 1))
    X = torch.linspace(-2, 2, 7).unsqueeze(1)
    outs = forward.activations(model, X)
    assert [name for name, _ in outs] == ["0 Linear", "1 ReLU", "2 Linear"]
    assert [tuple(t.shape) for _, t in outs] == [(7, 8), (7, 8), (7, 1)]
    assert torch.equal(outs[1][1], outs[0][1].clamp(min=0))
    with torch.no_grad():
        assert torch.allclose(outs[-1][1], model(X))


def test_activations_need_a_sequential_and_a_fitting_input():
    with pytest.raises(helpers.BilingualError, match="nn.Sequential"):
        forward.activations(nn.Linear(1, 1), torch.zeros(3, 1))
    with pytest.raises(helpers.BilingualError, match=r"\(batch, 1\)"):
        forward.activations(mlp(), torch.zeros(3, 2))


# --- check_input (existing behaviour, used by the loop) ----------------------------------------

def test_check_input_linear_names_expected_shape():
    model = nn.Linear(1, 1)
    engine_forward.check_input(model, torch.zeros(4, 1))  # fits: no error
    with pytest.raises(helpers.BilingualError, match=r"\(batch, 1\) but got \(4,\)"):
        engine_forward.check_input(model, torch.zeros(4))
    with pytest.raises(helpers.BilingualError, match=r"\(バッチ, 3\)"):
        engine_forward.check_input(mlp((3, 4, 1)), torch.zeros(4, 2))


def test_check_input_conv_names_expected_shape():
    conv = nn.Conv2d(1, 1, 3)
    engine_forward.check_input(conv, torch.zeros(2, 1, 8, 8))
    with pytest.raises(helpers.BilingualError, match=r"\(batch, 1, height, width\) but got \(8, 8\)"):
        engine_forward.check_input(conv, torch.zeros(8, 8))
    with pytest.raises(helpers.BilingualError, match=r"\(batch, 1, height, width\)"):
        engine_forward.check_input(conv, torch.zeros(2, 3, 8, 8))


# --- where the time goes -------------------------------------------------------------------------

def test_forward_flops_counts_2_batch_in_out():
    model = mlp((4, 8, 2))
    flops = forward.forward_flops(model, batch=10)
    assert flops == {"matmul": 2 * 10 * (4 * 8 + 8 * 2), "bias": 10 * (8 + 2), "activation": 10 * 8}
    assert forward.forward_flops(nn.Sequential(nn.Linear(3, 5, bias=False)), 2)["bias"] == 0


def test_time_forward_parts_reports_each_kind_and_matmul_dominates():
    torch.manual_seed(0)
    model = mlp((256, 256, 256, 10))
    seconds = forward.time_forward_parts(model, torch.randn(256, 256), repeats=3)
    assert set(seconds) == {"matmul", "bias", "activation"}
    assert all(v > 0 for v in seconds.values())
    assert seconds["matmul"] > seconds["activation"]


def test_time_forward_parts_rejects_bad_input():
    with pytest.raises(helpers.BilingualError, match="repeats"):
        forward.time_forward_parts(mlp(), torch.zeros(2, 1), repeats=0)
    with pytest.raises(helpers.BilingualError, match=r"\(batch, 1\)"):
        forward.time_forward_parts(mlp(), torch.zeros(2, 3))


# --- convolution ---------------------------------------------------------------------------------

def test_make_image_draws_a_shape():
    square = forward.make_image(24)
    assert square.shape == (24, 24)
    assert square[12, 12] == 1 and square[0, 0] == 0
    letter = forward.make_image(24, "T")
    assert letter.shape == (24, 24) and 0 < letter.sum() < square.sum()
    with pytest.raises(helpers.BilingualError):
        forward.make_image(4)
    with pytest.raises(helpers.BilingualError, match="'square'"):
        forward.make_image(24, "circle")


@pytest.mark.parametrize("key", sorted(forward.FILTER_CHOICES))
def test_conv_by_hand_equals_f_conv2d_and_nn_conv2d(key):
    image = forward.make_image(24, "T")
    kernel = forward.FILTER_CHOICES[key]
    by_hand = forward.conv_by_hand(image, kernel)
    reference = F.conv2d(image.view(1, 1, 24, 24), kernel.view(1, 1, 3, 3))[0, 0]
    assert by_hand.shape == reference.shape == (22, 22)
    assert torch.allclose(by_hand, reference, atol=1e-6)
    conv = nn.Conv2d(1, 1, 3, bias=False)
    with torch.no_grad():
        conv.weight.copy_(kernel.view(1, 1, 3, 3))
        assert torch.allclose(by_hand, conv(image.view(1, 1, 24, 24))[0, 0], atol=1e-6)


def test_conv_by_hand_with_a_random_5x5_filter():
    torch.manual_seed(1)
    image, kernel = torch.rand(10, 12), torch.randn(5, 5)
    reference = F.conv2d(image.view(1, 1, 10, 12), kernel.view(1, 1, 5, 5))[0, 0]
    assert torch.allclose(forward.conv_by_hand(image, kernel), reference, atol=1e-5)


def test_conv_by_hand_rejects_bad_shapes():
    with pytest.raises(helpers.BilingualError, match=r"\(height, width\)"):
        forward.conv_by_hand(torch.zeros(1, 8, 8), torch.zeros(3, 3))
    with pytest.raises(helpers.BilingualError, match="smaller"):
        forward.conv_by_hand(torch.zeros(2, 2), torch.zeros(3, 3))


def test_vertical_filter_lights_up_at_vertical_edges_only():
    square = forward.make_image(24)
    vertical = forward.conv_by_hand(square, forward.FILTER_CHOICES["c"])
    horizontal = forward.conv_by_hand(square, forward.FILTER_CHOICES["a"])
    # The square spans rows and columns 6..17: row 11 of the output crosses both vertical edges.
    assert vertical[11].abs().max() == 3 and horizontal[11].abs().max() == 0
    assert vertical[:, 11].abs().max() == 0 and horizontal[:, 11].abs().max() == 3


# --- figures -------------------------------------------------------------------------------------

def test_plotters_return_clean_figures(japanese):
    X, y = helpers.engine.data.make_curve()
    model = mlp((1, 8, 1))
    with torch.no_grad():
        prediction = model(X)
    outs = forward.activations(model, X)
    image = forward.make_image()
    kernel = forward.FILTER_CHOICES["c"]
    figures = [
        forward.answers_plot(X, y, {"model": prediction}),
        forward.hidden_units_plot(X, outs[0][1], outs[1][1]),
        forward.timing_plot({"matmul": 0.02, "bias": 0.001, "activation": 0.001}),
        forward.timing_plot({"matmul": 0.0, "bias": 0.0, "activation": 0.0}),
        forward.filter_figure(image, kernel, forward.conv_by_hand(image, kernel)),
        forward.filter_figure(image, torch.zeros(3, 3), torch.zeros(22, 22)),
    ]
    for fig in figures:
        assert isinstance(fig, Figure)
        assert style.missing_glyphs(fig) == []


def test_filter_figure_shows_input_filter_and_feature_map_shapes(japanese):
    image = forward.make_image(24)
    kernel = forward.FILTER_CHOICES["a"]
    fig = forward.filter_figure(image, kernel, forward.conv_by_hand(image, kernel))
    shapes = [ax.images[0].get_array().shape for ax in fig.axes]
    assert shapes == [(24, 24), (3, 3), (22, 22)]
    assert len(fig.axes[1].texts) == 9  # every weight written in its cell


def test_figure_labels_follow_language(japanese):
    helpers.set_language("en")
    fig = forward.timing_plot({"matmul": 0.02, "bias": 0.001, "activation": 0.001})
    assert fig.axes[0].get_title() == "where a forward pass spends its time"


# --- checkers ------------------------------------------------------------------------------------

def test_check_linear_output():
    assert forward.check_linear_output(2.5).ok
    assert forward.check_linear_output(torch.tensor([2.5])).ok
    assert not forward.check_linear_output(None).ok
    assert "None" in forward.check_linear_output(None).message
    assert not forward.check_linear_output("2.5").ok
    assert "2.5" not in forward.check_linear_output(2.0).message  # a hint never gives the answer away
    assert "missing" in forward.check_linear_output(2.0).message  # forgot the bias
    assert "sign" in forward.check_linear_output(10.5).message
    assert not forward.check_linear_output(3.0).ok


def test_check_linear_output_truth_is_what_nn_linear_computes():
    layer = nn.Linear(2, 1)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(forward.LINEAR_EXERCISE["weight"]))
        layer.bias.copy_(torch.tensor(forward.LINEAR_EXERCISE["bias"]))
        out = layer(torch.tensor([forward.LINEAR_EXERCISE["x"]]))
    assert forward.check_linear_output(out).ok


def test_check_param_count():
    assert forward.check_param_count(16).ok
    assert not forward.check_param_count(None).ok
    assert not forward.check_param_count(12).ok
    assert "one more number" in forward.check_param_count(12).message
    assert "multiply" in forward.check_param_count(7).message
    assert not forward.check_param_count(15).ok
    assert not forward.check_param_count(16.5).ok
    assert "whole number" in forward.check_param_count("16").message
    assert not forward.check_param_count(True).ok


def test_check_filter():
    assert forward.check_filter("c").ok
    assert forward.check_filter(" C ").ok
    assert not forward.check_filter(None).ok
    assert not forward.check_filter("a").ok and "top to bottom" in forward.check_filter("a").message
    assert not forward.check_filter("b").ok and "blur" in forward.check_filter("b").message
    assert "one letter" in forward.check_filter("d").message
    assert "one letter" in forward.check_filter(3).message


def test_filter_choices_prints_three_filters(capsys):
    forward.filter_choices()
    printed = capsys.readouterr().out
    assert [line[:2] for line in printed.splitlines() if line.endswith(":")] == ["a:", "b:", "c:"]


# --- on every device this machine has (the GPU, where there is one) ------------------------------

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_helpers_agree_with_pytorch_on_device(device):
    torch.manual_seed(0)
    layer = nn.Linear(3, 2).to(device)
    X = torch.randn(4, 3, device=device)
    with torch.no_grad():
        assert torch.allclose(forward.linear_by_loops(X, layer.weight, layer.bias), layer(X), atol=1e-5)
    image = forward.make_image(24, "T").to(device)
    kernel = forward.FILTER_CHOICES["c"].to(device)
    reference = F.conv2d(image.view(1, 1, 24, 24), kernel.view(1, 1, 3, 3))[0, 0]
    assert torch.allclose(forward.conv_by_hand(image, kernel), reference)  # small whole numbers: exact
    model = mlp((1024, 1024, 1024, 10)).to(device)
    seconds = forward.time_forward_parts(model, torch.randn(1024, 1024, device=device), repeats=5)
    assert seconds["matmul"] > seconds["bias"] + seconds["activation"]
