import base64
import io
import re

import matplotlib
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from PIL import Image
from torch import nn

import helpers
from helpers.engine import data
from helpers.engine.loop import History
from helpers.lessons import loop
from helpers.lessons import slider as lesson_slider
from helpers.lessons import style as plots

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _japanese(japanese):
    """Every test here draws with the series' style and font (the shared fixture in conftest)."""


@pytest.fixture(scope="module")
def explorer():
    saved = matplotlib.rcParams.copy()
    plots.apply_style()
    plots.use_japanese_font()
    yield loop.training_explorer()
    matplotlib.rcParams.update(saved)


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def warning_pixels(png: bytes, box=None) -> int:
    """Pixels in the warning's colour (vermillion): the warning's text and frame; box: (x0, y0, x1, y1)
    in pixels from the top left, to count only there (the prediction line has that colour too)."""
    r, g, b = matplotlib.colors.to_rgb(plots.role("loss"))
    target = np.array([r, g, b]) * 255
    image = pixels(png)
    if box is not None:
        x0, y0, x1, y1 = box
        image = image[y0:y1, x0:x1]
    return int((np.abs(image - target).max(axis=2) < 40).sum())


def squeeze(text: str) -> str:
    return re.sub(r"\s", "", text)


def move(explorer, lr=None, num_epochs=None):
    if lr is not None:
        explorer.lr_slider.value = lr
    if num_epochs is not None:
        explorer.epochs_slider.value = num_epochs
    return explorer


# --- slider and SliderFigure -------------------------------------------------------------------

def test_slider_reports_only_on_release_and_picks_its_kind():
    ints = lesson_slider.slider(3, 1, 10, 1, "エポック数", "epochs")
    floats = lesson_slider.slider(0.5, 0.0, 1.0, 0.1, "割合", "share")
    logs = lesson_slider.slider(0.1, -4, 1, 0.1, "学習率", "learning rate", log=True)
    assert type(ints).__name__ == "IntSlider" and type(floats).__name__ == "FloatSlider"
    assert type(logs).__name__ == "FloatLogSlider" and logs.base == 10
    assert not any(s.continuous_update for s in (ints, floats, logs))
    assert ints.description == "エポック数 / epochs"


def bars(n):
    if n > 5:
        raise helpers.BilingualError(f"n は 5 以下です({n})。", f"n must be 5 or less (got {n}).")
    fig = Figure(figsize=(3, 2))
    fig.add_subplot().bar(range(n), range(1, n + 1))
    return fig


