"""`python -m helpers figures`: every committed figure of the series on one page, for a teacher or a
reviewer to see all the pictures at once (build/figures/index.html, opened from disk, no network).

It reads the notebooks as committed (nothing is re-run) and copies each PNG output to a file.
"""

from __future__ import annotations

import argparse
import base64
import html
from pathlib import Path

import nbformat

from .nav import notebooks, title
from .slides import shown_png_size

DEFAULT_OUT = Path("build") / "figures"


def figures(nb) -> list[tuple[int, str, bool, tuple[int, int]]]:
    """(cell number from 1, base64 PNG, whether it stands in for a slider, the size it is shown at) for
    every picture in nb."""
    found = []
    for number, cell in enumerate(nb.cells, start=1):
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "image/png" in data:
                png = "".join(data["image/png"]).replace("\n", "")
                found.append((number, png, "application/vnd.jupyter.widget-view+json" in data,
                              shown_png_size(output)))
    return found


PAGE = """<!DOCTYPE html>
<html lang="ja">
<head>
<meta charset="utf-8">
<title>図の一覧 / Every figure</title>
<style>
body {{ font-family: "IPAexGothic", "Noto Sans CJK JP", sans-serif; margin: 1.5rem; color: #222; }}
h2 {{ margin-top: 2.5rem; border-bottom: 1px solid #ccc; }}
.sheet {{ display: flex; flex-wrap: wrap; gap: 1rem; align-items: flex-start; }}
figure {{ margin: 0; max-width: 48%; }}
figure img {{ max-width: 100%; height: auto; border: 1px solid #ddd; }}
figcaption {{ font-size: 0.9rem; color: #555; }}
</style>
</head>
<body>
<h1>図の一覧 / Every figure</h1>
<p>{count} 枚の図(ノートブックに保存された出力)/ {count} figures, as saved in the notebooks</p>
{sections}
</body>
</html>
"""


def build(paths, out: Path) -> tuple[Path, int]:
    """Write out/index.html and one PNG per figure; returns (the page, how many figures)."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.png"):
        old.unlink()
    sections, count = [], 0
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        items = []
        for number, png, slider, (width, height) in figures(nb):
            name = f"{path.stem}_cell{number:02d}.png"
            (out / name).write_bytes(base64.b64decode(png))
            kind = "スライダーの保存画像 / a slider's saved picture" if slider else "図 / figure"
            items.append(f'<figure><img src="{name}" width="{width}" height="{height}" alt="{html.escape(name)}">'
                         f"<figcaption>{html.escape(path.name)} · cell {number} · {kind} · "
                         f"{width}×{height} px</figcaption></figure>")
            count += 1
        if items:
            sections.append(f"<h2>{html.escape(title(nb))}</h2>\n<div class=\"sheet\">\n" + "\n".join(items)
                            + "\n</div>")
    page = out / "index.html"
    page.write_text(PAGE.format(count=count, sections="\n".join(sections)), encoding="utf-8")
    return page, count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers figures", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    page, count = build(args.notebooks or notebooks(Path.cwd()), args.out)
    print(f"{count} 枚の図を {page} に書きました。\n{count} figures written to {page}.")
    return 0
