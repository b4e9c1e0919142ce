"""helpers.train: the five step modules composed. Checked against an independent oracle (least squares)
and a plain hand-written PyTorch loop."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

import helpers
from helpers import BilingualError
from helpers.engine import data, loop


def line(n=40, noise=0.3, seed=0):
    return data.make_line(n=n, noise=noise, seed=seed)


def test_linear_regression_reaches_the_least_squares_solution():
    """An oracle that shares no code with the loop: numpy's lstsq on the same points."""
    X, y = line(n=60, noise=0.5, seed=3)
    design = np.hstack([X.double().numpy(), np.ones((len(X), 1))])
    (w_ls, b_ls), *_ = np.linalg.lstsq(design, y.double().numpy().ravel(), rcond=None)
    torch.manual_seed(0)
    model = nn.Linear(1, 1)
    history = helpers.train(model, X, y, loss_fn=nn.MSELoss(), lr=0.2, num_epochs=500)
    assert not history.diverged and history.epochs == 500
    # Stated tolerance: within 1e-3 of the least-squares weight and bias.
    assert model.weight.item() == pytest.approx(w_ls, abs=1e-3)
    assert model.bias.item() == pytest.approx(b_ls, abs=1e-3)
    residual = design @ np.array([w_ls, b_ls]) - y.double().numpy().ravel()
    assert history.losses[-1] == pytest.approx(float(np.mean(residual ** 2)), rel=1e-3)


