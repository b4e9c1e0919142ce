"""The one explicit setup call at the top of every notebook: seeds, print precision, figures, device."""

from __future__ import annotations

import torch
from matplotlib.figure import Figure

from ..engine import device as _device
from ..engine import session, text
from . import style


def _shell():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def _inline_figures(shell) -> None:
    """In Jupyter, show a returned Figure as a picture (our plotters return Figures, not pyplot state)."""
    if shell is not None and hasattr(shell, "kernel"):
        shell.run_line_magic("matplotlib", "inline")
        # Drawn at style.DPI, shown at the size it has at style.SHOW_DPI (retina): sharp and no larger.
        shell.display_formatter.formatters["image/png"].for_type(Figure, style.figure_png)


def _show_bilingual_error(shell, etype, value, tb, tb_offset=None):
    # The message already says what is wrong and how to fix it; helpers' inner frames would bury it.
    # IPython leaves showing a custom exception to its handler; the kernel sends it as an error.
    stb = [f"{etype.__name__}:\n{value}"]
    shell._showtraceback(etype, value, stb)
    return stb


def friendly_errors(shell) -> None:
    """Show helpers' bilingual errors as their message alone, without a long traceback."""
    if shell is not None:
        shell.set_custom_exc((text.BilingualError,), _show_bilingual_error)


def setup(seed: int = 0, lang: str | None = None, precision: int = 4,
          device: str | None = None, quiet: bool = False, threads: int | None = 1) -> torch.device:
    """Make the notebook reproducible and readable; print and return the device.

    seed: for random, NumPy and PyTorch. lang: "both", "ja" or "en" (None keeps the current one).
    precision: digits shown when tensors and arrays print. device: as for helpers.get_device.
    threads: CPU threads for PyTorch (see helpers.engine.session.configure); None keeps its choice.
    """
    session.configure(seed=seed, lang=lang, precision=precision, threads=threads)
    shell = _shell()
    friendly_errors(shell)
    _inline_figures(shell)
    style.apply_style()
    style.use_japanese_font()
    chosen = _device.get_device(device)
    if not quiet:
        print(_device.describe_device(chosen))
    return chosen
