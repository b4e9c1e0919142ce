"""Properties of the engine's data steps that hold for every input, tried on many (hypothesis, bounded and
deterministic), and the boundary values where rounding and truncating give different answers."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import helpers
from helpers import BilingualError
from helpers.engine import data, text

FEW = settings(max_examples=25, deadline=None, derandomize=True)


def numbered(n):
    """n rows that name themselves: X[i] = i, y[i] = 10 i."""
    X = torch.arange(float(n)).unsqueeze(1)  # (batch, 1)
    return X, 10 * X


@FEW
@given(n=st.integers(1, 60), val_fraction=st.floats(0, 0.95), seed=st.integers(0, 2**16))
def test_split_keeps_every_row_once_with_its_target(n, val_fraction, seed):
    X, y = numbered(n)
    X_train, y_train, X_val, y_val = data.split(X, y, val_fraction=val_fraction, seed=seed)
    kept = sorted(torch.cat([X_train, X_val]).squeeze(1).tolist())
    assert kept == list(range(n))
    assert torch.equal(y_train, 10 * X_train) and torch.equal(y_val, 10 * X_val)
    assert len(X_val) == round(n * val_fraction)


@pytest.mark.parametrize("n, val_fraction, n_val", [
    (10, 0.25, 2),  # 2.5 rows: round half to even gives 2 (truncating also 2, but ceil would give 3)
    (14, 0.25, 4),  # 3.5 rows: round gives 4, truncating gives 3
    (7, 0.3, 2),    # 2.1 rows
    (9, 0.3, 3),    # 2.7 rows: round gives 3, truncating gives 2
    (3, 0.5, 2),    # 1.5 rows: round half to even gives 2
    (1, 0.4, 0),    # less than half a row: nothing held out
    (20, 0.0, 0),
])
def test_split_rounds_the_validation_rows_to_the_nearest_count(n, val_fraction, n_val):
    X, y = numbered(n)
    X_train, _, X_val, _ = data.split(X, y, val_fraction=val_fraction)
    assert (len(X_train), len(X_val)) == (n - n_val, n_val)


def test_split_by_default_holds_out_a_quarter_shuffled_with_seed_0():
    X, y = numbered(20)
    X_train, _, X_val, _ = data.split(X, y)
    assert len(X_train) == 15 and len(X_val) == 5
    assert torch.equal(X_val, data.split(X, y, val_fraction=0.25, seed=0)[2])
    assert not torch.equal(X_val, data.split(X, y, val_fraction=0.25, seed=1)[2])
    assert X_val.squeeze(1).tolist() != [0.0, 1.0, 2.0, 3.0, 4.0]  # shuffled, not the first rows


@pytest.mark.parametrize("bad", [1.0, 1.5, -0.01, -1.0])
def test_split_refuses_a_fraction_outside_0_to_1(bad):
    X, y = numbered(8)
    with pytest.raises(BilingualError) as err:
        data.split(X, y, val_fraction=bad)
    assert f"({bad})" in err.value.ja
    assert err.value.en == f"The validation fraction must be at least 0 and below 1 (got {bad})."


@FEW
@given(n=st.integers(1, 50), batch_size=st.one_of(st.none(), st.integers(1, 60)), shuffled=st.booleans())
def test_batches_cover_every_row_once_in_full_batches_and_one_leftover(n, batch_size, shuffled):
    X, y = numbered(n)
    generator = torch.Generator().manual_seed(n) if shuffled else None
    parts = list(data.batches(X, y, batch_size, generator))
    seen = sorted(torch.cat([Xb for Xb, _ in parts]).squeeze(1).tolist())
    assert seen == list(range(n))
    size = n if batch_size is None else min(batch_size, n)
    assert len(parts) == math.ceil(n / size)
    assert [len(Xb) for Xb, _ in parts[:-1]] == [size] * (len(parts) - 1)
    assert len(parts[-1][0]) == n - size * (len(parts) - 1)
    for Xb, yb in parts:
        assert torch.equal(yb, 10 * Xb)


@FEW
@given(n=st.integers(2, 24), batch_size=st.integers(1, 30), seed=st.integers(0, 1000))
def test_the_first_epoch_loss_is_the_mean_squared_miss_over_all_rows(n, batch_size, seed):
    """Whatever the batch size, the epoch's loss weighs every row once (the last batch may be smaller)."""
    X, y = data.make_line(n=n, seed=seed)
    squared_misses = []

    def loss_fn(prediction, target):
        miss = (prediction - target) ** 2
        squared_misses.extend(miss.detach().flatten().tolist())
        return miss.mean()

    history = helpers.train(nn.Linear(1, 1), X, y, loss_fn=loss_fn, lr=0.01, num_epochs=1, batch_size=batch_size,
                            seed=seed)
    assert len(squared_misses) == n
    assert history.losses[0] == pytest.approx(sum(squared_misses) / n, rel=1e-5)


@FEW
@given(slope=st.floats(-3, 3), intercept=st.floats(-2, 2), seed=st.integers(0, 100))
def test_train_on_a_line_reaches_least_squares(slope, intercept, seed):
    X, y = data.make_line(n=30, slope=slope, intercept=intercept, noise=0.2, seed=seed)
    design = torch.cat([X, torch.ones_like(X)], 1).double()
    w_ls, b_ls = torch.linalg.lstsq(design, y.double()).solution.squeeze(1).tolist()
    torch.manual_seed(seed)
    model = nn.Linear(1, 1)
    helpers.train(model, X, y, loss_fn=nn.MSELoss(), lr=0.3, num_epochs=150)
    assert model.weight.item() == pytest.approx(w_ls, abs=1e-3)
    assert model.bias.item() == pytest.approx(b_ls, abs=1e-3)


@FEW
@given(st.text(max_size=30))
def test_display_width_is_two_per_wide_character_and_one_otherwise(s):
    import unicodedata

    wide = sum(unicodedata.east_asian_width(ch) in ("W", "F") for ch in s)
    assert text.display_width(s) == len(s) + wide


@pytest.mark.parametrize("s, width", [("", 0), ("abc", 3), ("損失", 4), ("ｱ", 1), ("Ａ", 2), ("é", 1), ("→", 1)])
def test_display_width_of_halfwidth_fullwidth_and_ambiguous_characters(s, width):
    assert text.display_width(s) == width


@FEW
@given(ja=st.text(min_size=1, max_size=10), en=st.text(min_size=1, max_size=10))
def test_bilingual_text_puts_japanese_first_and_keeps_both_whole(ja, en):
    assert text.bi(ja, en) == f"{ja} / {en}"
    assert text.bilines(ja, en) == f"{ja}\n{en}"
    err = text.BilingualError(ja, en)
    assert (err.ja, err.en, str(err)) == (ja, en, f"{ja}\n{en}")
    text.set_language("ja")
    assert text.bi(ja, en) == ja and text.bilines(ja, en) == ja
    text.set_language("en")
    assert text.bi(ja, en, sep="|") == en
    text.set_language(None)
