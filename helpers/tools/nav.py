"""`python -m helpers nav [--check]`: writes each notebook's navigation cell and README's contents list.

The second cell of every notebook is generated (prev · contents · next), as is the list between the
contents markers in README.md. Running it twice changes nothing; `--check` changes nothing and exits
1 when a file is out of date, naming it.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

NOTEBOOK_NAME = re.compile(r"^(\d\d)_[a-z0-9_]+\.ipynb$")
NAV_TAG = "nav"
START, END = "<!-- contents:start -->", "<!-- contents:end -->"
CONTENTS_LINK = "../README.md#contents"


def notebooks(root: Path) -> list[Path]:
    return sorted(p for p in (root / "notebooks").glob("*.ipynb") if NOTEBOOK_NAME.match(p.name))


def title(nb) -> str:
    """The notebook's title: the first "# " heading of its first cell."""
    for line in nb.cells[0].source.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    raise ValueError(f"first cell has no '# ' title: {nb.cells[0].source[:60]!r}")


def nav_source(titles: list[str], paths: list[Path], i: int) -> str:
    def link(j):
        if 0 <= j < len(paths):
            return f"[{titles[j]}]({paths[j].name})"
        return "—"

    return (f"[目次 / Contents]({CONTENTS_LINK}) · 前へ / Previous: {link(i - 1)}"
            f" · 次へ / Next: {link(i + 1)}")


def is_nav(cell) -> bool:
    return cell.cell_type == "markdown" and NAV_TAG in cell.get("metadata", {}).get("tags", [])


def with_nav(nb, source: str):
    """The notebook with its nav cell (second cell) set to source."""
    if len(nb.cells) > 1 and is_nav(nb.cells[1]):
        nb.cells[1].source = source
    else:
        cell = nbformat.v4.new_markdown_cell(source, metadata={"tags": [NAV_TAG]})
        cell.id = "nav"
        nb.cells.insert(1, cell)
    return nb


def contents(titles: list[str], paths: list[Path]) -> str:
    return "\n".join(f"- [{t}](notebooks/{p.name})" for t, p in zip(titles, paths, strict=True))


def with_contents(readme: str, listing: str) -> str:
    if START not in readme or END not in readme:
        raise ValueError(f"README.md needs the markers {START} and {END}")
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{listing}\n{END}{tail}"


def planned(root: Path) -> dict[Path, str]:
    """Every file nav would write, with the text it would hold."""
    paths = notebooks(root)
    books = [nbformat.read(p, as_version=4) for p in paths]
    titles = [title(nb) for nb in books]
    out = {}
    for i, (path, nb) in enumerate(zip(paths, books, strict=True)):
        out[path] = nbformat.writes(with_nav(nb, nav_source(titles, paths, i))) + "\n"
    readme = root / "README.md"
    out[readme] = with_contents(readme.read_text(encoding="utf-8"), contents(titles, paths))
    return out


def stale(root: Path) -> list[Path]:
    """Files that nav would change."""
    return [p for p, text in planned(root).items() if p.read_text(encoding="utf-8") != text]


def write_or_check(root: Path, wanted: dict[Path, str], check: bool, what: str, fix: str) -> int:
    """Write each file whose text differs from wanted, or with check only name them (exit 1)."""
    changed = [p for p, text in wanted.items() if p.read_text(encoding="utf-8") != text]
    for path in changed:
        if check:
            print(f"{what}: {path.relative_to(root)}")
        else:
            path.write_text(wanted[path], encoding="utf-8")
            print(f"更新 / updated: {path.relative_to(root)}")
    if check and changed:
        print(f"直し方 / Fix: {fix}")
    return 1 if check and changed else 0


def main(argv: list[str]) -> int:
    root = Path.cwd()
    return write_or_check(root, planned(root), "--check" in argv,
                          "ナビゲーションが古い / navigation out of date", "make nav")