def test_slider_figure_redraws_and_carries_a_png_for_readers_without_a_kernel():
    view = lesson_slider.SliderFigure(bars, {"n": lesson_slider.slider(3, 1, 8, 1, "本数", "bars")})
    first = bytes(view.image.value)
    assert first.startswith(PNG_SIGNATURE) and isinstance(view.figure, Figure)
    bundle, metadata = view._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert base64.b64decode(bundle["image/png"]) == first
    # drawn at DPI, shown at its size at SHOW_DPI, in the widget and in the saved picture
    shown = {"width": 300, "height": 200}
    assert metadata == {"image/png": shown} and view.image.width == "300"
    assert plots.png_size(first) == (300 * plots.DPI // plots.SHOW_DPI, 200 * plots.DPI // plots.SHOW_DPI)
    view.sliders["n"].value = 4
    assert bytes(view.image.value) != first and view.last_update_ms > 0
    assert base64.b64decode(view._repr_mimebundle_()[0]["image/png"]) == bytes(view.image.value)


def test_a_slider_figure_with_a_strip_saves_the_strip_not_the_current_picture():
    def strip():
        fig = Figure(figsize=(6, 2))
        for i, n in enumerate((1, 3, 5), start=1):
            fig.add_subplot(1, 3, i).bar(range(n), range(1, n + 1))
        return fig

    view = lesson_slider.SliderFigure(bars, {"n": lesson_slider.slider(3, 1, 8, 1, "本数", "bars")}, strip=strip)
    bundle, metadata = view._repr_mimebundle_()
    saved = base64.b64decode(bundle["image/png"])
    assert saved != bytes(view.image.value) and saved == lesson_slider.png_bytes(strip())
    assert metadata == {"image/png": {"width": 600, "height": 200}}
    view.sliders["n"].value = 5  # the saved picture stays the strip
    assert base64.b64decode(view._repr_mimebundle_()[0]["image/png"]) == saved


def test_slider_figure_shows_a_bilingual_error_as_a_message_figure():
    view = lesson_slider.SliderFigure(bars, {"n": lesson_slider.slider(3, 1, 8, 1, "本数", "bars")})
    view.sliders["n"].value = 8  # the plotter raises; the reader sees its message instead
    texts = [t.get_text() for t in view.figure.findobj(matplotlib.text.Text)]
    assert any("5 以下" in t and "5 or less" in t for t in texts), texts
    assert bytes(view.image.value).startswith(PNG_SIGNATURE)
    view.sliders["n"].value = 2  # and it recovers
    assert not any("5 or less" in t.get_text() for t in view.figure.findobj(matplotlib.text.Text))


def test_message_figure_and_png_bytes():
    fig = lesson_slider.message_figure("学習率を下げてください。\nLower the learning rate.")
    assert isinstance(fig, Figure)
    assert lesson_slider.png_bytes(fig).startswith(PNG_SIGNATURE)
    assert plots.missing_glyphs(fig) == []


# --- the training explorer ---------------------------------------------------------------------

def test_explorer_exposes_its_sliders_history_and_timing(explorer):
    lr_slider, epochs_slider = explorer.lr_slider, explorer.epochs_slider
    assert type(lr_slider).__name__ == "FloatLogSlider"
    assert (lr_slider.base ** lr_slider.min, lr_slider.base ** lr_slider.max) == pytest.approx((1e-4, 10.0))
    assert (epochs_slider.min, epochs_slider.max) == (1, 200)
    assert not lr_slider.continuous_update and not epochs_slider.continuous_update
    assert lr_slider in explorer.children and epochs_slider in explorer.children
    move(explorer, 0.1, 100)
    assert isinstance(explorer.history, History) and explorer.history.epochs == 100
    assert explorer.history.lr == pytest.approx(0.1)
    assert explorer.last_update_ms > 0
    assert bytes(explorer.image.value).startswith(PNG_SIGNATURE)


@pytest.mark.parametrize("lr_end", ["min", "max"])
@pytest.mark.parametrize("epochs_end", ["min", "max"])
def test_explorer_at_every_slider_limit_draws_a_figure(explorer, lr_end, epochs_end):
    lr_slider, epochs_slider = explorer.lr_slider, explorer.epochs_slider
    move(explorer, 0.1, 100)  # start elsewhere, so each limit is a real change
    lr = lr_slider.base ** getattr(lr_slider, lr_end)
    epochs = getattr(epochs_slider, epochs_end)
    move(explorer, lr, epochs)
    history = explorer.history
    assert isinstance(history, History)
    assert history.lr == pytest.approx(lr) and history.epochs <= epochs
    assert history.diverged or history.epochs == epochs
    assert isinstance(explorer.figure, Figure)
    assert bytes(explorer.image.value).startswith(PNG_SIGNATURE) and len(bytes(explorer.image.value)) > 1000
    assert lesson_slider.png_bytes(explorer.figure).startswith(PNG_SIGNATURE)


def test_explorer_shows_the_divergence_warning_inside_the_figure(explorer):
    move(explorer, 0.1, 100)
    calm = bytes(explorer.image.value)
    move(explorer, 10.0)
    history = explorer.history
    assert history.diverged
    shown = [t for t in explorer.figure.findobj(matplotlib.text.Text) if t.get_visible()]
    assert any(squeeze(t.get_text()) == squeeze(history.explain()) for t in shown)
    assert any("発散" in t.get_text() and "diverged" in t.get_text() for t in shown)
    # and it is really painted: many more pixels in the warning's colour where it stands than in a calm run
    extent = explorer._warning.get_window_extent()
    height = explorer.figure.canvas.get_width_height(physical=True)[1]
    box = (int(extent.x0), int(height - extent.y1), int(extent.x1), int(height - extent.y0))
    assert warning_pixels(bytes(explorer.image.value), box) > 20 * max(warning_pixels(calm, box), 50)
    move(explorer, 0.1)  # a good run again: the warning is gone
    assert not explorer.history.diverged
    assert warning_pixels(bytes(explorer.image.value)) == warning_pixels(calm)


def test_explorer_is_deterministic(explorer):
    move(explorer, 0.2, 60)
    losses, picture = list(explorer.history.losses), bytes(explorer.image.value)
    move(explorer, 0.001, 150)
    assert explorer.history.losses != losses
    move(explorer, 0.2, 60)
    assert explorer.history.losses == losses
    assert bytes(explorer.image.value) == picture


def test_explorer_blitting_matches_a_full_redraw(explorer):
    # After a diverged run and then a good one, the quick redraw must show what a full draw shows.
    move(explorer, 10.0, 150)
    move(explorer, 0.3, 80)
    quick = pixels(bytes(explorer.image.value))
    full = pixels(lesson_slider.png_bytes(explorer.figure, dpi=explorer.picture_dpi))
    assert quick.shape == full.shape
    differing = (np.abs(quick - full).max(axis=2) > 60).mean()
    assert differing < 0.005, differing


def test_explorer_prints_the_final_loss_under_a_sharp_picture_of_the_right_size(explorer):
    move(explorer, 0.1, 100)
    assert explorer.summary in explorer.children and explorer.children[-1] is explorer.summary
    assert f"{explorer.history.losses[-1]:.4f}" in explorer.summary.value and "final loss" in explorer.summary.value
    assert explorer.picture_dpi >= 150  # sharp on a projector
    width, _ = plots.png_size(bytes(explorer.image.value))
    assert int(explorer.image.width) == round(width * 100 / explorer.picture_dpi) == 740  # 7.4 in at 100 dpi
    move(explorer, 10.0)
    assert explorer.history.diverged and "diverged" in explorer.summary.value
    assert f"{explorer.history.losses[-1]:.4f}" not in explorer.summary.value


def test_explorer_regimes_small_good_large(explorer):
    move(explorer, 1e-4, 100)
    slow = explorer.history
    assert not slow.diverged and slow.losses[-1] > 0.9 * slow.losses[0]
    move(explorer, 0.1)
    good = explorer.history
    assert not good.diverged and good.losses[-1] < 0.3 * good.losses[0]
    move(explorer, 0.3)
    zigzag = explorer.history
    assert not zigzag.diverged and max(zigzag.losses[:20]) > zigzag.losses[0]  # it jumps up before settling
    move(explorer, 1.0)
    assert explorer.history.diverged


def test_explorer_matches_a_plain_training_run(explorer):
    move(explorer, 0.2, 30)
    model = loop._mlp(16, 0)
    X, y = data.make_curve(30, seed=0)
    history = helpers.train(model, X, y, loss_fn=nn.MSELoss(), lr=0.2, num_epochs=30)
    assert explorer.history.losses == pytest.approx(history.losses, rel=1e-6)


def test_explorer_leaves_the_random_state_and_threads_alone(explorer):
    threads = torch.get_num_threads()
    state = torch.random.get_rng_state()
    move(explorer, 0.05, 20)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.get_num_threads() == threads


def test_explorer_takes_its_own_data_and_rejects_two_features():
    X, y = data.make_line(12, seed=1)
    small = loop.training_explorer(X, y, lr=0.05, num_epochs=10, epochs_range=(1, 50))
    assert small.history.epochs == 10 and small.epochs_slider.max == 50
    X2 = torch.randn(12, 2)
    with pytest.raises(helpers.BilingualError, match="batch, 1"):
        loop.training_explorer(X2, y)


def test_wrap_message_keeps_every_character_and_fits_the_width():
    message = History(losses=[1.0] * 8, diverged=True, lr=10.0).explain()
    wrapped = lesson_slider.wrap_message(message, ja_width=20, en_width=40)
    assert squeeze(wrapped) == squeeze(message)
    for line in wrapped.splitlines():
        assert len(line) <= (20 if re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", line) else 40), line


# --- diminishing returns -----------------------------------------------------------------------

def test_drop_share_epoch():
    losses = [10.0, 5.0, 2.0, 1.2, 1.1, 1.0]  # total drop 9; 90 % of it is reached at 1.9
    assert loop.drop_share_epoch(losses) == 4
    assert loop.drop_share_epoch(losses, share=0.5) == 2
    with pytest.raises(helpers.BilingualError):
        loop.drop_share_epoch([1.0])
    with pytest.raises(helpers.BilingualError):
        loop.drop_share_epoch(losses, share=1.5)


def test_diminishing_returns_figure_marks_the_epoch():
    losses = [1.0 / (1 + e) + 0.1 for e in range(100)]
    epoch = loop.drop_share_epoch(losses)
    fig = loop.diminishing_returns(losses)
    assert isinstance(fig, Figure)
    texts = " ".join(t.get_text() for t in fig.findobj(matplotlib.text.Text))
    assert f"最初の {epoch} エポック" in texts and f"first {epoch} epochs" in texts
    assert f"さらに {100 - epoch} エポック" in texts and f"{100 - epoch} more epochs" in texts
    assert plots.missing_glyphs(fig) == []


def test_loss_drop():
    assert loop.loss_drop([5.0, 4.0, 3.5, 3.25], 1, 3) == pytest.approx(1.5)


# --- checkers ----------------------------------------------------------------------------------

def test_lr_questions_match_what_the_explorer_shows(explorer, capsys):
    loop.lr_questions()
    printed = capsys.readouterr().out
    for key, lr in loop.LR_QUESTIONS.items():
        assert f"{key}: lr = {lr:g}" in printed
        move(explorer, lr, 100)
        history = explorer.history
        verdict = ("diverge" if history.diverged else
                   "slow" if history.losses[-1] > 0.5 * history.losses[0] else "good")
        assert verdict == loop._LR_TRUTH[key], (key, lr)
