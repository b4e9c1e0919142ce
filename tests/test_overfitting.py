import math

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

import helpers
from helpers.engine.loop import History
from helpers.engine.text import BilingualError
from helpers.lessons import overfitting, overfitting_figures, overfitting_models, slider, style


@pytest.fixture(scope="module")
def demo():
    """The notebook's run: degree 14 on 15 training points, 50 validation points, 200 epochs."""
    X, y, X_val, y_val = overfitting.make_data(n_train=15, n_val=50)
    model, history = overfitting_models.fit(14, X, y, X_val, y_val)
    return X, y, X_val, y_val, model, history


def figure_texts(fig: Figure) -> str:
    texts = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        texts += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()] + [t.get_text() for t in ax.texts]
        legend = ax.get_legend()
        if legend is not None:
            texts += [t.get_text() for t in legend.get_texts()]
    for legend in fig.legends:
        texts += [t.get_text() for t in legend.get_texts()]
    return "\n".join(texts)


# --- data and model ---------------------------------------------------------------------------

def test_make_data_shapes_and_same_rule():
    X, y, X_val, y_val = overfitting.make_data(n_train=15, n_val=50)
    assert X.shape == y.shape == (15, 1) and X_val.shape == y_val.shape == (50, 1)
    assert X.min() >= overfitting_figures.LOW and X.max() <= overfitting_figures.HIGH
    # both sets scatter around sin x by about the noise level
    for features, target in ((X, y), (X_val, y_val)):
        spread = (target - torch.sin(features)).std().item()
        assert 0.5 * overfitting_figures.NOISE < spread < 1.5 * overfitting_figures.NOISE
    # validation points are new questions, not copies of training ones
    assert not any(torch.isclose(X_val, x).any() for x in X)


def test_make_data_more_points_only_adds():
    X15, y15, *_ = overfitting.make_data(n_train=15, n_val=5)
    X40, y40, *_ = overfitting.make_data(n_train=40, n_val=5)
    assert torch.equal(X40[:15], X15) and torch.equal(y40[:15], y15)


def test_make_data_empty_and_bad_sizes():
    X, y, X_val, y_val = overfitting.make_data(n_train=10, n_val=0)
    assert X_val.shape == (0, 1) and y_val.shape == (0, 1)
    for bad in (-1, 2.5, True, "10"):
        with pytest.raises(BilingualError, match="n_train"):
            overfitting.make_data(n_train=bad)


def test_poly_features_match_numpy_legendre():
    X = torch.linspace(-3, 3, 23, dtype=torch.float64).unsqueeze(1)  # (batch, 1)
    for degree in (1, 2, 5, 14):
        got = overfitting.poly_features(X, degree)
        assert got.shape == (23, degree)
        x = X.squeeze(1).numpy() / 3
        expected = np.polynomial.legendre.legvander(x, degree)[:, 1:] * np.sqrt(2 * np.arange(1, degree + 1) + 1)
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-9, atol=1e-9)


def test_poly_features_columns_have_mean_square_about_one():
    X = torch.linspace(-3, 3, 20001).unsqueeze(1)
    mean_square = (overfitting.poly_features(X, 10) ** 2).mean(dim=0)
    assert torch.allclose(mean_square, torch.ones(10), atol=0.01)


@pytest.mark.parametrize("X, degree, word", [
    (torch.zeros(5), 3, "(batch, 1)"),
    (torch.zeros(5, 2), 3, "(batch, 1)"),
    ([[0.0]], 3, "(batch, 1)"),
    (torch.zeros(5, 1), 0, "degree"),
    (torch.zeros(5, 1), overfitting_models.MAX_DEGREE + 1, "degree"),
    (torch.zeros(5, 1), 2.0, "degree"),
    (torch.zeros(5, 1), True, "degree"),
])
def test_poly_features_bad_input_explains_in_both_languages(X, degree, word):
    with pytest.raises(BilingualError) as err:
        overfitting.poly_features(X, degree)
    assert word in err.value.en and err.value.ja


def test_polynomial_model_starts_flat():
    model = overfitting.polynomial_model(6)
    assert isinstance(model, nn.Linear) and model.in_features == 6 and model.out_features == 1
    assert all((p == 0).all() for p in model.parameters())


