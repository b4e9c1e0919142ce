"""`python -m helpers doctor`: the self-check a teacher runs on each machine before class.

Each check says what it found; a failed check adds a fix in Japanese and English. Exit 0 when all
pass. Only the standard library is imported up front, so a missing package is reported, not raised.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

KERNEL = "python3"
WIDGET_EXTENSION = "@jupyter-widgets/jupyterlab-manager"
# ipywidgets major in the kernel -> lowest (jupyterlab_widgets, JupyterLab extension) majors that
# speak its protocol; jupyterlab_widgets 3 (extension 5) also serves ipywidgets 7 kernels.
WIDGET_NEEDS = {8: (3, 5), 7: (1, 3)}
# jupyterlab_widgets major -> the extension major it ships
EXTENSION_OF = {3: 5, 1: 3}
PACKAGES = ("torch", "jupyterlab", "ipywidgets", "jupyterlab_widgets", "matplotlib",
            "matplotlib-fontja", "numpy")
REBUILD = ("make clean-venv && make test で環境を作り直します(または pip install -e .)。",
           "rebuild the environment with make clean-venv && make test (or pip install -e .).")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    found: str
    fix_ja: str = ""
    fix_en: str = ""


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _major(version: str | None) -> int | None:
    try:
        return int(version.split(".")[0]) if version else None
    except ValueError:
        return None


def check_python(version: tuple[int, int] | None = None) -> Check:
    version = version or sys.version_info[:2]
    found = f"Python {version[0]}.{version[1]}"
    if version >= (3, 10):
        return Check("python", True, found)
    return Check("python", False, found, "Python 3.10 以上を使います。", "use Python 3.10 or newer.")


def check_packages(versions: dict[str, str | None] | None = None) -> Check:
    versions = versions if versions is not None else {name: _version(name) for name in PACKAGES}
    found = ", ".join(f"{name} {ver or '—'}" for name, ver in versions.items())
    missing = [name for name, ver in versions.items() if ver is None]
    if not missing:
        return Check("packages", True, found)
    names = " ".join(missing)
    return Check("packages", False, found,
                 f"足りないパッケージ: {names}。{REBUILD[0]}", f"missing: {names}; {REBUILD[1]}")


def check_device() -> Check:
    try:
        from ..engine.device import describe_device, get_device

        return Check("device", True, describe_device(get_device()))
    except ImportError as err:
        return Check("device", False, f"PyTorch: {err}", REBUILD[0], REBUILD[1])
    except Exception as err:  # a GPU asked for by TRAINING_FLOW_DEVICE but unusable
        ja, en = getattr(err, "ja", str(err)), getattr(err, "en", str(err))
        return Check("device", False, type(err).__name__, ja, en)


def find_widget_extension(paths: list[str] | None = None) -> str | None:
    """Version of the JupyterLab widget extension that JupyterLab would load, or None."""
    if paths is None:
        from jupyter_core.paths import jupyter_path

        paths = jupyter_path("labextensions")
    for folder in paths:
        package = Path(folder, WIDGET_EXTENSION, "package.json")
        if package.is_file():
            return json.loads(package.read_text(encoding="utf-8")).get("version")
    return None


def check_widgets(ipywidgets: str | None, lab_widgets: str | None, extension: str | None,
                  kernel_ipywidgets: str | None = None) -> Check:
    """ipywidgets in the kernel and the widget extension in JupyterLab must speak the same protocol;
    when they don't, the notebook shows "Error displaying widget: model not found"."""
    found = (f"ipywidgets {ipywidgets or '—'}, jupyterlab_widgets {lab_widgets or '—'}, "
             f"extension {extension or '—'}")
    if kernel_ipywidgets and kernel_ipywidgets != ipywidgets:
        found += f", kernel's ipywidgets {kernel_ipywidgets}"
    fix_ja = ("ipywidgets と jupyterlab_widgets を同じ組で入れ直し(pip install -U ipywidgets "
              "jupyterlab_widgets)、JupyterLab を再起動してブラウザを再読み込みします。")
    fix_en = ("reinstall ipywidgets with its matching jupyterlab_widgets (pip install -U ipywidgets "
              "jupyterlab_widgets), restart JupyterLab and reload the browser page.")
    need = WIDGET_NEEDS.get(_major(kernel_ipywidgets or ipywidgets))
    lab_major, ext_major = _major(lab_widgets), _major(extension)
    if need is None or lab_major is None or lab_major < need[0]:
        return Check("widgets", False, found, fix_ja, fix_en)
    if extension is None:
        return Check("widgets", False, found, "JupyterLab がウィジェット拡張を見つけられません。" + fix_ja,
                     "JupyterLab cannot find the widget extension; " + fix_en)
    if ext_major < need[1] or EXTENSION_OF.get(lab_major) != ext_major:
        # An older extension elsewhere on JupyterLab's path shadows the installed one.
        return Check("widgets", False, found, fix_ja, fix_en)
    return Check("widgets", True, found)


