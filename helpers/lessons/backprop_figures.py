"""Notebook 04's figures: the computation graph with values and gradients, gradient bars and the
slope slider."""

from __future__ import annotations

import math
from collections.abc import Mapping
from numbers import Real

import torch
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from ..engine.text import BilingualError, bi
from .backprop_network import TinyNet, _values_of, flat_grads
from .slider import SliderFigure, slider
from .style import role, series


def parameter_names(names) -> dict[str, tuple[str, str, str]]:
    """Each parameter's short name (w1, b1, w2, ...: weight or bias of the 1st, 2nd, ... layer) and a
    bilingual description, by PyTorch name ("0.weight", "2.bias")."""
    layers: dict[str, int] = {}
    out = {}
    for name in names:
        module, _, kind = name.rpartition(".")
        if not module or kind not in ("weight", "bias"):  # not a layer's: keep its own name
            out[name] = (name, name, name)
            continue
        layer = layers.setdefault(module, len(layers) + 1)
        letter, ja, en = ("w", "重み", "weights") if kind == "weight" else ("b", "バイアス", "biases")
        out[name] = (f"{letter}{layer}", f"{layer}層目の{ja}", f"layer {layer} {en}")
    return out


def plot_grad_bars(grads: Mapping[str, torch.Tensor]) -> Figure:
    """|gradient| of every weight as a bar, one colour per parameter tensor: the tallest is most to blame."""
    if not grads:
        raise BilingualError("勾配がありません。", "There are no gradients to draw.")
    sizes = {name: g.numel() for name, g in grads.items()}
    names = parameter_names(grads)
    colours = dict(zip(grads, series(len(grads)), strict=True))  # kinds of tensor: only "not the same"
    items = flat_grads(grads)
    fig = Figure(figsize=(6.8, 4.2))
    ax = fig.add_subplot()
    positions = range(len(items))
    heights = [abs(v) for _, _, v in items]
    for name in grads:  # one bar series per tensor, so the legend names each colour
        mine = [(p, h) for p, h, (n, _, _) in zip(positions, heights, items, strict=True) if n == name]
        short, ja, en = names[name]
        ax.bar([p for p, _ in mine], [h for _, h in mine], color=colours[name],
               label=name if short == name else f"{short} ({name}): {bi(ja, en)}")
    for position, height, (_, _, v) in zip(positions, heights, items, strict=True):
        # The sign says which way the weight should move; the height, how much it is to blame.
        ax.text(position, height, f"{v:+.3f}", ha="center", va="bottom", fontsize=9)
    ticks = [names[n][0] if sizes[n] == 1 else f"{names[n][0]}[{i}]" for n, i, _ in items]
    ax.set_xticks(list(positions), ticks)
    ax.set_ylim(0, max(heights) * 1.15 or 1.0)
    ax.set_ylabel(bi("|勾配|", "|gradient|"))
    ax.set_xlabel(bi("パラメータ(棒の上の数は符号つきの勾配)", "parameter (above each bar: its signed gradient)"))
    ax.set_title(bi("勾配が大きい重みほど損失への責任が大きい", "the bigger the gradient, the more to blame", sep="\n"),
                 fontsize=10)
    ax.grid(axis="x", visible=False)
    fig.legend(loc="lower center", ncol=2, bbox_to_anchor=(0.5, 0.0), handlelength=1.2, columnspacing=1.0)
    fig.tight_layout(rect=(0, 0.16, 1, 1))
    return fig


# --- Figures of notebook 04 -----------------------------------------------------------------------

VALUE_COLOUR, GRAD_COLOUR = role("forward"), role("gradient")

# Where each node sits: the main chain runs left to right; weights and the answer sit above it.
_LAYOUT = {"x": (0.0, 0.0), "z": (1.0, 0.0), "h": (2.0, 0.0), "p": (3.0, 0.0), "L": (4.0, 0.0),
           "w1": (0.64, 1.15), "b1": (1.36, 1.15), "w2": (2.64, 1.15), "b2": (3.36, 1.15), "y": (4.0, 1.15)}
