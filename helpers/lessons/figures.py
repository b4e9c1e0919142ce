"""Figures more than one notebook draws: the five-step cycle (00), a loss curve (00, 05, 08), and
the loss beside where the weights go (00)."""

from __future__ import annotations

import math

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from ..engine.text import bi
from .style import STEP_ROLES, role, series

STEPS = (
    ("入力", "Input", "問題を読む", "read the question"),
    ("順伝播", "Forward pass", "とりあえず答える", "write a best guess"),
    ("損失", "Loss", "答え合わせ", "grade the answer"),
    ("逆伝播", "Backpropagation", "弱点を探す", "find what was wrong"),
    ("更新", "Update", "赤ペンで直す", "correct in red pen"),
)


def loss_curve(losses, title: str | None = None, log: bool = False) -> Figure:
    """Training loss per epoch; log=True shows the slow tail on a log scale."""
    fig = Figure(figsize=(6.5, 3.6))
    ax = fig.add_subplot()
    _draw_loss(ax, losses, log)
    ax.set_title(title or bi("くり返すほど損失は下がる", "the loss falls epoch by epoch"))
    fig.tight_layout()
    return fig


def _draw_loss(ax, losses, log: bool = False) -> None:
    ax.plot(range(1, len(losses) + 1), losses, color=role("training"), linewidth=2)
    if log:
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0)
    ax.set_xlabel(bi("エポック", "epoch"))
    ax.set_ylabel(bi("損失", "loss"))


def loss_and_weights(losses, weights, rule: tuple[float, float]) -> Figure:
    """Left the loss per epoch, right where the weight w and the bias b go, with the rule's values dashed.

    weights: (w, b) after each epoch; rule: the (w, b) behind the data.
    """
    fig = Figure(figsize=(7.2, 3.4))
    loss_ax, weight_ax = fig.subplots(1, 2, sharex=True)
    _draw_loss(loss_ax, losses)
    loss_ax.set_title(bi("損失は下がる", "the loss falls"))
    epochs = range(1, len(weights) + 1)
    # w and b only need to differ (validation's colour here would say "validation data")
    for i, (name, colour, style) in enumerate(zip("wb", series(2), ("-", "--"), strict=True)):
        weight_ax.plot(epochs, [pair[i] for pair in weights], color=colour, linestyle=style, linewidth=2,
                       label=bi(f"学習した {name}", f"learned {name}"))
        weight_ax.axhline(rule[i], color=colour, linestyle=":", linewidth=1.2)
        # under its dotted line, at the right, where the learned value has settled on it
        weight_ax.annotate(f"{bi('規則', 'rule')}: {name} = {rule[i]:g}", (len(weights), rule[i]), xytext=(0, -4),
                           textcoords="offset points", ha="right", va="top", fontsize=9, color=colour)
    weight_ax.set_xlabel(bi("エポック", "epoch"))
    weight_ax.set_ylabel(bi("重みの値", "weight value"))
    weight_ax.set_title(bi("重みは規則の値へ", "the weights head for the rule"))
    weight_ax.legend(loc="center right")
    fig.tight_layout()
    return fig


def five_step_cycle(active: int | None = None, note: str | None = None) -> Figure:
    """The five steps of one training cycle drawn as a loop, with the study analogy under each step.

    active: 0-4 lights that step up (the stepper of 00 and 06); note replaces the text in the middle.
    """
    fig = Figure(figsize=(7.5, 5.4))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-1.65, 1.65)
    ax.set_ylim(-1.2, 1.35)
    ax.set_aspect("equal")
    ax.axis("off")
    n = len(STEPS)
    centres = [
        (math.cos(math.pi / 2 - 2 * math.pi * i / n), math.sin(math.pi / 2 - 2 * math.pi * i / n))
        for i in range(n)
    ]
    width, height = 0.98, 0.5
    for i, ((x, y), (ja, en, analogy_ja, analogy_en)) in enumerate(zip(centres, STEPS, strict=True)):
        colour = role(STEP_ROLES[i])
        lit = active == i
        ax.add_patch(FancyBboxPatch(
            (x - width / 2, y - height / 2), width, height,
            boxstyle="round,pad=0.02,rounding_size=0.08",
            facecolor=colour, alpha=0.55 if lit else 0.18, edgecolor=colour, linewidth=5 if lit else 2,
        ))
        name = bi(ja, en, sep="\n")
        ax.text(x, y + 0.08, f"{i + 1}. {name}", ha="center", va="center", fontsize=11)
        ax.text(x, y - 0.17, bi(analogy_ja, analogy_en), ha="center", va="center", fontsize=9,
                color=role("ink"))
    for i in range(n):
        (x0, y0), (x1, y1) = centres[i], centres[(i + 1) % n]
        # Shorten each arrow so it runs from box edge to box edge.
        dx, dy = x1 - x0, y1 - y0
        shrink = 0.36 / math.hypot(dx, dy)
        ax.add_patch(FancyArrowPatch(
            (x0 + dx * shrink, y0 + dy * shrink), (x1 - dx * shrink, y1 - dy * shrink),
            connectionstyle="arc3,rad=-0.25", arrowstyle="-|>", mutation_scale=18,
            color=role("muted"), linewidth=1.5,
        ))
    if note is not None:
        ax.text(0, -0.05, note, ha="center", va="center", fontsize=10)
        return fig
    ax.text(0, 0.05, bi("1サイクル", "one cycle", sep="\n"), ha="center", va="center",
            fontsize=13)
    ax.text(0, -0.3, bi("何百回もくり返す", "repeated hundreds of times", sep="\n"),
            ha="center", va="center", fontsize=9, color=role("ink"))
    return fig
