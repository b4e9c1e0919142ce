"""The step modules' checks and the session, as a reader meets them: what each accepts, what each refuses and
the message it gives, and what one setup call changes."""

import random
import warnings

import numpy as np
import pytest
import torch
from torch import nn

import helpers
from helpers import BilingualError
from helpers.engine import forward, loss, session, text, update
from helpers.engine import submodules as engine_submodules


@pytest.fixture
def restore_printing():
    threads = torch.get_num_threads()
    numpy_options = np.get_printoptions()
    yield
    torch.set_num_threads(threads)
    torch.set_printoptions(profile="default")
    np.set_printoptions(**numpy_options)


def draws():
    return random.random(), float(np.random.rand()), torch.rand(1).item()


def test_configure_seeds_every_generator_from_the_seed_given(restore_printing):
    session.configure(seed=5)
    first = draws()
    session.configure(seed=5)
    assert draws() == first
    session.configure(seed=6)
    assert draws() != first
    session.configure()
    default = draws()
    session.configure(seed=0)
    assert draws() == default


def test_configure_sets_print_precision_threads_and_language(restore_printing):
    session.configure(precision=2, threads=2, lang="en")
    assert str(torch.tensor([1 / 3, 1e-5])) == "tensor([0.33, 0.00])"  # fixed point, not 3.33e-01
    assert np.array2string(np.array([1 / 3, 1e-5])) == "[0.33 0.  ]"
    assert torch.get_num_threads() == 2 and text.get_language() == "en"
    session.configure(lang=None)
    assert text.get_language() == "en"  # None keeps the language chosen before
    session.configure()
    assert torch.get_num_threads() == 1 and str(torch.tensor([1 / 3])) == "tensor([0.3333])"
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    session.configure(threads=None)
    assert torch.get_num_threads() == 2 != before


@pytest.mark.parametrize("kwargs, en", [
    (dict(seed=True), "seed must be a whole number (got True)."),
    (dict(seed=2.0), "seed must be a whole number (got 2.0)."),
    (dict(threads=True), "threads must be a whole number of at least 1, or None (got True)."),
    (dict(threads=-2), "threads must be a whole number of at least 1, or None (got -2)."),
    (dict(threads="4"), "threads must be a whole number of at least 1, or None (got '4')."),
])
def test_configure_refuses_settings_in_both_languages(kwargs, en, restore_printing):
    with pytest.raises(BilingualError) as err:
        session.configure(**kwargs)
    assert err.value.en == en and "が渡されました" in err.value.ja


def test_configure_accepts_the_ends_of_numpys_seed_range_and_refuses_beyond(restore_printing):
    session.configure(seed=0, threads=1)
    session.configure(seed=2**32 - 1, threads=1)
    assert torch.get_num_threads() == 1
    for seed in (-1, 2**32):
        with pytest.raises(BilingualError) as err:
            session.configure(seed=seed)
        assert err.value.en == f"seed must be a whole number from 0 to 4294967295 (got {seed})."
        assert err.value.ja == f"seed は 0 から 4294967295 までの整数です({seed} が渡されました)。"


def test_the_engine_finds_its_modules_by_name_and_refuses_others():
    lookup = engine_submodules("helpers.engine")
    assert lookup("text") is text
    with pytest.raises(AttributeError) as err:
        lookup("nothing_here")
    assert str(err.value) == "module 'helpers.engine' has no attribute 'nothing_here'"
    with pytest.raises(AttributeError, match="'_private'"):
        lookup("_private")
    with pytest.raises(AttributeError, match="'__init__'"):
        lookup("__init__")  # a real file, but not a public part


def test_an_unknown_language_lists_the_three_choices():
    with pytest.raises(ValueError) as err:
        text.set_language("de")
    assert str(err.value) == ("言語は both, ja, en のどれかです(指定: 'de')。\n"
                              "The language must be one of both, ja, en (got 'de').")


def test_an_unknown_term_is_explained_in_both_languages():
    with pytest.raises(KeyError) as err:
        text.term("lossy")
    assert err.value.args[0] == "用語集に 'lossy' はありません。\n'lossy' is not in the glossary."


