"""`make lab` serves the notebooks on 127.0.0.1 and keeps token authentication on."""

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
from pathlib import Path

import pytest
from conftest import ROOT


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, b""


@pytest.fixture(scope="module")
def lab():
    flags = subprocess.run(["make", "-s", "--no-print-directory", "lab-flags"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    port, token = free_port(), secrets.token_hex(16)
    jupyter = Path(sys.executable).with_name("jupyter")
    command = [str(jupyter), "lab", *flags, "--no-browser", f"--ServerApp.port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}"]
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            if server.poll() is not None:
                pytest.fail(f"jupyter lab exited: {shlex.join(command)}\n{server.stdout.read()}")
            try:
                if get(f"{base}/api/status?token={token}")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("jupyter lab did not answer within 60 s")
        yield base, token, flags
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def test_lab_binds_localhost(lab):
    _, _, flags = lab
    assert "--ServerApp.ip=127.0.0.1" in flags


def test_lab_refuses_requests_without_the_token(lab):
    base, _, _ = lab
    assert get(f"{base}/api/contents/notebooks")[0] == 403


def test_lab_serves_the_notebooks_with_the_token(lab):
    base, token, _ = lab
    status, body = get(f"{base}/api/contents/notebooks?token={token}")
    assert status == 200
    names = {item["name"] for item in json.loads(body)["content"]}
    assert {p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")} <= names
    assert get(f"{base}/lab/tree/notebooks/00_overview.ipynb?token={token}")[0] == 200
    status, body = get(f"{base}/api/contents/README.md?token={token}")  # nav cells link to it
    assert status == 200
