"""pyproject.toml is the single source of dependencies; environment.yml, Makefile and CI agree with it."""

import re

import yaml
from conftest import ROOT
from packaging.requirements import Requirement

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

# conda-forge's name -> the name pip knows
CONDA_TO_PIP = {"pytorch": "torch", "python": None, "pip": None}


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def pyproject_requirements():
    project = pyproject()["project"]
    found = {}
    for line in project["dependencies"] + project["optional-dependencies"]["test"]:
        req = Requirement(line)
        if req.marker is None:  # markers only for other Pythons than conda's
            found[canonical(req.name)] = str(req.specifier)
    return found


def environment_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    found = {}
    for entry in env["dependencies"]:
        items = entry["pip"] if isinstance(entry, dict) else [entry]
        for item in items:
            if item.startswith("-e") or item.startswith("--"):
                continue
            match = re.match(r"^([A-Za-z0-9_.-]+)\s*(.*)$", item)
            name, spec = match.group(1), match.group(2).replace(" ", "")
            name = CONDA_TO_PIP.get(name, name)
            if name:
                found[canonical(name)] = str(Requirement(f"x{spec}").specifier) if spec else ""
    return found


def test_environment_yml_lists_the_same_packages_as_pyproject():
    assert environment_requirements() == pyproject_requirements()


def test_environment_yml_installs_this_project():
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    pip = next(e["pip"] for e in env["dependencies"] if isinstance(e, dict))
    assert "-e ." in pip
    assert "conda-forge" in env["channels"]


def test_required_packages_are_declared():
    names = set(pyproject_requirements())
    assert {"torch", "jupyterlab", "ipywidgets", "matplotlib", "matplotlib-fontja", "nbval",
            "pytest", "ruff"} <= names
    assert "japanize-matplotlib" not in names  # breaks on Python 3.12


def test_distribution_is_not_named_helpers():
    project = pyproject()
    assert project["project"]["name"] != "helpers"
    assert project["tool"]["setuptools"]["packages"] == ["helpers"]


def test_makefile_pins_the_cpu_torch_wheel():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^TORCH\s+\?=\s*torch==2\.13\.0$", makefile, re.M)
    # torch is installed first, so pyproject's torch range is already met and pulls nothing more
    install = makefile.index('pip install --quiet "$(TORCH)"')
    assert install < makefile.index('pip install --quiet -e ".[test]"')


def test_lab_keeps_token_authentication_and_localhost():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "--ServerApp.ip=127.0.0.1" in makefile
    # a fresh random token each time, never empty, printed so the reader can log in
    assert 'token=$$($(BIN)/python -c "import secrets; print(secrets.token_hex(24))")' in makefile
    assert "--IdentityProvider.token=$$token" in makefile
    assert '$(LAB_START)?token=$$token"' in makefile


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make test" in ci.splitlines()[-1]
    assert "make lab" in readme and "make test" in readme
    # the two commands come before everything else a reader meets
    first_code = readme.index("```")
    assert readme.index("make lab") < readme.index("ROCm") and first_code < readme.index("ROCm")
