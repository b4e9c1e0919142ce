"""Sliders beside a live figure (notebooks 03, 05, 06 and on): widgets are thin wrappers on plotters.

`SliderFigure` redraws a pure plotter whenever a slider moves. Its committed output also holds a PNG
of the default figure, so a reader without a kernel (GitHub, nbviewer) still sees the picture.
"""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Callable

import ipywidgets as widgets
from matplotlib.figure import Figure

from .text import BilingualError, bi


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
        self.image.value = png_bytes(self.figure)
        self.last_update_ms = (time.perf_counter() - start) * 1000
        return self.figure

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        # JupyterLab shows the live widget; viewers that cannot run widgets fall back to this picture.
        bundle["image/png"] = base64.b64encode(self.image.value).decode("ascii")
        return bundle
