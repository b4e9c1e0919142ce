"""Guards for the whole series: every notebook follows the same anatomy and its committed outputs are
clean. nbval (in `make test`) then re-runs each notebook and compares those outputs."""

import re

import pytest
from conftest import ROOT, load, notebook_paths

from helpers.tools import nav

NOTEBOOKS = notebook_paths()
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
ENGLISH_WORD = re.compile(r"\b[A-Za-z]{2,}\b")
MACHINE_PATH = re.compile(r"(/root/|/home/\w+|/Users/\w+|/tmp/|site-packages|\.venv|[A-Z]:\\\\)")
BAD_OUTPUT = ("Error displaying widget", "missing from font", "Traceback (most recent call last)",
              "findfont:")
MAX_BYTES = 2_000_000


def ids(paths):
    return [p.name for p in paths]


def cells(path, kind=None):
    return [c for c in load(path)["cells"] if kind is None or c["cell_type"] == kind]


def source(cell):
    return "".join(cell["source"])


def output_text(output):
    parts = [output.get("text", "")] + list(output.get("data", {}).values())
    parts += output.get("traceback", [])
    return "".join("".join(p) if isinstance(p, list) else str(p) for p in parts)


def test_series_exists_and_starts_at_00():
    assert NOTEBOOKS and NOTEBOOKS[0].name.startswith("00_")


def test_every_ipynb_in_notebooks_is_named_nn_slug():
    for path in (ROOT / "notebooks").glob("*.ipynb"):
        assert nav.NOTEBOOK_NAME.match(path.name), f"{path.name}: name it NN_slug.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_kernelspec_is_python3(path):
    assert load(path)["metadata"]["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_every_markdown_cell_holds_japanese_and_english(path):
    for i, cell in enumerate(cells(path)):
        if cell["cell_type"] != "markdown":
            continue
        text = source(cell)
        assert JAPANESE.search(text), f"cell {i}: no Japanese"
        assert len(ENGLISH_WORD.findall(JAPANESE.sub(" ", text))) >= 3, f"cell {i}: no English"
        # A Japanese list followed by an English one renders as one list numbered 1–10:
        # pair the languages inside each item instead.
        assert len(re.findall(r"^1\. ", text, re.M)) <= 1, f"cell {i}: two numbered lists"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_anatomy(path):
    all_cells = cells(path)
    title = source(all_cells[0])
    assert re.match(rf"# {path.name[:2]} \S.* / \S", title), "title: '# NN 日本語 / English'"
    assert "nav" in all_cells[1]["metadata"].get("tags", []), "second cell: the nav cell"
    code = [source(c) for c in all_cells if c["cell_type"] == "code"]
    assert "import helpers" in code[0] and "helpers.setup(" in code[0], "first code cell: setup"
    headings = [source(c) for c in all_cells if c["cell_type"] == "markdown"]
    assert any(h.startswith("## まとめ / Summary") for h in headings), "a まとめ / Summary section"
    assert sum("check_" in c or ".check(" in c for c in code) >= 2, "at least two exercises with a checker"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_code_style_rules(path):
    for i, cell in enumerate(cells(path, "code")):
        text = source(cell)
        assert "sys.path" not in text, f"cell {i}: helpers is installed; never touch sys.path"
        assert not re.search(r"^from \S+ import \*", text, re.M), f"cell {i}: no star imports"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_outputs_are_committed_in_order_and_clean(path):
    code = [c for c in cells(path, "code") if source(c).strip()]
    counts = [c["execution_count"] for c in code]
    assert counts == list(range(1, len(code) + 1)), "run all cells once, from a fresh kernel"
    for i, cell in enumerate(code):
        for output in cell["outputs"]:
            text = output_text(output)
            assert output["output_type"] != "error", f"code cell {i}: error output"
            assert output.get("name") != "stderr", f"code cell {i}: stderr: {text[:200]}"
            for bad in BAD_OUTPUT:
                assert bad not in text, f"code cell {i}: {bad!r}"
            assert not MACHINE_PATH.search(text), f"code cell {i}: machine path in output"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_figures_are_saved_as_pictures(path):
    """A reader on GitHub, without a kernel, still sees every figure."""
    for i, cell in enumerate(cells(path, "code")):
        for output in cell["outputs"]:
            data = output.get("data", {})
            if "".join(data.get("text/plain", "")).startswith("<Figure"):
                assert "image/png" in data, f"code cell {i}: a figure without its picture"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_notebook_stays_small(path):
    assert path.stat().st_size < MAX_BYTES


def test_navigation_is_current():
    assert nav.stale(ROOT) == [], "run: make nav"


def widget_cells(path):
    """Indexes (among all cells) of the code cells that show a widget: the sliders and the stepper."""
    return [i for i, cell in enumerate(cells(path)) if cell["cell_type"] == "code" and any(
        "application/vnd.jupyter.widget-view+json" in output.get("data", {}) for output in cell["outputs"])]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_printed_output_gives_each_language_its_own_line(path):
    """Never 「損失 / loss: 0.25」 on one line: a one-language reader (or handout) then reads half as much."""
    from helpers.tools import handout
    pairs = []
    for i, cell in enumerate(cells(path, "code")):
        for output in cell["outputs"]:
            if output.get("output_type") == "stream":
                pairs += [(i, line) for line in "".join(output["text"]).splitlines()
                          if " / " in line and handout.split_pair(line.strip())]
    assert pairs == [], f"{path.name}: Japanese and English on one printed line: {pairs[:3]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_every_slider_is_preceded_by_a_prediction(path):
    """Ask before showing: the markdown just above a slider or the stepper asks the reader to predict."""
    all_cells = cells(path)
    for i in widget_cells(path):
        before = next(source(c) for c in reversed(all_cells[:i]) if c["cell_type"] == "markdown")
        assert "予想" in before and "predict" in before.lower(), f"{path.name}: cell {i}: no prediction asked above"


def test_optional_sections_are_marked_in_both_languages():
    marked = 0
    for path in NOTEBOOKS:
        for cell in cells(path, "markdown"):
            for line in source(cell).splitlines():
                if line.startswith("#") and ("発展" in line or "Optional" in line):
                    assert "発展:" in line and "/ Optional:" in line, f"{path.name}: {line}"
                    marked += 1
    assert marked >= 3  # deeper material in 01, 02 and 05 sits outside the 15-minute main path
