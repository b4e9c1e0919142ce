import subprocess
import sys


def run(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_import_is_light_and_changes_nothing():
    result = run("import sys, helpers; print('torch' in sys.modules, 'matplotlib' in sys.modules)")
    assert result.stdout.split() == ["False", "False"]


def test_every_public_name_resolves():
    result = run("import helpers; [getattr(helpers, n) for n in helpers.__all__]; print('ok')")
    assert result.stdout.strip() == "ok", result.stderr


def test_missing_dependency_gives_bilingual_fix():
    result = run("import sys; sys.modules['torch'] = None; import helpers; helpers.setup()")
    assert result.returncode != 0
    assert "torch が入っていません" in result.stderr and "torch is not installed" in result.stderr


def test_submodules_resolve_without_an_import():
    result = run("import helpers; print(helpers.lessons.figures.loss_curve.__name__, helpers.engine.text.bi('a', 'b'))")
    assert result.stdout.split() == ["loss_curve", "a", "/", "b"], result.stderr


def test_unknown_name_is_an_attribute_error():
    result = run("import helpers; helpers.nothing_here")
    assert "AttributeError" in result.stderr and "nothing_here" in result.stderr


def test_setup_seeds_and_sets_precision(capsys):
    import numpy as np
    import torch

    import helpers

    device = helpers.setup(seed=3, device="cpu")
    first = torch.rand(3)
    helpers.setup(seed=3, device="cpu")
    assert torch.equal(first, torch.rand(3))
    assert device == torch.device("cpu")
    assert capsys.readouterr().out.startswith("CPU: ")
    assert str(torch.tensor([1 / 3])) == "tensor([0.3333])"
    assert np.get_printoptions()["precision"] == 4
    helpers.setup(quiet=True, device="cpu")
    assert capsys.readouterr().out == ""


def test_setup_uses_one_cpu_thread_unless_told(capsys):
    import torch

    import helpers

    before = torch.get_num_threads()
    try:
        helpers.setup(device="cpu")
        assert torch.get_num_threads() == 1 and "CPU: 1 thread\n" in capsys.readouterr().out
        torch.set_num_threads(2)
        helpers.setup(device="cpu", threads=None, quiet=True)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_bilingual_errors_show_as_their_message_alone(capsys):
    from IPython.core.interactiveshell import InteractiveShell

    from helpers.lessons import notebook

    shell = InteractiveShell.instance()
    try:
        notebook.friendly_errors(shell)
        result = shell.run_cell("import helpers\nhelpers.get_device('mps')")
        shown = capsys.readouterr().out
        assert isinstance(result.error_in_exec, helpers_error_type())
        assert "DeviceUnavailableError:" in shown and "Apple MPS" in shown
        assert "Traceback" not in shown and "device.py" not in shown
        shell.run_cell("1 / 0")  # any other error keeps its full traceback
        assert "ZeroDivisionError" in capsys.readouterr().out
    finally:
        InteractiveShell.clear_instance()


def helpers_error_type():
    from helpers.engine.text import BilingualError

    return BilingualError
