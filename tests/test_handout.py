import ast
import re
import subprocess
import sys

import nbformat
import pytest
from conftest import ROOT, notebook_paths

from helpers.tools import handout
from helpers.tools.cli import main as cli

NOTEBOOKS = notebook_paths()
JAPANESE_RUN = re.compile(r"[\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff01-\uff60]+")
# A glossary label after a Japanese word, 損失(loss), or a bracketed aside in a Japanese sentence.
GLOSS = re.compile(r"[((][^()()]*[))]")


def accepted_answers() -> set[str]:
    """Japanese words the checkers accept as answers: the Japanese keys of helpers' answer tables
    ({"上がる": "up", ...}). An English instruction may name them ("or the Japanese 入力, ..."),
    just as it names the English answers: they are input values, not prose to translate."""
    words = set()
    for path in (ROOT / "helpers").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if (isinstance(key, ast.Constant) and isinstance(key.value, str)
                            and JAPANESE_RUN.search(key.value) and isinstance(value, ast.Constant)
                            and isinstance(value.value, str) and value.value.isascii()):
                        words.add(key.value)
    return words


ANSWERS = accepted_answers()


def units(markdown):
    """The pieces a reader takes in one at a time: paragraphs, list items, table cells, headings."""
    for block in handout.blocks(markdown):
        if block.lstrip().startswith("```"):
            continue
        if handout.LIST_ITEM.match(block):
            yield from re.split(r"\n(?=\s*(?:[-*+]|\d+\.)\s)", block)
        elif block.lstrip().startswith("|"):
            yield from (cell for line in block.split("\n") for cell in line.split("|"))
        else:
            yield block


def english_only(markdown):
    """Units with English words and no Japanese, code spans, maths, URLs and glosses aside."""
    found = []
    for unit in units(markdown):
        text = GLOSS.sub(" ", handout.bare(unit))
        if handout.ENGLISH_WORD.search(text) and not handout.JAPANESE.search(text):
            found.append(unit)
    return found


def stray_japanese(markdown):
    """Japanese outside code spans and fenced code that is not an accepted answer word."""
    text = handout.CODE_SPAN.sub(" ", handout.FENCE.sub(" ", markdown))
    return [run for run in JAPANESE_RUN.findall(text) if run not in ANSWERS]


def markdown_of(nb):
    return [c.source for c in nb.cells if c.cell_type == "markdown"]


# --- splitting one cell ------------------------------------------------------------------------

CELL = """## 損失 / Loss

**損失**(loss)は外れを1つの数にしたものです。

The **loss** turns the miss into one number.

$$L = (p - y)^2$$

次に平均します。

Then we average.

- 重み<br>
  **Weights**: the model itself.
1. **入力**(input):問題を読む。<br>
   **Input**: read the question.

| 観点 / Aspect | 学習 / Training |
|---|---|
| 重み / Weights | 変わる / change |

Does each weight go up or down? Answer `"up"` (上がる) or `"down"` (下がる); $w - \\text{学習率 (lr)}$."""


def test_japanese_copy_keeps_japanese_and_its_glossary_labels():
    ja = handout.one_language(CELL, "ja")
    assert ja.startswith("## 損失\n\n**損失**(loss)は外れを1つの数にしたもの")
    assert "The **loss**" not in ja and "Then we average" not in ja
    assert "$$L = (p - y)^2$$" in ja  # maths after a pair is shared
    assert "- 重み\n1. **入力**(input):問題を読む。" in ja
    assert "| 観点 | 学習 |" in ja and "| 重み | 変わる |" in ja
    assert english_only(ja) == []


def test_english_copy_keeps_english_without_japanese_glosses():
    en = handout.one_language(CELL, "en")
    assert en.startswith("## Loss\n\nThe **loss** turns the miss into one number.\n\n$$L = (p - y)^2$$")
    assert "- **Weights**: the model itself.\n1. **Input**: read the question." in en
    assert "| Aspect | Training |" in en and "| Weights | change |" in en
    assert 'Answer `"up"` or `"down"`; $w - \\text{lr}$.' in en
    assert stray_japanese(en) == []


def test_maths_between_japanese_paragraphs_stays_with_japanese():
    cell = "行列積で\n\n$$Y = X W^\\top + b$$\n\nと書けます。\n\nIt is one matrix multiplication, $Y = XW^\\top + b$."
    assert "$$Y" in handout.one_language(cell, "ja")
    assert handout.one_language(cell, "en") == "It is one matrix multiplication, $Y = XW^\\top + b$."


def test_fenced_code_is_shared_and_kept_whole():
    cell = "この1行で決めます。\n\nThis one line decides:\n\n```python\nreturn x  # keep\n\ny = 1\n```"
    assert handout.blocks(cell)[-1] == "```python\nreturn x  # keep\n\ny = 1\n```"
    for lang in handout.LANGS:
        assert handout.one_language(cell, lang).endswith("```python\nreturn x  # keep\n\ny = 1\n```")