def check_japanese() -> Check:
    try:
        from matplotlib.figure import Figure

        from ..lessons import style as plots

        font = plots.use_japanese_font()
    except Exception as err:
        return Check("japanese", False, type(err).__name__, getattr(err, "ja", str(err)),
                     getattr(err, "en", str(err)))
    fig = Figure()
    ax = fig.add_subplot()
    ax.set_title("学習の流れ:損失が下がる")
    ax.plot([0, 1], [1, 0], label="損失")
    ax.legend()
    missing = plots.missing_glyphs(fig)
    if not missing:
        return Check("japanese", True, f"matplotlib + {font}")
    return Check("japanese", False, missing[0],
                 "matplotlib-fontja を入れ直します(pip install --force-reinstall matplotlib-fontja)。",
                 "reinstall matplotlib-fontja (pip install --force-reinstall matplotlib-fontja).")


JA_PACK = "jupyterlab-language-pack-ja-JP"


def check_menus(version: str | None = None, looked: bool = False) -> Check:
    """JupyterLab's Japanese menus: optional (`make ja`), so their absence is reported, never a failure."""
    version = version if looked else _version(JA_PACK)
    if version:
        return Check("menus", True, f"ja_JP ({JA_PACK.lower()} {version})")
    return Check("menus", True, "English only (make ja adds Japanese menus)")


def kernel_python(argv: list[str]) -> str:
    """The Python a kernelspec starts; jupyter_client runs a bare "python" as the current one."""
    return sys.executable if argv[0] in ("python", "python3") else argv[0]


def check_kernel(probe=None) -> tuple[Check, str | None]:
    """Does the notebooks' kernel exist, and can it import helpers? Returns the kernel's ipywidgets."""
    fix = ("このフォルダで make lab を使って JupyterLab を起動します"
           "(別の環境なら、その環境で pip install -e . と python -m ipykernel install --user)。",
           "start JupyterLab with make lab from this folder (for another environment run "
           "pip install -e . and python -m ipykernel install --user in it).")
    try:
        from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

        spec = KernelSpecManager().get_kernel_spec(KERNEL)
    except ImportError as err:
        return Check("kernel", False, str(err), *fix), None
    except NoSuchKernel:
        return Check("kernel", False, f"no kernelspec {KERNEL!r}", *fix), None
    python = kernel_python(spec.argv)
    code = "import helpers, ipywidgets; print(ipywidgets.__version__)"
    probe = probe or (lambda exe: subprocess.run([exe, "-c", code], capture_output=True, text=True,
                                                 timeout=120))
    try:
        result = probe(python)
    except (OSError, subprocess.SubprocessError) as err:
        return Check("kernel", False, f"{KERNEL}: {python}: {err}", *fix), None
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["?"])[-1]
        return Check("kernel", False, f"{KERNEL}: {last}", *fix), None
    return Check("kernel", True, f"{KERNEL} ({spec.display_name})"), result.stdout.strip()


def run_checks() -> list[Check]:
    kernel, kernel_widgets = check_kernel()
    try:
        extension = find_widget_extension()
    except ImportError:
        extension = None
    widgets = check_widgets(_version("ipywidgets"), _version("jupyterlab_widgets"), extension,
                            kernel_widgets)
    return [check_python(), check_packages(), check_device(), widgets, check_japanese(), check_menus(), kernel]


def report(checks: list[Check]) -> str:
    lines = [f"学習の流れ / The Training Flow — doctor ({platform.system()} {platform.machine()})"]
    for check in checks:
        lines.append(f"{'OK ' if check.ok else 'NG '} {check.name:<9} {check.found}")
    failed = [c for c in checks if not c.ok]
    if failed:
        lines.append("")
        lines.append("直し方 / How to fix:")
        for check in failed:
            lines.append(f"- {check.name}: {check.fix_ja}")
            lines.append(f"  {check.name}: {check.fix_en}")
        lines.append(f"{len(failed)} 件の問題 / {len(failed)} problem(s) found.")
    else:
        lines.append("すべて OK。授業の準備ができています。/ All good: ready for class.")
    return "\n".join(lines)


def main() -> int:
    checks = run_checks()
    print(report(checks))
    return 0 if all(c.ok for c in checks) else 1
