import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _language(monkeypatch):
    """Every test starts with the default language setting, whatever the shell has."""
    from helpers import text

    monkeypatch.delenv(text.LANG_ENV, raising=False)
    monkeypatch.setattr(text, "_chosen", None)


def notebook_paths():
    from helpers.nav import notebooks

    return notebooks(ROOT)


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))
