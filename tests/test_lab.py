"""`make lab` serves the notebooks on 127.0.0.1 and keeps token authentication on."""

import json
import socket

import pytest
from conftest import ROOT, LabStartError, get, lab_server


def test_lab_binds_localhost(lab):
    assert "--ServerApp.ip=127.0.0.1" in lab.flags


def test_lab_refuses_requests_without_the_token(lab):
    assert get(f"{lab.base}/api/contents/notebooks")[0] == 403


def test_lab_serves_the_notebooks_with_the_token(lab):
    status, body = get(lab.url("api/contents/notebooks"))
    assert status == 200
    names = {item["name"] for item in json.loads(body)["content"]}
    assert {p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")} <= names
    assert get(lab.url("lab/tree/notebooks/00_overview.ipynb"))[0] == 200
    assert get(lab.url("api/contents/README.md"))[0] == 200  # nav cells link to it


def test_a_server_that_cannot_start_fails_clearly_and_leaves_nothing(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(LabStartError) as err:
            with lab_server(tmp_path, port=port):
                pass
    assert "jupyter lab exited" in str(err.value) and str(port) in str(err.value)
