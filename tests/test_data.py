import logging
import math
import re

import pytest
import torch
from matplotlib.figure import Figure

import helpers
from helpers.engine import data
from helpers.lessons import input as lesson_input
from helpers.lessons import style

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
ENGLISH = re.compile(r"[A-Za-z]{3,}")


def bilingual(text):
    return bool(JAPANESE.search(text)) and bool(ENGLISH.search(text))


def raises_bilingual(X, y, *words):
    with pytest.raises(helpers.BilingualError) as info:
        data.check_data(X, y)
    err = info.value
    assert JAPANESE.search(err.ja) and ENGLISH.search(err.en)
    assert err.ja in str(err) and err.en in str(err)
    for word in words:
        assert word in str(err)
    return err


# --- generators ---------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [data.make_line, data.make_curve])
def test_one_feature_generators_are_shaped_and_seeded(make):
    X, y = make(n=17, seed=3)
    assert X.shape == (17, 1) and y.shape == (17, 1)
    X2, y2 = make(n=17, seed=3)
    assert torch.equal(X, X2) and torch.equal(y, y2)
    X3, _ = make(n=17, seed=4)
    assert not torch.equal(X, X3)


def test_make_line_follows_its_rule():
    X, y = data.make_line(n=50, slope=-3.0, intercept=0.5, noise=0.0, low=1.0, high=2.0)
    assert torch.allclose(y, -3.0 * X + 0.5)
    assert X.min() >= 1.0 and X.max() <= 2.0


def test_make_curve_follows_sine():
    X, y = data.make_curve(n=40, noise=0.0)
    assert torch.allclose(y, torch.sin(X))


def test_make_blobs_is_shaped_balanced_and_seeded():
    X, y = data.make_blobs(n_per_class=12, classes=4, seed=1)
    assert X.shape == (48, 2) and y.shape == (48,)
    assert torch.bincount(y).tolist() == [12, 12, 12, 12]
    X2, y2 = data.make_blobs(n_per_class=12, classes=4, seed=1)
    assert torch.equal(X, X2) and torch.equal(y, y2)
    # With little spread, each point lies near its own class centre on the circle of radius 2.
    X, y = data.make_blobs(n_per_class=20, classes=3, spread=0.01)
    angle = y * (2 * math.pi / 3)
    centres = 2 * torch.stack([angle.cos(), angle.sin()], dim=1)
    assert torch.allclose(X, centres, atol=0.1)


def test_make_bars_draws_one_bar_per_picture():
    X, y = data.make_bars(n=30, size=6, noise=0.0, seed=2)
    assert X.shape == (30, 1, 6, 6) and y.shape == (30,)
    assert set(y.tolist()) == {0, 1}
    pictures = X[:, 0]  # (batch, height, width)
    assert torch.all(pictures.sum(dim=(1, 2)) == 6)  # exactly one full row or column lit
    row_lit = (pictures.sum(dim=2) == 6).any(dim=1)  # a whole row: a horizontal bar
    col_lit = (pictures.sum(dim=1) == 6).any(dim=1)
    assert torch.equal(row_lit, y == 0) and torch.equal(col_lit, y == 1)
    X2, y2 = data.make_bars(n=30, size=6, noise=0.0, seed=2)
    assert torch.equal(X, X2) and torch.equal(y, y2)
    noisy, _ = data.make_bars(n=30, size=6, noise=0.1, seed=2)
    assert not torch.equal(noisy, X)


def test_make_bars_rejects_a_too_small_picture():
    with pytest.raises(helpers.BilingualError, match="at least 2"):
        data.make_bars(size=1)


# --- preview ------------------------------------------------------------------------------------


def test_preview_shows_the_first_rows_rounded_with_one_header_line_per_language():
    X = torch.tensor([[0.123456], [1.0], [2.0]])
    y = torch.tensor([[5.0], [6.0], [7.0]])
    lines = lesson_input.preview(X, y, rows=2).splitlines()
    assert len(lines) == 4  # Japanese header, English header, 2 rows
    assert "問題" in lines[0] and not re.search(r"[a-z]{3}", lines[0].replace("x", ""))
    assert "question" in lines[1] and not JAPANESE.search(lines[1])
    assert lines[2].split() == ["0", "0.1235", "5.0000"]
    assert lines[3].split() == ["1", "1.0000", "6.0000"]


def test_preview_names_each_feature_and_keeps_class_numbers_whole():
    X, y = data.make_blobs(n_per_class=2, classes=2)
    lines = lesson_input.preview(X, y, rows=4, digits=2).splitlines()
    assert "x1" in lines[0] and "x2" in lines[0]
    assert lines[2].split()[-1] == str(int(y[0]))
    assert lines[2].split()[1] == f"{X[0, 0].item():.2f}"


def test_preview_follows_language():
    X, y = data.make_line(n=3)
    helpers.set_language("en")
    assert not JAPANESE.search(lesson_input.preview(X, y))
    helpers.set_language("ja")
    assert "問題" in lesson_input.preview(X, y) and "question" not in lesson_input.preview(X, y)


