"""学習の流れ / The Training Flow: the helpers every notebook imports.

`import helpers` is light and changes nothing; notebooks then call `helpers.setup()` once.
Names load on first use, so `python -m helpers doctor` can still explain a missing package.
"""

from importlib import import_module
from importlib.util import find_spec

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "setup": "session",
    "get_device": "device",
    "describe_device": "device",
    "DeviceUnavailableError": "device",
    "bi": "text",
    "bilines": "text",
    "term": "text",
    "set_language": "text",
    "get_language": "text",
    "BilingualError": "text",
    "PALETTE": "plots",
    "five_step_cycle": "plots",
    "loss_curve": "plots",
    "Feedback": "checks",
    "check_phases": "checks",
    "check_step_order": "checks",
    "phase_questions": "checks",
    "train": "loop",
    "History": "loop",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        if not name.startswith("_") and find_spec(f"{__name__}.{name}") is not None:
            return import_module(f"{__name__}.{name}")  # a submodule: helpers.plots.loss_curve
        raise AttributeError(f"module 'helpers' has no attribute {name!r}")
    try:
        value = getattr(import_module(f"{__name__}.{module}"), name)
    except ModuleNotFoundError as err:
        if not err.name or err.name.split(".")[0] == __name__:
            raise
        raise ModuleNotFoundError(
            f"{err.name} が入っていません。make lab か make test で環境を作るか、"
            f"pip install -e . を実行してください。\n"
            f"{err.name} is not installed: set up with make lab or make test, or run pip install -e .",
            name=err.name,
        ) from err
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
