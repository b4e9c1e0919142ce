"""Colour by meaning: every pair of roles shown together stays apart for colour-blind readers.

Protanopia and deuteranopia are simulated with Machado, Oliveira and Fernandes (2009), severity 1, in
linear RGB; distance is CIE76 ΔE in CIELAB. Orange beside vermillion, the pair readers reported as
merging, measures about 18 under deuteranopia: the threshold sits above it.
"""

import ast
import itertools
import pathlib
import re

import matplotlib.colors
import numpy as np
import pytest

from helpers.lessons import style

SIMULATE = {
    "protanopia": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "typical": np.eye(3),
}
MIN_DELTA_E = 20.0


def linear_rgb(colour: str) -> np.ndarray:
    c = np.array([int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def lab(rgb: np.ndarray) -> np.ndarray:
    to_xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = to_xyz @ np.clip(rgb, 0, 1) / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def delta_e(a: str, b: str, vision: str) -> float:
    matrix = SIMULATE[vision]
    return float(np.linalg.norm(lab(matrix @ linear_rgb(a)) - lab(matrix @ linear_rgb(b))))


def test_the_simulation_finds_the_pair_that_merges():
    # Orange beside vermillion is the pair that merged: the check must call it too close.
    assert delta_e("#E69F00", "#D55E00", "deuteranopia") < MIN_DELTA_E
    assert delta_e("#E69F00", "#D55E00", "typical") > MIN_DELTA_E
    assert delta_e("#000000", "#FFFFFF", "protanopia") == pytest.approx(100, abs=0.5)


@pytest.mark.parametrize("group", style.SHOWN_TOGETHER, ids="+".join)
@pytest.mark.parametrize("vision", list(SIMULATE))
def test_roles_shown_together_stay_apart(group, vision):
    for a, b in itertools.combinations(group, 2):
        distance = delta_e(style.role(a), style.role(b), vision)
        assert distance >= MIN_DELTA_E, f"{a} vs {b} under {vision}: ΔE {distance:.1f}"


def is_grey(colour: str) -> bool:
    return len({colour[i:i + 2] for i in (1, 3, 5)}) == 1


def test_every_role_is_a_palette_colour_or_grey():
    assert all(c in style.PALETTE or is_grey(c) for c in style.ROLES.values())


def merges(a: str, b: str) -> bool:
    return any(delta_e(a, b, vision) < MIN_DELTA_E for vision in SIMULATE)


def test_merges_lists_every_pair_that_merges():
    colours = sorted(set(style.ROLES.values()) | set(style.series(len(style.PALETTE))))
    found = {frozenset(pair) for pair in itertools.combinations(colours, 2) if merges(*pair)}
    assert found == style.MERGES


def test_series_are_apart_up_to_safe_series():
    colours = style.series(style.SAFE_SERIES)
    assert len(set(colours)) == style.SAFE_SERIES and set(colours) <= set(style.PALETTE)
    assert not [pair for pair in itertools.combinations(colours, 2) if merges(*pair)]
    assert style.series(3) == list(style.PALETTE[:3])  # the first three kept their colours
    assert len(style.series(11)) == 11


@pytest.mark.parametrize("avoid", [("truth", "prediction"), ("training", "truth"), ("loss",),
                                   ("forward", "gradient"), ("training",)])
def test_series_leave_out_the_roles_beside_them(avoid):
    beside = tuple(style.role(name) for name in avoid)
    for colour in style.series(3, avoid=beside):
        assert colour not in beside and not any(merges(colour, other) for other in beside)


def test_step_roles_are_the_five_steps():
    assert style.STEP_ROLES == ("input", "forward", "loss", "backprop", "update")


def test_an_unknown_role_is_named_in_both_languages():
    with pytest.raises(KeyError) as err:
        style.role("answer")
    assert "色の役割" in str(err.value) and "A colour role is one of" in str(err.value)


# --- Every figure takes its colours from style (role, series, the colormaps), never a literal --------

LESSONS = pathlib.Path(style.__file__).parent
COLOUR_KEYWORDS = {"color", "colour", "colors", "c", "facecolor", "facecolors", "edgecolor", "edgecolors", "fc",
                   "ec", "markerfacecolor", "markeredgecolor", "mfc", "mec", "markerfacecoloralt", "ecolor"}
HEX = re.compile(r"#(?:[0-9A-Fa-f]{3}|[0-9A-Fa-f]{6}|[0-9A-Fa-f]{8})")


def colour_literals(source: str) -> list[str]:
    """Where a module's source picks a colour itself: a hex literal, a named colour given as a colour, PALETTE[...]."""
    found = []

    def named(value: ast.expr, where: ast.AST) -> None:
        for node in ast.walk(value):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.lower() != "none"
                    and not HEX.fullmatch(node.value) and matplotlib.colors.is_color_like(node.value)):
                found.append(f"line {where.lineno}: colour {node.value!r}")

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and HEX.fullmatch(node.value):
            found.append(f"line {node.lineno}: hex {node.value!r}")
        elif isinstance(node, ast.keyword) and node.arg in COLOUR_KEYWORDS:
            named(node.value, node.value)
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value in COLOUR_KEYWORDS:
                    named(value, value)
        elif isinstance(node, ast.Subscript):
            target = node.value
            if (isinstance(target, ast.Name) and target.id == "PALETTE") or \
                    (isinstance(target, ast.Attribute) and target.attr == "PALETTE"):
                found.append(f"line {node.lineno}: PALETTE[...]")
    return sorted(set(found), key=lambda f: int(f.split(":")[0].split()[1]))


def test_the_literal_check_finds_each_kind():
    planted = ('ax.plot(x, y, color="#333333")\nax.text(0, 0, "t", color="#999")\n'
               'ax.scatter(x, y, edgecolor="black", facecolor="none")\narrow = {"color": "C0"}\n'
               'ax.bar(x, y, color=[PALETTE[i] for i in range(3)])\nax.plot(x, y, color=style.PALETTE[1])\n'
               'ax.plot(x, y, color=role("truth"), label="#1 run")\n')
    assert sorted({int(found.split(":")[0].split()[1]) for found in colour_literals(planted)}) == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("module", sorted(p.name for p in LESSONS.glob("*.py") if p.name != "style.py"))
def test_figure_modules_use_roles_not_colour_literals(module):
    found = colour_literals((LESSONS / module).read_text(encoding="utf-8"))
    assert not found, f"{module} picks colours itself (use style.role / style.series): " + "; ".join(found)
