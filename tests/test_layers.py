"""helpers has three layers: the engine (the five steps and the loop), the lessons (one per notebook)
and the tools. Imports go one way, lessons and tools -> engine, and never in a circle."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, notebook_paths

PACKAGE = ROOT / "helpers"
LAYERS = ("engine", "lessons", "tools")
# What each layer may import from helpers besides itself.
MAY_IMPORT = {"engine": set(), "lessons": {"engine"}, "tools": {"engine", "lessons"}}
ENGINE_OUTSIDE = {"torch", "numpy"}  # and the standard library
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(name: str) -> set[str]:
    """Every module name `name` imports, anywhere in the file (lazy imports in functions too)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[:len(base) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found.add(module)
            for alias in node.names:  # from . import loss: the submodule helpers.engine.loss
                if f"{module}.{alias.name}" in MODULES:
                    found.add(f"{module}.{alias.name}")
    return found


def helpers_imports(name: str) -> set[str]:
    return {m for m in imports(name) if m in MODULES and m != name}


def layer(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def test_the_three_layers_exist_and_hold_every_module():
    for name in MODULES:
        assert name in ("helpers", "helpers.__main__") or layer(name), f"{name} is in no layer"
    for one in LAYERS:
        assert f"helpers.{one}" in MODULES


def test_no_import_circle():
    graph = {name: helpers_imports(name) for name in MODULES}
    done, path = set(), []

    def visit(name):
        if name in path:
            circle = path[path.index(name):] + [name]
            pytest.fail("import circle: " + " -> ".join(circle))
        if name in done:
            return
        path.append(name)
        for other in sorted(graph[name]):
            if other != "helpers":  # every module sits inside the root package; that is no circle
                visit(other)
        path.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)


def test_a_circle_would_be_found(tmp_path, monkeypatch):
    # The walker above must see relative imports, or the circle test passes for the wrong reason.
    assert "helpers.engine.loss" in helpers_imports("helpers.engine.loop")
    assert "helpers.engine.text" in helpers_imports("helpers.engine.loss")
    assert "helpers.lessons.style" in helpers_imports("helpers.lessons.notebook")


@pytest.mark.parametrize("name", [n for n in MODULES if layer(n)])
def test_imports_go_one_way(name):
    own = layer(name)
    for other in helpers_imports(name):
        other_layer = layer(other)
        if other_layer and other_layer != own:
            assert other_layer in MAY_IMPORT[own], f"{name} ({own}) imports {other} ({other_layer})"


@pytest.mark.parametrize("name", [n for n in MODULES if layer(n) == "engine"])
def test_engine_imports_torch_numpy_and_the_standard_library_only(name):
    for module in imports(name):
        top = module.split(".")[0]
        if module.startswith("helpers.engine") or module == "helpers":
            continue
        assert top in ENGINE_OUTSIDE or top in sys.stdlib_module_names, f"{name} imports {module}"


@pytest.mark.parametrize("name", list(MODULES))
def test_no_module_is_long(name):
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{name}: {lines} lines; split it by what it does"


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda p: p.name)
def test_every_notebook_has_its_lesson_module(path):
    slug = path.stem.split("_", 1)[1]
    assert f"helpers.lessons.{slug}" in MODULES, f"{path.name}: no helpers/lessons/{slug}.py"


def loaded_after(code: str) -> set[str]:
    """Top-level packages a fresh interpreter has loaded after running code."""
    probe = code + "\nimport sys\nprint(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_training_imports_neither_matplotlib_nor_ipywidgets():
    loaded = loaded_after(
        "import torch, helpers\n"
        "X = torch.linspace(-1, 1, 12).unsqueeze(1)  # (batch, 1)\n"
        "history = helpers.train(torch.nn.Linear(1, 1), X, 2 * X, loss_fn=torch.nn.MSELoss(), lr=0.1,\n"
        "                        num_epochs=3, batch_size=5, X_val=X, y_val=2 * X, time_steps=True)\n"
        "assert len(history.losses) == 3 and history.losses[-1] < history.losses[0]")
    assert "torch" in loaded  # the probe really ran
    assert not {"matplotlib", "ipywidgets", "IPython", "PIL"} & loaded


def test_a_distributed_worker_imports_neither_matplotlib_nor_ipywidgets():
    loaded = loaded_after("import helpers.lessons.distributed_workers as w\nw.shard, w.train_shard, w.worker")
    assert not {"matplotlib", "ipywidgets", "IPython"} & loaded


def test_a_lesson_does_load_its_figures():
    # The negative tests above would pass if nothing were ever imported: the probe must see matplotlib.
    assert "matplotlib" in loaded_after("import helpers.lessons.loss")


@pytest.mark.parametrize("kwargs, en", [
    (dict(seed=1.5), "seed must be a whole number (got 1.5)"),
    (dict(seed="0"), "seed must be a whole number (got '0')"),
    (dict(threads=0), "threads must be a whole number of at least 1, or None (got 0)"),
    (dict(threads=2.0), "(got 2.0)"),
])
def test_the_session_refuses_bad_settings_in_both_languages(kwargs, en):
    from helpers import BilingualError
    from helpers.engine import session

    with pytest.raises(BilingualError) as err:
        session.configure(**kwargs)
    assert en in err.value.en
    assert err.value.ja.split("(")[0] in ("seed は整数です", "threads は 1 以上の整数か None です")