def test_fit_trains_through_helpers_train_on_the_device():
    X, y, X_val, y_val = overfitting.make_data(n_train=15, n_val=10)
    model, history = overfitting_models.fit(3, X, y, X_val, y_val, num_epochs=7, device=torch.device("cpu"))
    assert history.epochs == 7 and len(history.val_losses) == 7
    prediction = overfitting_models.predict(model, 3, X)
    assert prediction.shape == (15, 1)
    with torch.inference_mode():
        loss = nn.functional.mse_loss(model(overfitting.poly_features(X, 3)), y).item()
    assert math.isclose(loss, nn.functional.mse_loss(prediction, y).item(), rel_tol=1e-6)


# --- the lesson itself --------------------------------------------------------------------------

def test_the_demo_really_overfits(demo):
    *_, history = demo
    best = history.best_epoch
    assert 5 <= best <= 100  # the turn is visible, not at the very start or end
    assert history.val_losses[-1] > 5 * history.val_losses[best - 1]  # validation loss rose a lot
    assert history.losses[-1] < history.losses[best - 1] / 10  # while the training loss kept falling
    assert history.losses[-1] < 0.01  # nearly through every training point
    assert not history.diverged


def test_capacities_underfit_fit_and_overfit(demo):
    X, y, X_val, y_val, *_ = demo
    runs = overfitting.fit_capacities((1, 4, 14), X, y, X_val, y_val)
    train = {d: h.losses[-1] for d, (_, h) in runs.items()}
    val = {d: h.val_losses[-1] for d, (_, h) in runs.items()}
    assert train[14] < train[4] < train[1]
    assert val[4] < val[1] and val[4] < val[14]
    assert train[1] > 0.1 and val[1] > 0.1  # underfitting: both high
    assert val[14] > 10 * train[14]  # overfitting: a wide gap


def test_more_data_shrinks_the_gap():
    gaps = {}
    for n_train in (15, 100):
        X, y, X_val, y_val = overfitting.make_data(n_train=n_train, n_val=50)
        _, history = overfitting_models.fit(14, X, y, X_val, y_val)
        gaps[n_train] = history.val_losses[-1] - history.losses[-1]
    assert gaps[100] < gaps[15] / 10


# --- early stopping -----------------------------------------------------------------------------

def feed(callback, val_losses):
    """Run a callback epoch by epoch on a made-up history; the epoch at which it stops, else None."""
    history = History()
    for epoch, value in enumerate(val_losses, start=1):
        history.losses.append(1.0 / epoch)
        history.val_losses.append(value)
        if callback(epoch, history):
            return epoch
    return None


def test_early_stopping_stops_patience_epochs_after_the_best():
    val = [5, 4, 3, 2.5, 2.6, 2.7, 2.4, 2.5, 2.6, 2.7, 2.8, 2.9]  # best at epoch 7
    assert feed(overfitting.early_stopping(3), val) == 10
    assert feed(overfitting.early_stopping(1), val) == 5  # 2.6 after 2.5: one epoch without a new best
    assert feed(overfitting.early_stopping(6), val) is None  # never 6 epochs without a new best here
    assert overfitting.stop_epoch(val, 3) == 10 and overfitting.stop_epoch(val, 6) == len(val)


def test_early_stopping_keeps_the_first_of_equal_losses():
    val = [3, 2, 2, 2, 2]
    assert feed(overfitting.early_stopping(2), val) == 4
    assert overfitting.stop_epoch(val, 2) == 4


def test_stop_epoch_agrees_with_the_callback():
    g = torch.Generator().manual_seed(3)
    for _ in range(20):
        val = (torch.rand(30, generator=g) + torch.linspace(1, 0, 30)).tolist()
        for patience in (1, 3, 7):
            stopped = feed(overfitting.early_stopping(patience), val)
            assert overfitting.stop_epoch(val, patience) == (stopped or len(val))


def test_early_stopping_without_validation_follows_the_training_loss():
    callback = overfitting.early_stopping(2)
    history = History(losses=[3.0, 2.0, 2.5, 2.6])
    assert not callback(3, History(losses=history.losses[:3]))
    assert callback(4, history)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "5", None])
