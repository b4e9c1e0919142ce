"""Colour by meaning: every pair of roles shown together stays apart for colour-blind readers.

Protanopia and deuteranopia are simulated with Machado, Oliveira and Fernandes (2009), severity 1, in
linear RGB; distance is CIE76 ΔE in CIELAB. Orange beside vermillion, the pair readers reported as
merging, measures about 18 under deuteranopia: the threshold sits above it.
"""

import itertools

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


def test_every_role_is_a_palette_colour_or_grey():
    assert set(style.ROLES.values()) <= set(style.PALETTE) | {"#999999"}


def test_an_unknown_role_is_named_in_both_languages():
    with pytest.raises(KeyError) as err:
        style.role("answer")
    assert "色の役割" in str(err.value) and "A colour role is one of" in str(err.value)
