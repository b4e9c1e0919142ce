"""`make book`: the series as a static site in three editions, read without a kernel, offline.

The unit tests need only nbformat; the build tests need the `book` extra (Sphinx, myst-nb), and the
browser tests open every page of every edition in Chromium with every request to another host blocked.
"""

from __future__ import annotations

import base64
import json
import re
import shutil

import nbformat
import pytest
from conftest import ROOT, notebook_paths
from test_browser import CJK_FONT, browser  # noqa: F401  (the shared Chromium fixture)

from helpers.tools import book_site as book
from helpers.tools.cli import main as cli
from helpers.tools.handout import handout, pick

NOTEBOOKS = notebook_paths()
WIDGET = book.WIDGET_VIEW
PNG = base64.b64encode(bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                                     "1f15c4890000000d49444154789c6360000002000100e221bc330000"
                                     "000049454e44ae426082")).decode()


def slider_notebook():
    view = {"model_id": "abc", "version_major": 2, "version_minor": 0}
    return nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 99 スライダー / Sliders"),
        nbformat.v4.new_markdown_cell("[目次 / Contents](../README.md#contents) · 前へ / Previous: —",
                                      metadata={"tags": ["nav"]}),
        nbformat.v4.new_markdown_cell("[はじめに](../README.md#get-started)を見ます。\n\nSee [the start]"
                                      "(../README.md#get-started)."),
        nbformat.v4.new_code_cell("lesson.explorer()", execution_count=1, outputs=[nbformat.v4.new_output(
            "display_data", data={WIDGET: view, "image/png": PNG, "text/plain": "Box()"})]),
    ], metadata={"widgets": {"application/vnd.jupyter.widget-state+json": {"state": {}}}})


def test_a_slider_output_keeps_its_picture_and_says_how_to_move_it():
    nb = slider_notebook()
    before = nbformat.writes(nb)
    for lang, ja, en in ((None, True, True), ("ja", True, False), ("en", False, True)):
        copy = book.for_book(nb, lang)
        outputs = copy.cells[2].outputs
        assert WIDGET not in outputs[0].data and outputs[0].data["image/png"] == PNG
        assert "widgets" not in copy.metadata  # no widget state: no widget manager loaded for it
        notes = [c.source for c in copy.cells if "book-slider-note" in c.metadata.get("tags", [])]
        assert len(notes) == 1 and "make lab" in notes[0] and copy.cells[3].source == notes[0]
        assert (book.NOTE_JA in notes[0]) == ja and (book.NOTE_EN in notes[0]) == en
    assert nbformat.writes(nb) == before  # the committed notebook is only read


def test_the_nav_cell_goes_and_readme_links_point_at_the_front_page():
    copy = book.for_book(slider_notebook(), None)
    assert not any(c.metadata.get("tags") == ["nav"] for c in copy.cells)
    assert "README.md" not in copy.cells[1].source and copy.cells[1].source.count("](../index.md)") == 2
    assert book.for_book(slider_notebook(), "en").cells[1].source == "See [the start](../index.md)."


def test_a_slider_output_without_its_picture_is_refused():
    nb = slider_notebook()
    del nb.cells[3].outputs[0].data["image/png"]
    with pytest.raises(book.BookError, match="saved picture"):
        book.for_book(nb, None)


@pytest.fixture
def series(tmp_path):
    """A copy of the repository's notebooks and README, to spoil one notebook in."""
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks", ignore=shutil.ignore_patterns(".ipynb_*"))
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    return tmp_path


def edit(path, change):
    nb = nbformat.read(path, as_version=4)
    change(nb)
    nbformat.write(nb, path)


def test_the_committed_series_is_fit_to_publish():
    assert book.input_problems(ROOT) == []


def test_a_notebook_never_run_stops_the_build_naming_it(series, monkeypatch, capsys):
    def clear(nb):
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None

    edit(series / "notebooks" / "03_loss.ipynb", clear)
    problems = book.input_problems(series)
    assert problems and all(p.startswith("03_loss.ipynb:") for p in problems)  # slides, sized by outputs, too
    assert "出力がない" in problems[0] and "never run" in problems[0]
    monkeypatch.chdir(series)
    assert cli(["book", "--out", str(series / "out")]) == 1
    err = capsys.readouterr().err
    assert "03_loss.ipynb" in err and "本を作れません" in err and "was not built" in err
    assert not (series / "out").exists()  # stopped before anything was published


