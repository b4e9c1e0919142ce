"""Notebook 06's explorer keeps its runs: what it shows for any setting is bit for bit what training a
fresh model that many epochs gives, yet a slider move it has seen before trains nothing."""

import pytest
import torch
from torch import nn

import helpers
from helpers.engine import data
from helpers.lessons import loop, loop_runs


@pytest.fixture(autouse=True)
def _no_shared_folder(monkeypatch, japanese):
    monkeypatch.delenv(loop_runs.CACHE_ENV, raising=False)


def fresh(lr, num_epochs, grid):
    """Train from scratch as the explorer once did on every move: (history, fit or None, model)."""
    model = loop._mlp(16, 0)
    X, y = data.make_curve(30, seed=0)
    with loop._one_thread():
        history = helpers.train(model, X, y, loss_fn=nn.MSELoss(), lr=lr, num_epochs=num_epochs)
        with torch.inference_mode():
            fit = None if history.diverged else model(grid).squeeze(1)
    return history, fit, model


def move(explorer, lr, num_epochs):
    explorer.lr_slider.value = lr
    explorer.epochs_slider.value = num_epochs


def assert_same_as_fresh(explorer, lr, num_epochs):
    history, fit, _ = fresh(lr, num_epochs, explorer._grid)
    shown = explorer.history
    assert shown.losses == history.losses  # exactly equal floats, not approximately
    assert shown.diverged == history.diverged and shown.lr == history.lr
    if fit is None:
        assert not explorer._fit_line.get_visible()
    else:
        assert torch.equal(torch.as_tensor(explorer._fit_line.get_ydata()), fit)


@pytest.mark.parametrize("lr", [1e-4, 0.1, 0.3, 1.0, 10.0])
def test_every_epoch_count_is_a_slice_bit_identical_to_training_from_scratch(lr):
    explorer = loop.training_explorer()
    move(explorer, lr, 200)  # the longest run first: every shorter one is then a slice of it
    for num_epochs in (200, 1, 7, 60, 133):
        move(explorer, lr, num_epochs)
        assert_same_as_fresh(explorer, lr, num_epochs)


def test_a_run_resumed_step_by_step_is_bit_identical_too():
    explorer = loop.training_explorer()
    for num_epochs in (3, 40, 41, 150, 200):  # each move trains only the epochs not yet trained
        move(explorer, 0.2, num_epochs)
        assert_same_as_fresh(explorer, 0.2, num_epochs)
    assert explorer.runs.trained_epochs == 100 + 200  # the default setting's run, then 200 epochs at 0.2


def test_a_diverging_run_stops_where_a_fresh_one_does():
    explorer = loop.training_explorer()
    move(explorer, 1.0, 200)
    assert explorer.history.diverged
    last = explorer.history.epochs  # the epoch after this one blew up
    for num_epochs in (last, last + 1, 200):
        move(explorer, 1.0, num_epochs)
        assert explorer.history.diverged == (num_epochs > last)
        assert_same_as_fresh(explorer, 1.0, num_epochs)


def test_moves_already_seen_train_nothing_and_draw_nothing_new(monkeypatch):
    explorer = loop.training_explorer()
    move(explorer, 0.3, 200)
    move(explorer, 0.01, 50)
    trained = explorer.runs.trained_epochs
    pictures = {}
    for lr, num_epochs in ((0.3, 120), (0.3, 5), (0.01, 20), (0.01, 50)):
        move(explorer, lr, num_epochs)
        pictures[lr, num_epochs] = bytes(explorer.image.value)
    assert explorer.runs.trained_epochs == trained  # only slices: no epoch trained
    drawn = []
    original = explorer._draw_png
    monkeypatch.setattr(explorer, "_draw_png", lambda fig: drawn.append(1) or original(fig))
    for (lr, num_epochs), picture in pictures.items():
        move(explorer, lr, num_epochs)
        assert bytes(explorer.image.value) == picture
    assert not drawn  # each picture came back from the ones kept
    move(explorer, 0.3, 77)
    assert drawn == [1]  # a new setting is drawn


def test_the_model_is_the_one_training_from_scratch_gives():
    explorer = loop.training_explorer()
    move(explorer, 0.2, 200)
    move(explorer, 0.2, 30)
    _, _, model = fresh(0.2, 30, explorer._grid)
    for name, value in model.state_dict().items():
        assert torch.equal(explorer.model.state_dict()[name], value)


def test_a_shared_folder_lets_a_second_kernel_train_nothing(tmp_path):
    first = loop.training_explorer(cache=tmp_path)
    move(first, 0.3, 10)
    assert not list(tmp_path.iterdir())  # only finished (200-epoch or diverged) runs are shared
    move(first, 0.3, 200)
    move(first, 1.0, 200)
    assert len(list(tmp_path.glob("run-*.npz"))) == 2  # 0.3 and 1.0; the default 0.1 never reached 200
    second = loop.training_explorer(cache=tmp_path)
    before = second.runs.trained_epochs
    for lr, num_epochs in ((0.3, 200), (0.3, 64), (1.0, 150)):
        move(second, lr, num_epochs)
        assert_same_as_fresh(second, lr, num_epochs)
    assert second.runs.trained_epochs == before


def test_the_shared_folder_is_read_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(loop_runs.CACHE_ENV, str(tmp_path))
    explorer = loop.training_explorer(num_epochs=200)
    assert explorer.runs.folder == tmp_path and len(list(tmp_path.glob("run-*.npz"))) == 1


def test_other_data_never_reads_another_runs_file(tmp_path):
    move(loop.training_explorer(cache=tmp_path), 0.3, 200)
    X, y = data.make_curve(30, seed=1)
    other = loop.training_explorer(X, y, seed=1, cache=tmp_path)
    trained = other.runs.trained_epochs
    move(other, 0.3, 200)
    assert other.runs.trained_epochs == trained + 200


def test_a_broken_file_is_trained_again_and_a_folder_that_cannot_be_written_is_fine(tmp_path):
    move(loop.training_explorer(cache=tmp_path), 0.3, 200)
    (path,) = tmp_path.glob("run-*.npz")
    path.write_bytes(b"not a numpy file")
    explorer = loop.training_explorer(cache=tmp_path)
    move(explorer, 0.3, 200)
    assert_same_as_fresh(explorer, 0.3, 200)
    assert path.stat().st_size > 1000  # written again, whole
    blocked = tmp_path / "a-file"  # a folder that cannot be made (even root cannot)
    blocked.write_text("")
    explorer = loop.training_explorer(cache=blocked)
    move(explorer, 0.3, 200)
    assert_same_as_fresh(explorer, 0.3, 200)  # the run stays in this kernel
    assert blocked.read_text() == ""


def test_learning_rates_equal_to_twelve_digits_are_one_run():
    explorer = loop.training_explorer()
    move(explorer, 10 ** -0.7, 200)
    trained = explorer.runs.trained_epochs
    move(explorer, 10 ** (-7 / 10), 150)  # the same slider position computed another way
    assert explorer.runs.trained_epochs == trained
    assert loop_runs.same_lr(10 ** -0.7) == loop_runs.same_lr(0.19952623149688797) == 0.199526231497
