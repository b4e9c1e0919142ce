"""`python -m helpers figures`: every committed figure on one page, checked as a teacher would see it."""

import base64

import nbformat
import pytest
from conftest import BUILD, notebook_paths
from test_browser import browser  # noqa: F401  (the shared Chromium fixture)

from helpers.tools import figures
from helpers.tools.cli import main as cli

NOTEBOOKS = notebook_paths()


def committed_pictures() -> int:
    return sum(len(figures.figures(nbformat.read(p, as_version=4))) for p in NOTEBOOKS)


def tiny_notebook(tmp_path, png: bytes):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 99 図 / Figures"),
        nbformat.v4.new_code_cell("fig", outputs=[nbformat.v4.new_output(
            "display_data", data={"image/png": base64.b64encode(png).decode(), "text/plain": "<Figure>"})]),
        nbformat.v4.new_code_cell("print(1)", outputs=[nbformat.v4.new_output("stream", text="1\n")]),
    ])
    path = tmp_path / "99_figures.ipynb"
    nbformat.write(nb, path)
    return path


def test_the_sheet_holds_each_picture_once_with_its_cell(tmp_path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 1), dpi=50)
    fig.add_subplot().plot([0, 1])
    from io import BytesIO

    buffer = BytesIO()
    fig.savefig(buffer, format="png", dpi=50)  # not savefig.dpi, which another test may have set
    path = tiny_notebook(tmp_path, buffer.getvalue())
    page, count = figures.build([path], tmp_path / "out")
    text = page.read_text(encoding="utf-8")
    assert count == 1 and text.count("<img ") == 1
    assert "99_figures.ipynb · cell 2" in text and 'width="100" height="50"' in text
    assert (tmp_path / "out" / "99_figures_cell02.png").read_bytes() == buffer.getvalue()


def test_the_command_writes_every_committed_figure(tmp_path):
    assert cli(["figures", "--out", str(tmp_path)]) == 0
    pngs = sorted(tmp_path.glob("*.png"))
    assert len(pngs) == committed_pictures() > 30
    assert (tmp_path / "index.html").read_text(encoding="utf-8").count("<img ") == len(pngs)


@pytest.mark.browser
def test_every_picture_loads_in_chromium(browser):  # noqa: F811
    page_path, count = figures.build(NOTEBOOKS, BUILD / "figures-sheet")
    page = browser.new_page()
    outside = []
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
               else (outside.append(route.request.url), route.abort()))
    page.goto(page_path.as_uri())
    page.wait_for_load_state("load")
    sizes = page.eval_on_selector_all("img", "imgs => imgs.map(i => [i.complete, i.naturalWidth])")
    page.close()
    assert len(sizes) == count == committed_pictures()
    assert all(done and width > 0 for done, width in sizes), "a picture did not load"
    assert outside == []
