"""helpers.train against what a reader can work out by hand: the epoch loss when the last batch is smaller,
validation in eval mode, how a run ends (stopped early, diverged), and what History says about it."""

import math

import pytest
import torch
from torch import nn

import helpers
from helpers import BilingualError
from helpers.engine import data, loop


def rows(n, seed=0):
    """n points near y = 2x + 1: X (n, 1), y (n, 1)."""
    return data.make_line(n=n, noise=0.3, seed=seed)


def replay(model, X, y, lr, num_epochs, batch_size, seed):
    """The loop written out in plain PyTorch: each epoch's loss is the sum of squared misses over n rows."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    shuffle = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(num_epochs):
        order = torch.randperm(len(X), generator=shuffle)
        total = 0.0
        for start in range(0, len(X), batch_size):
            index = order[start:start + batch_size]
            loss = nn.functional.mse_loss(model(X[index]), y[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(index)  # the batch's mean times its rows: the batch's sum
        losses.append(total / len(X))
    return losses


def twin_models(make, seed=0):
    torch.manual_seed(seed)
    a = make()
    b = make()
    b.load_state_dict(a.state_dict())
    return a, b


@pytest.mark.parametrize("n, batch_size", [(10, 4), (10, 3), (7, 6), (9, 2)])
def test_epoch_loss_is_the_mean_over_rows_when_the_last_batch_is_smaller(n, batch_size):
    """10 rows in batches of 4 are 4 + 4 + 2: the mean over rows weighs the short batch by 2 of 10, not 1 of 3."""
    X, y = rows(n)
    model, reference = twin_models(lambda: nn.Linear(1, 1))
    history = helpers.train(model, X, y, loss_fn=nn.MSELoss(), lr=0.05, num_epochs=3, batch_size=batch_size,
                            seed=5)
    expected = replay(reference, X, y, lr=0.05, num_epochs=3, batch_size=batch_size, seed=5)
    assert history.losses == pytest.approx(expected, rel=1e-5)
    for a, b in zip(model.parameters(), reference.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)


def test_epoch_loss_differs_from_a_plain_mean_of_batch_means():
    """The test above would pass for a plain mean if the two agreed here: they must not."""
    X, y = rows(10)
    model, _ = twin_models(lambda: nn.Linear(1, 1))
    batch_means = []

    def record(prediction, target):
        loss = nn.functional.mse_loss(prediction, target)
        batch_means.append(loss.item())
        return loss

    history = helpers.train(model, X, y, loss_fn=record, lr=0.05, num_epochs=1, batch_size=4, seed=5)
    assert len(batch_means) == 3
    by_rows = (4 * batch_means[0] + 4 * batch_means[1] + 2 * batch_means[2]) / 10
    assert history.losses[0] == pytest.approx(by_rows, rel=1e-6)
    assert abs(by_rows - sum(batch_means) / 3) > 1e-3


@pytest.mark.parametrize("batch_size", [None, 10, 64])
def test_one_batch_of_everything_reports_that_batch_loss(batch_size):
    X, y = rows(10)
    model, reference = twin_models(lambda: nn.Linear(1, 1))
    with torch.no_grad():
        first = nn.functional.mse_loss(reference(X), y).item()
    history = helpers.train(model, X, y, loss_fn=nn.MSELoss(), lr=0.05, num_epochs=1, batch_size=batch_size)
    assert history.losses == [pytest.approx(first, rel=1e-6)]


def dropout_net():
    return nn.Sequential(nn.Linear(1, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 1))


def test_validation_loss_is_the_eval_mode_loss_and_training_keeps_dropout():
    X, y = rows(32)
    X_val, y_val = rows(12, seed=1)
    model, reference = twin_models(dropout_net, seed=2)
    torch.manual_seed(3)
    history = helpers.train(model, X, y, loss_fn=nn.MSELoss(), lr=0.05, num_epochs=4, batch_size=8,
                            X_val=X_val, y_val=y_val)
    assert not model.training  # left ready for inference
    with torch.no_grad():
        eval_loss = nn.functional.mse_loss(model(X_val), y_val).item()
        model.train()
        torch.manual_seed(0)
        train_mode_loss = nn.functional.mse_loss(model(X_val), y_val).item()
    assert history.val_losses[-1] == pytest.approx(eval_loss, rel=1e-6)
    assert abs(train_mode_loss - eval_loss) > 1e-3  # dropout really changes this model's answers
    # Validation draws no random numbers and leaves dropout on for the next epoch: the training losses
    # and the weights are those of the same run without validation.
    torch.manual_seed(3)
    plain = helpers.train(reference, X, y, loss_fn=nn.MSELoss(), lr=0.05, num_epochs=4, batch_size=8)
    assert history.losses == plain.losses
    for a, b in zip(model.parameters(), reference.parameters(), strict=True):
        assert torch.equal(a, b)


def test_validation_losses_are_those_of_each_epochs_weights():
    X, y = rows(20)
    X_val, y_val = rows(8, seed=4)
    seen = []

    def callback(epoch, history):
        with torch.no_grad():
            seen.append(nn.functional.mse_loss(model(X_val), y_val).item())

    torch.manual_seed(0)
    model = nn.Linear(1, 1)
    history = helpers.train(model, X, y, loss_fn=nn.MSELoss(), lr=0.1, num_epochs=5, X_val=X_val, y_val=y_val,
                            callback=callback)
    assert history.val_losses == pytest.approx(seen, rel=1e-6)
    assert len(set(history.val_losses)) == 5  # one per epoch, each after that epoch's updates


@pytest.mark.parametrize("stop_at, epochs, early", [(1, 1, True), (3, 3, True), (4, 4, False), (None, 4, False)])
def test_stopped_early_only_when_epochs_were_left(stop_at, epochs, early):
    X, y = rows(12)
    calls = []

    def callback(epoch, history):
        calls.append(epoch)
        return epoch == stop_at

    history = helpers.train(nn.Linear(1, 1), X, y, loss_fn=nn.MSELoss(), lr=0.1, num_epochs=4, callback=callback)
    assert history.epochs == epochs and calls == list(range(1, epochs + 1))
    assert history.stopped_early is early


def test_a_callback_that_returns_nothing_never_stops():
    X, y = rows(12)
    history = helpers.train(nn.Linear(1, 1), X, y, loss_fn=nn.MSELoss(), lr=0.1, num_epochs=6,
                            callback=lambda epoch, history: None)
    assert history.epochs == 6 and not history.stopped_early and not history.diverged


def explodes_at(epoch_to_fail):
    """A loss function that turns infinite in the given epoch (counted from 1), full batch."""
    calls = []

    def loss_fn(prediction, target):
        if not torch.is_inference_mode_enabled():  # validation calls it too
            calls.append(1)
        loss = nn.functional.mse_loss(prediction, target)
        return loss * math.inf if len(calls) == epoch_to_fail else loss

    return loss_fn


@pytest.mark.parametrize("fail_at", [1, 3])
def test_divergence_keeps_the_finished_epochs_and_names_the_one_that_failed(fail_at):
    X, y = rows(12)
    X_val, y_val = rows(4, seed=2)
    model = nn.Linear(1, 1)
    history = helpers.train(model, X, y, loss_fn=explodes_at(fail_at), lr=0.1, num_epochs=5, X_val=X_val,
                            y_val=y_val)
    assert history.diverged and not history.stopped_early
    assert history.epochs == fail_at - 1 and len(history.val_losses) == fail_at - 1
    assert all(math.isfinite(v) for v in history.losses)
    assert f"{fail_at} エポック目" in history.explain() and f"in epoch {fail_at}." in history.explain()
    assert not model.training


def test_history_explains_a_finished_run_with_its_numbers():
    history = loop.History(losses=[0.5, 0.25, 0.123456], lr=0.05)
    helpers.set_language("en")
    assert history.explain() == "Trained for 3 epochs; final loss 0.1235."
    helpers.set_language("ja")
    assert history.explain() == "3 エポック学習しました。最後の損失 0.1235。"
    assert loop.History().explain() == "まだ1エポックも終わっていません。"
    helpers.set_language("both")
    assert loop.History().explain() == "まだ1エポックも終わっていません。\nNo epoch has finished yet."
    diverged = loop.History(losses=[1.0, 2.0], lr=2.5, diverged=True)
    helpers.set_language("en")
    assert diverged.explain().startswith("Training diverged: the loss became infinite or NaN in epoch 3. "
                                         "The learning rate 2.5 is too large")


@pytest.mark.parametrize("losses, val_losses, best", [
    ([3.0, 2.0, 1.0], [], 3),
    ([3.0, 2.0, 1.0], [2.0, 1.5, 1.8], 2),
    ([1.0, 1.0, 2.0], [], 1),  # a tie goes to the earlier epoch
    ([5.0], [], 1),
    ([], [], None),
])
def test_best_epoch_counts_from_one_and_prefers_validation(losses, val_losses, best):
    history = loop.History(losses=losses, val_losses=val_losses)
    assert history.best_epoch == best
    assert history.epochs == len(losses)


def test_a_given_optimizer_trains_at_the_given_rate_in_every_group():
    X, y = rows(16)
    model = nn.Sequential(nn.Linear(1, 4), nn.Tanh(), nn.Linear(4, 1))
    optimizer = torch.optim.SGD([{"params": model[0].parameters(), "lr": 1.0},
                                 {"params": model[2].parameters(), "lr": 2.0}])
    history = helpers.train(model, X, y, loss_fn=nn.MSELoss(), lr=0.03, num_epochs=2, optimizer=optimizer)
    assert [group["lr"] for group in optimizer.param_groups] == [0.03, 0.03] and history.lr == 0.03
    with pytest.raises(BilingualError, match="learning rate"):
        helpers.train(model, X, y, loss_fn=nn.MSELoss(), lr=0, num_epochs=2, optimizer=optimizer)


@pytest.mark.parametrize("name, momentum", [("sgd", 0), ("momentum", 0.9)])
def test_optimizer_names_make_the_rule_they_name(name, momentum):
    X, y = rows(16)
    model, reference = twin_models(lambda: nn.Linear(1, 1))
    helpers.train(model, X, y, loss_fn=nn.MSELoss(), lr=0.05, num_epochs=3, optimizer=name)
    optimizer = torch.optim.SGD(reference.parameters(), lr=0.05, momentum=momentum)
    for _ in range(3):
        loss = nn.functional.mse_loss(reference(X), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    for a, b in zip(model.parameters(), reference.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-7)


def test_the_seed_orders_the_batches_and_nothing_else():
    X, y = rows(20)
    runs = {}
    for seed in (0, 0, 1):
        model, _ = twin_models(lambda: nn.Linear(1, 1))
        runs.setdefault(seed, []).append(helpers.train(model, X, y, loss_fn=nn.MSELoss(), lr=0.1, num_epochs=3,
                                                       batch_size=6, seed=seed).losses)
    assert runs[0][0] == runs[0][1] and runs[0][0] != runs[1][0]
    full = [helpers.train(twin_models(lambda: nn.Linear(1, 1))[0], X, y, loss_fn=nn.MSELoss(), lr=0.1,
                          num_epochs=3, seed=seed).losses for seed in (0, 1)]
    assert full[0] == full[1]  # all rows at once: no order to shuffle


def test_train_moves_the_data_to_the_models_device_and_checks_validation_data():
    X, y = rows(10)
    X_val, y_val = rows(4, seed=3)
    bad = X_val.clone()
    bad[1, 0] = float("nan")
    with pytest.raises(BilingualError) as err:
        helpers.train(nn.Linear(1, 1), X, y, loss_fn=nn.MSELoss(), lr=0.1, num_epochs=1, X_val=bad, y_val=y_val)
    assert "X_val に NaN" in err.value.ja and "X_val holds 1 NaN" in err.value.en
    with pytest.raises(BilingualError, match=r"takes shape \(batch, 1\)"):
        helpers.train(nn.Linear(1, 1), X, y, loss_fn=nn.MSELoss(), lr=0.1, num_epochs=1,
                      X_val=torch.cat([X_val, X_val], 1), y_val=y_val)
    with pytest.raises(BilingualError, match="validation data is empty"):
        helpers.train(nn.Linear(1, 1), X, y, loss_fn=nn.MSELoss(), lr=0.1, num_epochs=1, X_val=None, y_val=y_val)


@pytest.mark.parametrize("kwargs, en", [
    (dict(num_epochs=True), "(got True)"),
    (dict(num_epochs=-1), "(got -1)"),
    (dict(num_epochs="3"), "(got '3')"),
    (dict(seed=True), "seed must be a whole number (got True)"),
    (dict(time_steps=1), "time_steps must be True or False (got 1)"),
    (dict(callback="stop"), "(got str)"),
])
def test_settings_that_look_right_but_are_not(kwargs, en):
    X, y = rows(6)
    with pytest.raises(BilingualError) as err:
        helpers.train(nn.Linear(1, 1), X, y, **(dict(loss_fn=nn.MSELoss(), lr=0.1, num_epochs=1) | kwargs))
    assert en in err.value.en and err.value.ja


def test_the_smallest_settings_that_are_allowed():
    X, y = rows(3)
    history = helpers.train(nn.Linear(1, 1), X, y, loss_fn=nn.MSELoss(), lr=1e-9, num_epochs=1, batch_size=1,
                            seed=-3, time_steps=False, callback=None)
    assert history.epochs == 1 and history.lr == 1e-9


def test_a_model_that_is_not_a_module_is_named():
    X, y = rows(4)
    with pytest.raises(BilingualError) as err:
        helpers.train(lambda x: x, X, y, loss_fn=nn.MSELoss(), lr=0.1, num_epochs=1)
    assert "(got function)" in err.value.en and "function が渡されました" in err.value.ja


def test_step_clock_waits_for_the_device_before_reading_the_time(monkeypatch):
    waited = []
    monkeypatch.setattr(loop, "synchronize", lambda device: waited.append(device))
    clock = loop.StepClock("cuda:0", enabled=True)
    with clock("loss"):
        pass
    assert list(clock.each("input", [7])) == [7]
    assert waited == ["cuda:0"] * 3  # the loss, the item fetched, the end of the items
    assert clock.seconds["loss"] > 0 and clock.seconds["forward"] == 0
    off = loop.StepClock("cuda:0", enabled=False)
    with off("loss"):
        pass
    assert waited == ["cuda:0"] * 3 and off.seconds == dict.fromkeys(loop.STEP_NAMES, 0.0)


def test_step_seconds_add_up_to_about_the_training_time():
    import time

    X, y = rows(64)
    start = time.perf_counter()
    history = helpers.train(nn.Linear(1, 1), X, y, loss_fn=nn.MSELoss(), lr=0.1, num_epochs=3, batch_size=8,
                            time_steps=True)
    elapsed = time.perf_counter() - start
    assert list(history.step_seconds) == list(loop.STEP_NAMES)
    assert 0 < sum(history.step_seconds.values()) <= elapsed


def test_the_mini_batches_are_shuffled_with_seed_0_unless_told():
    """The notebooks print the losses of runs without a seed: they are those of seed=0, and seed=1 differs."""
    X, y = rows(12)
    losses = {}
    for seed in (None, 0, 1):
        torch.manual_seed(0)
        settings = {} if seed is None else {"seed": seed}
        losses[seed] = helpers.train(nn.Linear(1, 1), X, y, loss_fn=nn.MSELoss(), lr=0.1, num_epochs=2, batch_size=5,
                                     **settings).losses
    assert losses[None] == losses[0] != losses[1]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_a_gpu_run_moves_model_data_and_validation_there_and_gives_the_cpu_numbers():
    """Model and data start on the CPU; with device="cuda" every step runs on the GPU (a tensor left behind
    would stop it), mini-batches with a smaller last one included, and the losses are the CPU run's."""
    X, y = rows(10)
    X_val, y_val = rows(4, seed=1)
    runs = {}
    for device in ("cpu", "cuda"):
        model, _ = twin_models(lambda: nn.Linear(1, 1))
        runs[device] = helpers.train(model, X, y, loss_fn=nn.MSELoss(), lr=0.05, num_epochs=3, batch_size=4,
                                     X_val=X_val, y_val=y_val, device=device)
        assert next(model.parameters()).device.type == device
    assert runs["cuda"].losses == pytest.approx(runs["cpu"].losses, rel=1e-5)
    assert runs["cuda"].val_losses == pytest.approx(runs["cpu"].val_losses, rel=1e-5)
