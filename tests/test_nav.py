import nbformat
import pytest

from helpers.tools import nav


def notebook(title):
    return nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell(f"# {title}\n\nゴール / goal"),
        nbformat.v4.new_code_cell("import helpers"),
    ])


@pytest.fixture
def series(tmp_path):
    (tmp_path / "notebooks").mkdir()
    for name, title in [("00_intro", "00 はじめに / Intro"), ("01_input", "01 入力 / Input"),
                        ("02_forward", "02 順伝播 / Forward")]:
        nbformat.write(notebook(title), tmp_path / "notebooks" / f"{name}.ipynb")
    (tmp_path / "notebooks" / "scratch.ipynb").write_text("{}")  # not part of the series
    (tmp_path / "README.md").write_text(f"# x\n\n{nav.START}\nold\n{nav.END}\n\nafter\n")
    return tmp_path


def write_all(root):
    for path, text in nav.planned(root).items():
        path.write_text(text, encoding="utf-8")


def test_writes_nav_cells_and_contents(series):
    assert len(nav.stale(series)) == 4
    write_all(series)
    middle = nbformat.read(series / "notebooks" / "01_input.ipynb", as_version=4)
    assert nav.is_nav(middle.cells[1])
    assert middle.cells[1].source == (
        "[目次 / Contents](../README.md#contents) · 前へ / Previous: "
        "[00 はじめに / Intro](00_intro.ipynb) · 次へ / Next: [02 順伝播 / Forward](02_forward.ipynb)")
    first = nbformat.read(series / "notebooks" / "00_intro.ipynb", as_version=4)
    assert "前へ / Previous: —" in first.cells[1].source
    readme = (series / "README.md").read_text()
    assert "- [01 入力 / Input](notebooks/01_input.ipynb)" in readme
    assert "old" not in readme and readme.endswith("after\n") and "scratch" not in readme


def test_second_run_changes_nothing(series):
    write_all(series)
    before = {p: p.read_bytes() for p in series.rglob("*") if p.is_file()}
    assert nav.stale(series) == []
    write_all(series)
    assert before == {p: p.read_bytes() for p in series.rglob("*") if p.is_file()}


def test_renamed_notebook_makes_neighbours_stale(series):
    write_all(series)
    book = nbformat.read(series / "notebooks" / "01_input.ipynb", as_version=4)
    book.cells[0].source = "# 01 入力データ / Input data"
    nbformat.write(book, series / "notebooks" / "01_input.ipynb")
    stale = {p.name for p in nav.stale(series)}
    assert stale == {"00_intro.ipynb", "02_forward.ipynb", "README.md"}


def test_check_mode_names_stale_files_and_fails(series, monkeypatch, capsys):
    monkeypatch.chdir(series)
    assert nav.main(["--check"]) == 1
    assert "README.md" in capsys.readouterr().out
    assert nav.main([]) == 0
    assert nav.main(["--check"]) == 0


def test_readme_without_markers_is_refused(series):
    (series / "README.md").write_text("# no markers\n")
    with pytest.raises(ValueError, match="contents:start"):
        nav.planned(series)