def test_matches_a_plain_pytorch_loop_exactly():
    X, y = line()
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 1))
    reference = nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 1))
    reference.load_state_dict(model.state_dict())
    history = helpers.train(model, X, y, loss_fn=nn.MSELoss(), lr=0.05, num_epochs=30)

    optimizer = torch.optim.SGD(reference.parameters(), lr=0.05)
    losses = []
    for _ in range(30):
        loss = nn.functional.mse_loss(reference(X), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert history.losses == pytest.approx(losses, rel=1e-6)
    for a, b in zip(model.parameters(), reference.parameters(), strict=True):
        assert torch.equal(a, b)


def test_losses_fall_with_mini_batches_and_are_deterministic():
    X, y = line(n=50)
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        history = helpers.train(nn.Linear(1, 1), X, y, loss_fn=nn.MSELoss(), lr=0.05, num_epochs=20,
                                batch_size=8, seed=7)
        runs.append(history.losses)
    assert runs[0] == runs[1]
    assert runs[0][-1] < runs[0][0] / 5


def test_a_huge_learning_rate_diverges_without_raising():
    X, y = line()
    history = helpers.train(nn.Linear(1, 1), X, y, loss_fn=nn.MSELoss(), lr=10.0, num_epochs=300)
    assert history.diverged and history.epochs < 300
    assert all(math.isfinite(v) for v in history.losses)
    message = history.explain()
    assert "発散" in message and "diverged" in message and "10" in message


def test_validation_losses_best_epoch_and_callback_stop():
    X, y = line(n=40)
    X_train, y_train, X_val, y_val = data.split(X, y, val_fraction=0.25)
    seen = []

    def callback(epoch, history):
        seen.append((epoch, len(history.val_losses)))
        return epoch == 5

    history = helpers.train(nn.Linear(1, 1), X_train, y_train, loss_fn=nn.MSELoss(), lr=0.1,
                            num_epochs=50, X_val=X_val, y_val=y_val, callback=callback)
    assert seen == [(e, e) for e in range(1, 6)]
    assert history.stopped_early and history.epochs == 5 and len(history.val_losses) == 5
    assert history.best_epoch == min(range(5), key=history.val_losses.__getitem__) + 1


def test_an_optimizer_object_and_named_optimizers():
    X, y = line()
    model = nn.Linear(1, 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1.0)
    history = helpers.train(model, X, y, loss_fn=nn.MSELoss(), lr=0.05, num_epochs=5, optimizer=optimizer)
    assert optimizer.param_groups[0]["lr"] == 0.05 and history.lr == 0.05
    for name in ("sgd", "momentum", "adam"):
        history = helpers.train(nn.Linear(1, 1), X, y, loss_fn=nn.MSELoss(), lr=0.05, num_epochs=40,
                                optimizer=name)
        assert history.losses[-1] < history.losses[0], name


def test_cross_entropy_classification_learns():
    X, y = data.make_blobs(n_per_class=20, classes=3)
    torch.manual_seed(0)
    model = nn.Linear(2, 3)
    history = helpers.train(model, X, y, loss_fn=nn.CrossEntropyLoss(), lr=0.5, num_epochs=100)
    with torch.inference_mode():
        accuracy = (model(X).argmax(1) == y).float().mean().item()
    assert history.losses[-1] < history.losses[0] and accuracy > 0.9


def test_step_times_cover_the_five_steps():
    X, y = line()
    history = helpers.train(nn.Linear(1, 1), X, y, loss_fn=nn.MSELoss(), lr=0.1, num_epochs=5,
                            batch_size=10, time_steps=True)
    assert set(history.step_seconds) == set(loop.STEP_NAMES)
    assert all(s > 0 for s in history.step_seconds.values())
    plain = helpers.train(nn.Linear(1, 1), X, y, loss_fn=nn.MSELoss(), lr=0.1, num_epochs=5)
    assert plain.step_seconds == {}


def test_timing_the_steps_changes_no_number():
    X, y = line()
    runs = []
    for time_steps in (False, True):
        torch.manual_seed(4)
        model = nn.Sequential(nn.Linear(1, 4), nn.Tanh(), nn.Linear(4, 1))
        history = helpers.train(model, X, y, loss_fn=nn.MSELoss(), lr=0.1, num_epochs=6, batch_size=7,
                                X_val=X[:5], y_val=y[:5], time_steps=time_steps)
        runs.append((history.losses, history.val_losses, [p.detach().clone() for p in model.parameters()]))
    assert runs[0][0] == runs[1][0] and runs[0][1] == runs[1][1]
    assert all(torch.equal(a, b) for a, b in zip(runs[0][2], runs[1][2], strict=True))


def test_step_clock_adds_the_time_of_each_step_and_of_fetching_each_item():
    clock = loop.StepClock(torch.device("cpu"), enabled=True)
    assert list(clock.each("input", iter([1, 2, 3]))) == [1, 2, 3]
    with clock("forward"):
        sum(range(10_000))
    assert clock.seconds["forward"] > 0 and clock.seconds["input"] > 0 and clock.seconds["update"] == 0
    off = loop.StepClock(torch.device("cpu"), enabled=False)
    with off("forward"):
        pass
    assert list(off.each("input", [4, 5])) == [4, 5] and set(off.seconds.values()) == {0.0}


def test_a_step_that_runs_again_adds_its_seconds(monkeypatch):
    """Each batch runs every step once: a step's seconds are the sum over all the batches, not the last one."""
    readings = iter([10.0, 11.0, 20.0, 23.0, 30.0, 30.5])  # three times 'forward': 1 s, 3 s and 0.5 s
    monkeypatch.setattr(loop, "time", SimpleNamespace(perf_counter=lambda: next(readings)))
    clock = loop.StepClock(torch.device("cpu"), enabled=True)
    for _ in range(3):
        with clock("forward"):
            pass
    assert clock.seconds == {"input": 0.0, "forward": 4.5, "loss": 0.0, "backprop": 0.0, "update": 0.0}


def test_a_gpu_asked_for_where_there_is_none_is_explained(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    X, y = line()
    for device in ("cuda", "cuda:1", torch.device("cuda", 0)):
        with pytest.raises(helpers.DeviceUnavailableError) as err:
            helpers.train(nn.Linear(1, 1), X, y, loss_fn=nn.MSELoss(), lr=0.1, num_epochs=2, device=device)
        assert "GPU" in err.value.ja and "GPU" in err.value.en


def test_device_names_that_mean_the_cpu_train_there():
    X, y = line()
    for device in ("cpu", "CPU", torch.device("cpu")):
        model = nn.Linear(1, 1)
        helpers.train(model, X, y, loss_fn=nn.MSELoss(), lr=0.1, num_epochs=1, device=device)
        assert next(model.parameters()).device.type == "cpu"


def test_trains_on_the_device_it_is_given():
    X, y = line()
    model = nn.Linear(1, 1)
    helpers.train(model, X, y, loss_fn=nn.MSELoss(), lr=0.1, num_epochs=2, device=torch.device("cpu"))
    assert next(model.parameters()).device.type == "cpu"
    assert not model.training  # left ready for inference


@pytest.mark.parametrize("kwargs, ja, en", [
    (dict(lr=0), "学習率", "learning rate"),
    (dict(lr=-0.1), "学習率", "learning rate"),
    (dict(lr=float("nan")), "学習率", "learning rate"),
    (dict(lr="fast"), "学習率は数", "must be a number"),
    (dict(num_epochs=0), "エポック数", "number of epochs"),
    (dict(num_epochs=2.5), "エポック数", "number of epochs"),
    (dict(optimizer="rmsprop"), "オプティマイザ", "optimizer must be one of"),
    (dict(batch_size=0), "batch_size は 1 以上の整数", "batch_size must be a whole number of at least 1"),
    (dict(batch_size=-4), "batch_size は 1 以上の整数", "or None for all rows at once (got -4)"),
    (dict(batch_size=2.5), "batch_size", "(got 2.5)"),
    (dict(batch_size=True), "batch_size", "(got True)"),
    (dict(batch_size="8"), "batch_size", "(got '8')"),
    (dict(device="tpu"), "デバイスは torch.device か", "The device must be a torch.device or one of"),
    (dict(device="gpu:x"), "デバイス", "such as \"cuda:1\" (got 'gpu:x')"),
    (dict(device=1.5), "デバイス", "(got 1.5)"),
    (dict(device="meta"), "CPU・GPU・Apple MPS", "trains on the CPU, a GPU or Apple MPS"),
    (dict(loss_fn="mse"), "loss_fn は損失関数", "loss_fn must be a loss function such as nn.MSELoss() (got str)"),
    (dict(callback=5), "callback は", "callback must be a function called as callback(epoch, history)"),
    (dict(time_steps="yes"), "time_steps は True か False", "time_steps must be True or False"),
    (dict(seed=0.5), "seed は整数", "seed must be a whole number (got 0.5)"),
])
def test_bad_settings_give_bilingual_errors(kwargs, ja, en):
    X, y = line()
    settings = dict(loss_fn=nn.MSELoss(), lr=0.1, num_epochs=3) | kwargs
    with pytest.raises(BilingualError) as err:
        helpers.train(nn.Linear(1, 1), X, y, **settings)
    assert ja in str(err.value) and en in str(err.value)


def bad_data():
    X, y = line(n=10)
    nan_X = X.clone()
    nan_X[3, 0] = float("nan")
    inf_y = y.clone()
    inf_y[0, 0] = float("inf")
    return [
        ((nan_X, y), "NaN", "NaN or infinite"),
        ((X, inf_y), "NaN", "NaN or infinite"),
        ((X.squeeze(1), y), "(バッチ, 特徴量)", "(batch, features)"),
        ((X, y[:5]), "10 行", "10 rows"),
        ((X[:0], y[:0]), "空", "empty"),
        ((X.numpy(), y), "torch.Tensor", "torch.Tensor"),
        ((X, y.squeeze(1)), "(10, 1)", "make y (10, 1)"),
        ((torch.cat([X, X], 1), y), "(バッチ, 1)", "takes shape (batch, 1)"),
    ]


@pytest.mark.parametrize("args, ja, en", bad_data())
def test_bad_data_gives_bilingual_errors_naming_the_shape(args, ja, en):
    with pytest.raises(BilingualError) as err:
        helpers.train(nn.Linear(1, 1), *args, loss_fn=nn.MSELoss(), lr=0.1, num_epochs=2)
    assert ja in str(err.value) and en in str(err.value)


def test_empty_or_half_given_validation_data_is_explained():
    X, y = line()
    for X_val, y_val in ((X[:0], y[:0]), (X[:3], None), (None, y[:3])):
        with pytest.raises(BilingualError) as err:
            helpers.train(nn.Linear(1, 1), X, y, loss_fn=nn.MSELoss(), lr=0.1, num_epochs=2,
                          X_val=X_val, y_val=y_val)
        assert err.value.ja == "検証データが空です。X_val と y_val の両方に1行以上のデータを渡してください。"
        assert err.value.en == "The validation data is empty: pass at least one row in both X_val and y_val."



def test_not_a_model():
    X, y = line()
    with pytest.raises(BilingualError, match="torch.nn.Module"):
        helpers.train(lambda x: x, X, y, loss_fn=nn.MSELoss(), lr=0.1, num_epochs=2)
