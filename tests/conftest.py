import json
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"


@pytest.fixture(autouse=True)
def _language(monkeypatch):
    """Every test starts with the default language setting, whatever the shell has."""
    from helpers.engine import text

    monkeypatch.delenv(text.LANG_ENV, raising=False)
    monkeypatch.setattr(text, "_chosen", None)


@pytest.fixture
def japanese():
    """The series' figure style and Japanese font, as helpers.setup() sets them; put back afterwards."""
    import matplotlib

    from helpers.lessons import style as plots

    saved = matplotlib.rcParams.copy()
    plots.apply_style()
    plots.use_japanese_font()
    yield
    matplotlib.rcParams.update(saved)


def notebook_paths():
    from helpers.tools.nav import notebooks

    return notebooks(ROOT)


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def get(url):
    """(status, body) of a GET; HTTP errors are answers too."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, b""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# JupyterLab settings for a test server: every cell kept in the page, no news pop-ups, and no
# autosave, so a test run never writes over a notebook.
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False},
    # English menus, which the browser tests click, even where `make ja` made Japanese the default
    "@jupyterlab/translation-extension/plugin.jupyterlab-settings": {"locale": "en"},
}


class Lab:
    def __init__(self, base, token, flags):
        self.base, self.token, self.flags = base, token, flags

    def url(self, path, query=""):
        return f"{self.base}/{path}?token={self.token}" + (f"&{query}" if query else "")

    def shutdown_kernels(self):
        """Close every notebook session, so no kernel outlives the test that started it."""
        _, body = get(self.url("api/sessions"))
        for session in json.loads(body or "[]"):
            request = urllib.request.Request(self.url(f"api/sessions/{session['id']}"),
                                             method="DELETE")
            urllib.request.urlopen(request, timeout=30).close()


class LabStartError(RuntimeError):
    pass


def lab_flags():
    """The flags `make lab` passes to `jupyter lab`."""
    return subprocess.run(["make", "-s", "--no-print-directory", "lab-flags"], cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout.split()


@contextmanager
def lab_server(folder: Path, port: int | None = None, timeout_s: float = 90):
    """Start the project's own `make lab` server with a known token; stop it whatever happens.

    Raises LabStartError, with the end of the server's log, when it exits or does not answer.
    """
    flags = lab_flags()
    settings = folder / "settings"
    for name, value in LAB_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(value))
    port, token = port or free_port(), secrets.token_hex(16)
    jupyter = Path(sys.executable).with_name("jupyter")
    command = [str(jupyter), "lab", *flags, "--no-browser", f"--ServerApp.port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={folder / 'ws'}"]
    log = folder / "server.log"
    with open(log, "w") as out:
        server = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if server.poll() is not None:
                raise LabStartError(f"jupyter lab exited ({server.returncode}): "
                                    f"{shlex.join(command)}\n{log.read_text()[-3000:]}")
            try:
                if get(f"{base}/api/status?token={token}")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise LabStartError(f"jupyter lab did not answer within {timeout_s:.0f} s\n"
                                    f"{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield Lab(base, token, flags)
    finally:
        stop(server)


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """One server for the whole test session."""
    try:
        with lab_server(tmp_path_factory.mktemp("lab")) as server:
            yield server
    except LabStartError as err:
        pytest.fail(str(err))


def stop(process):
    """End a process started with start_new_session=True, and everything it started."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def pytest_terminal_summary(terminalreporter):
    """A skipped browser suite must not go unnoticed among the dots."""
    for report in terminalreporter.stats.get("skipped", []):
        reason = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else ""
        if "BROWSER TESTS NOT RUN" in reason:
            terminalreporter.write_sep("!", "BROWSER TESTS NOT RUN", red=True, bold=True)
            terminalreporter.write_line(reason.removeprefix("Skipped: "))
            break
