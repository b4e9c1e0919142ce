"""Readable on a projector: every figure the notebooks draw, drawn here from small real data, has no
text under style.MIN_FONT_PT, and every committed picture is drawn sharper than it is shown (retina).

PLOTTERS names each figure function a notebook cell draws with; a test reads the notebooks and fails
when a cell draws a figure through a function missing here, so a new figure is checked too.
"""

import base64
import io
import re
from pathlib import Path

import matplotlib
import nbformat
import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

import helpers
from helpers.engine import data
from helpers.engine.loop import History
from helpers.lessons import (
    backprop,
    distributed,
    figures,
    forward,
    input,
    libraries,
    loop,
    loss,
    overfitting,
    precision,
    slider,
    stepper,
    style,
    training_vs_inference,
    update,
)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
WIDGET = "application/vnd.jupyter.widget-view+json"


def _history(losses, val=None) -> History:
    history = History(lr=0.1)
    for i, value in enumerate(losses):
        history.losses.append(value)
        if val is not None:
            history.val_losses.append(val[i])
    return history


def _mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(1, 8), nn.ReLU(), nn.Linear(8, 1))


def _line():
    return data.make_line(n=12)


def _curve():
    return data.make_curve(n=20)


def _answers():
    X, y = _line()
    return forward.answers_plot(X, y, {"nn.Linear": 0.5 * X})


def _hidden_units():
    X, _ = _curve()
    outs = forward.activations(_mlp(), X)
    return forward.hidden_units_plot(X, outs[0][1], outs[1][1])


