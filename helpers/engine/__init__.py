"""The engine: the five training steps and the loop, plus device, text and session.

It imports PyTorch, NumPy and the standard library only: no figures and no widgets, so a script or a
worker process that trains pays for neither. The lessons (helpers.lessons) and the tools
(helpers.tools) import the engine; the engine imports neither.
"""

from importlib import import_module
from importlib.util import find_spec


def submodules(package: str):
    """A module __getattr__ that imports package's submodules on first use: helpers.engine.loop."""

    def __getattr__(name):
        if not name.startswith("_") and find_spec(f"{package}.{name}") is not None:
            return import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__


__getattr__ = submodules(__name__)
