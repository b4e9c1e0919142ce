"""Command line: `python -m helpers doctor` (check this machine), `python -m helpers nav [--check]`,
`python -m helpers slides [--check]` (slideshow metadata), `python -m helpers figures` (every figure on
one page) or `python -m helpers handout --lang ja|en` (one-language copies)."""

import sys

USAGE = ("使い方 / Usage: python -m helpers doctor | python -m helpers nav [--check] | "
         "python -m helpers slides [--check] | python -m helpers figures [--out build/figures] | "
         "python -m helpers handout --lang ja|en "
         "[--out build/handouts] [--execute] [notebooks...]")


def main(argv: list[str]) -> int:
    if argv[:1] == ["doctor"]:
        from .doctor import main as doctor

        return doctor()
    if argv[:1] == ["nav"]:
        from .nav import main as nav

        return nav(argv[1:])
    if argv[:1] == ["slides"]:
        from .slides import main as slides

        return slides(argv[1:])
    if argv[:1] == ["figures"]:
        from .figures import main as figures

        return figures(argv[1:])
    if argv[:1] == ["book"]:
        from .book import main as book

        return book(argv[1:])
    if argv[:1] == ["handout"]:
        from .handout import main as handout

        return handout(argv[1:])
    print(USAGE, file=sys.stderr)
    return 2