# --- split and batches --------------------------------------------------------------------------


def test_split_sizes_disjoint_and_complete():
    X = torch.arange(20.0).unsqueeze(1)  # (batch, 1): each row names itself
    y = X * 10
    X_train, y_train, X_val, y_val = data.split(X, y, val_fraction=0.25, seed=1)
    assert len(X_train) == 15 and len(X_val) == 5
    train, val = set(X_train.squeeze(1).tolist()), set(X_val.squeeze(1).tolist())
    assert not train & val and train | val == set(range(20))
    assert torch.equal(y_train, X_train * 10) and torch.equal(y_val, X_val * 10)  # pairs stay together
    again = data.split(X, y, val_fraction=0.25, seed=1)
    assert torch.equal(again[2], X_val)


def test_split_rejects_bad_fractions():
    X, y = data.make_line(n=10)
    for bad in (1.0, -0.1):
        with pytest.raises(helpers.BilingualError) as info:
            data.split(X, y, val_fraction=bad)
        assert bilingual(str(info.value))
    assert len(data.split(X, y, val_fraction=0.0)[2]) == 0


def rows_of(parts):
    return sorted(torch.cat([Xb for Xb, _ in parts]).squeeze(1).tolist())


def test_batches_cover_every_row_once_and_keep_pairs():
    X = torch.arange(20.0).unsqueeze(1)
    y = -X
    parts = list(data.batches(X, y, 6, torch.Generator().manual_seed(0)))
    assert [len(Xb) for Xb, _ in parts] == [6, 6, 6, 2]  # the last batch is the leftover
    assert rows_of(parts) == list(range(20))
    for Xb, yb in parts:
        assert torch.equal(yb, -Xb)


def test_batches_shuffle_deterministically_and_differ_per_epoch():
    X = torch.arange(20.0).unsqueeze(1)
    y = X.clone()
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    first = [Xb for Xb, _ in data.batches(X, y, 6, g1)]
    same = [Xb for Xb, _ in data.batches(X, y, 6, g2)]
    assert all(torch.equal(a, b) for a, b in zip(first, same, strict=True))
    assert not torch.equal(torch.cat(first), X)  # shuffled
    second_epoch = torch.cat([Xb for Xb, _ in data.batches(X, y, 6, g1)])
    assert not torch.equal(second_epoch, torch.cat(first))
    unshuffled = torch.cat([Xb for Xb, _ in data.batches(X, y, 6)])
    assert torch.equal(unshuffled, X)


def test_full_batch_is_one_batch_of_everything():
    X, y = data.make_line(n=9)
    for size in (None, 9, 50):
        parts = list(data.batches(X, y, size))
        assert len(parts) == 1 and parts[0][0] is X and parts[0][1] is y


# --- check_data ---------------------------------------------------------------------------------


def test_check_data_accepts_good_data():
    data.check_data(*data.make_line())
    data.check_data(*data.make_blobs())
    data.check_data(*data.make_bars())


def test_check_data_rejects_nan_and_infinity():
    X, y = data.make_line(n=10)
    X[3, 0] = float("nan")
    raises_bilingual(X, y, "NaN", "1")
    X, y = data.make_line(n=10)
    y[0, 0], y[1, 0] = float("inf"), float("nan")
    err = raises_bilingual(X, y, "NaN")
    assert "2" in err.en and "y" in err.en


def test_check_data_rejects_missing_feature_dimension():
    X, y = data.make_line(n=10)
    err = raises_bilingual(X.squeeze(1), y, "(batch, features)", "unsqueeze(1)")
    assert "(10, 1)" in err.ja and "(10, 1)" in err.en


def test_check_data_rejects_different_lengths():
    X, y = data.make_line(n=10)
    err = raises_bilingual(X, y[:7], "10", "7")
    assert "every question needs its answer" in err.en


def test_check_data_rejects_empty_and_non_tensors():
    X, y = data.make_line(n=4)
    raises_bilingual(X[:0], y[:0], "empty")
    raises_bilingual(X.tolist(), y, "torch.Tensor", "list")
    raises_bilingual(X, None, "torch.Tensor", "NoneType")


# --- figures ------------------------------------------------------------------------------------


def figure_texts(fig):
    texts = [fig._suptitle.get_text()] if fig._suptitle else []
    for ax in fig.axes:
        texts += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        legend = ax.get_legend()
        if legend:
            texts += [t.get_text() for t in legend.get_texts()]
    return [t for t in texts if t]


def every_figure():
    X, y = data.make_line()
    Xb, yb = data.make_blobs()
    Xi, yi = data.make_bars()
    parts = list(data.batches(X, y, 6, torch.Generator().manual_seed(0)))
    return [lesson_input.plot_line_data(X, y, 2.0, 1.0), lesson_input.plot_blobs(Xb, yb),
            lesson_input.plot_batches(X, y, parts, highlight=3), lesson_input.plot_images(Xi, yi)]