def test_counting_parameters_and_the_first_layers_width():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    assert forward.count_parameters(model) == 3 * 4 + 4 + 4 * 2 + 2
    assert forward.expected_features(model) == 3
    assert forward.expected_features(nn.Sequential(nn.Conv2d(2, 4, 3), nn.Flatten())) == 2
    assert forward.expected_features(nn.ReLU()) is None
    X = torch.randn(5, 3)
    assert torch.equal(forward.forward(model, X), model(X))


def test_a_one_dimensional_convolution_takes_batch_channels_and_length():
    forward.check_input(nn.Conv1d(3, 2, 3), torch.zeros(2, 3, 5))
    with pytest.raises(BilingualError):
        forward.check_input(nn.Conv1d(3, 2, 3), torch.zeros(2, 3, 5, 5))


def test_a_model_without_a_first_layer_takes_any_input():
    forward.check_input(nn.Sequential(nn.ReLU()), torch.zeros(2, 7))


@pytest.mark.parametrize("shape, fits", [((2, 3, 5, 5), True), ((3, 5, 5), False), ((2, 3, 5), False),
                                         ((2, 1, 5, 5), False), ((5, 5), False), ((2, 3, 5, 5, 1), False)])
def test_a_convolution_takes_batch_and_channels_first_then_height_and_width(shape, fits):
    model = nn.Sequential(nn.Conv2d(3, 2, 3))
    if fits:
        forward.check_input(model, torch.zeros(shape))
    else:
        with pytest.raises(BilingualError) as err:
            forward.check_input(model, torch.zeros(shape))
        assert err.value.en == ("The input does not fit: this convolution takes shape (batch, 3, height, width) "
                                f"but got {shape}.")
        assert "(バッチ, 3, 高さ, 幅)" in err.value.ja


def test_a_shape_mismatch_names_the_loss_and_the_shape_to_use():
    with pytest.raises(BilingualError) as err:
        loss.check_shapes(nn.L1Loss(), torch.zeros(4, 1), torch.zeros(4))
    assert "L1Loss compares equal shapes: make y (4, 1)." in err.value.en and "L1Loss は" in err.value.ja
    with pytest.raises(BilingualError) as err:
        loss.check_shapes(nn.CrossEntropyLoss(), torch.zeros(4, 3), torch.zeros(4, 3))
    assert "got prediction (4, 3) and y (4, 3)" in err.value.en
    loss.check_shapes(nn.CrossEntropyLoss(), torch.zeros(4, 3), torch.zeros(4, dtype=torch.long))
    with pytest.raises(BilingualError) as err:
        loss.checked_once(42)
    assert "(got int)" in err.value.en and "int が渡されました" in err.value.ja


def test_the_shape_check_runs_on_the_first_call_only():
    checked = loss.checked_once(nn.MSELoss())
    with pytest.raises(BilingualError):
        checked(torch.zeros(3, 1), torch.zeros(3))
    checked = loss.checked_once(nn.MSELoss())
    assert checked(torch.ones(3, 1), torch.zeros(3, 1)).item() == 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns about the broadcast the first call would have stopped
        assert checked(torch.ones(3, 1), torch.zeros(3)).item() == 1.0
    assert loss.compute_loss(nn.MSELoss(), torch.full((2, 1), 3.0), torch.ones(2, 1)).item() == 4.0


@pytest.mark.parametrize("name, kind, settings", [("sgd", torch.optim.SGD, dict(lr=0.2, momentum=0)),
                                                  ("momentum", torch.optim.SGD, dict(lr=0.2, momentum=0.9)),
                                                  ("adam", torch.optim.Adam, dict(lr=0.2))])
def test_optimizers_by_name_use_the_rate_given(name, kind, settings):
    optimizer = update.make_optimizer(name, nn.Linear(1, 1).parameters(), 0.2)
    assert type(optimizer) is kind
    for key, value in settings.items():
        assert optimizer.param_groups[0][key] == value


def test_an_unknown_optimizer_lists_the_three_names():
    with pytest.raises(BilingualError) as err:
        update.make_optimizer("rmsprop", nn.Linear(1, 1).parameters(), 0.1)
    assert err.value.en == "The optimizer must be one of sgd, momentum, adam (got 'rmsprop')."
    assert "sgd, momentum, adam" in err.value.ja


def test_setup_returns_the_device_it_describes(restore_printing, capsys):
    chosen = helpers.setup(device="cpu", seed=1)
    assert capsys.readouterr().out.strip() == helpers.describe_device(chosen)
