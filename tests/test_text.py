import pytest

from helpers.engine import text


def test_default_is_both_languages_japanese_first():
    assert text.get_language() == "both"
    assert text.bi("損失", "loss") == "損失 / loss"
    assert text.bilines("損失", "loss") == "損失\nloss"


@pytest.mark.parametrize("lang, expected", [("ja", "損失"), ("en", "loss")])
def test_one_language(lang, expected):
    text.set_language(lang)
    assert text.bi("損失", "loss") == expected
    assert text.term("loss") == expected


def test_environment_variable_sets_language(monkeypatch):
    monkeypatch.setenv(text.LANG_ENV, "en")
    assert text.bi("学習", "training") == "training"
    text.set_language("ja")  # an explicit choice wins over the environment
    assert text.bi("学習", "training") == "学習"
    text.set_language(None)
    assert text.get_language() == "en"


def test_unknown_language_is_refused_in_both_languages():
    with pytest.raises(ValueError) as err:
        text.set_language("fr")
    assert "言語" in str(err.value) and "language" in str(err.value)


def test_unknown_term_names_itself():
    with pytest.raises(KeyError, match="lossy"):
        text.term("lossy")


def test_bilingual_error_carries_both():
    err = text.BilingualError("デバイスがありません", "no device")
    assert err.ja == "デバイスがありません" and err.en == "no device"
    assert str(err) == "デバイスがありません\nno device"


# The series' core terms, as its writing conventions list them: every one must be in the glossary.
SEED = [
    ("推論", "inference"), ("学習", "training"), ("学習データ", "training data"),
    ("正解データ", "ground truth"), ("順伝播", "forward pass"), ("損失", "loss"),
    ("損失関数", "loss function"), ("逆伝播", "backpropagation"), ("勾配", "gradient"),
    ("最適化", "optimization"), ("オプティマイザ", "optimizer"), ("重み", "weight"),
    ("パラメータ", "parameter"), ("学習率", "learning rate"), ("エポック", "epoch"),
    ("過学習", "overfitting"), ("活性値", "activation"), ("畳み込み", "convolution"),
    ("フィルタ", "filter"), ("行列", "matrix"), ("行列積", "matrix multiplication"),
    ("量子化", "quantization"),
]


def test_glossary_holds_every_core_term():
    pairs = set(text.GLOSSARY.values())
    for pair in SEED:
        assert pair in pairs, pair


def test_glossary_is_one_to_one():
    values = list(text.GLOSSARY.values())
    assert len({ja for ja, _ in values}) == len(values)
    assert len({en for _, en in values}) == len(values)


def test_display_width_counts_japanese_as_two_columns():
    from helpers.engine.text import display_width

    assert display_width("loss") == 4
    assert display_width("損失 / loss") == 11
    assert display_width("\uff08バッチ\uff09") == 10  # full-width parentheses are wide too


def test_say_prints_each_language_on_its_own_line(capsys):
    text.set_language("both")
    text.say("損失は 0.2500 です。", "The loss is 0.2500.")
    assert capsys.readouterr().out == "損失は 0.2500 です。\nThe loss is 0.2500.\n"
    text.set_language("en")
    text.say("損失は 0.2500 です。", "The loss is 0.2500.")
    assert capsys.readouterr().out == "The loss is 0.2500.\n"
    text.set_language(None)


def test_labelled_and_text_table_give_each_language_its_own_line():
    from helpers.engine import text
    try:
        text.set_language("both")
        assert text.labelled("a", "重み", "weights") == "a: 重み\n   weights"
        table = text.text_table([("行", "row"), ("損失", "loss")], [["1", "0.5000"], ["12", "0.2500"]], left=1)
        assert table.splitlines() == ["行     損失", "row    loss", "1    0.5000", "12   0.2500"]
        text.set_language("ja")
        assert text.labelled("a", "重み", "weights") == "a: 重み"
        assert text.text_table([("損失", "loss")], [["0.5"]]).splitlines() == ["損失", " 0.5"]
        text.set_language("en")
        assert text.text_table([("損失", "loss")], [["0.5"]]).splitlines() == ["loss", " 0.5"]
    finally:
        text.set_language(None)
