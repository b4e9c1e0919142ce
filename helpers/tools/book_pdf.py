"""PDFs of the one-language handouts (`make handouts`, `python -m helpers book --handout-pdfs`).

The executed handout notebooks (build/handouts/<lang>/) are laid out with the book's tool as a small
site (build/handouts/<lang>/_site-work/, the book's print styles) and each notebook's page is printed to
build/handouts/<lang>/NN_x.pdf by Chromium, A4, with no request leaving the machine.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .book_site import EDITIONS, BookError, local_mathjax, sphinx, write_sources

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
# MathJax typesets after the load event: print once it has finished (or when the page has no MathJax).
TYPESET = ("() => window.MathJax && window.MathJax.startup && window.MathJax.startup.promise"
           " ? window.MathJax.startup.promise.then(() => true) : true")


def print_pages(pages: list[tuple[Path, Path]], browser=None) -> list[str]:
    """Print each (html, pdf) pair with Chromium (a running playwright browser, or one started here);
    returns the requests that tried to leave the machine (blocked) and the page errors."""
    if browser is None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            try:
                return print_pages(pages, chromium)
            finally:
                chromium.close()
    problems: list[str] = []
    for html, pdf in pages:
        page = browser.new_page()
        page.on("pageerror", lambda err, html=html: problems.append(f"{html.name}: {err}"))
        page.route("**/*", lambda route, html=html: route.continue_() if route.request.url.startswith("file:")
                   else (problems.append(f"{html.name}: {route.request.url}"), route.abort()))
        page.goto(html.resolve().as_uri())
        page.wait_for_load_state("load")
        page.evaluate(TYPESET)
        page.emulate_media(media="print")
        page.pdf(path=str(pdf), format="A4", print_background=True, prefer_css_page_size=True)
        page.close()
    return problems


def handout_pdfs(folder: Path, lang: str, paths: list[Path], browser=None) -> list[Path]:
    """folder/NN_x.pdf for each one-language notebook in paths (written there by the handout tool)."""
    if lang not in EDITIONS or EDITIONS[lang] is None:
        raise BookError(f"PDF は ja か en です / PDFs are made for ja or en (got {lang!r})")
    work = folder / "_site-work"
    src = work / "src"
    if src.exists():
        shutil.rmtree(src)
    root = Path.cwd()
    written = write_sources(root, lang, src, paths)
    site = work / "html" / "site"  # myst-nb writes its copies beside html/
    sphinx(src, site, work / "doctrees", lang, local_mathjax(work / "mathjax"))
    pages = [(site / "notebooks" / f"{p.stem}.html", folder / f"{p.stem}.pdf") for p in written]
    problems = print_pages(pages, browser)
    if problems:
        raise BookError("PDF の印刷でエラー / printing the PDFs went wrong:\n" + "\n".join(problems))
    return [pdf for _, pdf in pages]
