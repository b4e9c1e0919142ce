import base64
import io
import math

import nbformat
import pytest
from conftest import notebook_paths
from PIL import Image

from helpers.tools import slides
from helpers.tools.cli import main as cli

NOTEBOOKS = notebook_paths()


def png(width, height):
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def md(text, **metadata):
    return nbformat.v4.new_markdown_cell(text, metadata=metadata)


def code(text, figure_px=None, lines=0, tags=None):
    cell = nbformat.v4.new_code_cell(text, metadata={"tags": tags} if tags else {})
    if lines:
        cell.outputs.append(nbformat.v4.new_output("stream", name="stdout",
                                                   text="".join(f"{i}\n" for i in range(lines))))
    if figure_px:
        cell.outputs.append(nbformat.v4.new_output(
            "execute_result", data={"image/png": png(640, figure_px), "text/plain": "<Figure>"},
            execution_count=1))
    return cell


def lesson():
    """A notebook in the series' shape: title, nav, setup, sections, a subsection, an exercise."""
    nav = md("[目次 / Contents](../README.md#contents)", tags=["nav"])
    nav.id = "nav"
    return nbformat.v4.new_notebook(cells=[
        md("# 00 題名 / Title\n\n**ねらい:** ねらい。\n\n**Goal:** the goal."),
        nav,
        md("## 準備 / Setup\n\n最初に実行します。\n\nRun this first."),
        code("import helpers\n\ndevice = helpers.setup()", lines=1),
        md("## 節 / Section\n\n考え。\n\nThe idea."),
        code("helpers.figure()", figure_px=300),
        md("**ここに注目:** 見どころ。\n\n**Notice:** what to see."),
        md("### 小節 / Subsection\n\n続き。\n\nMore."),
        code("helpers.slider()", figure_px=300, tags=["nbval-ignore-output"]),
        md("## やってみよう 1 / Try it 1\n\n問題。\n\nA question."),
        code("answer = None\nhelpers.check(answer)", lines=2),
    ])


def types(nb):
    return [slides.slide_type(c) for c in nb.cells]


def test_rules_for_title_nav_headings_notices_and_exercises():
    nb = slides.with_slides(lesson())
    assert types(nb) == ["slide", "skip", "slide", "-", "slide", "-", "fragment", "subslide", "-",
                         "slide", "-"]
    assert slides.missing_metadata(nb) == []


def test_setup_and_ignored_output_cells_stay_visible():
    nb = slides.with_slides(lesson())
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert slides.slide_type(cell) not in ("skip", "notes")


def test_rules_ignore_what_the_cells_held_before():
    nb = lesson()
    for cell in nb.cells:
        cell.metadata["slideshow"] = {"slide_type": "notes"}
    assert types(slides.with_slides(nb)) == types(slides.with_slides(lesson()))
    assert nb.cells[8].metadata["tags"] == ["nbval-ignore-output"]  # other metadata is kept


def test_long_section_is_split_at_the_idea_that_overflows():
    nb = nbformat.v4.new_notebook(cells=[
        md("# 00 題名 / Title"),
        md("## 節 / Section\n\n考え。\n\nThe idea."),
        code("helpers.big_figure()", figure_px=500),  # 25 lines of figure
        md("**ここに注目:** 見どころ。\n\n**Notice:** what to see."),
        md("次の考え。\n\nThe next idea."),
        code("helpers.another_figure()", figure_px=500),
        md("**ここに注目:** 見どころ。\n\n**Notice:** what to see."),
    ])
    got = types(slides.with_slides(nb))
    assert got == ["slide", "slide", "-", "fragment", "subslide", "-", "fragment"]
    assert [s.title for s in slides.slides(nb)] == ["00 題名 / Title", "節 / Section", "節 / Section (2)"]
    assert all(s.height <= slides.LIMIT for s in slides.slides(nb))


def test_notice_after_a_tall_figure_becomes_a_subslide():
    nb = nbformat.v4.new_notebook(cells=[
        md("## 節 / Section\n\n考え。\n\nThe idea."),
        code("helpers.tall_figure()", figure_px=(slides.LIMIT - 12) * slides.PX_PER_LINE),
        md("**ここに注目:** " + "見どころ。" * 60 + "\n\n**Notice:** " + "what to see. " * 40),
    ])
    assert types(slides.with_slides(nb)) == ["slide", "-", "subslide"]