def test_early_stopping_bad_patience(bad):
    with pytest.raises(BilingualError, match="patience"):
        overfitting.early_stopping(bad)
    with pytest.raises(BilingualError, match="patience"):
        overfitting.stop_epoch([1.0, 2.0], bad)


def test_early_stopping_in_helpers_train(demo):
    X, y, X_val, y_val, _, full = demo
    patience = 20
    model = overfitting.polynomial_model(14)
    callback = overfitting.early_stopping(patience, model=model)
    history = helpers.train(model, overfitting.poly_features(X, 14), y, loss_fn=nn.MSELoss(), lr=overfitting.LR,
                            num_epochs=overfitting_figures.NUM_EPOCHS, optimizer=overfitting_models.OPTIMIZER,
                            X_val=overfitting.poly_features(X_val, 14), y_val=y_val, callback=callback)
    assert history.stopped_early
    assert history.epochs == history.best_epoch + patience == overfitting.stop_epoch(full.val_losses, patience)
    assert history.val_losses == pytest.approx(full.val_losses[:history.epochs], abs=1e-6)
    assert history.val_losses[-1] < full.val_losses[-1]
    # the model went back to the weights of its best epoch
    restored = nn.functional.mse_loss(overfitting_models.predict(model, 14, X_val), y_val).item()
    assert restored == pytest.approx(history.val_losses[history.best_epoch - 1], abs=1e-5)
    assert restored < history.val_losses[-1]


def test_early_stopping_without_a_model_leaves_the_weights_where_they_stop(demo):
    X, y, X_val, y_val, *_ = demo
    model, history = overfitting_models.fit(14, X, y, X_val, y_val, callback=overfitting.early_stopping(20))
    now = nn.functional.mse_loss(overfitting_models.predict(model, 14, X_val), y_val).item()
    assert now == pytest.approx(history.val_losses[-1], abs=1e-5)


# --- empty validation data ----------------------------------------------------------------------

def test_empty_validation_is_refused_in_both_languages():
    X, y, X_val, y_val = overfitting.make_data(n_train=15, n_val=0)
    with pytest.raises(BilingualError) as err:
        overfitting_models.fit(5, X, y, X_val, y_val)
    assert "検証データが空" in err.value.ja and "validation data is empty" in err.value.en
    X_train, y_train, X_empty, y_empty = helpers.engine.data.split(X, y, val_fraction=0.0)
    assert len(X_empty) == 0
    with pytest.raises(BilingualError, match="validation data is empty"):
        overfitting_models.fit(5, X_train, y_train, X_empty, y_empty)


def test_figure_with_no_validation_points_says_what_to_do():
    with pytest.raises(BilingualError) as err:
        overfitting_figures.overfitting_figure(5, 15, 0)
    assert "検証データの数を 1 以上" in err.value.ja and "validation points to 1 or more" in err.value.en


# --- figures ------------------------------------------------------------------------------------

def test_loss_curves_marks_the_best_epoch_and_the_stop(demo, japanese):
    *_, history = demo
    fig = overfitting_figures.loss_curves(history, stop=42)
    assert isinstance(fig, Figure)
    text = figure_texts(fig)
    assert f"best: epoch {history.best_epoch}" in text and "early stop: epoch 42" in text
    assert "検証" in text and "validation" in text
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and len(ax.get_lines()) >= 4  # two curves, the best line and dot
    assert style.missing_glyphs(fig) == []


def test_loss_curves_needs_an_epoch():
    with pytest.raises(BilingualError):
        overfitting_figures.loss_curves(History())


def test_fit_and_capacity_figures_draw_cleanly(demo, japanese):
    X, y, X_val, y_val, model, _ = demo
    runs = overfitting.fit_capacities((1, 4), X, y, X_val, y_val, num_epochs=5)
    for fig in (overfitting_figures.fit_figure(model, 14, X, y, X_val, y_val),
                overfitting_figures.fit_figure(model, 14, X, y),
                overfitting_figures.capacity_comparison(runs, X, y, X_val, y_val)):
        assert isinstance(fig, Figure)
        assert "sin x" in figure_texts(fig)
        assert style.missing_glyphs(fig) == []
    assert len(overfitting_figures.capacity_comparison(runs, X, y, X_val, y_val).axes) == 2