def _filter():
    image = forward.make_image(24, "T")
    kernel = torch.tensor([[-1.0, -1.0, -1.0], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    return forward.filter_figure(image, kernel, forward.conv_by_hand(image, kernel))


def _grad_bars():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(1, 3), nn.Tanh(), nn.Linear(3, 1))  # 04's
    X, y = _curve()
    nn.MSELoss()(model(X), y).backward()
    return backprop.plot_grad_bars(backprop.weight_grads(model))


def _predictions():
    X, y = _line()
    return update.predictions_figure(X, y, 0 * X, 2 * X + 1)


def _misses():
    X, y = _line()
    return loss.misses_before_after(X, y, 0 * X, 2 * X + 1)


def _fit_runs():
    X, y, X_val, y_val = overfitting.make_data(10, 10)
    return overfitting.fit_capacities((1, 4, 14), X, y, X_val, y_val, num_epochs=5), (X, y, X_val, y_val)


def _capacity():
    runs, sets = _fit_runs()
    return overfitting.capacity_comparison(runs, *sets)


def _fit():
    runs, sets = _fit_runs()
    return overfitting.fit_figure(runs[4][0], 4, *sets)


def _memory():
    training = {"weights": 2e6, "gradients": 2e6, "optimizer": 4e6, "activations": 1.5e6}
    return training_vs_inference.memory_figure(training, {"weights": 2e6, "activations": 1e6})


def _profile():
    seconds = {"forward": {"conv": 0.002, "elementwise": 0.001}, "backward": {"conv": 0.004, "matmul": 0.001},
               "update": {"elementwise": 0.0005}}
    return libraries.profile_figure(seconds, {"conv": "MIOpen", "matmul": "rocBLAS / hipBLASLt"})


def _quantization():
    x = torch.randn(200, generator=torch.Generator().manual_seed(0))
    return precision.quantization_figure(x, *precision.quantize(x))


def _worker_losses():
    workers = [[1.0, 0.6, 0.4], [0.9, 0.5, 0.35]]
    return distributed.plot_worker_losses(workers, [0.95, 0.55, 0.37])


def _still(view) -> Figure:
    """A slider's saved picture, as the figure it was drawn from."""
    return view.strip() if view.strip is not None else view.figure


# name a notebook calls -> a figure it draws, from small real data
PLOTTERS = {
    "five_step_cycle": lambda: figures.five_step_cycle(),
    "loss_curve": lambda: figures.loss_curve([4.0, 2.0, 1.0, 0.5]),
    "loss_and_weights": lambda: figures.loss_and_weights([4.0, 2.0, 1.0], [(0.5, 0.1), (1.5, 0.6), (1.9, 0.9)],
                                                         rule=(2.0, 1.0)),
    "stepper": lambda: stepper.five_step_cycle(active=2, note="epoch 1"),
    "plot_line_data": lambda: input.plot_line_data(*_line(), slope=2.0, intercept=1.0),
    "plot_blobs": lambda: input.plot_blobs(*data.make_blobs()),
    "plot_images": lambda: input.plot_images(*data.make_bars(n=8), count=8),
    "plot_batches": lambda: input.plot_batches(*_line(), list(data.batches(*_line(), 4)), highlight=1),
    "answers_plot": _answers,
    "timing_plot": lambda: forward.timing_plot({"matmul": 0.02, "bias": 0.001, "activation": 0.001}),
    "hidden_units_plot": _hidden_units,
    "filter_figure": _filter,
    "loss_curves": lambda: loss.loss_curves(prediction=5, answer=8),
    "loss_explorer": lambda: _still(loss.loss_explorer(answer=8, prediction=5)),
    "cross_entropy_curve": lambda: loss.cross_entropy_curve({"a": 0.34, "b": 0.05, "c": 0.9}),
    "misses_before_after": _misses,
    "slope_explorer": lambda: _still(backprop.slope_explorer()),
    "plot_graph": lambda: backprop.plot_graph(backprop.tiny_network()),
    "plot_grad_bars": _grad_bars,
    "lr_explorer": lambda: _still(update.lr_explorer(lr=0.3, steps=10)),
    "lr_panels": lambda: update.lr_panels(),
    "predictions_figure": _predictions,
    "curves_figure": lambda: update.curves_figure(update.verdict_histories(steps=5)),
    "diminishing_returns": lambda: loop.diminishing_returns([1.0, 0.5, 0.3, 0.25, 0.24, 0.235]),
    "training_explorer": lambda: _still(loop.training_explorer(num_epochs=20, epochs_range=(1, 20))),
    "overfitting_loss_curves": lambda: overfitting.loss_curves(_history([1.0, 0.5, 0.2], [1.1, 0.7, 0.9]), stop=3),
    "fit_figure": _fit,
    "capacity_comparison": _capacity,
    "overfitting_explorer": lambda: _still(overfitting.overfitting_explorer()),
    "memory_figure": _memory,
    "profile_figure": _profile,
    "sweep_figure": lambda: libraries.sweep_figure({"CPU": {64: 1.0, 1024: 50.0}, "GPU": {64: 0.5, 1024: 5000.0}},
                                                   crossover_at=256),
    "filters_figure": lambda: precision.filters_figure(torch.randn(4, 1, 3, 3), torch.randn(4, 1, 3, 3)),
    "attention_figure": lambda: precision.attention_figure(torch.arange(6.0), torch.softmax(torch.randn(6, 6), -1),
                                                           torch.softmax(torch.randn(6, 6), -1)),
    "matrix_change_figure": lambda: precision.matrix_change_figure(torch.zeros(3, 5), torch.eye(3, 5)),
    "vanishing_figure": lambda: precision.vanishing_figure(precision.update_traces(steps=5), 1e-4),
    "quantization_figure": _quantization,
    "plot_data_parallel": lambda: distributed.plot_data_parallel(world_size=2),
    "plot_worker_losses": _worker_losses,
}
# 07 calls its own loss_curves (training and validation); 03's is the loss valley
NOTEBOOK_NAMES = {"loss_curves": ("loss_curves", "overfitting_loss_curves")}


def _texts(fig: Figure):
    fig.savefig(io.BytesIO(), format="png", dpi=50)  # draws every tick label, legend and title
    for text in fig.findobj(matplotlib.text.Text):
        if text.get_visible() and text.get_text().strip():
            yield text


def small_texts(fig: Figure) -> list[str]:
    """Every visible text set under MIN_FONT_PT, as 'size pt: text'."""
    return [f"{t.get_fontsize():.1f} pt: {t.get_text()[:40]!r}" for t in _texts(fig)
            if t.get_fontsize() < style.MIN_FONT_PT - 1e-6]


@pytest.fixture(scope="module")
def styled():
    saved = matplotlib.rcParams.copy()
    helpers.setup(quiet=True)
    yield
    matplotlib.rcParams.update(saved)


@pytest.mark.parametrize("name", sorted(PLOTTERS))
def test_no_text_is_smaller_than_the_minimum(name, styled):
    fig = PLOTTERS[name]()
    assert isinstance(fig, Figure)
    assert small_texts(fig) == [], name


def test_the_check_sees_small_text(styled):
    fig = figures.loss_curve([2.0, 1.0])
    fig.axes[0].set_title("small", fontsize=8)
    assert small_texts(fig) == ["8.0 pt: 'small'"]


def test_notebook_figures_are_all_drawn_here():
    missing = set()
    for path in NOTEBOOKS:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code" or not any("image/png" in o.get("data", {}) for o in cell.get("outputs", [])):
                continue
            called = set(re.findall(r"(?:lesson|helpers)\.(\w+)\(", cell.source)) | {
                "training_explorer" for _ in re.findall(r"training_explorer\(", cell.source)}
            drawn = {n for c in called for n in NOTEBOOK_NAMES.get(c, (c,)) if n in PLOTTERS}
            if not drawn:
                missing.add(f"{path.name}: {cell.source.strip().splitlines()[-1]}")
    assert not missing, sorted(missing)


def test_figures_are_drawn_sharper_than_shown(styled):
    png, shown = style.figure_png(figures.loss_curve([2.0, 1.0]))
    width, _ = style.png_size(base64.b64decode(png))
    assert style.DPI >= 150 and style.SHOW_DPI == 100
    assert width / shown["width"] == pytest.approx(style.DPI / style.SHOW_DPI, rel=0.01)
    assert matplotlib.rcParams["savefig.dpi"] >= 150
    assert style.png_size(slider.png_bytes(figures.loss_curve([2.0, 1.0])))[0] == 6.5 * style.DPI


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_pictures_are_retina(path):
    """Each saved picture says the size to show it at, and has at least 1.5 times as many pixels across."""
    for number, cell in enumerate(nbformat.read(path, as_version=4).cells, start=1):
        for output in cell.get("outputs", []):
            if "image/png" not in output.get("data", {}):
                continue
            shown = output.get("metadata", {}).get("image/png", {})
            assert "width" in shown, f"cell {number}: no shown size"
            png = base64.b64decode("".join(output["data"]["image/png"]))
            assert style.png_size(png)[0] >= 1.5 * shown["width"], f"cell {number}"


def _pixels(png: bytes):
    """The picture in grey, its white margins cut off, shrunk to 120 x 60 (a saved figure and its
    bbox-tight copy, cut a pixel apart and antialiased a little differently, then match)."""
    import numpy as np
    from PIL import Image

    grey = Image.open(io.BytesIO(png)).convert("L")
    ink = np.argwhere(np.asarray(grey) < 245)
    (top, left), (bottom, right) = ink.min(axis=0), ink.max(axis=0)
    box = grey.crop((left, top, right + 1, bottom + 1))
    return box.size, np.asarray(box.resize((120, 60), Image.Resampling.BOX), dtype=float)


def looks_the_same(a, b) -> bool:
    """Two pictures of about the same proportions whose shrunk copies differ by under 3 of 255 on average."""
    (size_a, small_a), (size_b, small_b) = a, b
    if abs(size_a[0] / size_a[1] - size_b[0] / size_b[1]) > 0.02:
        return False
    return float(abs(small_a - small_b).mean()) < 3.0


def test_the_copy_check_sees_a_copy_and_a_change(styled):
    fig = loss.loss_curves(prediction=5, answer=8)
    tight, _ = style.figure_png(fig)
    assert looks_the_same(_pixels(base64.b64decode(tight)), _pixels(slider.png_bytes(fig)))
    assert not looks_the_same(_pixels(base64.b64decode(tight)),
                              _pixels(slider.png_bytes(loss.loss_strip(answer=8))))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_widgets_saved_picture_is_no_copy_of_a_figure_above(path):
    """What a reader without a kernel sees in place of a slider adds to the figures above it (03's used to be
    a copy of the figure above it, pixel for pixel)."""
    above = []
    for number, cell in enumerate(nbformat.read(path, as_version=4).cells, start=1):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "image/png" not in data:
                continue
            png = base64.b64decode("".join(data["image/png"]))
            # the stepper (00, 06) is buttons, not a slider: its saved picture is the cycle at the start
            if WIDGET in data and "stepper(" not in cell.source:
                for earlier_number, earlier in above:
                    assert not looks_the_same(_pixels(png), _pixels(earlier)), (
                        f"cell {number}'s saved picture repeats cell {earlier_number}'s figure")
            above.append((number, png))
