"""A Chinese IME types ＝, ＞, （）, ，, fullwidth digits and letters, “curly quotes” and ≥: a segment rule reads
them as their ASCII forms (NFKC outside quoted values), and a value inside quotes stays exactly as typed."""

from __future__ import annotations

import pytest

from console.segments.rules import RuleError, parse, to_text


@pytest.mark.parametrize("typed, plain", [
    ("orders ＞＝ ３ and dormancy ＝ dormant", "orders >= 3 and dormancy = dormant"),
    ("（orders >= 3） and dormancy = dormant", "(orders >= 3) and dormancy = dormant"),
    ("ｏｒｄｅｒｓ ＜ １０", "orders < 10"),
    ("region in （华东，华南）", "region in (华东, 华南)"),
    ("region in (华东、华南)", "region in (华东, 华南)"),
    ("orders ≥ 3 and orders ≤ 9 and dormancy ≠ lost", "orders >= 3 and orders <= 9 and dormancy != lost"),
    ("orders！＝3", "orders != 3"),
    ("dormancy\u3000＝\u3000dormant", "dormancy = dormant"),
    ("ＮＯＴ gender ＝ Ｆ", "not gender = F"),
])
def test_fullwidth_rules_parse_as_their_ascii_forms(typed, plain):
    assert parse(typed) == parse(plain)


@pytest.mark.parametrize("typed, value", [
    ('region = "ＡＢ（１）"', "ＡＢ（１）"),            # inside quotes: as typed
    ("region = 'ｉＰｈｏｎｅ，Ｘ'", "ｉＰｈｏｎｅ，Ｘ"),
    ("region ＝ “上海（浦东）”", "上海（浦东）"),          # curly quotes quote, as " does
    ("region ＝ ‘ＡＢ’", "ＡＢ"),
    ("region ＝ ＂ＡＢ＂", "ＡＢ"),                        # fullwidth " too
    ('region = "他说“好”"', "他说“好”"),
    ("region = '华东、华南'", "华东、华南"),
])
def test_a_quoted_value_stays_as_typed(typed, value):
    assert parse(typed)["value"] == value


def test_a_closing_curly_quote_alone_is_still_part_of_a_word():
    assert parse("region = O’Brien")["value"] == "O’Brien"


def test_an_unquoted_value_is_normalised_too():
    assert parse("region = ｉＰｈｏｎｅ")["value"] == "iPhone"
    assert parse("region in （“华东”，ＡＢ）")["value"] == ["华东", "AB"]


@pytest.mark.parametrize("typed, column, words", [
    ("orders >= 3 。", 13, "found '。' — '。' (U+3002) is a Chinese punctuation mark"),
    ("region = 【VIP】 and x = 1", 20, "no field 'x'"),
    ("region = “上海", 10, "this quote is never closed"),
    ("ｏｒｄｅｒ >= 3", 1, "no field 'order'"),
])
def test_errors_still_point_at_the_column_as_typed(typed, column, words):
    with pytest.raises(RuleError) as caught:
        parse(typed)
    assert caught.value.column == column and words in caught.value.message


@pytest.mark.parametrize("typed", ['region = "ＡＢ（１）"', "region in (“华东、华南”, ‘≥’, 'x＂y')", "region = ｉＰｈｏｎｅ"])
def test_the_canonical_text_reads_back_as_the_same_rule(typed):
    rule = parse(typed)
    assert parse(to_text(rule)) == rule
