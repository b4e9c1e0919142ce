import warnings

import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

import helpers
from helpers.lessons import precision, precision_formats, precision_int8, precision_kernels, precision_weights, style


def small_mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 3))


# --- Part A1: the CNN ---------------------------------------------------------------------------

def test_make_cnn_shapes_and_same_start_every_time():
    model = precision_weights.make_cnn(filters=3)
    assert model[0].weight.shape == (3, 1, 3, 3)
    X, _ = helpers.engine.data.make_bars(n=5, size=8)
    assert model(X).shape == (5, 2)
    assert torch.equal(model[0].weight, precision_weights.make_cnn(filters=3)[0].weight)
    state = torch.random.get_rng_state()
    precision_weights.make_cnn()
    assert torch.equal(state, torch.random.get_rng_state())  # the global seed is left alone


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "4"])
def test_make_cnn_refuses_bad_filter_counts(bad):
    with pytest.raises(helpers.BilingualError, match="filters"):
        precision_weights.make_cnn(filters=bad)


def test_training_changes_the_filters_and_learns_the_bars():
    X, y = helpers.engine.data.make_bars(n=200, size=8, noise=0.2)
    model = precision_weights.make_cnn()
    before = model[0].weight.detach().clone()
    assert precision_weights.accuracy(model, X, y) < 0.7
    helpers.train(model, X, y, loss_fn=nn.CrossEntropyLoss(), lr=0.05, num_epochs=100, optimizer="adam")
    assert precision_weights.accuracy(model, X, y) > 0.95
    assert precision_weights.changed_elements(before, model[0].weight.detach()) == before.numel()


def test_accuracy_counts_right_rows():
    model = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.eye(2))
    X = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    assert precision_weights.accuracy(model, X, torch.tensor([0, 1, 1, 1])) == 0.75


# --- Part A2: attention ---------------------------------------------------------------------------

def test_self_attention_shapes_and_rows_sum_to_one():
    layer = precision_weights.SelfAttention(4)
    x = torch.randn(3, 5, 4)  # (batch, seq, d_model)
    weights = layer.attention(x)
    assert weights.shape == (3, 5, 5)
    assert torch.allclose(weights.sum(dim=-1), torch.ones(3, 5))
    assert layer(x).shape == (3, 5, 4)
    assert [n for n, _ in layer.named_parameters()] == ["q.weight", "k.weight", "v.weight"]


def test_self_attention_matches_the_formula():
    layer = precision_weights.SelfAttention(2)
    x = torch.randn(1, 3, 2)
    q, k, v = x @ layer.q.weight.T, x @ layer.k.weight.T, x @ layer.v.weight.T
    expected = torch.softmax(q @ k.transpose(-2, -1) / 2 ** 0.5, dim=-1) @ v
    assert torch.allclose(layer(x), expected, atol=1e-6)


@pytest.mark.parametrize("shape", [(5, 4), (2, 5, 3)])
def test_self_attention_names_the_expected_shape(shape):
    with pytest.raises(helpers.BilingualError, match=r"\(batch, length, 4\)"):
        precision_weights.SelfAttention(4).attention(torch.randn(*shape))


def test_make_max_data():
    X, y = precision_weights.make_max_data(n=10, length=6)
    assert X.shape == y.shape == (10, 6, 1)
    assert torch.equal(y[:, 0, 0], X[:, :, 0].amax(dim=1))
    assert torch.equal(y, y[:, :1].expand_as(y))  # the same answer at every position
    assert X.min() >= 0 and X.max() <= 9 and torch.equal(X, X.round())
    with pytest.raises(helpers.BilingualError):
        precision_weights.make_max_data(length=1)