def test_estimate_counts_wrapped_lines_outputs_and_figures_by_pixels():
    padding, out = slides.CODE_CELL_LINES, slides.OUTPUT_LINE
    assert slides.estimate_height(code("x = 1", lines=3)) == 1 + padding + 3 * out  # source, padding, output
    short, wide = md("あ" * 10), md("あ" * (slides.COLUMNS + 1))  # a Japanese character is two wide
    assert slides.estimate_height(wide) == 3 * slides.estimate_height(short)
    low, high = code("f()", figure_px=10 * slides.PX_PER_LINE), code("f()", figure_px=30 * slides.PX_PER_LINE)
    assert slides.estimate_height(high) - slides.estimate_height(low) == 20  # lines, from the PNG's height
    wide_figure = code("f()")  # twice the slide's width: shown at half its height
    wide_figure.outputs.append(nbformat.v4.new_output("display_data", data={
        "image/png": png(2 * slides.MAX_FIGURE_WIDTH_PX, 20 * slides.PX_PER_LINE)}))
    assert slides.estimate_height(wide_figure) == 1 + padding + 10
    assert slides.png_size(png(123, 45)) == (123, 45)


def test_widget_output_counts_its_sliders_and_picture():
    cell = code("helpers.explorer()")
    cell.outputs.append(nbformat.v4.new_output("display_data", data={
        "application/vnd.jupyter.widget-view+json": {"model_id": "x", "version_major": 2,
                                                     "version_minor": 0},
        "image/png": png(640, 360), "text/plain": "SliderFigure"}))
    assert slides.estimate_height(cell) == (1 + slides.CODE_CELL_LINES + slides.WIDGET_LINES
                                            + math.ceil(360 / slides.PX_PER_LINE))


def test_overflowing_names_notebook_slide_and_size(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        md("## 大きな節 / A big section"),
        code("f()", figure_px=2000),
    ])
    slides.with_slides(nb)
    path = tmp_path / "05_big.ipynb"
    nbformat.write(nb, path)
    (message,) = slides.overflowing(path)
    assert "05_big.ipynb" in message and "'大きな節 / A big section (2)' (cell 1)" in message
    assert f"is {slides.slides(nb)[1].height:.0f} lines, over {slides.LIMIT:g}" in message
    assert slides.overflowing(path, limit=1000) == []


@pytest.fixture
def series(tmp_path):
    (tmp_path / "notebooks").mkdir()
    for name in ("00_intro", "01_input"):
        nbformat.write(lesson(), tmp_path / "notebooks" / f"{name}.ipynb")
    (tmp_path / "notebooks" / "scratch.ipynb").write_text("{}")  # not part of the series
    return tmp_path


def test_tool_writes_once_then_changes_nothing(series, monkeypatch, capsys):
    monkeypatch.chdir(series)
    assert {p.name for p in slides.stale(series)} == {"00_intro.ipynb", "01_input.ipynb"}
    assert cli(["slides"]) == 0
    assert "00_intro.ipynb" in capsys.readouterr().out
    before = {p: p.read_bytes() for p in series.rglob("*.ipynb")}
    assert slides.stale(series) == []
    assert cli(["slides"]) == 0
    assert before == {p: p.read_bytes() for p in series.rglob("*.ipynb")}
    assert capsys.readouterr().out == ""
    assert (series / "notebooks" / "scratch.ipynb").read_text() == "{}"


def test_check_mode_names_stale_notebooks_and_changes_nothing(series, monkeypatch, capsys):
    monkeypatch.chdir(series)
    before = {p: p.read_bytes() for p in series.rglob("*.ipynb")}
    assert cli(["slides", "--check"]) == 1
    out = capsys.readouterr().out
    assert "notebooks/00_intro.ipynb" in out and "notebooks/01_input.ipynb" in out
    assert before == {p: p.read_bytes() for p in series.rglob("*.ipynb")}
    assert cli(["slides"]) == 0
    assert cli(["slides", "--check"]) == 0
    # an edit that adds a heading makes the notebook stale again
    path = series / "notebooks" / "01_input.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(md("## まとめ / Summary\n\n- まとめ<br>\n  summary"))
    nbformat.write(nb, path)
    assert [p.name for p in slides.stale(series)] == ["01_input.ipynb"]


def test_other_subcommands_still_answer(series, monkeypatch, capsys):
    monkeypatch.chdir(series)
    assert cli([]) == 2
    assert "slides" in capsys.readouterr().err
    (series / "README.md").write_text("# x\n\n<!-- contents:start -->\n<!-- contents:end -->\n")
    assert cli(["nav", "--check"]) == 1


def test_code_in_a_markdown_block_is_not_a_heading():
    fenced = md("```python\n# a comment\nx = 1\n```")
    assert slides.estimate_height(fenced) == 0.5 + 1 + 1 + 0.5
    assert slides.estimate_height(md("# 題名 / Title")) > slides.estimate_height(md("題名 / Title"))


# --- the series itself: fails until `python -m helpers slides` has been run over the notebooks ---

@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_has_current_slide_metadata(path):
    nb = nbformat.read(path, as_version=4)
    assert slides.missing_metadata(nb) == [], f"{path.name}: run python -m helpers slides"
    stored = types(nb)
    assert stored == slides.planned_types(nb), f"{path.name}: run python -m helpers slides"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_no_slide_overflows(path):
    assert slides.overflowing(path) == []


