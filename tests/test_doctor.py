import subprocess
import sys
from types import SimpleNamespace

import pytest

from helpers.tools import doctor


def test_doctor_passes_on_this_environment():
    result = subprocess.run([sys.executable, "-m", "helpers", "doctor"], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for name in ("python", "packages", "device", "widgets", "japanese", "kernel"):
        assert f"OK  {name}" in out
    for package in ("torch", "jupyterlab", "ipywidgets", "jupyterlab_widgets"):
        assert package in out
    assert "All good" in out and "すべて OK" in out


def test_unknown_command_shows_usage():
    result = subprocess.run([sys.executable, "-m", "helpers", "cure"], capture_output=True,
                            text=True)
    assert result.returncode == 2 and "Usage" in result.stderr and "使い方" in result.stderr


def test_failure_exits_non_zero_with_bilingual_fix(monkeypatch, capsys):
    bad = doctor.Check("widgets", False, "ipywidgets 8.1, jupyterlab_widgets 1.1", "入れ直します", "reinstall")
    monkeypatch.setattr(doctor, "run_checks", lambda: [doctor.Check("python", True, "Python 3.11"), bad])
    assert doctor.main() == 1
    out = capsys.readouterr().out
    assert "NG  widgets" in out and "入れ直します" in out and "reinstall" in out
    assert "1 件の問題 / 1 problem(s) found." in out


def test_missing_package_is_named():
    check = doctor.check_packages({"torch": "2.13.0", "matplotlib-fontja": None})
    assert not check.ok
    assert "matplotlib-fontja" in check.fix_ja and "matplotlib-fontja" in check.fix_en


def test_old_python_fails():
    assert not doctor.check_python((3, 9)).ok
    assert doctor.check_python((3, 11)).ok


@pytest.mark.parametrize("ipyw, labw, ext, kernel, ok", [
    ("8.1.9", "3.0.17", "5.0.16", None, True),
    ("8.1.9", "3.0.17", "5.0.16", "7.8.5", True),  # widgets 3 still serves an ipywidgets 7 kernel
    ("7.8.5", "1.1.11", "3.1.11", None, True),
    ("8.1.9", "1.1.11", "3.1.11", None, False),  # old frontend, new kernel: "model not found"
    ("7.8.5", "1.1.11", "3.1.11", "8.1.9", False),  # the kernel runs ipywidgets 8 elsewhere
    ("8.1.9", "3.0.17", None, None, False),  # extension not found by JupyterLab
    ("8.1.9", "3.0.17", "3.1.11", None, False),  # an old extension shadows the new one
    (None, "3.0.17", "5.0.16", None, False),
])
def test_widget_pairs(ipyw, labw, ext, kernel, ok):
    check = doctor.check_widgets(ipyw, labw, ext, kernel)
    assert check.ok is ok
    if not ok:
        assert "jupyterlab_widgets" in check.fix_ja and "jupyterlab_widgets" in check.fix_en


def test_widget_extension_found_on_a_path(tmp_path):
    package = tmp_path / doctor.WIDGET_EXTENSION / "package.json"
    package.parent.mkdir(parents=True)
    package.write_text('{"version": "5.0.16"}')
    assert doctor.find_widget_extension([str(tmp_path / "empty"), str(tmp_path)]) == "5.0.16"
    assert doctor.find_widget_extension([str(tmp_path / "empty")]) is None


def test_japanese_check_renders():
    check = doctor.check_japanese()
    assert check.ok, check.found


def test_kernel_that_cannot_import_helpers_fails():
    def probe(exe):
        return SimpleNamespace(returncode=1, stdout="",
                               stderr="ModuleNotFoundError: No module named 'helpers'")

    check, widgets = doctor.check_kernel(probe)
    assert not check.ok and "No module named 'helpers'" in check.found
    assert "make lab" in check.fix_ja and "make lab" in check.fix_en
    assert widgets is None


def test_kernel_reports_its_ipywidgets():
    check, widgets = doctor.check_kernel(lambda exe: SimpleNamespace(returncode=0, stdout="8.1.9\n",
                                                                     stderr=""))
    assert check.ok and widgets == "8.1.9"


def test_kernel_python_resolves_bare_python():
    assert doctor.kernel_python(["python", "-m", "ipykernel_launcher"]) == sys.executable
    assert doctor.kernel_python(["/opt/py/bin/python3.12", "-m", "x"]) == "/opt/py/bin/python3.12"


def test_unusable_gpu_request_is_a_failed_check(monkeypatch):
    import torch

    monkeypatch.setenv("TRAINING_FLOW_DEVICE", "cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    check = doctor.check_device()
    assert not check.ok and "GPU" in check.fix_ja and "GPU" in check.fix_en


def test_missing_japanese_font_is_a_failed_check_with_a_fix(monkeypatch):
    from helpers.engine.text import BilingualError
    from helpers.lessons import style

    def no_font():
        raise BilingualError("日本語フォントがありません", "no Japanese font")

    monkeypatch.setattr(style, "use_japanese_font", no_font)
    check = doctor.check_japanese()
    assert not check.ok
    assert check.fix_ja == "日本語フォントがありません" and check.fix_en == "no Japanese font"
