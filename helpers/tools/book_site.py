"""The book (`python -m helpers book`): the series as a static site, in three editions, read without a kernel.

build/book/bilingual/, build/book/ja/ and build/book/en/ each hold the notebooks as committed (nothing
is re-run), the teacher guide and the results page, with contents, previous/next and search; the
one-language editions are made with the handout logic (helpers.tools.handout), and outputs that print
both languages stay as they are. build/book/index.html links the three. Sphinx with myst-nb builds
them (the `book` extra: pip install -e ".[book]"; settings in book/conf.py).

A slider's output holds its widget view and the PNG drawn beside it: the book keeps the PNG and says
the figure moves in JupyterLab (`make lab`). The site loads nothing from the network: MathJax and the
theme's fonts are copied into it, and `offline_problems` checks every built file for a remote script,
style, picture or font. Before building, every notebook must be executed and its nav and slides
metadata current (`input_problems`); otherwise the build stops, naming the notebook, in both languages.
"""

from __future__ import annotations

import copy
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

from . import nav, slides
from .handout import handout, one_language
from .nav import is_nav, notebooks

DEFAULT_OUT = Path("build") / "book"
CONF = Path(__file__).resolve().parents[2] / "book"
EDITIONS = {"bilingual": None, "ja": "ja", "en": "en"}  # edition -> the handout language (None: both)
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
MATHJAX_ENV = "TRAINING_FLOW_BOOK_MATHJAX"
NOTE_JA = ("この図は JupyterLab ではスライダーで動かせます。リポジトリのフォルダで `make lab` を実行し、"
           "このノートブックを開いてください。")
NOTE_EN = ("In JupyterLab this figure is interactive, with sliders: run `make lab` in the repository folder "
           "and open this notebook.")
TITLES = {
    "bilingual": "学習の流れ / The Training Flow",
    "ja": "学習の流れ",
    "en": "The Training Flow",
}
INTRO = {
    "ja": ("ニューラルネットワークが学習する流れ(入力 → 順伝播 → 損失 → 逆伝播 → 更新)を、1ステップずつ"
           "ノートブックで見ていくシリーズです。この本はノートブックに保存された出力をそのまま載せています。"
           "スライダーを動かしたりコードを書きかえたりするには、リポジトリで `make lab` を実行して JupyterLab で"
           "開いてください。"),
    "en": ("A series of notebooks that follows how a neural network trains (input → forward pass → loss → "
           "backpropagation → update), one step at a time. This book shows the outputs saved in the notebooks; "
           "to move the sliders or change the code, run `make lab` in the repository and open them in "
           "JupyterLab."),
}
OTHERS = {"ja": "ほかの版", "en": "Other editions"}
EDITION_NAMES = {"bilingual": "日本語と英語 / bilingual", "ja": "日本語", "en": "English"}
# What loads a resource: a tag's src/href (not <a>), srcset, a CSS url() or @import.
REMOTE = [
    re.compile(r"<(?:script|link|img|source|iframe|embed|video|audio|object)\b[^>]*?"
               r"\b(?:src|href|data|srcset)\s*=\s*[\"']?\s*((?:https?:)?//[^\"'\s>]+)", re.I),
    re.compile(r"url\(\s*[\"']?((?:https?:)?//[^\"')\s]+)", re.I),
    re.compile(r"@import\s+[\"']((?:https?:)?//[^\"']+)", re.I),
]


class BookError(Exception):
    """Bad input: the message names the notebook, in Japanese then English."""


def unexecuted(nb) -> list[int]:
    """Numbers (from 1) of the code cells that hold code but were never run (no outputs saved)."""
    return [i for i, cell in enumerate(nb.cells, start=1)
            if cell.cell_type == "code" and cell.source.strip() and cell.get("execution_count") is None]


def input_problems(root: Path) -> list[str]:
    """One bilingual line per notebook that must not be published as it is."""
    found = []
    for path in notebooks(root):
        cells = unexecuted(nbformat.read(path, as_version=4))
        if cells:
            listed = ", ".join(map(str, cells))
            found.append(f"{path.name}: 出力がないセル(未実行)/ cells with no saved outputs (never run): {listed}"
                         " — 直し方 / fix: make notebooks")
    stale_nav = {p.name for p in nav.stale(root)}
    stale_slides = {p.name for p in slides.stale(root)}
    for path in notebooks(root):
        if path.name in stale_nav:
            found.append(f"{path.name}: ナビゲーションが古い / navigation out of date — 直し方 / fix: make nav")
        if path.name in stale_slides:
            found.append(f"{path.name}: スライドの設定が古い / slide metadata out of date — 直し方 / fix: make slides")
    if "README.md" in stale_nav:
        found.append("README.md: 目次が古い / contents out of date — 直し方 / fix: make nav")
    return found