def test_overfitting_figure_is_bilingual(japanese):
    fig = overfitting_figures.overfitting_figure(14, 15, 50)
    text = figure_texts(fig)
    assert "次数 14" in text and "degree 14" in text and "15 training points" in text
    assert len(fig.axes) == 2
    assert style.missing_glyphs(fig) == []


def test_history_table():
    table = overfitting.history_table(overfitting.exercise_history())
    lines = table.splitlines()
    assert len(lines) == 2 + len(overfitting.EXERCISE_VAL_LOSSES)  # one header line per language
    assert "エポック" in lines[0] and "validation loss" in lines[1] and "/" not in table
    assert lines[7].split() == ["6", f"{0.9 * 0.7 ** 5:.4f}", "0.2900"]  # each number once


# --- the explorer ---------------------------------------------------------------------------------

def test_explorer_sliders_and_default_figure(japanese):
    explorer = overfitting_figures.overfitting_explorer()
    assert isinstance(explorer, slider.SliderFigure)
    assert set(explorer.sliders) == {"degree", "n_train", "n_val"}
    assert all(not s.continuous_update for s in explorer.sliders.values())
    assert explorer.values() == {"degree": 14, "n_train": 15, "n_val": 50}
    assert isinstance(explorer.figure, Figure) and len(explorer.figure.axes) == 2
    assert bytes(explorer.image.value).startswith(b"\x89PNG")


def test_explorer_every_slider_limit_draws_a_figure(japanese):
    explorer = overfitting_figures.overfitting_explorer()
    for name, control in explorer.sliders.items():
        for value in (control.min, control.max):
            before = bytes(explorer.image.value)
            control.value = value  # observe() redraws; an exception would surface here
            assert isinstance(explorer.figure, Figure), (name, value)
            assert bytes(explorer.image.value) != before, (name, value)
            if name == "n_val" and value == 0:
                assert "validation points to 1 or more" in figure_texts(explorer.figure)
            else:
                assert len(explorer.figure.axes) == 2, (name, value)  # a real plot, not a message
        control.value = {"degree": 14, "n_train": 15, "n_val": 50}[name]


@pytest.mark.parametrize("degree, n_train", [(1, 5), (1, 100), (15, 5), (15, 100)])
def test_explorer_corners_train_without_diverging(degree, n_train, japanese):
    fig = overfitting_figures.overfitting_figure(degree, n_train, 5)
    assert len(fig.axes) == 2  # a diverged run would have raised its own message instead


# --- exercises ------------------------------------------------------------------------------------

def test_diagnosis_cases_match_their_answers():
    # the made-up cases follow the rule the notebook teaches
    for train_loss, val_loss, answer in overfitting.DIAGNOSIS_CASES.values():
        if answer == "overfitting":
            assert val_loss > 5 * train_loss
        elif answer == "underfitting":
            assert train_loss > 0.2 and val_loss < 2 * train_loss
        else:
            assert train_loss < 0.1 and val_loss < 0.1


def test_diagnosis_questions_print_every_case(capsys):
    overfitting.diagnosis_questions()
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[2:]}
    assert "検証の損失" in out and "validation loss" in out
    assert rows == {key: [f"{t:.3f}", f"{v:.3f}"] for key, (t, v, _) in overfitting.DIAGNOSIS_CASES.items()}


def test_test_data_is_a_third_draw_apart_from_training_and_validation():
    X, y, X_val, y_val = overfitting.make_data(n_train=15, n_val=50)
    X_test, y_test = overfitting.make_test_data(n=50)
    assert X_test.shape == (50, 1) and y_test.shape == (50, 1)
    assert not any(torch.isclose(X_test, x).any() for x in X.flatten())  # no training question reappears
    assert not torch.equal(X_test, X_val[: len(X_test)])
    assert torch.equal(overfitting.make_test_data(n=50)[0], X_test)  # the same draw every time
    for bad in (0, -1, 2.5, True, "50"):
        with pytest.raises(helpers.BilingualError):
            overfitting.make_test_data(n=bad)
