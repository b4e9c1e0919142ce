"""Figure style, the colour-blind-safe palette and the Japanese font, applied by `helpers.setup()`.

Nothing changes at import time."""

from __future__ import annotations

import base64
import io
import re
import struct
import warnings

import matplotlib
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure

from ..engine.text import BilingualError

# Okabe & Ito's palette: distinguishable with every common colour-vision deficiency.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")

# One colour per meaning across the series, taken from PALETTE (or a grey). Every pair of roles that
# appear in one figure stays apart under protanopia and deuteranopia (tests/test_colours.py simulates
# both). Figure modules take every colour from here: role(name), series(n) or a colormap below.
ROLES = {
    "truth": "#000000",       # the targets: data points, the true rule
    "prediction": "#D55E00",  # the model's output
    "training": "#0072B2",    # training data and training loss (a loss curve)
    "validation": "#56B4E9",  # validation data and validation loss (sky blue: orange merged with prediction)
    "inference": "#CC79A7",   # inference, beside training
    "before": "#999999",      # the state before a step or before training (the start, the original value)
    "after": "#56B4E9",       # the state after it
    "input": "#56B4E9",       # the five steps, in the cycle and wherever a step is named
    "forward": "#0072B2",     # ... also the values the forward pass computes
    "loss": "#D55E00",
    "backprop": "#CC79A7",
    "update": "#F0E442",
    "gradient": "#D55E00",    # a gradient: the slope of the loss, ∂L/∂(node), what backprop hands on
    "goal": "#009E73",        # where training should get to: the valley bottom, the best epoch, small loss
    "stop": "#000000",        # where training is stopped early (beside goal: pink merged with green)
    "alert": "#D55E00",       # a warning in a figure: diverging, a large loss, a figure that failed
    "ink": "#333333",         # dark text and labels drawn in a figure
    "muted": "#777777",       # arrows and frames that guide the eye, carrying no meaning of their own
    "grid": "#999999",        # reference lines: y = 0, axis spines
    "data": "#BBBBBB",        # plain data not in focus: the rest of the data set, data nodes (no gradient)
    "paper": "#FFFFFF",       # the background: boxes behind text, gaps between stacked bars
}

# The five steps in order, by role: the cycle's boxes and every lane of the five steps.
STEP_ROLES = ("input", "forward", "loss", "backprop", "update")

# Roles that one figure shows side by side: each pair must stay distinguishable. The neutral roles
# (ink, muted, grid, paper) are text, arrows, frames and background, told apart by shape, not colour.
SHOWN_TOGETHER = (
    ("truth", "prediction"),
    ("training", "validation"),
    ("training", "inference"),
    ("before", "after"),
    ("truth", "prediction", "before"),                      # 03 the misses, 05 before and after training
    ("input", "forward", "loss", "backprop", "update"),     # 00 the cycle, 11 the workers' lanes
    ("training", "truth"),                                  # 01 the data and its rule, 11 the workers' losses
    ("data", "input"),                                      # 01 one mini-batch among all the data
    ("forward", "gradient", "data"),                        # 04 the computation graph
    ("training", "gradient", "goal"),                       # 04 the slope of the loss
    ("truth", "prediction", "goal"),                        # 03 the loss curves and their verdict
    ("training", "goal", "after", "alert"),                 # 05 the path of the updates
    ("truth", "prediction", "training"),                    # 06 the loop explorer
    ("truth", "training", "validation", "prediction", "goal"),  # 07 the fit beside its losses
    ("training", "validation", "goal", "stop"),             # 07 early stopping
)

# The order of series(): the first SAFE_SERIES stay apart pairwise for colour-blind readers (the
# rest of PALETTE merges with one of them). MERGES: the pairs of series and role colours that merge
# under protanopia or deuteranopia (tests/test_colours.py recomputes them); series(avoid=...) leaves
# out a colour that merges with one avoided.
_SERIES = ("#0072B2", "#E69F00", "#009E73", "#56B4E9", "#000000", "#D55E00", "#CC79A7", "#F0E442")
SAFE_SERIES = 5
MERGES = frozenset(frozenset(pair) for pair in (
    ("#E69F00", "#D55E00"), ("#E69F00", "#F0E442"), ("#009E73", "#CC79A7"), ("#009E73", "#999999"),
    ("#009E73", "#777777"), ("#CC79A7", "#999999"), ("#CC79A7", "#BBBBBB"), ("#CC79A7", "#777777"),
    ("#999999", "#BBBBBB"), ("#999999", "#777777")))


def role(name: str) -> str:
    """The colour that means name everywhere in the series (see ROLES)."""
    try:
        return ROLES[name]
    except KeyError:
        raise KeyError(f"色の役割は {', '.join(ROLES)} のどれかです({name!r})。\n"
                       f"A colour role is one of {', '.join(ROLES)} (got {name!r}).") from None


def series(n: int, avoid: tuple[str, ...] = ()) -> list[str]:
    """n colours for n series that mean nothing beyond "not the same" (kinds of work, workers, curves
    to compare), always in the same order, leaving out the colours in avoid (roles the same figure
    shows) and those that merge with them. Up to SAFE_SERIES stay apart for colour-blind readers;
    past the palette they repeat."""
    colours = [c for c in _SERIES
               if not any(c == a or frozenset({c, a}) in MERGES for a in avoid)] or list(_SERIES)
    return [colours[i % len(colours)] for i in range(n)]


def diverging_cmap(name: str = "diverging"):
    """Negative → paper → positive (training blue to vermillion): signed values such as weights."""
    return LinearSegmentedColormap.from_list(name, [PALETTE[0], ROLES["paper"], PALETTE[3]])


def sequential_cmap(name: str = "sequential"):
    """Paper → training blue: values from 0 up, such as attention weights."""
    return LinearSegmentedColormap.from_list(name, [ROLES["paper"], PALETTE[0]])


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
