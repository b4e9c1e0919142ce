"""`make lab` serves the notebooks on 127.0.0.1 and keeps token authentication on."""

import json

from conftest import ROOT, get


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
