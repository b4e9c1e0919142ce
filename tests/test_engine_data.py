"""The engine's data makers and checks, stated as what the reader sees: the default data the notebooks
draw, the noise each point gets, and error messages that count what is wrong."""

import pytest
import torch

from helpers import BilingualError
from helpers.engine import data


def least_squares(X, y):
    design = torch.cat([X, torch.ones_like(X)], 1).double()
    solution = torch.linalg.lstsq(design, y.double()).solution.squeeze(1)
    residual = y.double() - design @ solution.unsqueeze(1)
    return solution[0].item(), solution[1].item(), residual.std().item()


def test_the_default_line_is_20_points_near_y_2x_plus_1_from_seed_0():
    X, y = data.make_line()
    assert X.shape == (20, 1)
    assert torch.equal(X, data.make_line(seed=0)[0]) and not torch.equal(X, data.make_line(seed=1)[0])
    assert -2 <= X.min() < -1 and 1 < X.max() <= 2
    slope, intercept, spread = least_squares(X, y)
    assert slope == pytest.approx(2.0, abs=0.25) and intercept == pytest.approx(1.0, abs=0.25)
    assert 0.15 < spread < 0.45  # noise 0.3


def test_the_default_curve_is_30_points_near_a_sine_from_minus_3_to_3():
    X, y = data.make_curve()
    assert X.shape == (30, 1) and torch.equal(y, data.make_curve(seed=0)[1])
    assert not torch.equal(X, data.make_curve(seed=1)[0])
    assert -3 <= X.min() < -2 and 2 < X.max() <= 3
    noise = (y - torch.sin(X)).squeeze(1)
    assert 0.1 < noise.std() < 0.3 and len(set(noise.tolist())) == 30  # each point its own noise, about 0.2


def test_noise_is_added_to_each_point_independently():
    for make in (data.make_line, data.make_curve):
        X, y = make(n=400, noise=0.5, seed=3)
        X0, y0 = make(n=400, noise=0.0, seed=3)
        assert torch.equal(X, X0)
        noise = (y - y0).squeeze(1)
        assert noise.std() == pytest.approx(0.5, rel=0.15) and noise.abs().max() < 3
        assert len(set(noise.tolist())) == 400


def test_the_default_blobs_are_three_classes_of_30_spread_about_0_6():
    X, y = data.make_blobs()
    assert X.shape == (90, 2) and torch.bincount(y).tolist() == [30, 30, 30]
    assert torch.equal(X, data.make_blobs(seed=0)[0]) and not torch.equal(X, data.make_blobs(seed=1)[0])
    for k in range(3):
        cloud = X[y == k]
        assert 0.4 < cloud.std(dim=0).mean() < 0.8  # every point of a class has its own offset
        centre = 2 * torch.tensor([torch.cos(torch.tensor(2 * torch.pi * k / 3)),
                                   torch.sin(torch.tensor(2 * torch.pi * k / 3))])
        assert torch.dist(cloud.mean(0), centre) < 0.35


def test_the_default_bars_are_40_noisy_5_by_5_pictures_seeded():
    X, y = data.make_bars()
    assert X.shape == (40, 1, 5, 5) and set(y.tolist()) == {0, 1}
    again, _ = data.make_bars()
    assert torch.equal(X, again) and not torch.equal(X, data.make_bars(seed=1)[0])
    clean, _ = data.make_bars(noise=0.0)
    noise = X - clean
    assert 0.05 < noise.std() < 0.15
    # each picture its own noise (allclose: 1 + e - 1 and 0 + e - 0 differ in the last bit)
    assert not torch.allclose(noise[0], noise[1], atol=1e-3)


def test_bars_can_stand_in_every_row_and_column_and_a_2_by_2_picture_is_allowed():
    X, y = data.make_bars(n=200, size=4, noise=0.0)
    pictures = X[:, 0]
    rows = pictures[y == 0].sum(dim=2).argmax(dim=1)  # which row is lit
    cols = pictures[y == 1].sum(dim=1).argmax(dim=1)
    assert set(rows.tolist()) == {0, 1, 2, 3} and set(cols.tolist()) == {0, 1, 2, 3}
    small, _ = data.make_bars(n=6, size=2, noise=0.0)
    assert small.shape == (6, 1, 2, 2) and torch.all(small.sum(dim=(1, 2, 3)) == 2)
    with pytest.raises(BilingualError) as err:
        data.make_bars(size=1)
    assert "(1)" in err.value.ja and err.value.en == "The picture size must be at least 2 (got 1)."


def test_check_data_counts_the_bad_values_in_good_english():
    X, y = data.make_line(n=6)
    X[0, 0] = float("nan")
    with pytest.raises(BilingualError) as err:
        data.check_data(X, y)
    assert err.value.en == "X holds 1 NaN or infinite value: remove it before training."
    assert err.value.ja == "X に NaN か無限大が 1 個あります。学習の前に取り除いてください。"
    X[1, 0] = float("inf")
    with pytest.raises(BilingualError) as err:
        data.check_data(X, y)
    assert err.value.en == "X holds 2 NaN or infinite values: remove them before training."
    y[0, 0] = float("nan")
    with pytest.raises(BilingualError) as err:
        data.check_data(data.make_line(n=6)[0], y)
    assert err.value.en.startswith("y holds 1 NaN")


def test_check_data_names_what_it_was_given():
    X, y = data.make_line(n=4)
    with pytest.raises(BilingualError) as err:
        data.check_data([[1.0]], y)
    assert err.value.en == "X must be a torch.Tensor (got list)." and "list が渡されました" in err.value.ja
    with pytest.raises(BilingualError) as err:
        data.check_data(X, y.numpy(), name="X_val")
    assert err.value.en == "y must be a torch.Tensor (got ndarray)."
    with pytest.raises(BilingualError) as err:
        data.check_data(torch.tensor(1.0), y)
    assert err.value.en == "X is empty (shape ()); at least one row is needed."
    with pytest.raises(BilingualError) as err:
        data.check_data(X, torch.tensor(2.0))
    assert err.value.en == "y is empty (shape ()); at least one row is needed."


def test_check_data_accepts_whole_numbers_and_one_row():
    data.check_data(torch.zeros(1, 3), torch.zeros(1, dtype=torch.long))
    data.check_data(torch.zeros(1, 1, 5, 5), torch.tensor([1]))


@pytest.mark.parametrize("size", [1, 2, 7, None])
def test_batch_sizes_that_are_allowed(size):
    assert data.check_batch_size(size) == size


@pytest.mark.parametrize("size", [0, -1, 1.0, True, "2"])
def test_batch_sizes_that_are_refused_even_inside_batches(size):
    X, y = data.make_line(n=4)
    with pytest.raises(BilingualError) as err:
        list(data.batches(X, y, size))
    assert f"(got {size!r})" in err.value.en


def test_batches_of_one_row_are_every_row_in_order():
    X, y = data.make_line(n=5)
    parts = list(data.batches(X, y, 1))
    assert len(parts) == 5 and all(torch.equal(Xb, X[i:i + 1]) for i, (Xb, _) in enumerate(parts))