def note(lang: str | None):
    """The line under a slider's picture: it moves in JupyterLab, started with `make lab`."""
    text = {"ja": NOTE_JA, "en": NOTE_EN}.get(lang, f"{NOTE_JA}\n\n{NOTE_EN}")
    cell = nbformat.v4.new_markdown_cell(f":::{{note}}\n{text}\n:::")
    cell.metadata["tags"] = ["book-slider-note"]
    return cell


def for_book(nb, lang: str | None, translate: bool = True):
    """The copy the book is built from: one language (lang) or both (None), the nav cell dropped
    (the book has its own), README links pointing at the book's front page, and every slider output
    reduced to its PNG with a note under it. nb itself is left as it was. translate=False: nb is
    already a one-language handout (only the note is written in lang)."""
    nb = handout(nb, lang) if lang and translate else copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)  # widget state: myst-nb would load the widget manager for it
    nb.metadata.pop("handout", None)
    cells = []
    for cell in nb.cells:
        if is_nav(cell):
            continue
        if cell.cell_type == "markdown":
            cell.source = re.sub(r"\]\(\.\./README\.md(#[^)]*)?\)", "](../index.md)", cell.source)
        cells.append(cell)
        if cell.cell_type != "code":
            continue
        sliders = [o for o in cell.get("outputs", []) if WIDGET_VIEW in o.get("data", {})]
        for output in sliders:
            del output["data"][WIDGET_VIEW]
            if "image/png" not in output["data"]:
                raise BookError(f"スライダーの出力に保存画像がない / a slider output has no saved picture: "
                                f"{cell.source.splitlines()[0] if cell.source else cell.id}")
        if sliders:
            cells.append(note(lang))
    nb.cells = cells
    return nb


def index_page(edition: str, names: list[str]) -> str:
    lang = EDITIONS[edition]
    intro = INTRO[lang] if lang else f"{INTRO['ja']}\n\n{INTRO['en']}"
    others = " · ".join(f'<a href="../{e}/index.html">{EDITION_NAMES[e]}</a>' for e in EDITIONS if e != edition)
    label = OTHERS[lang] if lang else f"{OTHERS['ja']} / {OTHERS['en']}"
    caption = {"ja": "ノートブック", "en": "Notebooks"}.get(lang, "ノートブック / Notebooks")
    guides = {"ja": "先生へ", "en": "For teachers"}.get(lang, "先生へ / For teachers")
    toc = "\n".join(f"notebooks/{name}" for name in names)
    return (f"# {TITLES[edition]}\n\n{intro}\n\n{label}: {others}\n\n"
            f"```{{toctree}}\n:maxdepth: 1\n:caption: {caption}\n\n{toc}\n```\n\n"
            f"```{{toctree}}\n:maxdepth: 1\n:caption: {guides}\n\ndocs/teacher_guide\ndocs/results\n```\n")


