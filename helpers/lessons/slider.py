"""Sliders above a figure (03-07): `slider`, `SliderFigure`, and the picture saved beside each one
so that a reader without a kernel still sees the default figure."""

from __future__ import annotations

import base64
import io
import re
import textwrap
import time
from collections.abc import Callable

import ipywidgets as widgets
from matplotlib.figure import Figure

from ..engine.text import BilingualError, bi


def png_bytes(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def message_figure(message: str) -> Figure:
    """A figure that holds only a message: shown instead of a broken plot."""
    fig = Figure(figsize=(6.5, 3.6))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True, fontsize=11, color="#D55E00")
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
    `last_update_ms` the time the latest redraw took.
    """

    def __init__(self, draw: Callable[..., Figure], sliders: dict, **kwargs):
        self.draw = draw
        self.sliders = dict(sliders)
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
        self.image.value = self._png(self.figure)
        self.last_update_ms = (time.perf_counter() - start) * 1000
        return self.figure

    def _png(self, fig: Figure) -> bytes:
        """The picture the slider shows; a subclass that redraws only what changed overrides this."""
        return png_bytes(fig)

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        # JupyterLab shows the live widget; viewers that cannot run widgets fall back to this picture.
        bundle["image/png"] = base64.b64encode(self.image.value).decode("ascii")
        return bundle


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