def test_plotters_return_figures_with_bilingual_labels_and_draw_cleanly(japanese, caplog):
    with caplog.at_level(logging.WARNING, logger="matplotlib"):
        for fig in every_figure():
            assert isinstance(fig, Figure)
            texts = figure_texts(fig)
            assert texts and any(bilingual(t) for t in texts)
            for t in texts:
                assert not JAPANESE.search(t) or bilingual(t) or t.startswith("y ="), t
            assert style.missing_glyphs(fig) == []
    assert caplog.records == []  # no findfont or other matplotlib complaints


def test_plotters_follow_language(japanese):
    helpers.set_language("en")
    for fig in every_figure():
        assert not any(JAPANESE.search(t) for t in figure_texts(fig))


def test_plot_line_data_draws_points_and_rule(japanese):
    X, y = data.make_line(n=12)
    ax = lesson_input.plot_line_data(X, y, slope=2.0, intercept=1.0).axes[0]
    assert len(ax.collections[0].get_offsets()) == 12
    line = ax.lines[0]
    xs, ys = line.get_xdata(), line.get_ydata()
    assert all(abs(b - (2 * a + 1)) < 1e-6 for a, b in zip(xs, ys, strict=True))
    assert "y = 2x + 1" in ax.get_legend().get_texts()[1].get_text()
    assert len(lesson_input.plot_line_data(X, y).axes[0].lines) == 0  # no rule given, none drawn


def test_plot_blobs_has_one_colour_per_class(japanese):
    X, y = data.make_blobs(n_per_class=5, classes=4)
    ax = lesson_input.plot_blobs(X, y).axes[0]
    assert len(ax.collections) == 4
    assert [len(c.get_offsets()) for c in ax.collections] == [5, 5, 5, 5]


def test_plot_batches_highlights_the_chosen_batch(japanese):
    X, y = data.make_line(n=20)
    parts = list(data.batches(X, y, 6, torch.Generator().manual_seed(0)))
    ax = lesson_input.plot_batches(X, y, parts, highlight=3).axes[0]
    faint, bold = ax.collections
    assert len(faint.get_offsets()) == 20 and len(bold.get_offsets()) == 2
    assert sorted(bold.get_offsets()[:, 0].tolist()) == pytest.approx(sorted(parts[3][0].squeeze(1).tolist()))
    assert "4" in ax.get_title()  # counted from 1 for the reader
    with pytest.raises(helpers.BilingualError):
        lesson_input.plot_batches(X, y, parts, highlight=4)


def test_plot_images_shows_count_pictures_with_answers(japanese):
    X, y = data.make_bars(n=5)
    fig = lesson_input.plot_images(X, y, count=8)
    assert len(fig.axes) == 5  # never more pictures than there are
    assert [ax.get_title() for ax in fig.axes] == [f"y = {int(v)}" for v in y]
    assert len(lesson_input.plot_images(X, y, count=3).axes) == 3


# --- exercises ----------------------------------------------------------------------------------


def test_check_shape():
    rows, features = lesson_input.SHAPE_QUESTION
    assert lesson_input.check_shape((rows, features)).ok
    assert lesson_input.check_shape([rows, features]).ok
    assert lesson_input.check_shape(torch.zeros(rows, features).shape).ok
    none = lesson_input.check_shape(None)
    assert not none.ok and "None" in none.message
    reversed_ = lesson_input.check_shape((features, rows))
    assert not reversed_.ok and "reversed" in reversed_.message
    assert "first number" in lesson_input.check_shape((rows + 1, features)).message
    assert "second number" in lesson_input.check_shape((rows, features + 1)).message
    assert "two dimensions" in lesson_input.check_shape((rows, features, 1)).message
    for wrong_type in ("365, 4", 365, (365.0, 4.0), (True, 4)):
        feedback = lesson_input.check_shape(wrong_type)
        assert not feedback.ok and "tuple" in feedback.message
    for feedback in (lesson_input.check_shape((rows, features)), reversed_):
        assert bilingual(feedback.message)
        assert str(rows) not in feedback.message or feedback.ok  # a hint does not give the answer away


def test_check_batch_count_agrees_with_batches():
    n, size = lesson_input.BATCH_QUESTION
    X = torch.zeros(n, 1)
    truth = len(list(data.batches(X, X, size, torch.Generator().manual_seed(0))))
    right = lesson_input.check_batch_count(truth)
    assert right.ok and bilingual(right.message)
    assert "4" in right.message  # the leftover 100 - 3 * 32 rows
    too_few = lesson_input.check_batch_count(truth - 1)
    assert not too_few.ok and "Too few" in too_few.message
    too_many = lesson_input.check_batch_count(truth + 1)
    assert not too_many.ok and "Too many" in too_many.message
    assert not lesson_input.check_batch_count(0).ok and not lesson_input.check_batch_count(-2).ok
    assert "None" in lesson_input.check_batch_count(None).message
    for wrong_type in (float(truth), "4", True, [truth]):
        feedback = lesson_input.check_batch_count(wrong_type)
        assert not feedback.ok and "whole number" in feedback.message
