"""Command line: `python -m helpers doctor` (check this machine) or `python -m helpers nav [--check]`."""

import sys

USAGE = ("使い方 / Usage: python -m helpers doctor | python -m helpers nav [--check]")


def main(argv: list[str]) -> int:
    if argv[:1] == ["doctor"]:
        from .doctor import main as doctor

        return doctor()
    if argv[:1] == ["nav"]:
        from .nav import main as nav

        return nav(argv[1:])
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