_EDGES = (("x", "z"), ("w1", "z"), ("b1", "z"), ("z", "h"), ("h", "p"), ("w2", "p"), ("b2", "p"),
          ("p", "L"), ("y", "L"))
_KIND = {"x": "data", "y": "data", "w1": "weight", "b1": "weight", "w2": "weight", "b2": "weight",
         "z": "node", "h": "node", "p": "node", "L": "loss"}
# weights and inner nodes only need to differ (from the value and gradient numbers too); L is the loss
_WEIGHT_FILL, _NODE_FILL = series(2, avoid=(VALUE_COLOUR, GRAD_COLOUR))
_FILL = {"data": role("data"), "weight": _WEIGHT_FILL, "node": _NODE_FILL, "loss": role("loss")}


def _node_titles(activation: str) -> dict[str, str]:
    return {"z": "z = w1·x + b1", "h": f"h = {activation}(z)", "p": "p = w2·h + b2", "L": "L = (p - y)²"}


def graph_number(v: float) -> str:
    """How the graph prints a number: short, at most 4 significant digits."""
    return f"{v:.4g}"


def plot_graph(net: TinyNet) -> Figure:
    """The tiny network as a computation graph: each node's value (forward, →) and gradient (backward, ←)."""
    _values_of(net)  # a bilingual error for anything but a TinyNet
    titles = _node_titles(net.activation)
    fig = Figure(figsize=(6.5, 3.6))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-0.5, 4.5)
    ax.set_ylim(-1.2, 1.85)
    ax.axis("off")
    half_w, half_h = 0.29, 0.27
    for start, end in _EDGES:
        (x0, y0), (x1, y1) = _LAYOUT[start], _LAYOUT[end]
        ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=12, color=role("muted"),
                                     linewidth=1.2, shrinkA=24, shrinkB=24))
    for name, (cx, cy) in _LAYOUT.items():
        kind = _KIND[name]
        ax.add_patch(FancyBboxPatch((cx - half_w, cy - half_h), 2 * half_w, 2 * half_h,
                                    boxstyle="round,pad=0.02,rounding_size=0.06", facecolor=_FILL[kind],
                                    alpha=0.25, edgecolor=_FILL[kind], linewidth=1.5))
        ax.text(cx, cy + 0.15, name, ha="center", va="center", fontsize=10)
        ax.text(cx, cy - 0.02, graph_number(net.values[name]), ha="center", va="center", fontsize=9,
                color=VALUE_COLOUR)
        grad = net.grads.get(name)
        ax.text(cx, cy - 0.18, "-" if grad is None else graph_number(grad), ha="center", va="center", fontsize=9,
                color=GRAD_COLOUR)
        if name in titles:
            ax.text(cx, cy - half_h - 0.1, titles[name], ha="center", va="top", fontsize=9, color=role("ink"))
    # The two directions, under the graph.
    ax.add_patch(FancyArrowPatch((0.0, -0.78), (4.0, -0.78), arrowstyle="-|>", mutation_scale=14,
                                 color=VALUE_COLOUR, linewidth=1.5))
    ax.add_patch(FancyArrowPatch((4.0, -1.05), (0.0, -1.05), arrowstyle="-|>", mutation_scale=14,
                                 color=GRAD_COLOUR, linewidth=1.5))
    ax.text(2.0, -0.72, bi("順伝播:値を左から右へ", "forward: values, left to right"), ha="center", va="bottom",
            fontsize=9, color=VALUE_COLOUR)
    ax.text(2.0, -0.99, bi("逆伝播:勾配 ∂L/∂(ノード) を右から左へ", "backward: gradients ∂L/∂node, right to left"),
            ha="center", va="bottom", fontsize=9, color=GRAD_COLOUR)
    handles = [Line2D([], [], marker="s", linestyle="", color=VALUE_COLOUR, label=bi("値", "value")),
               Line2D([], [], marker="s", linestyle="", color=GRAD_COLOUR, label=bi("勾配", "gradient")),
               Line2D([], [], marker="s", linestyle="", color=_FILL["weight"], alpha=0.5, label=bi("重み", "weight")),
               Line2D([], [], marker="s", linestyle="", color=_FILL["data"], alpha=0.5,
                      label=bi("データ(勾配なし)", "data (no gradient)"))]
    ax.legend(handles=handles, loc="upper center", fontsize=9, ncol=4, handletextpad=0.2, columnspacing=1.2)
    return fig


