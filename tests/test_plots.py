import logging

import matplotlib
import pytest
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure

import helpers
from helpers.lessons import figures, style


def japanese_figure():
    fig = Figure()
    ax = fig.add_subplot()
    ax.plot([0, 1, 2], [3, 1, 0.5], label="損失(学習データ)")
    ax.plot([0, 1, 2], [3, 2, 1.5], label="検証データの損失")
    ax.set_title("学習率とエポック数で損失が変わる")
    ax.set_xlabel("エポック")
    ax.set_ylabel("損失 / loss")
    ax.legend()
    return fig


def test_japanese_title_labels_and_legend_have_every_glyph(japanese):
    assert style.missing_glyphs(japanese_figure()) == []


def test_missing_glyphs_does_see_a_missing_glyph():
    # Without the Japanese font, the default DejaVu Sans lacks kana: the detector must notice.
    with matplotlib.rc_context({"font.family": ["DejaVu Sans"]}):
        missing = style.missing_glyphs(japanese_figure())
    assert missing and "missing" in missing[0]


def test_series_figures_draw_cleanly(japanese, caplog):
    with caplog.at_level(logging.WARNING, logger="matplotlib"):
        for fig in (figures.five_step_cycle(), figures.loss_curve([4.0, 2.0, 1.0, 0.5])):
            assert style.missing_glyphs(fig) == []
    assert caplog.records == []  # e.g. no "findfont: Failed to find font weight bold"


def test_five_step_cycle_shows_each_step_in_both_languages(japanese):
    texts = [t.get_text() for t in figures.five_step_cycle().axes[0].texts]
    for ja, en, *_ in figures.STEPS:
        assert any(ja in t and en in t for t in texts), (ja, en)


def test_figure_labels_follow_language(japanese):
    helpers.set_language("en")
    ax = figures.loss_curve([1.0, 0.5]).axes[0]
    assert ax.get_ylabel() == "loss"
    helpers.set_language("ja")
    assert figures.loss_curve([1.0, 0.5]).axes[0].get_ylabel() == "損失"


def test_loss_curve_plots_every_value(japanese):
    losses = [3.0, 2.0, 1.5]
    line = figures.loss_curve(losses).axes[0].lines[0]
    assert list(line.get_ydata()) == losses
    assert list(line.get_xdata()) == [1, 2, 3]
    assert figures.loss_curve(losses, log=True).axes[0].get_yscale() == "log"


def relative_luminance(colour):
    def channel(c):
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in to_rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_palette_is_okabe_ito_and_distinct():
    assert len(set(style.PALETTE)) == len(style.PALETTE) == 8
    assert style.PALETTE[:3] == ("#0072B2", "#E69F00", "#009E73")
    # the first two colours differ in lightness too, so they part even in grey
    assert abs(relative_luminance(style.PALETTE[0]) - relative_luminance(style.PALETTE[1])) > 0.2


def test_importing_helpers_changes_no_matplotlib_setting():
    import subprocess
    import sys

    code = ("import matplotlib; before = dict(matplotlib.rcParams); import helpers, helpers.lessons.style, "
            "helpers.lessons.feedback, helpers.engine.device; assert dict(matplotlib.rcParams) == before; "
            "import sys; assert 'matplotlib_fontja' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_font_package_gives_bilingual_fix(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_fontja(name, *args, **kwargs):
        if name == "matplotlib_fontja":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_fontja)
    with pytest.raises(helpers.BilingualError) as err:
        style.use_japanese_font()
    assert "matplotlib-fontja" in err.value.ja and "pip install matplotlib-fontja" in err.value.en
