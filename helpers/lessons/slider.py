"""Sliders above a figure (03-07): `slider`, `SliderFigure`, and the picture saved beside each one
so that a reader without a kernel still sees what the sliders show: a strip of a few telling settings."""

from __future__ import annotations

import base64
import io
import re
import textwrap
import time
from collections.abc import Callable

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from ..engine.text import BilingualError, bi
from .style import DPI, PALETTE, ROLES, role, shown_size


def png_bytes(fig: Figure, dpi: int = DPI) -> bytes:
    """A figure as a PNG drawn at dpi, style.DPI unless told (show it at style.shown_size)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _quick_palette() -> Image.Image:
    """Greys, and each series colour blended into white: what a figure's antialiased pixels are made of."""
    colours = [(round(g),) * 3 for g in np.linspace(0, 255, 40)]
    for colour in sorted(set(PALETTE) | set(ROLES.values())):
        rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
        if len(set(rgb)) > 1:  # greys are there already
            colours += [tuple(round(v) for v in 255 + t * (rgb - 255)) for t in np.linspace(1 / 11, 1, 11)]
    palette = Image.new("P", (1, 1))
    palette.putpalette([v for c in colours for v in c] + [255, 255, 255] * (256 - len(colours)))
    return palette


_PALETTE_IMAGE = None


def quick_png(canvas) -> bytes:
    """What an Agg canvas holds, as a PNG several times quicker to make than savefig's.

    Each pixel becomes the nearest of the fixed colours of _quick_palette (about 1 ms at DPI, where
    choosing colours per picture took over 10), lightly compressed: fewer bytes to send, too.
    """
    global _PALETTE_IMAGE
    if _PALETTE_IMAGE is None:
        _PALETTE_IMAGE = _quick_palette()
    width, height = canvas.get_width_height(physical=True)
    picture = Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    picture = picture.convert("RGB").quantize(palette=_PALETTE_IMAGE, dither=Image.Dither.NONE)
    buffer = io.BytesIO()
    picture.save(buffer, format="png", compress_level=1)
    return buffer.getvalue()


def message_figure(message: str) -> Figure:
    """A figure that holds only a message: shown instead of a broken plot."""
    fig = Figure(figsize=(6.5, 3.6))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True, fontsize=11, color=role("alert"))
    return fig


def slider(value, low, high, step, ja: str, en: str, log: bool = False, readout_format: str = ".2f"):
    """A slider with a bilingual label; it reports only when released (continuous_update=False)."""
    kind = widgets.FloatLogSlider if log else (
        widgets.IntSlider if all(isinstance(v, int) for v in (value, low, high, step)) else widgets.FloatSlider)
    options = dict(value=value, description=bi(ja, en), continuous_update=False,
                   style={"description_width": "initial"}, layout=widgets.Layout(width="520px"))
    if log:
        options.update(base=10, min=low, max=high, step=step, readout_format=readout_format)
    else:
        options.update(min=low, max=high, step=step)
        if kind is widgets.FloatSlider:
            options["readout_format"] = readout_format
    return kind(**options)


class SliderFigure(widgets.VBox):
    """Sliders above a picture; moving any slider calls draw(**values) and shows the new figure.

    sliders: name -> slider, the names being draw's keyword arguments. `figure` is the latest Figure,
    `last_update_ms` the time the latest redraw took. strip: draws the picture saved with the widget,
    which stands in for it without a kernel (GitHub, nbviewer, the book): a few telling settings side
    by side, not a copy of a figure above; without it, the first setting's picture is saved.
    """

    picture_dpi = DPI  # the dpi the live pictures are drawn at (a subclass may draw them coarser)

    def __init__(self, draw: Callable[..., Figure], sliders: dict, strip: Callable[[], Figure] | None = None,
                 **kwargs):
        self.draw = draw
        self.sliders = dict(sliders)
        self.strip = strip
        self._strip_png: bytes | None = None
        self.image = widgets.Image(format="png")
        self.figure: Figure | None = None
        self.last_update_ms = 0.0
        super().__init__([*self.sliders.values(), self.image], **kwargs)
        for control in self.sliders.values():
            control.observe(self._changed, "value")
        self.redraw()

    def values(self) -> dict:
        return {name: control.value for name, control in self.sliders.items()}

    def _changed(self, _change) -> None:
        self.redraw()

    def redraw(self) -> Figure:
        start = time.perf_counter()
        try:
            self.figure = self.draw(**self.values())
        except BilingualError as err:  # bad input the plotter explains: show it, never raise at the reader
            self.figure = message_figure(str(err))
        png = self._png(self.figure)
        self.image.width = str(shown_size(png, self.picture_dpi)[0])  # shown at its size at SHOW_DPI
        self.image.value = png
        self.last_update_ms = (time.perf_counter() - start) * 1000
        return self.figure

    def _png(self, fig: Figure) -> bytes:
        """The picture the slider shows; a subclass that redraws only what changed overrides this."""
        return png_bytes(fig)

    def still_png(self) -> bytes:
        """The picture saved with the widget: the strip of telling settings (drawn once), else the current one."""
        if self.strip is None:
            return bytes(self.image.value)
        if self._strip_png is None:
            self._strip_png = png_bytes(self.strip())
        return self._strip_png

    def _repr_mimebundle_(self, **kwargs):
        return with_still(super()._repr_mimebundle_(**kwargs), self.still_png())


def with_still(bundle: dict, png: bytes) -> tuple[dict, dict]:
    """A widget's bundle plus the picture that viewers without widgets show instead, at its SHOW_DPI size."""
    # JupyterLab shows the live widget; viewers that cannot run widgets fall back to this picture.
    bundle["image/png"] = base64.b64encode(png).decode("ascii")
    width, height = shown_size(png)
    return bundle, {"image/png": {"width": width, "height": height}}


# --- Notebook 06: the training-loop explorer ----------------------------------------------------

_CJK = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def wrap_message(message: str, ja_width: int = 32, en_width: int = 66) -> str:
    """Break each line of a bilingual message to fit a figure (Japanese has no spaces to break at)."""
    lines = []
    for line in message.splitlines():
        if not _CJK.search(line):
            lines += textwrap.wrap(line, en_width) or [""]
            continue
        current = ""
        for piece in re.split(r"(?<=[。、])", line):  # break after punctuation where possible
            while len(current) + len(piece) > ja_width:
                if current:
                    lines.append(current)
                    current = ""
                else:
                    lines.append(piece[:ja_width])
                    piece = piece[ja_width:]
            current += piece
        lines.append(current)
    return "\n".join(lines)
