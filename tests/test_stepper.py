"""The five-step stepper of notebooks 00 and 06, driven by clicking its buttons."""

import pytest
import torch

from helpers.lessons import stepper as stepper_module
from helpers.lessons.figures import STEPS


@pytest.fixture(autouse=True)
def _japanese(japanese):
    """The stepper draws with the series' style and Japanese font (the shared fixture in conftest)."""


def make():
    return stepper_module.stepper()


def test_each_click_runs_the_next_step_and_lights_it():
    st = make()
    first_image = st.image.value
    for i in range(5):
        st.next_button.click()
        assert st.steps.last_step == i
        assert st.lines[-1][0].startswith(f"{i + 1}. {STEPS[i][0]}")
        assert st.lines[-1][1].startswith(f"{i + 1}. {STEPS[i][1]}")
    assert st.image.value != first_image
    assert st.steps.next_step == 0  # the next press starts the next cycle


def test_the_steps_produce_batch_prediction_loss_gradients_and_new_weights():
    st = make()
    s = st.steps
    w0, b0 = s.weights()
    st.next_button.click()
    assert s.X_batch.shape == (3, 1) and torch.equal(s.y_batch, 2 * s.X_batch + 1)
    st.next_button.click()
    assert torch.allclose(s.prediction, s.X_batch * w0 + b0)
    st.next_button.click()
    assert torch.isclose(s.loss, ((s.prediction - s.y_batch) ** 2).mean())
    st.next_button.click()
    dw, db = s.model.weight.grad.item(), s.model.bias.grad.item()
    miss = (s.prediction - s.y_batch).detach()
    assert abs(dw - (2 * miss * s.X_batch).mean().item()) < 1e-6 and abs(db - (2 * miss).mean().item()) < 1e-6
    assert s.weights() == (w0, b0)  # backpropagation alone changes no weight
    st.next_button.click()
    w1, b1 = s.weights()
    assert abs(w1 - (w0 - 0.1 * dw)) < 1e-6 and abs(b1 - (b0 - 0.1 * db)) < 1e-6
    assert "step()" in st.output.value and f"{w1:.4f}" in st.output.value


def test_run_to_the_end_of_the_epoch_then_a_new_epoch_begins():
    st = make()
    st.next_button.click()  # part-way into the first cycle
    st.epoch_button.click()
    s = st.steps
    assert s.epoch == 1 and s.updates == s.batches_per_epoch == 2 and s.epoch_done
    st.next_button.click()
    assert s.epoch == 2 and s.batch_number == 1
    st.epoch_button.click()
    assert s.epoch == 2 and s.updates == 4


def test_training_with_the_stepper_lowers_the_loss():
    st = make()
    s = st.steps
    with torch.no_grad():
        before = s.loss_fn(s.model(s.X), s.y).item()
    for _ in range(20):
        st.epoch_button.click()
    with torch.no_grad():
        after = s.loss_fn(s.model(s.X), s.y).item()
    assert s.updates == 40 and after < before / 5


def test_reset_restores_the_starting_weights():
    st = make()
    start = st.steps.weights()
    st.epoch_button.click()
    assert st.steps.weights() != start
    st.reset_button.click()
    assert st.steps.weights() == start and st.steps.updates == 0 and st.steps.last_step is None
    assert st.lines == [] and st.output.value == "<pre></pre>"


def test_the_stepper_leaves_the_global_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    st = make()
    st.reset_button.click()
    assert torch.equal(torch.rand(3), expected)