def test_headings_keep_their_number_and_english_slashes():
    assert handout.pick("00 全体像:推論と学習 / Overview: inference and training", "en") == (
        "00 Overview: inference and training")
    assert handout.pick("1. 目的:育てる と 答える / 1. Purpose: grow vs answer", "en") == (
        "1. Purpose: grow vs answer")
    assert handout.pick("学習と推論のちがい(予告)/ Training vs inference (preview)", "ja") == (
        "学習と推論のちがい(予告)")
    assert handout.pick("学習データ / 正解データ / training data / ground truth", "en") == (
        "training data / ground truth")
    assert handout.split_pair("0.0312 / 0.0045") is None


def test_language_of_a_paragraph():
    assert handout.language("勾配は $-12$ です。") == "ja"
    assert handout.language("ROCm 版の PyTorch は AMD の GPU も `cuda` と呼びます。") == "ja"
    assert handout.language("Use the names (or the Japanese 入力, 順伝播, 損失, 逆伝播, 更新).") == "en"
    assert handout.language("$$\\frac{\\partial L}{\\partial w}$$") is None


def test_nav_cell_in_one_language_and_links_out_of_the_folder():
    nav = ("[目次 / Contents](../README.md#contents) · 前へ / Previous: — · "
           "次へ / Next: [01 入力:問題と正解 / Input: questions and answers](01_input.ipynb)")
    assert handout.nav_line(nav, "en") == (
        "[Contents](../README.md#contents) · Previous: — · "
        "Next: [01 Input: questions and answers](01_input.ipynb)")
    assert handout.nav_line(nav, "ja").endswith("次へ: [01 入力:問題と正解](01_input.ipynb)")
    assert handout.relink("[x](../README.md#contents) [y](01_input.ipynb)", "../../../notebooks") == (
        "[x](../../../README.md#contents) [y](01_input.ipynb)")


def test_handout_copies_and_leaves_the_notebook_alone():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(CELL),
                                         nbformat.v4.new_code_cell('print(helpers.bi("予測", "prediction"))')])
    before = nbformat.writes(nb)
    copy = handout.handout(nb, "en")
    assert nbformat.writes(nb) == before
    assert copy.cells[1].source == nb.cells[1].source  # code is never rewritten
    assert copy.metadata["handout"] == {"lang": "en"}
    with pytest.raises(ValueError, match="ja か en"):
        handout.handout(nb, "fr")


# --- the command ------------------------------------------------------------------------------

def test_unknown_language_is_refused_in_both_languages(tmp_path, capsys):
    assert cli(["handout", "--lang", "fr", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "言語は ja か en を選びます" in err and "Choose the language ja or en (got 'fr')" in err
    assert cli(["handout", "--out", str(tmp_path)]) == 2  # no --lang at all
    assert "使い方 / Usage" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_unknown_language_exit_code_from_the_shell(tmp_path):
    result = subprocess.run([sys.executable, "-m", "helpers", "handout", "--lang", "both", "--out",
                             str(tmp_path)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 2
    assert "Choose the language ja or en" in result.stderr


def test_every_notebook_in_both_languages_leaves_sources_unchanged(tmp_path, monkeypatch):
    before = {p: p.read_bytes() for p in NOTEBOOKS}
    monkeypatch.chdir(ROOT)
    for lang in handout.LANGS:
        assert cli(["handout", "--lang", lang, "--out", str(tmp_path)]) == 0
        assert sorted(p.name for p in (tmp_path / lang).iterdir()) == [p.name for p in NOTEBOOKS]
    assert before == {p: p.read_bytes() for p in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_japanese_copy_has_no_english_only_paragraph(path):
    nb = handout.handout(nbformat.read(path, as_version=4), "ja")
    leaks = [unit for source in markdown_of(nb) for unit in english_only(source)]
    assert leaks == [], f"{path.name}: English left in the Japanese copy: {leaks[:3]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_english_copy_has_no_japanese(path):
    nb = handout.handout(nbformat.read(path, as_version=4), "en")
    leaks = [run for source in markdown_of(nb) for run in stray_japanese(source)]
    assert leaks == [], f"{path.name}: Japanese left in the English copy: {leaks[:5]}"


def test_answer_words_are_known():
    assert {"学習", "推論", "入力", "上がる", "過学習"} <= ANSWERS


def printed(nb):
    """What the copy's code printed: streams and text results (Feedback, messages)."""
    out = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            out.append(output.get("text", "") + output.get("data", {}).get("text/plain", ""))
    return "\n".join(out)


def test_executed_copies_print_one_language(tmp_path, monkeypatch):
    first = NOTEBOOKS[0]  # 00: small and quick
    before = first.read_bytes()
    monkeypatch.chdir(ROOT)
    for lang in handout.LANGS:
        assert cli(["handout", "--lang", lang, "--out", str(tmp_path), "--execute", str(first)]) == 0
    en = nbformat.read(tmp_path / "en" / first.name, as_version=4)
    ja = nbformat.read(tmp_path / "ja" / first.name, as_version=4)
    en_text, ja_text = printed(en), printed(ja)
    assert "prediction" in en_text and "Hint" in en_text  # bi() labels and the checker's hint
    assert not JAPANESE_RUN.search(en_text), JAPANESE_RUN.findall(en_text)[:5]
    assert "予測" in ja_text and "ヒント" in ja_text
    assert "prediction" not in ja_text and "Hint" not in ja_text
    assert first.read_bytes() == before
