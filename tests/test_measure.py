import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

import helpers
from helpers.lessons import measure, style, training_vs_inference


def tiny():
    """nn.Linear(3, 4) + ReLU with fixed weights: small enough to count saved bytes by hand."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU())


def sgd_step(model, X, y, lr=0.1):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss = nn.MSELoss()(model(X), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return optimizer


# --- model and data ------------------------------------------------------------------------------

def test_make_mlp_shape_and_same_weights_every_time():
    model = training_vs_inference.make_mlp(features=5, width=7, depth=3)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(5, 7), (7, 7), (7, 7), (7, 1)]
    assert model(torch.zeros(2, 5)).shape == (2, 1)
    again = training_vs_inference.make_mlp(features=5, width=7, depth=3)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), again.parameters(), strict=True))


def test_make_mlp_leaves_the_global_seed_alone():
    torch.manual_seed(3)
    expected = torch.rand(1)
    torch.manual_seed(3)
    training_vs_inference.make_mlp(features=2, width=2)
    assert torch.equal(torch.rand(1), expected)


def test_make_batch_shapes_and_seed():
    X, y = training_vs_inference.make_batch(batch=8, features=3)
    assert X.shape == (8, 3) and y.shape == (8, 1)
    assert torch.equal(X, training_vs_inference.make_batch(batch=8, features=3)[0])


# --- weights row ---------------------------------------------------------------------------------

def test_checksum_changes_after_an_sgd_step_but_not_after_inference():
    model = tiny()
    X, y = torch.randn(5, 3), torch.randn(5, 4)
    before = measure.weights_checksum(model)
    with torch.inference_mode():
        model(X)
    model.eval()
    model(X)
    assert measure.weights_checksum(model) == before
    sgd_step(model, X, y)
    assert measure.weights_checksum(model) != before


def test_checksum_sees_a_change_in_the_last_bit():
    model = tiny()
    before = measure.weights_checksum(model)
    with torch.no_grad():
        w = model[0].weight
        w[0, 0] = torch.nextafter(w[0, 0], torch.tensor(1.0))
    assert measure.weights_checksum(model) != before


def test_checksum_rejects_a_non_model():
    with pytest.raises(helpers.BilingualError, match="torch.nn.Module"):
        measure.weights_checksum("model")


# --- direction row -------------------------------------------------------------------------------

def test_graph_nodes_of_linear_relu():
    out = tiny()(torch.randn(2, 3))
    # ReLU, addmm (x W^T + b), the transpose of W, and one AccumulateGrad per weight tensor.
    assert sorted(measure.graph_nodes(out)) == sorted(
        ["ReluBackward0", "AddmmBackward0", "TBackward0", "AccumulateGrad", "AccumulateGrad"])
    assert measure.count_graph_nodes(out) == 5


def test_graph_nodes_of_a_deeper_mlp():
    out = training_vs_inference.make_mlp(features=4, width=5, depth=2)(torch.randn(3, 4))
    names = measure.graph_nodes(out)
    counts = {name: names.count(name) for name in set(names)}
    # Three layers: addmm and a transpose each, two ReLUs, and six weight tensors.
    assert counts == {"AddmmBackward0": 3, "TBackward0": 3, "ReluBackward0": 2, "AccumulateGrad": 6}


def test_shared_nodes_are_counted_once():
    w = torch.ones(3, requires_grad=True)
    out = (w * 2) + (w * 3)  # two paths reach the same AccumulateGrad for w
    assert measure.graph_nodes(out).count("AccumulateGrad") == 1
    assert measure.count_graph_nodes(out) == 4  # add, two muls, one AccumulateGrad


def test_no_graph_under_inference_mode_or_for_plain_tensors():
    model = tiny()
    with torch.inference_mode():
        out = model(torch.randn(2, 3))
    assert out.grad_fn is None and measure.count_graph_nodes(out) == 0
    assert measure.count_graph_nodes(torch.ones(2)) == 0
    with pytest.raises(helpers.BilingualError, match="torch.Tensor"):
        measure.count_graph_nodes([1.0])


def test_eval_alone_still_builds_the_graph():
    model = tiny().eval()
    assert measure.count_graph_nodes(model(torch.randn(2, 3))) == 5


# --- cost row ------------------------------------------------------------------------------------

def test_timing_helpers_return_positive_seconds_and_keep_the_mode():
    model = training_vs_inference.make_mlp(features=8, width=8)
    X, y = training_vs_inference.make_batch(batch=4, features=8)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    model.train()
    seconds = measure.time_inference(model, X, repeats=3)
    assert isinstance(seconds, float) and seconds > 0
    assert model.training  # put back as it was
    model.eval()
    before = measure.weights_checksum(model)
    seconds = measure.time_training_step(model, X, y, nn.MSELoss(), optimizer, repeats=3)
    assert isinstance(seconds, float) and seconds > 0
    assert not model.training
    assert measure.weights_checksum(model) != before  # a training step is a real step


def test_time_inference_does_not_change_the_weights():
    model = training_vs_inference.make_mlp(features=8, width=8)
    X, _ = training_vs_inference.make_batch(batch=4, features=8)
    before = measure.weights_checksum(model)
    measure.time_inference(model, X, repeats=2)
    assert measure.weights_checksum(model) == before


@pytest.mark.parametrize("repeats", [0, -1, 2.5, True, "3"])
def test_timing_rejects_bad_repeats(repeats):
    model = training_vs_inference.make_mlp(features=2, width=2)
    with pytest.raises(helpers.BilingualError, match="repeats"):
        measure.time_inference(model, torch.zeros(1, 2), repeats=repeats)


def test_timing_names_the_expected_shape():
    model = training_vs_inference.make_mlp(features=4, width=2)
    with pytest.raises(helpers.BilingualError, match=r"\(batch, 4\)"):
        measure.time_inference(model, torch.zeros(3, 5), repeats=1)


# --- memory row ----------------------------------------------------------------------------------

def test_saved_activation_bytes_of_linear_relu_by_hand():
    model = tiny()
    X = torch.randn(5, 3)
    # Linear saves its input X (5, 3) for the weight gradient; ReLU saves its output (5, 4).
    by_hand = (5 * 3 + 5 * 4) * 4
    assert measure.saved_activation_bytes(model, X) == by_hand
    with torch.inference_mode():
        assert measure.saved_activation_bytes(model, X) == 0
    with torch.no_grad():
        assert measure.saved_activation_bytes(model, X) == 0


def test_saved_activation_bytes_leaves_out_weights_and_counts_shared_tensors_once():
    model = training_vs_inference.make_mlp(features=6, width=10, depth=2)
    X = torch.randn(7, 6, requires_grad=True)  # now linear also saves W^T for X's gradient
    # X, then each ReLU output (saved by the ReLU and by the next layer, counted once).
    assert measure.saved_activation_bytes(model, X) == (7 * 6 + 7 * 10 + 7 * 10) * 4


def test_saved_activation_bytes_of_a_slice_counts_the_slice():
    model = training_vs_inference.make_mlp(features=6, width=10, depth=1)
    X = torch.randn(8, 6)
    assert measure.saved_activation_bytes(model, X[:2]) * 4 == measure.saved_activation_bytes(model, X)


def test_parameter_gradient_and_adam_state_bytes():
    model = tiny()
    weights = (3 * 4 + 4) * 4
    assert measure.parameter_bytes(model) == weights
    assert measure.gradient_bytes(model) == 0
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    assert measure.optimizer_state_bytes(optimizer) == 0
    loss = model(torch.randn(2, 3)).sum()
    loss.backward()
    optimizer.step()
    assert measure.gradient_bytes(model) == weights
    steps = sum(s["step"].numel() * s["step"].element_size() for s in optimizer.state.values())
    assert measure.optimizer_state_bytes(optimizer) == 2 * weights + steps


def test_sgd_without_momentum_has_no_state():
    optimizer = sgd_step(tiny(), torch.randn(2, 3), torch.randn(2, 4))
    assert measure.optimizer_state_bytes(optimizer) == 0
    with pytest.raises(helpers.BilingualError, match="Optimizer"):
        measure.optimizer_state_bytes("adam")


def test_peak_cuda_bytes_is_none_on_the_cpu():
    calls = []
    assert measure.peak_cuda_bytes(lambda: calls.append(1), torch.device("cpu")) is None
    assert measure.peak_cuda_bytes(lambda: calls.append(1), "cpu") is None
    assert calls == []  # nothing to measure, so nothing is run


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_peak_cuda_bytes_training_above_inference():
    device = torch.device("cuda")
    X, y = (t.to(device) for t in training_vs_inference.make_batch())

    def inference_run():
        with torch.inference_mode():
            training_vs_inference.make_mlp().to(device)(X)

    def training_run():
        model = training_vs_inference.make_mlp().to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        nn.MSELoss()(model(X), y).backward()
        optimizer.step()

    inference = measure.peak_cuda_bytes(inference_run, device)
    training = measure.peak_cuda_bytes(training_run, device)
    assert 0 < inference < training


def test_notebook_memory_matches_the_architecture():
    parts = training_vs_inference.notebook_memory()
    weights = (512 * 512 + 512) * 2 + 512 + 1
    assert parts["weights"] == parts["gradients"] == weights * 4
    assert parts["activations"] == 3 * 256 * 512 * 4
    assert 2 * parts["weights"] <= parts["optimizer"] < 2 * parts["weights"] + 100


def test_memory_figure_is_a_figure_with_bilingual_labels(japanese):
    training = {"weights": 2e6, "gradients": 2e6, "optimizer": 4e6, "activations": 1.5e6}
    fig = training_vs_inference.memory_figure(training, {"weights": 2e6})
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert "/" in ax.get_ylabel() and "/" in ax.get_title()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["学習 / training", "推論 / inference"]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[-1] == "重み / weights" and len(legend) == 4  # top block first, as they are stacked
    totals = [t.get_text() for t in ax.texts if "MB" in t.get_text()]
    assert totals == ["合計 / total 9.50 MB", "合計 / total 2.00 MB"]  # read directly on top of each bar
    assert style.missing_glyphs(fig) == []


def test_memory_figure_follows_the_language():
    helpers.set_language("en")
    fig = training_vs_inference.memory_figure({"weights": 1}, {"weights": 1})
    assert fig.axes[0].get_ylabel() == "memory (MB)"


@pytest.mark.parametrize("bad", [{"weight": 1}, {"weights": -1}, {"weights": "1"}, [1, 2]])
def test_memory_figure_rejects_bad_parts(bad):
    with pytest.raises(helpers.BilingualError):
        training_vs_inference.memory_figure(bad, {"weights": 1})


def test_comparison_table_holds_the_numbers():
    table = training_vs_inference.comparison_table(loss_before=0.5, loss_after=0.01, nodes_training=10,
                                     nodes_inference=0, seconds_training=0.003, seconds_inference=0.001,
                                     bytes_training=9_990_000, bytes_inference=2_100_000)
    lines = table.splitlines()
    assert len(lines) == 2 + 7  # header, rule, seven rows
    assert lines[1] == "|---|---|---|"
    assert all(line.startswith("| ") and line.endswith(" |") and line.count(" | ") == 2
               for line in lines[:1] + lines[2:])
    for text in ("0.5000 → 0.0100", "10 graph nodes", "0 nodes", "3.00 ms", "3.0x", "1.00 ms",
                 "9.99 MB", "2.10 MB", "テスト勉強", "use what you learned"):
        assert text in table


# --- exercises -----------------------------------------------------------------------------------

def test_row_questions_prints_every_key(capsys):
    training_vs_inference.row_questions()
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert [line[:2] for line in lines[::2]] == ["a:", "b:", "c:", "d:", "e:"]  # Japanese, then English under it
    assert all(line.startswith("   ") for line in lines[1::2])


def test_checkers_follow_the_language():
    helpers.set_language("ja")
    assert training_vs_inference.check_adam_state(2).message.startswith("2つです")
