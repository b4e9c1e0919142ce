"""`python -m helpers slides [--check]`: slideshow metadata so that every notebook can be shown with RISE.

Each cell's `metadata.slideshow.slide_type` is set by rule, whatever it held before, so running the
tool twice changes nothing and `--check` (changes nothing, exits 1 naming stale notebooks) can run in
CI, like `python -m helpers nav`. The rules:

- the title cell and every `## ` heading (exercises included) start a slide; `### ` a subslide;
- the nav cell is skipped (its links mean nothing in a slideshow);
- a **ここに注目:** / **Notice:** cell is a fragment: the class looks at the figure first, then the
  teacher reveals what to notice;
- every other cell continues its slide, until a slide would grow taller than `LIMIT` lines on screen:
  then a subslide starts, at the beginning of the beat (idea paragraph → code → notice) that
  overflows, so an idea stays on the same slide as its code.

`estimate_height` measures a cell in lines on screen: wrapped markdown and code lines plus outputs,
a figure counting as its PNG height in lines. `overflowing` names the slides over the limit.
No notebook imports this module: it serves the teacher (docs/teacher_guide.md) and tests/test_slides.py.
"""

from __future__ import annotations

import base64
import math
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import nbformat

from ..engine.text import display_width
from . import nav
from .nav import is_nav, notebooks

SLIDE, SUBSLIDE, FRAGMENT, CONTINUE, SKIP = "slide", "subslide", "fragment", "-", "skip"
# One slide's budget, in lines of about 18 px as estimate_height counts them. RISE does not scroll a
# slide (its default). Measured on all the series' slides in Chromium at 1920x1080 (a full-screen
# slide is 972 px), a slide is about 18 px per line plus 48 px, give or take 35 px (at worst 90):
# 46 lines come to about 880 px, so even the worst estimate still fits the full-screen slide.
LIMIT = 46
COLUMNS = 160  # half-width characters per line on a slide; a Japanese character takes two
CODE_CELL_LINES = 2  # the input box's padding and the gap before the outputs
OUTPUT_LINE = 0.8  # printed output is set tighter than text
PX_PER_LINE = 16  # PNG pixels per line (figures show a little larger than their PNG): 352 px is 22 lines
MAX_FIGURE_WIDTH_PX = 900  # a wider figure is scaled down to the slide's width
WIDGET_LINES = 4  # the sliders above a SliderFigure's picture
NOTICE = re.compile(r"^\*\*(ここに注目|Notice)[::]\*\*")
LINK_TARGET = re.compile(r"\]\([^)]*\)")


def slide_type(cell) -> str | None:
    return cell.get("metadata", {}).get("slideshow", {}).get("slide_type")


def _wrapped(line: str, columns: int = COLUMNS) -> int:
    return max(1, math.ceil(display_width(line) / columns))


