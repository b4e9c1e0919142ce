"""The lessons: one module per notebook (named after it) with its figures, sliders, exercises and
checkers, plus the building blocks they share (style, figures, slider, feedback, measure, notebook).

A lesson may import the engine and the building blocks; the engine never imports a lesson.
"""

from ..engine import submodules

__getattr__ = submodules(__name__)