def test_training_changes_q_k_v_and_attention_finds_the_maximum():
    X, y = precision_weights.make_max_data(n=64, length=6)
    model = precision_weights.MaxFinder(d_model=4)
    example = torch.tensor([3.0, 7.0, 1.0, 9.0, 4.0, 2.0]).view(1, 6, 1)
    with torch.no_grad():
        before_attention = model.attention(example)[0]
    before = precision_weights.qkv_weights(model)
    assert set(before) == {"q", "k", "v"} and all(w.shape == (4, 4) for w in before.values())
    history = helpers.train(model, X, y, loss_fn=nn.MSELoss(), lr=0.1, num_epochs=60, optimizer="adam")
    after = precision_weights.qkv_weights(model)
    for name in "qkv":
        assert (after[name] - before[name]).norm() > 0
    assert history.losses[-1] < history.losses[0] / 100
    with torch.no_grad():
        after_attention = model.attention(example)[0]
        answers = model(example)
    assert before_attention[:, 3].mean() < 0.3 and after_attention[:, 3].mean() > 0.5
    assert (answers - 9).abs().max() < 0.5


def test_qkv_weights_are_copies_and_need_an_attention_layer():
    model = precision_weights.MaxFinder()
    weights = precision_weights.qkv_weights(model)
    weights["q"].zero_()
    assert model.attn.q.weight.abs().sum() > 0
    with pytest.raises(helpers.BilingualError, match="SelfAttention"):
        precision_weights.qkv_weights(nn.Linear(2, 2))


# --- Part A3: matrix elements ---------------------------------------------------------------------

def test_one_step_changes_every_element_with_a_dense_gradient():
    torch.manual_seed(0)
    model = nn.Linear(5, 3)
    X, y = torch.randn(8, 5), torch.randn(8, 3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    before = model.weight.detach().clone()
    nn.MSELoss()(model(X), y).backward()
    optimizer.step()
    assert precision_weights.changed_elements(before, model.weight.detach()) == 15
    X[:, 2] = 0.0  # the weights reading feature 3 get gradient 0
    before = model.weight.detach().clone()
    optimizer.zero_grad()
    nn.MSELoss()(model(X), y).backward()
    optimizer.step()
    assert precision_weights.changed_elements(before, model.weight.detach()) == 12


def test_changed_elements_needs_the_same_shape():
    assert precision_weights.changed_elements(torch.zeros(2, 2), torch.tensor([[0.0, 1.0], [0.0, 0.0]])) == 1
    with pytest.raises(helpers.BilingualError, match="same shape"):
        precision_weights.changed_elements(torch.zeros(2, 2), torch.zeros(2, 3))


# --- Part B4: formats and vanishing updates -------------------------------------------------------

def test_bytes_per_number():
    assert {f: precision_formats.bytes_per_number(f) for f in precision_formats.FORMATS} == {
        "float32": 4, "float16": 2, "bfloat16": 2, "int8": 1}
    with pytest.raises(helpers.BilingualError, match="float32"):
        precision_formats.bytes_per_number("float8")


def test_format_table_lists_every_format_with_eps():
    table = precision_formats.format_table()
    for fmt in precision_formats.FORMATS:
        assert fmt in table
    assert "1.19e-07" in table and "0.000977" in table and "-128 .. 127" in table


def test_stored_matches_torch_rounding():
    assert precision_formats.stored(1.0001, "float16") == torch.tensor(1.0001, dtype=torch.float16).item()
    assert precision_formats.stored(0.123, "int8", scale=0.01) == pytest.approx(0.12)
    assert precision_formats.stored(5.0, "int8", scale=0.01) == pytest.approx(1.27)  # clamped at 127 steps
    with pytest.raises(helpers.BilingualError, match="scale"):
        precision_formats.stored(1.0, "int8", scale=0)


def test_small_update_vanishes_in_low_precision_but_not_in_fp32():
    assert precision_formats.survives(1.0, 1e-4, "float32")
    for fmt in ("float16", "bfloat16", "int8"):
        assert not precision_formats.survives(1.0, 1e-4, fmt)
        assert precision_formats.stored_after_update(1.0, 1e-4, fmt) == 1.0
    assert not precision_formats.survives(1.0, 1e-8, "float32")  # FP32 has a limit too
    assert precision_formats.survives(1.0, 1e-2, "int8", scale=0.01)  # one whole step survives
    # Cross-check against torch: float16 1.0 + 0.001 rounds up to 1 + 2**-10.
    assert precision_formats.stored_after_update(1.0, 1e-3, "float16") == 1 + 2 ** -10


def test_update_traces():
    traces = precision_formats.update_traces(w0=1.0, delta=1e-4, steps=100)
    assert set(traces) == set(precision_formats.FORMATS)
    assert all(len(t) == 101 for t in traces.values())
    assert traces["float32"][-1] == pytest.approx(1.01, abs=1e-4)
    assert all(traces[f][-1] == 1.0 for f in ("float16", "bfloat16", "int8"))
    with pytest.raises(helpers.BilingualError):
        precision_formats.update_traces(steps=0)


# --- Part B5: the quantizer ---------------------------------------------------------------------------

@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("seed", range(5))
def test_round_trip_error_is_at_most_half_a_step(symmetric, seed):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(1000, generator=g) * (seed + 0.5) + seed - 2).double()  # float64: no extra rounding
    q, params = precision_int8.quantize(x, symmetric=symmetric)
    assert q.dtype == torch.int8 and q.shape == x.shape
    assert params.symmetric is symmetric
    if symmetric:
        assert params.zero_point == 0
    back = precision_int8.dequantize(q, params, dtype=torch.float64)
    assert (x - back).abs().max().item() <= params.max_error * (1 + 1e-9)
    # float32 out: at most half a step plus float32's own last-digit rounding
    back32 = precision_int8.dequantize(q, params)
    assert back32.dtype == torch.float32
    assert (x - back32.double()).abs().max().item() <= params.max_error + x.abs().max().item() * 2 ** -24


