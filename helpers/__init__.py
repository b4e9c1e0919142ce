"""学習の流れ / The Training Flow: the helpers every notebook imports, in three layers.

- helpers.engine: the five steps and the loop (`helpers.train`), device, text, session. torch only.
- helpers.lessons: one module per notebook (figures, sliders, exercises) and their building blocks.
- helpers.tools: doctor, nav, slides, handout and the command line (`python -m helpers ...`).

`import helpers` is light and changes nothing; notebooks then call `helpers.setup()` once.
Names load on first use, so `python -m helpers doctor` can still explain a missing package.
"""

from importlib import import_module
from importlib.util import find_spec

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "setup": "lessons.notebook",
    "get_device": "engine.device",
    "describe_device": "engine.device",
    "DeviceUnavailableError": "engine.device",
    "bi": "engine.text",
    "bilines": "engine.text",
    "say": "engine.text",
    "text_table": "engine.text",
    "term": "engine.text",
    "set_language": "engine.text",
    "get_language": "engine.text",
    "BilingualError": "engine.text",
    "make_line": "engine.data",
    "make_curve": "engine.data",
    "make_blobs": "engine.data",
    "make_bars": "engine.data",
    "check_data": "engine.data",
    "split": "engine.data",
    "batches": "engine.data",
    "train": "engine.loop",
    "History": "engine.loop",
    "PALETTE": "lessons.style",
    "five_step_cycle": "lessons.figures",
    "loss_curve": "lessons.figures",
    "Feedback": "lessons.feedback",
    "check_phases": "lessons.overview",
    "check_step_order": "lessons.overview",
    "phase_questions": "lessons.overview",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        if not name.startswith("_") and find_spec(f"{__name__}.{name}") is not None:
            return import_module(f"{__name__}.{name}")  # a layer: helpers.lessons.loss
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
