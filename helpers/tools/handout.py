"""`python -m helpers handout --lang ja|en`: one-language copies of the notebooks, to print or hand out.

The bilingual sources are only read. In each copy, markdown keeps one language: the series pairs a
Japanese paragraph with an English one, writes headings and table cells as "日本語 / English" and
list items as "日本語<br>English"; inline glossary labels in Japanese text, 損失(loss), stay. Code
cells are copied unchanged. With --execute the copy is run with TRAINING_FLOW_LANG set, so figure
labels and helper messages (bi(), hints, errors) come out in the chosen language too; without it
the committed, bilingual outputs are kept.
No notebook imports this module: it serves the teacher (docs/teacher_guide.md).
"""

from __future__ import annotations

import argparse
import copy
import os
import posixpath
import re
import sys
from pathlib import Path

import nbformat

from ..engine.text import LANG_ENV
from .nav import is_nav, notebooks

LANGS = ("ja", "en")
DEFAULT_OUT = Path("build") / "handouts"
# Kana, kanji, and the full-width punctuation Japanese text uses (、。:() 「」 〜).
JAPANESE = re.compile(r"[\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff01-\uff60]")
KANA_KANJI = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")
SENTENCE_MARKS = re.compile(r"[。、「」]")
ENGLISH_WORD = re.compile(r"\b[A-Za-z]{2,}\b")
CODE_SPAN = re.compile(r"`[^`\n]*`")
FENCE = re.compile(r"```.*?```", re.S)
MATH = re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$", re.S)
URL = re.compile(r"\]\([^)\s]*\)|https?://\S+|<[^>\n]+>")
# A Japanese gloss in brackets, "up" (上がる): it says nothing about the language around it.
GLOSS = re.compile(r"[((][^()()a-zA-Z]*[))]")
LIST_ITEM = re.compile(r"^(\s*)([-*+]|\d+\.)\s+")
# A Japanese paragraph holds about three characters for each word of its English twin.
CHARS_PER_WORD = 3


def bare(text: str) -> str:
    """Text without code spans, maths, URLs and tags: what decides a paragraph's language."""
    for pattern in (FENCE, CODE_SPAN, MATH, URL):
        text = pattern.sub(" ", text)
    return text


def language(text: str) -> str | None:
    """"ja", "en", or None for a paragraph with no words (maths, code, numbers)."""
    text = GLOSS.sub(" ", bare(text))
    ja, en = len(KANA_KANJI.findall(text)), len(ENGLISH_WORD.findall(text))
    if ja == 0 and en == 0:
        return None
    if SENTENCE_MARKS.search(text):  # 。、「」 end and join Japanese sentences, never English ones
        return "ja"
    return "ja" if ja / CHARS_PER_WORD >= en else "en"


def split_pair(text: str) -> tuple[str, str] | None:
    """"日本語 / English" -> ("日本語", "English"); None when text is not such a pair.

    The split is the first slash with Japanese before it and none after, so an English side may
    hold slashes of its own. A leading number ("00 ", "1. ") is kept on both sides.
    """
    for match in re.finditer(r"/", text):
        left, right = text[:match.start()].rstrip(), text[match.end():].strip()
        if JAPANESE.search(left) and right and not JAPANESE.search(right) and ENGLISH_WORD.search(right):
            number = re.match(r"\d\d |\d+\. ", left)  # "00 " (a title) or "1. " (a numbered heading)
            if number and not right.startswith(number.group()):
                right = number.group() + right
            return left, right
    return None


def pick(text: str, lang: str) -> str:
    pair = split_pair(text)
    return text if pair is None else pair[LANGS.index(lang)]


def _outside_code(text: str, change) -> str:
    """Apply change to the text between code spans, never inside them."""
    parts = re.split(r"(`[^`\n]*`)", text)
    return "".join(p if p.startswith("`") else change(p) for p in parts)


def _english_only(text: str) -> str:
    """Drop the Japanese glosses an English sentence carries: "up" (上がる) -> "up",
    \\text{学習率 (lr)} -> \\text{lr}."""
    def change(part: str) -> str:
        part = re.sub(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]+\s?[((]([^()()]*?)[))]",
                      lambda m: m.group(1) if not JAPANESE.search(m.group(1)) else m.group(0), part)
        return re.sub(r"\s?[((]([^()()]*)[))]",
                      lambda m: "" if JAPANESE.search(m.group(1)) and not ENGLISH_WORD.search(m.group(1))
                      else m.group(0), part)

    return _outside_code(text, change)


def blocks(source: str) -> list[str]:
    """Markdown split at blank lines, a fenced code block or $$ maths block kept whole."""
    out, current, fence = [], [], None
    for line in source.split("\n"):
        stripped = line.strip()
        if fence:
            current.append(line)
            if stripped.startswith("```") if fence == "```" else stripped.endswith("$$"):
                fence = None
            continue
        if stripped.startswith("```"):
            fence = "```"
        elif stripped.startswith("$$") and not (len(stripped) > 2 and stripped.endswith("$$")):
            fence = "$$"
        elif not stripped:
            if current:
                out.append("\n".join(current))
                current = []
            continue
        current.append(line)
    if current:
        out.append("\n".join(current))
    return out


def _heading(line: str, lang: str) -> str:
    hashes, _, title = line.partition(" ")
    return f"{hashes} {pick(title, lang)}"


def _list(block: str, lang: str) -> str | None:
    items: list[list[str]] = []
    for line in block.split("\n"):
        if LIST_ITEM.match(line) or not items:
            items.append([line])
        else:
            items[-1].append(line)
    out = []
    for item in items:
        text = "\n".join(item)
        marker = LIST_ITEM.match(text)
        prefix, body = (marker.group(), text[marker.end():]) if marker else ("", text)
        if "<br>" in body:
            ja, en = body.split("<br>", 1)
            chosen = ja if lang == "ja" else en
            out.append(prefix + " ".join(chosen.split()) if lang == "en" else prefix + chosen.strip())
        elif language(body) in (None, lang):
            out.append(text)
    return "\n".join(out) if out else None