@pytest.mark.parametrize("symmetric", [False, True])
def test_zero_maps_exactly(symmetric):
    x = torch.tensor([-0.7, 0.0, 0.3, 1.9])
    q, params = precision_int8.quantize(x, symmetric=symmetric)
    assert precision_int8.dequantize(q, params)[1].item() == 0.0
    assert q[1].item() == params.zero_point


def test_params_use_the_whole_int8_range():
    x = torch.tensor([-1.0, 0.5, 3.0])
    q, params = precision_int8.quantize(x)
    assert params.scale == pytest.approx(4.0 / 255)
    assert q.min().item() == -128 and q.max().item() == 127
    q, params = precision_int8.quantize(x, symmetric=True)
    assert params.scale == pytest.approx(3.0 / 127) and params.zero_point == 0
    assert q.max().item() == 127 and q.min().item() >= -127


def test_range_always_includes_zero_and_all_zero_tensor_works():
    q, params = precision_int8.quantize(torch.tensor([2.0, 3.0]))  # all positive: range [0, 3]
    assert params.zero_point == -128
    assert params.scale == pytest.approx(3.0 / 255)
    q, params = precision_int8.quantize(torch.zeros(4))
    assert params.scale == 1.0 and torch.equal(precision_int8.dequantize(q, params), torch.zeros(4))


def test_quantize_matches_torch_quantize_per_tensor():
    x = torch.randn(300)
    q, params = precision_int8.quantize(x)
    with warnings.catch_warnings():  # torch's own quantized tensors warn that they are deprecated
        warnings.simplefilter("ignore")
        reference = torch.quantize_per_tensor(x, params.scale, params.zero_point, torch.qint8)
    assert (q.int() - reference.int_repr().int()).abs().max().item() <= 1  # ties may round either way
    assert (q.int() != reference.int_repr().int()).float().mean().item() < 0.01