def _write(path: Path, text: str) -> None:
    """Write only when the text changed, so Sphinx rebuilds only what changed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def write_sources(root: Path, edition: str, src: Path, paths=None) -> list[Path]:
    """Lay out one edition's sources in src; returns the notebooks written. paths: notebooks that are
    already in the edition's language (the executed handouts), instead of the series' own."""
    lang = EDITIONS[edition]
    written = []
    for path in paths or notebooks(root):
        nb = for_book(nbformat.read(path, as_version=4), lang, translate=paths is None)
        target = src / "notebooks" / path.name
        _write(target, nbformat.writes(nb) + "\n")
        written.append(target)
    for name in ("teacher_guide.md", "results.md"):
        text = (root / "docs" / name).read_text(encoding="utf-8")
        _write(src / "docs" / name, (one_language(text, lang) + "\n") if lang else text)
    if (root / "docs" / "images").is_dir():
        shutil.copytree(root / "docs" / "images", src / "docs" / "images", dirs_exist_ok=True)
    _write(src / "index.md", index_page(edition, [p.stem for p in written]))
    return written


def mathjax_source() -> Path:
    """The MathJax 3 files shipped by the sphinx-mathjax-offline package."""
    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    if spec is None or not spec.submodule_search_locations:
        raise BookError("本を作るパッケージがありません。pip install -e \".[book]\" を実行してください。\n"
                        "The book's packages are missing: run pip install -e \".[book]\".")
    return Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax"


def local_mathjax(folder: Path) -> Path:
    """folder/mathjax/: the one MathJax script the book uses (all TeX extensions in it) and its fonts."""
    source, target = mathjax_source(), folder / "mathjax"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / "tex-chtml-full.js", target / "tex-chtml-full.js")
    fonts = Path("output") / "chtml" / "fonts" / "woff-v2"
    shutil.copytree(source / fonts, target / fonts, dirs_exist_ok=True)
    return folder


def sphinx(src: Path, site: Path, doctrees: Path, edition: str, mathjax: Path) -> None:
    lang = EDITIONS[edition] or "ja"
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-j", "auto", "-c", str(CONF),
               "-d", str(doctrees), "-D", f"language={lang}", "-D", f"html_search_language={lang}",
               "-D", f"project={TITLES[edition]}", "-D", f"html_title={TITLES[edition]}", str(src), str(site)]
    done = subprocess.run(command, env={**os.environ, MATHJAX_ENV: str(mathjax.resolve())},
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise BookError(f"Sphinx が失敗しました / Sphinx failed ({edition}):\n{done.stderr[-4000:]}")
    if done.stderr.strip():
        print(done.stderr.strip(), file=sys.stderr)


def offline_problems(site: Path) -> list[str]:
    """Every reference in a built HTML or CSS file that would load something from another host."""
    found = []
    for path in sorted(site.rglob("*")):
        if path.suffix not in (".html", ".css") or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for pattern in REMOTE:
            found += [f"{path.relative_to(site)}: {m.group(1)}" for m in pattern.finditer(text)]
    return found


def size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


LANDING = """<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8"><title>学習の流れ / The Training Flow</title>
<style>body {{ font-family: "IPAexGothic", "Noto Sans CJK JP", "Hiragino Sans", sans-serif; margin: 3rem auto;
max-width: 40rem; line-height: 1.7; }} li {{ margin: .5rem 0; font-size: 1.2rem; }}</style></head>
<body><h1>学習の流れ / The Training Flow</h1>
<p>版を選んでください。/ Choose an edition.</p>
<ul>{items}</ul></body></html>
"""


def build(root: Path, out: Path, editions=tuple(EDITIONS)) -> dict[str, tuple[float, int]]:
    """Check the notebooks, then build each edition into out/<edition>/: {edition: (seconds, bytes)}."""
    problems = input_problems(root)
    if problems:
        raise BookError("本を作れません。次のノートブックを直してください。/ The book was not built; fix these "
                        "notebooks first.\n" + "\n".join(problems))
    work = out.parent / f"{out.name}-work"  # sources, doctrees and caches: not part of the site
    mathjax = local_mathjax(work / "mathjax")
    results = {}
    for edition in editions:
        started = time.perf_counter()
        site, html = out / edition, work / "html" / edition / "site"  # myst-nb writes beside html/
        write_sources(root, edition, work / "src" / edition)
        sphinx(work / "src" / edition, html, work / "doctrees" / edition, edition, mathjax)
        if site.exists():
            shutil.rmtree(site)
        shutil.copytree(html, site, ignore=shutil.ignore_patterns(".buildinfo", ".doctrees"))
        remote = offline_problems(site)
        if remote:
            raise BookError("ネットワークから読みこむ参照があります / the site would load from the network:\n"
                            + "\n".join(remote))
        results[edition] = (time.perf_counter() - started, size(site))
    items = "".join(f'<li><a href="{e}/index.html">{EDITION_NAMES[e]}</a></li>' for e in EDITIONS)
    (out / "index.html").write_text(LANDING.format(items=items), encoding="utf-8")
    (out / ".nojekyll").write_text("", encoding="utf-8")  # GitHub Pages: keep Sphinx's _static/ folders
    return results
