"""`python -m helpers book`: the series as a static site in three editions (build/book/), or, with
--handout-pdfs, a PDF of each one-language handout (`make handouts`).

    python -m helpers book [--out build/book] [--edition bilingual|ja|en ...]
    python -m helpers book --handout-pdfs build/handouts

The site is made by helpers/tools/book_site.py, the PDFs by helpers/tools/book_pdf.py (the `book`
extra: pip install -e ".[book]").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .book_pdf import handout_pdfs
from .book_site import DEFAULT_OUT, EDITIONS, BookError, build
from .handout import LANGS
from .nav import NOTEBOOK_NAME

__all__ = ["BookError", "build", "handout_pdfs", "main"]


def pdfs(handouts: Path) -> list[Path]:
    """handouts/<lang>/NN_x.pdf beside every handout notebook there, for ja and en."""
    written = []
    for lang in LANGS:
        folder = handouts / lang
        paths = sorted(p for p in folder.glob("*.ipynb") if NOTEBOOK_NAME.match(p.name))
        if not paths:
            raise BookError(f"{folder} に配布資料がありません。先に make handouts を実行してください。\n"
                            f"No handouts in {folder}: run make handouts first.")
        written += handout_pdfs(folder, lang, paths)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers book", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--edition", action="append", choices=list(EDITIONS),
                        help="build only this edition (repeatable); all three by default")
    parser.add_argument("--handout-pdfs", type=Path, metavar="HANDOUTS",
                        help="print HANDOUTS/ja/*.ipynb and HANDOUTS/en/*.ipynb to PDF instead")
    args = parser.parse_args(argv)
    try:
        if args.handout_pdfs:
            for pdf in pdfs(args.handout_pdfs):
                print(f"書き出し / wrote: {pdf} ({pdf.stat().st_size // 1024} KiB)")
            return 0
        results = build(Path.cwd(), args.out, tuple(args.edition or EDITIONS))
    except BookError as err:
        print(err, file=sys.stderr)
        return 1
    for edition, (seconds, nbytes) in results.items():
        print(f"{edition}: {args.out / edition / 'index.html'} · {seconds:.1f} s · {nbytes / 2**20:.1f} MiB")
    print(f"目次 / start page: {args.out / 'index.html'}")
    return 0
