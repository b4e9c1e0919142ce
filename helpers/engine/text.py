"""Bilingual strings, the language setting and the project's glossary (every notebook uses these).

The setting is "both" (Japanese then English), "ja" or "en". It comes from `set_language`, else from
the environment variable TRAINING_FLOW_LANG, else "both".
"""

from __future__ import annotations

import os
import unicodedata

LANGUAGES = ("both", "ja", "en")
LANG_ENV = "TRAINING_FLOW_LANG"

_chosen: str | None = None

# One glossary for the whole series: key -> (日本語, English).
GLOSSARY: dict[str, tuple[str, str]] = {
    "inference": ("推論", "inference"),
    "training": ("学習", "training"),
    "training_data": ("学習データ", "training data"),
    "ground_truth": ("正解データ", "ground truth"),
    "target": ("正解ラベル", "target"),
    "input": ("入力", "input"),
    "model": ("モデル", "model"),
    "prediction": ("予測", "prediction"),
    "forward": ("順伝播", "forward pass"),
    "loss": ("損失", "loss"),
    "loss_function": ("損失関数", "loss function"),
    "backprop": ("逆伝播", "backpropagation"),
    "backprop_method": ("誤差逆伝播法", "the backpropagation algorithm"),
    "finite_differences": ("数値微分", "finite differences"),
    "gradient": ("勾配", "gradient"),
    "optimization": ("最適化", "optimization"),
    "optimizer": ("オプティマイザ", "optimizer"),
    "update": ("更新", "update"),
    "weight": ("重み", "weight"),
    "bias": ("バイアス", "bias"),
    "parameter": ("パラメータ", "parameter"),
    "parameters": ("パラメータ(重み + バイアス)", "parameters (weights + biases)"),
    "learning_rate": ("学習率", "learning rate"),
    "epoch": ("エポック", "epoch"),
    "batch": ("バッチ", "batch"),
    "batch_size": ("バッチサイズ", "batch size"),
    "mini_batch": ("ミニバッチ", "mini-batch"),
    "metric": ("評価指標", "metric"),
    "accuracy": ("正解率", "accuracy"),
    "overfitting": ("過学習", "overfitting"),
    "activation": ("活性値", "activation"),
    "convolution": ("畳み込み", "convolution"),
    "filter": ("フィルタ", "filter"),
    "matrix": ("行列", "matrix"),
    "matmul": ("行列積", "matrix multiplication"),
    "quantization": ("量子化", "quantization"),
    "device": ("デバイス", "device"),
}


def _check(lang: str) -> str:
    if lang not in LANGUAGES:
        raise ValueError(
            f"言語は {', '.join(LANGUAGES)} のどれかです(指定: {lang!r})。\n"
            f"The language must be one of {', '.join(LANGUAGES)} (got {lang!r})."
        )
    return lang


def get_language() -> str:
    """The language setting now in force: "both", "ja" or "en"."""
    return _check(_chosen or os.environ.get(LANG_ENV) or "both")


def set_language(lang: str | None) -> str:
    """Choose "both", "ja" or "en"; None goes back to the environment's choice."""
    global _chosen
    _chosen = None if lang is None else _check(lang)
    return get_language()


def bi(ja: str, en: str, sep: str = " / ") -> str:
    """A short label in the chosen language(s), e.g. "損失 / loss"."""
    lang = get_language()
    if lang == "ja":
        return ja
    if lang == "en":
        return en
    return f"{ja}{sep}{en}"


def bilines(ja: str, en: str) -> str:
    """A message or paragraph: Japanese line(s), then English line(s)."""
    return bi(ja, en, sep="\n")


def say(ja: str, en: str) -> None:
    """Print a result in the chosen language(s), each language on its own line (Japanese first)."""
    print(bilines(ja, en))


def term(key: str) -> str:
    """A glossary term in the chosen language(s): term("loss") -> "損失 / loss"."""
    try:
        ja, en = GLOSSARY[key]
    except KeyError:
        raise KeyError(
            bilines(f"用語集に {key!r} はありません。", f"{key!r} is not in the glossary.")
        ) from None
    return bi(ja, en)


def display_width(text: str) -> int:
    """Columns text takes in a fixed-width font: Japanese (wide) characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def labelled(key: str, ja: str, en: str) -> str:
    """A choice "a: ..." with each language on its own line (the English under the Japanese)."""
    lang = get_language()
    if lang == "both":
        return f"{key}: {ja}\n{' ' * (display_width(key) + 2)}{en}"
    return f"{key}: {ja if lang == 'ja' else en}"


def text_table(columns: list[tuple[str, str]], rows: list[list[str]], *, left: int = 0) -> str:
    """A plain-text table: one header line per chosen language, then the rows, so each number is
    printed once. columns: (Japanese, English) headers; the first `left` columns align left."""
    lang = get_language()
    headers = ([[ja for ja, _ in columns]] if lang != "en" else []) + (
        [[en for _, en in columns]] if lang != "ja" else [])
    table = [*headers, *[[str(cell) for cell in row] for row in rows]]
    widths = [max(display_width(row[j]) for row in table) for j in range(len(columns))]

    def fit(text: str, j: int) -> str:
        pad = " " * (widths[j] - display_width(text))
        return text + pad if j < left else pad + text

    return "\n".join("  ".join(fit(text, j) for j, text in enumerate(row)).rstrip() for row in table)


class BilingualError(Exception):
    """An error whose message is written in Japanese and English."""

    def __init__(self, ja: str, en: str):
        self.ja, self.en = ja, en
        super().__init__(bilines(ja, en))