@pytest.mark.parametrize("bad, words", [
    (torch.tensor([0.5, float("nan")]), "NaN"),
    (torch.tensor([float("inf"), 1.0]), "NaN or infinite"),
    (torch.empty(0), "empty"),
    (torch.tensor([1, 2, 3]), "floating-point"),
    (torch.tensor([True, False]), "floating-point"),
    ([0.5, 1.0], "torch.Tensor"),
])
def test_bad_input_gives_a_bilingual_error(bad, words):
    with pytest.raises(helpers.BilingualError, match=words) as info:
        precision_int8.quantize(bad)
    assert info.value.ja and info.value.en


def test_dequantize_needs_int8():
    _, params = precision_int8.quantize(torch.ones(3))
    with pytest.raises(helpers.BilingualError, match="int8"):
        precision_int8.dequantize(torch.ones(3), params)


# --- Part B6: a quantized model ----------------------------------------------------------------------

def test_quantized_model_is_about_four_times_smaller_and_answers_the_same():
    X, y = helpers.engine.data.make_blobs(n_per_class=50, classes=3, spread=0.9)
    model = small_mlp()
    helpers.train(model, X, y, loss_fn=nn.CrossEntropyLoss(), lr=0.01, num_epochs=60, optimizer="adam")
    model_int8 = precision_int8.quantize_model(model)
    assert all(not isinstance(m, nn.Linear) for m in model_int8.modules())
    assert isinstance(model[0], nn.Linear)  # the original is untouched
    ratio = precision_int8.model_bytes(model) / precision_int8.model_bytes(model_int8)
    assert 3.0 <= ratio < 4  # 1 byte per weight, plus one float32 scale per row and the biases
    assert model_int8[0].q_weight.dtype == torch.int8
    with torch.no_grad():
        assert (model(X) - model_int8(X)).abs().max() < 0.1
    assert abs(precision_weights.accuracy(model, X, y) - precision_weights.accuracy(model_int8, X, y)) <= 0.02
    assert precision_int8.saved_bytes(model_int8) < precision_int8.saved_bytes(model)
    assert "int8 symmetric per-channel" in repr(model_int8)
    assert "int8 affine" in repr(precision_int8.quantize_model(model, symmetric=False, per_channel=False))


def test_model_bytes_counts_by_hand():
    model = nn.Linear(4, 2)  # 8 weights + 2 biases, float32
    assert precision_int8.model_bytes(model) == 10 * 4
    # per channel: int8 weights 8 bytes, a float32 scale per row 2 * 4, float32 bias 2 * 4; no zero point
    assert precision_int8.model_bytes(precision_int8.quantize_model(model)) == 8 + 8 + 8
    # one affine scale for the matrix: float32 scale 4 and int32 zero point 4 instead
    assert precision_int8.model_bytes(precision_int8.quantize_model(model, False, False)) == 8 + 4 + 4 + 8


def test_int8_linear_equals_linear_with_the_dequantized_weight():
    linear = nn.Linear(6, 3)
    layer = precision_int8.Int8Linear(linear, symmetric=True)
    x = torch.randn(5, 6)
    weight = precision_int8.dequantize(layer.q_weight, layer.params)
    assert torch.allclose(layer(x), x @ weight.T + linear.bias, atol=1e-6)
    assert layer.zero_point.item() == 0


def test_quantize_model_needs_linear_layers():
    with pytest.raises(helpers.BilingualError, match="nn.Linear"):
        precision_int8.quantize_model(nn.ReLU())
    with pytest.raises(helpers.BilingualError, match="nn.Module"):
        precision_int8.quantize_model("model")


def test_nested_linear_layers_are_replaced():
    model = precision_weights.MaxFinder()
    quantized = precision_int8.quantize_model(model)
    assert sum(isinstance(m, precision_int8.Int8Linear) for m in quantized.modules()) == 5
    X, _ = precision_weights.make_max_data(n=4)
    with torch.no_grad():
        assert quantized(X).shape == (4, 6, 1)


