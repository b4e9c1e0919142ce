"""Figure style, the colour-blind-safe palette and the Japanese font, applied by `helpers.setup()`.

Nothing changes at import time."""

from __future__ import annotations

import base64
import io
import re
import struct
import warnings

import matplotlib
from matplotlib.figure import Figure

from ..engine.text import BilingualError

# Okabe & Ito's palette: distinguishable with every common colour-vision deficiency.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")

# One colour per meaning across the series, taken from PALETTE. Every pair of roles that appear in
# one figure stays apart under protanopia and deuteranopia (tests/test_colours.py simulates both).
ROLES = {
    "truth": "#000000",       # the targets: data points, the true rule
    "prediction": "#D55E00",  # the model's output
    "training": "#0072B2",    # training data and training loss
    "validation": "#E69F00",  # validation data and validation loss
    "inference": "#CC79A7",   # inference, beside training
    "before": "#999999",      # the state before a step or before training
    "after": "#56B4E9",       # the state after it
    "input": "#56B4E9",       # the five steps, in the cycle and wherever a step is named
    "forward": "#0072B2",
    "loss": "#D55E00",
    "backprop": "#CC79A7",
    "update": "#F0E442",
}

# Roles that one figure shows side by side: each pair must stay distinguishable.
SHOWN_TOGETHER = (
    ("truth", "prediction"),
    ("training", "validation"),
    ("training", "inference"),
    ("before", "after"),
    ("truth", "prediction", "before"),
    ("input", "forward", "loss", "backprop", "update"),
)


def role(name: str) -> str:
    """The colour that means name everywhere in the series (see ROLES)."""
    try:
        return ROLES[name]
    except KeyError:
        raise KeyError(f"色の役割は {', '.join(ROLES)} のどれかです({name!r})。\n"
                       f"A colour role is one of {', '.join(ROLES)} (got {name!r}).") from None


JAPANESE_FONT = "IPAexGothic"

# Figures are laid out at SHOW_DPI (the size they take on the page and on a slide) and drawn with
# DPI / SHOW_DPI times as many pixels in each direction (retina): sharp on high-density screens and
# projectors, no larger on the page. MIN_FONT_PT: no text smaller (tests/test_figure_text.py).
SHOW_DPI = 100
DPI = 200
MIN_FONT_PT = 9

STYLE = {
    "figure.figsize": (7.0, 4.2),
    "figure.dpi": SHOW_DPI,
    "savefig.dpi": DPI,
    "font.size": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.frameon": False,
    "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
    # Type 42 keeps Japanese text as text when a figure is saved as PDF.
    "pdf.fonttype": 42,
    # Hashes in SVG output stay the same from run to run.
    "svg.hashsalt": "training-flow",
}

_GLYPH_MISSING = re.compile(r"Glyph \d+ .*missing from (current )?font", re.IGNORECASE)


def use_japanese_font() -> str:
    """Register the bundled IPAex Gothic font and make it the default; returns the font name."""
    try:
        import matplotlib_fontja
    except ImportError:
        raise BilingualError(
            "日本語フォントのパッケージ matplotlib-fontja がありません。図の日本語が □ になります。\n"
            "直し方: pip install matplotlib-fontja(または make lab / make test で環境を作り直す)",
            "The Japanese font package matplotlib-fontja is missing; Japanese in figures would show "
            "as boxes.\nFix: pip install matplotlib-fontja (or rebuild with make lab / make test)",
        ) from None
    matplotlib_fontja.japanize()
    # DejaVu Sans stays behind it for the few symbols IPAex Gothic lacks.
    matplotlib.rcParams["font.family"] = [JAPANESE_FONT, "DejaVu Sans"]
    return JAPANESE_FONT


def apply_style() -> None:
    """Set the series' figure style (called by helpers.setup)."""
    matplotlib.rcParams.update(STYLE)


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) in pixels of a PNG, read from its header."""
    return struct.unpack(">II", png[16:24])


def shown_size(png: bytes, dpi: int = DPI) -> tuple[int, int]:
    """The size in screen pixels to show a PNG drawn at dpi (DPI unless told): its size at SHOW_DPI."""
    width, height = png_size(png)
    return round(width * SHOW_DPI / dpi), round(height * SHOW_DPI / dpi)


def figure_png(fig: Figure) -> tuple[str, dict]:
    """A figure as Jupyter shows it: a base64 PNG drawn at DPI, and the size to show it at (SHOW_DPI)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", facecolor="white")
    png = buffer.getvalue()
    width, height = shown_size(png)
    return base64.b64encode(png).decode("ascii"), {"width": width, "height": height}


def missing_glyphs(fig: Figure) -> list[str]:
    """Draw a figure off-screen and return matplotlib's "Glyph … missing" warnings (empty when fine)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(io.BytesIO(), format="png")
    return [str(w.message) for w in caught if _GLYPH_MISSING.search(str(w.message))]
