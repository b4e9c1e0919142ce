"""`python -m helpers doctor | nav | slides | handout`: see helpers.tools.cli."""

import sys

from .tools.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