def _table(block: str, lang: str) -> str:
    rows = []
    for line in block.split("\n"):
        cells = line.split("|")
        rows.append("|".join(f" {pick(c.strip(), lang)} " if c.strip() else c for c in cells).strip())
    return "\n".join(rows)


def one_language(source: str, lang: str) -> str:
    """A bilingual markdown cell with only lang kept (see the module docstring)."""
    parts = blocks(source)
    kinds = []  # "ja", "en", None (neutral) or "both" (a heading, list or table: split inside)
    for part in parts:
        first = part.lstrip()
        if first.startswith("```"):
            kinds.append(None)
        elif first.startswith(("#", "|")) or LIST_ITEM.match(part):
            kinds.append("both")
        else:
            kinds.append(language(part))
    out = []
    for i, (part, kind) in enumerate(zip(parts, kinds, strict=True)):
        if kind == "both":
            if part.lstrip().startswith("#"):
                head, _, rest = part.partition("\n")
                text = _heading(head, lang)
                if rest.strip():
                    rest = one_language(rest, lang)
                    text = f"{text}\n{rest}" if rest else text
            elif part.lstrip().startswith("|"):
                text = _table(part, lang)
            else:
                text = _list(part, lang)
        elif kind is None:
            # Maths or code between two paragraphs of the other language belongs to that language;
            # anywhere else (between a pair and the next, or after both) it is shared.
            before = next((k for k in reversed(kinds[:i]) if k in LANGS), None)
            after = next((k for k in kinds[i + 1:] if k in LANGS), None)
            other = LANGS[1 - LANGS.index(lang)]
            text = None if before == after == other else part
        else:
            text = part if kind == lang else None
        if text and lang == "en" and not part.lstrip().startswith("```"):
            text = _english_only(text)
        if text:
            out.append(text)
    return "\n\n".join(out)


def nav_line(source: str, lang: str) -> str:
    """The nav cell's "目次 / Contents · 前へ / Previous: … · 次へ / Next: …" in one language."""
    segments = []
    for segment in source.split(" · "):
        segment = re.sub(r"\[([^\]]+)\]", lambda m: f"[{pick(m.group(1), lang)}]", segment)
        label = re.match(r"([^\[]+?) / ([A-Za-z ]+)(:.*)$", segment, re.S)
        if label:
            segment = (label.group(1) if lang == "ja" else label.group(2)) + label.group(3)
        segments.append(segment)
    return " · ".join(segments)


def relink(source: str, up: str) -> str:
    """Point links that leave notebooks/ ("../README.md") at the same file from the handout's folder."""
    return re.sub(r"\]\((\.\./[^)\s]+)\)", lambda m: f"]({posixpath.normpath(posixpath.join(up, m.group(1)))})",
                  source)


def handout(nb, lang: str, up: str | None = None):
    """A one-language copy of a notebook; nb itself is left as it was."""
    if lang not in LANGS:
        raise ValueError(refusal(lang))
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        cell.source = nav_line(cell.source, lang) if is_nav(cell) else one_language(cell.source, lang)
        if up is not None:
            cell.source = relink(cell.source, up)
    nb.metadata["handout"] = {"lang": lang}
    return nb


def execute(nb, lang: str, folder: Path, timeout: int = 600):
    """Run the copy in a fresh kernel whose helpers speak lang only (TRAINING_FLOW_LANG)."""
    from nbclient import NotebookClient

    kernel = nb.metadata.get("kernelspec", {}).get("name", "python3")
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel, record_timing=False,
                            resources={"metadata": {"path": str(folder)}})
    client.execute(env={**os.environ, LANG_ENV: lang})
    return nb


def refusal(lang: str) -> str:
    return (f"言語は ja か en を選びます(指定: {lang!r})。\n"
            f"Choose the language ja or en (got {lang!r}).")


USAGE = ("使い方 / Usage: python -m helpers handout --lang ja|en [--out build/handouts] [--execute] "
         "[notebooks...]")


class _Refused(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _Refused(message)


def main(argv: list[str]) -> int:
    parser = _Parser(prog="python -m helpers handout", add_help=False)
    parser.add_argument("--lang", required=True)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--execute", action="store_true")
    parser.add_argument("notebooks", nargs="*", type=Path)
    try:
        args = parser.parse_args(argv)
    except _Refused as err:
        print(f"{USAGE}\n引数がちがいます / bad arguments: {err}", file=sys.stderr)
        return 2
    if args.lang not in LANGS:
        print(refusal(args.lang), file=sys.stderr)
        return 2
    root = Path.cwd()
    paths = args.notebooks or notebooks(root)
    missing = [p for p in paths if not p.is_file()]
    if missing:
        print(f"ノートブックがありません / no such notebook: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    folder = args.out / args.lang
    folder.mkdir(parents=True, exist_ok=True)
    for path in paths:
        up = Path(os.path.relpath(path.resolve().parent, folder.resolve())).as_posix()
        nb = handout(nbformat.read(path, as_version=4), args.lang, up)
        if args.execute:
            try:
                execute(nb, args.lang, path.resolve().parent)
            except Exception as err:  # a cell failed: say which notebook, keep the others going
                print(f"実行に失敗 / execution failed: {path.name}\n{err}", file=sys.stderr)
                return 1
        target = folder / path.name
        nbformat.write(nb, target)
        print(f"書き出し / wrote: {target}")
    return 0