def _markdown_height(text: str) -> float:
    lines, fenced = 0.0, False
    for line in text.splitlines():
        shown = LINK_TARGET.sub("]", line).replace("**", "").replace("<br>", "")
        if line.strip().startswith("```"):
            fenced = not fenced
            lines += 0.5  # the code block's padding
        elif fenced:
            lines += 1  # a line of code: "# ..." in a code block is a comment, not a heading
        elif not shown.strip():
            lines += 0.5  # a paragraph gap
        elif line.startswith("# "):
            lines += 2.5 * _wrapped(shown, COLUMNS // 2)  # a title's font is about twice as large
        elif line.startswith("## "):
            lines += 2 * _wrapped(shown, COLUMNS * 2 // 3)
        elif line.startswith("### "):
            lines += 1.5 * _wrapped(shown, COLUMNS * 4 // 5)
        elif line.strip().startswith("$$"):
            lines += 2  # display maths (fractions) stands taller than a line of text
        else:
            lines += _wrapped(shown)
    return lines


def png_size(data: str) -> tuple[int, int]:
    """(width, height) in pixels of a base64 PNG, read from its header."""
    head = base64.b64decode(data[:44])  # the signature and the IHDR chunk
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def shown_png_size(output) -> tuple[int, int]:
    """(width, height) a PNG output is shown at: its metadata's size (a sharper, retina picture), else its pixels."""
    size = output.get("metadata", {}).get("image/png", {})
    if "width" in size and "height" in size:
        return int(size["width"]), int(size["height"])
    return png_size(_text(output["data"]["image/png"]))


def _figure_lines(output) -> int:
    width, height = shown_png_size(output)
    shown = height * min(1.0, MAX_FIGURE_WIDTH_PX / width)
    return math.ceil(shown / PX_PER_LINE)


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _output_height(output) -> float:
    if output.get("output_type") == "stream":
        return OUTPUT_LINE * sum(_wrapped(line) for line in _text(output.get("text", "")).splitlines())
    if output.get("output_type") == "error":
        return OUTPUT_LINE * len(output.get("traceback", []))
    data = output.get("data", {})
    extra = WIDGET_LINES if "application/vnd.jupyter.widget-view+json" in data else 0
    if "image/png" in data:
        return extra + _figure_lines(output)
    if "text/markdown" in data:
        return extra + _markdown_height(_text(data["text/markdown"]))
    if "text/plain" in data:
        return extra + OUTPUT_LINE * sum(_wrapped(line) for line in _text(data["text/plain"]).splitlines())
    return extra


def estimate_height(cell) -> float:
    """How many lines a cell takes on a slide: source lines (wrapped), outputs, figures by pixels."""
    if cell.cell_type == "markdown":
        return _markdown_height(cell.source)
    if cell.cell_type != "code":
        return 0.0
    code = sum(_wrapped(line) for line in cell.source.splitlines()) + CODE_CELL_LINES
    return code + sum(_output_height(o) for o in cell.get("outputs", []))


def _heading(cell) -> str | None:
    if cell.cell_type == "markdown":
        first = cell.source.lstrip().split("\n", 1)[0]
        if first.startswith("#"):
            return first
    return None


def is_notice(cell) -> bool:
    return cell.cell_type == "markdown" and bool(NOTICE.match(cell.source.lstrip()))


def _starts_beat(cells, i: int) -> bool:
    """An idea paragraph after code or a notice: where the next idea → code → notice begins."""
    cell = cells[i]
    if cell.cell_type != "markdown" or _heading(cell) or is_notice(cell) or i == 0:
        return False
    before = cells[i - 1]
    return before.cell_type == "code" or is_notice(before)


def planned_types(nb, limit: float = LIMIT) -> list[str]:
    """The slide type of each cell, by the rules in this module's docstring."""
    cells = nb.cells
    heights = [estimate_height(c) for c in cells]
    types: list[str] = []
    start, height = 0, 0.0  # the current (sub)slide: its first cell and its height so far
    for i, cell in enumerate(cells):
        heading = _heading(cell) or ""
        if is_nav(cell):
            types.append(SKIP)
            continue
        if i == 0 or heading.startswith(("# ", "## ")):
            kind = SLIDE
        elif heading.startswith("### "):
            kind = SUBSLIDE
        else:
            kind = FRAGMENT if is_notice(cell) else CONTINUE
        if kind in (SLIDE, SUBSLIDE):
            start, height = i, heights[i]
        elif height + heights[i] > limit:
            # Move the idea that overflows, with its code, to a subslide of its own; where even
            # that is too tall, the overflowing cell starts the subslide.
            beats = [j for j in range(start + 1, i) if _starts_beat(cells, j)
                     and sum(heights[j:i + 1]) <= limit]
            start = beats[-1] if beats else i
            if start < i:
                types[start] = SUBSLIDE
            else:
                kind = SUBSLIDE
            height = sum(heights[start:i + 1])
        else:
            height += heights[i]
        types.append(kind)
    return types


def with_slides(nb, limit: float = LIMIT):
    """The notebook with every cell's slideshow metadata set by rule."""
    for cell, kind in zip(nb.cells, planned_types(nb, limit), strict=True):
        cell.metadata["slideshow"] = {"slide_type": kind}
    return nb


@dataclass(frozen=True)
class Slide:
    title: str  # the section heading, with "(2)", "(3)" for its later subslides
    first_cell: int
    height: float


def slides(nb) -> list[Slide]:
    """The slides a notebook shows, as its metadata says, each with its estimated height."""
    out: list[Slide] = []
    section, part = "", 1
    title, first, height = None, 0, 0.0
    for i, cell in enumerate(nb.cells):
        kind = slide_type(cell) or CONTINUE
        if kind == SKIP or kind == "notes":
            continue
        heading = _heading(cell)
        if kind in (SLIDE, SUBSLIDE) or title is None:
            if title is not None:
                out.append(Slide(title, first, height))
            if heading:
                section, part = heading.lstrip("#").strip(), 1
                title = section
            else:
                part += 1
                title = f"{section} ({part})"
            first, height = i, 0.0
        height += estimate_height(cell)
    if title is not None:
        out.append(Slide(title, first, height))
    return out


def overflowing(path: Path, limit: float = LIMIT, nb=None) -> list[str]:
    """One line per slide of the notebook that is taller than limit: notebook, slide, size."""
    nb = nb if nb is not None else nbformat.read(path, as_version=4)
    return [f"{path.name}: {s.title!r} (cell {s.first_cell}) is {s.height:.0f} lines, over {limit:g}"
            for s in slides(nb) if s.height > limit]


def missing_metadata(nb) -> list[int]:
    """Indexes of the cells without slideshow metadata."""
    return [i for i, cell in enumerate(nb.cells) if slide_type(cell) is None]


def planned(root: Path) -> dict[Path, str]:
    """Every notebook with the text it would hold once its slide metadata is set."""
    return {path: nbformat.writes(with_slides(nbformat.read(path, as_version=4))) + "\n"
            for path in notebooks(root)}


def stale(root: Path) -> list[Path]:
    """Notebooks whose slide metadata is missing or out of date."""
    return [p for p, text in planned(root).items() if p.read_text(encoding="utf-8") != text]


def main(argv: list[str]) -> int:
    root = Path.cwd()
    return nav.write_or_check(root, planned(root), "--check" in argv,
                              "スライド設定が古い / slide metadata out of date", "make slides")