def test_stale_nav_and_slides_stop_the_build_naming_the_notebook(series):
    edit(series / "notebooks" / "05_update.ipynb", lambda nb: setattr(nb.cells[1], "source", "old links"))
    edit(series / "notebooks" / "07_overfitting.ipynb",
         lambda nb: nb.cells[0].metadata.update(slideshow={"slide_type": "skip"}))
    problems = book.input_problems(series)
    assert [p.split(":")[0] for p in problems] == ["05_update.ipynb", "07_overfitting.ipynb"]
    assert "navigation out of date" in problems[0] and "ナビゲーション" in problems[0]
    assert "slide metadata out of date" in problems[1] and "スライド" in problems[1]
    with pytest.raises(book.BookError, match="05_update.ipynb"):
        book.build(series, series / "out")


def test_handout_pdfs_need_the_handouts_first(tmp_path, capsys):
    (tmp_path / "ja").mkdir()
    assert cli(["book", "--handout-pdfs", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "make handouts" in err and "配布資料がありません" in err and "No handouts" in err


def test_a_remote_script_style_picture_or_font_is_found(tmp_path):
    (tmp_path / "a.html").write_text(
        '<a href="https://pytorch.org">fine: a link to follow</a>\n<script src="https://cdn.example/x.js"></script>\n'
        '<link rel="stylesheet" href="//fonts.example/css">\n<img alt="" src="http://pics.example/a.png">\n',
        encoding="utf-8")
    (tmp_path / "b.css").write_text("@font-face { src: url('https://fonts.example/f.woff2'); }\n"
                                    "@import 'https://cdn.example/more.css';\n.x { background: url(local.png); }",
                                    encoding="utf-8")
    found = book.offline_problems(tmp_path)
    assert found == ["a.html: https://cdn.example/x.js", "a.html: //fonts.example/css",
                     "a.html: http://pics.example/a.png", "b.css: https://fonts.example/f.woff2",
                     "b.css: https://cdn.example/more.css"]


# --- the built book (needs the `book` extra) ----------------------------------------------------

@pytest.fixture(scope="module")
def site(tmp_path_factory):
    pytest.importorskip("myst_nb", reason="the book extra is not installed: pip install -e '.[book]'")
    out = tmp_path_factory.mktemp("book")
    results = book.build(ROOT, out)
    assert set(results) == set(book.EDITIONS)
    return out


def slider_outputs(path) -> int:
    nb = nbformat.read(path, as_version=4)
    return sum(WIDGET in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def test_each_edition_has_every_page_contents_search_and_the_guides(site):
    assert (site / ".nojekyll").is_file()
    landing = (site / "index.html").read_text(encoding="utf-8")
    for edition in book.EDITIONS:
        folder = site / edition
        assert f'href="{edition}/index.html"' in landing
        index = (folder / "index.html").read_text(encoding="utf-8")
        for path in NOTEBOOKS:
            assert f'href="notebooks/{path.stem}.html"' in index, (edition, path.name)
        for page in ("docs/teacher_guide.html", "docs/results.html", "search.html", "searchindex.js"):
            assert (folder / page).is_file(), (edition, page)
        assert book.offline_problems(folder) == []
        assert not list(folder.rglob("*.ipynb"))  # the site is read, not run


def test_previous_and_next_follow_the_series_order(site):
    for edition in book.EDITIONS:
        for i, path in enumerate(NOTEBOOKS):
            text = (site / edition / "notebooks" / f"{path.stem}.html").read_text(encoding="utf-8")
            if i > 0:
                assert '<link rel="prev" title="' in text and f'href="{NOTEBOOKS[i - 1].stem}.html"' in text
            if i + 1 < len(NOTEBOOKS):
                assert f'href="{NOTEBOOKS[i + 1].stem}.html"' in text and '<link rel="next"' in text


def test_one_language_editions_keep_one_language_in_the_text(site):
    for path in NOTEBOOKS:
        title = book.nav.title(nbformat.read(path, as_version=4))
        ja, en = pick(title, "ja"), pick(title, "en")
        pages = {e: (site / e / "notebooks" / f"{path.stem}.html").read_text(encoding="utf-8")
                 for e in book.EDITIONS}
        heading = {e: re.search(r'<h1>([^<]*)<a class="headerlink"', text).group(1).strip()
                   for e, text in pages.items()}
        assert heading == {"bilingual": title, "ja": ja, "en": en}, path.name


def test_every_slider_shows_its_picture_and_the_jupyterlab_note(site):
    for path in NOTEBOOKS:
        expected = slider_outputs(path)
        for edition, lang in book.EDITIONS.items():
            text = (site / edition / "notebooks" / f"{path.stem}.html").read_text(encoding="utf-8")
            assert "widget-view" not in text and "jupyter-widgets" not in text
            notes = text.count('<span class="pre">lab</span></code>')
            assert notes >= expected * (1 if lang else 2), (edition, path.name)
            assert text.count('class="admonition note"') >= expected


def test_japanese_search_splits_words(site):
    index = (site / "ja" / "searchindex.js").read_text(encoding="utf-8")
    terms = json.loads(index[index.index("(") + 1:index.rindex(")")])["terms"]
    assert {"損失", "勾配", "学習"} <= set(terms)  # words, not whole sentences, are indexed
    english = (site / "en" / "searchindex.js").read_text(encoding="utf-8")
    assert "gradient" in json.loads(english[english.index("(") + 1:english.rindex(")")])["terms"]


# --- in Chromium, offline -----------------------------------------------------------------------

def cells_with_outputs(path, lang) -> int:
    nb = book.for_book(nbformat.read(path, as_version=4), lang)
    return sum(1 for c in nb.cells if c.cell_type == "code" and c.outputs)


CHECK = """() => ({
  images: [...document.images].map(i => [i.getAttribute('src'), i.complete && i.naturalWidth > 0]),
  outputs: [...document.querySelectorAll('div.cell_output')].map(
    o => o.innerText.trim().length > 0 || o.querySelector('img') !== null),
  maths: document.querySelectorAll('mjx-container').length,
  unrendered: document.querySelectorAll('span.math, div.math').length,
})"""


def pages(folder):
    """The site's pages (the theme's _static/ holds template fragments, not pages)."""
    return sorted(p for p in folder.rglob("*.html") if "_static" not in p.relative_to(folder).parts)


@pytest.mark.browser
def test_every_page_of_every_edition_works_offline_in_chromium(site, browser):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    left, errors, checked = [], [], 0
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                  else (left.append(route.request.url), route.abort()))
    for edition, lang in book.EDITIONS.items():
        for html in pages(site / edition):
            page = context.new_page()
            name = f"{edition}/{html.relative_to(site / edition)}"
            page.on("console", lambda m, name=name: m.type == "error" and errors.append(f"{name}: {m.text}"))
            page.on("pageerror", lambda e, name=name: errors.append(f"{name}: {e}"))
            page.on("requestfailed", lambda r, name=name: errors.append(f"{name}: failed {r.url}"))
            page.goto(html.as_uri())
            page.wait_for_load_state("load")
            page.evaluate(book_pdf_typeset())
            seen = page.evaluate(CHECK)
            broken = [src for src, ok in seen["images"] if not ok]
            assert broken == [], f"{name}: pictures that did not load: {broken}"
            if html.parent.name == "notebooks":
                source = ROOT / "notebooks" / f"{html.stem}.ipynb"
                assert len(seen["outputs"]) == cells_with_outputs(source, lang), name
                assert all(seen["outputs"]), f"{name}: an empty output where the notebook has one"
            assert seen["unrendered"] == 0 or seen["maths"] > 0, f"{name}: maths left as TeX"
            page.close()
            checked += 1
    context.close()
    assert errors == [], "\n".join(errors)
    assert left == [], "\n".join(left)
    assert checked >= 3 * (len(NOTEBOOKS) + 3)


@pytest.mark.browser
def test_search_finds_a_japanese_word_from_disk(site, browser):  # noqa: F811
    page = browser.new_page()
    page.goto((site / "ja" / "search.html").as_uri() + "?q=勾配")
    page.wait_for_selector("#search-results ul.search li", timeout=30_000)
    hits = page.eval_on_selector_all("#search-results ul.search li a", "links => links.map(a => a.href)")
    page.close()
    assert any("04_backprop.html" in h for h in hits)


def book_pdf_typeset():
    from helpers.tools.book_pdf import TYPESET

    return TYPESET


@pytest.mark.browser
def test_handout_pdfs_for_both_languages(tmp_path, browser):  # noqa: F811  (Chromium must be there)
    pytest.importorskip("myst_nb", reason="the book extra is not installed: pip install -e '.[book]'")
    from helpers.tools.book_pdf import handout_pdfs

    for lang, path in (("ja", NOTEBOOKS[6]), ("en", NOTEBOOKS[0])):
        folder = tmp_path / lang
        folder.mkdir()
        copy = folder / path.name
        nbformat.write(handout(nbformat.read(path, as_version=4), lang), copy)
        (pdf,) = handout_pdfs(folder, lang, [copy], browser)
        data = pdf.read_bytes()
        pages = len(re.findall(rb"/Type\s*/Page[^s]", data))
        assert pdf.name == f"{path.stem}.pdf" and data.startswith(b"%PDF") and pages >= 2
        assert len(data) > 50_000  # text, maths and figures, not a blank page
        if lang == "ja":  # the Japanese text is set in a Japanese font the machine has, embedded
            assert CJK_FONT.search(data.decode("latin-1")), "no Japanese font in the PDF"