# --- Part B7: PyTorch's own path and its fallback ----------------------------------------------------

REAL_QUANTIZE_DYNAMIC = precision_int8._find_quantize_dynamic()


def _real_without_warnings(*args, **kwargs):
    """This PyTorch's quantize_dynamic with its warnings silenced: a stand-in for a version that does not warn."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return REAL_QUANTIZE_DYNAMIC(*args, **kwargs)


def test_pytorch_int8_skips_when_missing(monkeypatch):
    monkeypatch.setattr(precision_int8, "_find_quantize_dynamic", lambda: None)
    model, message = precision_int8.pytorch_int8(small_mlp())
    assert model is None
    assert "quantize_dynamic" in message and "skipped" in message and "飛ばします" in message


def test_pytorch_int8_skips_when_it_warns(monkeypatch):
    def noisy(model, *args, **kwargs):
        warnings.warn("quantize_dynamic is deprecated", DeprecationWarning, stacklevel=2)
        return model

    monkeypatch.setattr(precision_int8, "_find_quantize_dynamic", lambda: noisy)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing may escape to the reader
        model, message = precision_int8.pytorch_int8(small_mlp())
    assert model is None and "deprecated" in message and "torchao" in message


def test_pytorch_int8_with_this_pytorch_never_leaks_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model, message = precision_int8.pytorch_int8(small_mlp())
    assert message
    assert model is None or not any(isinstance(m, nn.Linear) for m in model.modules())


def test_pytorch_int8_used_and_compared_where_it_is_quiet(monkeypatch):
    if REAL_QUANTIZE_DYNAMIC is None:
        pytest.skip("this PyTorch has no quantize_dynamic")
    monkeypatch.setattr(precision_int8, "_find_quantize_dynamic", lambda: _real_without_warnings)
    X, y = helpers.engine.data.make_blobs(n_per_class=50, classes=3, spread=0.9)
    model = small_mlp()
    helpers.train(model, X, y, loss_fn=nn.CrossEntropyLoss(), lr=0.01, num_epochs=60, optimizer="adam")
    model_torch, message = precision_int8.pytorch_int8(model)
    assert model_torch is not None and "Used" in message
    result = precision_int8.pytorch_comparison(model, precision_int8.quantize_model(model), model_torch, X)
    assert result["bytes"]["INT8 PyTorch"] < result["bytes"]["FP32"]
    assert result["bytes"]["INT8 ours"] < result["bytes"]["FP32"]
    assert result["agreement"] >= 0.95 and result["max_difference"] < 0.5


# --- Plotters -------------------------------------------------------------------------------------------

def test_plotters_return_figures_without_missing_glyphs(japanese):
    filters = torch.randn(4, 1, 3, 3)
    attention = torch.softmax(torch.randn(6, 6), dim=-1)
    x = torch.randn(100)
    q, params = precision_int8.quantize(x)
    figures = [
        precision_weights.filters_figure(filters, filters * 2),
        precision_weights.attention_figure(torch.arange(6.0), attention, attention),
        precision_weights.matrix_change_figure(torch.zeros(3, 5), torch.ones(3, 5)),
        precision_formats.vanishing_figure(precision_formats.update_traces(steps=5), 1e-4),
        precision_int8.quantization_figure(x, q, params),
        precision_int8.quantization_figure(x, *precision_int8.quantize(x, symmetric=True)),
    ]
    for fig in figures:
        assert isinstance(fig, Figure)
        assert style.missing_glyphs(fig) == []


def test_plotters_refuse_mismatched_shapes():
    with pytest.raises(helpers.BilingualError, match="same shape"):
        precision_weights.filters_figure(torch.zeros(4, 1, 3, 3), torch.zeros(3, 1, 3, 3))
    with pytest.raises(helpers.BilingualError, match=r"\(filters, 1, k, k\)"):
        precision_weights.filters_figure(torch.zeros(3, 3), torch.zeros(3, 3))
    with pytest.raises(helpers.BilingualError, match=r"\(6, 6\)"):
        precision_weights.attention_figure(torch.arange(6.0), torch.zeros(5, 5), torch.zeros(5, 5))
    with pytest.raises(helpers.BilingualError, match="two dimensions"):
        precision_weights.matrix_change_figure(torch.zeros(3), torch.zeros(3))
    x = torch.randn(10)
    q, params = precision_int8.quantize(x)
    with pytest.raises(helpers.BilingualError, match="different numbers"):
        precision_int8.quantization_figure(x, q[:5], params)


def test_english_only_labels(japanese):
    helpers.set_language("en")
    fig = precision_weights.filters_figure(torch.zeros(2, 1, 3, 3), torch.ones(2, 1, 3, 3))
    assert fig.texts[0].get_text() == "3×3 filter weights (orange +, blue −)"


# --- Exercises ------------------------------------------------------------------------------------------

def test_checkers_follow_the_language_setting():
    helpers.set_language("en")
    message = precision.check_scale(2 / 127).message
    assert "Right" in message and "正解" not in message


# --- per-channel weights, int8 kernels, torchao ---------------------------------------------------

def test_per_channel_scales_fit_each_row():
    W = torch.randn(3, 16) * torch.tensor([[0.01], [1.0], [0.0]])  # a tiny row, a normal row, a zero row
    q, scale = precision_int8.quantize_per_channel(W)
    assert q.dtype == torch.int8 and scale.shape == (3, 1)
    assert q.abs().max() <= 127 and q[0].abs().max() == 127 and q[1].abs().max() == 127  # each row fills -127..127
    assert torch.all((W - q.float() * scale).abs() <= scale / 2 + 1e-7)  # half a step of its own row
    assert torch.equal(q[2], torch.zeros(16, dtype=torch.int8))  # an all-zero row stays 0
    with pytest.raises(helpers.BilingualError):
        precision_int8.quantize_per_channel(torch.randn(4))
    with pytest.raises(helpers.BilingualError):
        precision_int8.quantize_per_channel(torch.tensor([[float("nan"), 1.0]]))


def test_per_channel_layer_matches_its_dequantized_weight():
    linear = nn.Linear(6, 3)
    layer = precision_int8.Int8Linear(linear, symmetric=True, per_channel=True)
    x = torch.randn(5, 6)
    assert torch.allclose(layer(x), x @ (layer.q_weight.float() * layer.scale).T + linear.bias, atol=1e-6)


def test_int8_matmul_is_exact_and_refuses_other_types():
    speed = precision_kernels.int8_speed(m=32, k=64, n=48, repeats=2)
    if speed is not None:  # this build has an int8 kernel
        assert speed["exact"] and speed["int8"] > 0 and speed["float32"] > 0
    with pytest.raises(helpers.BilingualError):
        precision_kernels.int8_matmul(torch.randn(2, 2), torch.randn(2, 2))


def test_missing_torchao_gives_a_bilingual_note_not_a_traceback():
    def importer(name):
        raise ImportError(name)

    module, message = precision_kernels.load_torchao(importer)
    assert module is None and "torchao" in message and "pip install" in message
    assert len(message.splitlines()) == 2  # Japanese line, English line
    with pytest.raises(helpers.BilingualError):
        precision_kernels.torchao_int8(small_mlp(), kind="int4")


def test_torchao_where_installed_keeps_the_answers():
    quantization, _ = precision_kernels.load_torchao()
    if quantization is None:
        pytest.skip("torchao is an optional extra")
    model, X = small_mlp(), torch.randn(20, 2)
    with torch.inference_mode():
        for kind in ("weight_only", "dynamic"):
            quantized = precision_kernels.torchao_int8(model, kind, quantization=quantization)
            assert (quantized(X) - model(X)).abs().max() < 0.1