def _check_slope_numbers(w, x, y) -> None:
    for name, v in (("w", w), ("x", x), ("y", y)):
        if isinstance(v, bool) or not isinstance(v, Real) or not math.isfinite(v):
            raise BilingualError(f"{name} は有限の数にします({v!r})。", f"{name} must be a finite number (got {v!r}).")


def _draw_slope(ax, w: float, x: float, y: float) -> tuple[float, float]:
    """The loss curve, the tangent at w and the downhill arrow on ax; returns (loss, gradient) at w."""
    # A fixed window for the slider's range 0..6, so the picture does not jump as w moves.
    w_axis = torch.linspace(min(-1.0, w - 1), max(7.0, w + 1), 200, dtype=torch.float64)
    loss = (w_axis * x - y) ** 2
    at = (w * x - y) ** 2
    grad = 2 * (w * x - y) * x
    ax.plot(w_axis, loss, color=role("training"), linewidth=2, label=bi("損失 L(w)", "loss L(w)"))
    reach = 0.8
    tangent_w = torch.tensor([w - reach, w + reach])
    ax.plot(tangent_w, at + grad * (tangent_w - w), color=role("gradient"), linewidth=2,
            label=bi("傾き = 勾配", "slope = gradient"))
    ax.scatter([w], [at], color=role("gradient"), s=50, zorder=3)
    if grad != 0:
        # The way to move w so that the loss falls: against the sign of the gradient.
        direction = -math.copysign(0.7, grad)
        ax.annotate("", xy=(w + direction, at), xytext=(w, at),
                    arrowprops={"arrowstyle": "-|>", "color": role("goal"), "linewidth": 2})
    ax.plot([], [], color=role("goal"), marker=">", linewidth=2, label=bi("損失が下がる向き", "downhill"))
    ax.set_ylim(-2, max(45.0, 1.25 * at))
    ax.set_xlabel(bi("重み w", "weight w"))
    return at, grad


def plot_slope(w: float = 2.5, x: float = 2.0, y: float = 8.0) -> Figure:
    """The loss L(w) = (w·x - y)² of a one-weight model, and its slope (the gradient) at w."""
    _check_slope_numbers(w, x, y)
    fig = Figure(figsize=(6.5, 3.6))
    ax = fig.add_subplot()
    at, grad = _draw_slope(ax, w, x, y)
    ax.set_ylabel(bi("損失", "loss"))
    ax.set_title(f"w = {w:.2f}: {bi('損失', 'loss')} {at:.2f}, {bi('勾配', 'gradient')} {grad:.2f}")
    ax.legend(loc="upper right", fontsize=9)
    fig.tight_layout()
    return fig


# The slider's saved picture: left of the bottom (negative slope), the bottom (0), right of it (positive).
STRIP_WEIGHTS = (1.0, 4.0, 5.5)


def slope_strip(weights=STRIP_WEIGHTS, x: float = 2.0, y: float = 8.0) -> Figure:
    """plot_slope at a few weights side by side: the gradient's sign flips across the bottom of the valley."""
    fig = Figure(figsize=(7.2, 3.4))
    axes = fig.subplots(1, len(weights), sharey=True)
    for ax, w in zip(axes, weights, strict=True):
        _check_slope_numbers(w, x, y)
        _, grad = _draw_slope(ax, w, x, y)
        ax.set_title(f"w = {w:g}\n{bi('勾配', 'gradient')} {f'{grad:+g}' if grad else '0'}")
    axes[0].set_ylabel(bi("損失", "loss"))
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=3, bbox_to_anchor=(0.5, 0))
    fig.tight_layout(rect=(0, 0.09, 1, 1))
    return fig


def slope_explorer():
    """A slider for w beside plot_slope: watch the gradient's sign and size change as w moves."""

    return SliderFigure(plot_slope, {"w": slider(2.5, 0.0, 6.0, 0.1, "重み w", "weight w")}, strip=slope_strip)
