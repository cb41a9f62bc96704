"""SMS length and billed parts at the boundaries DOMAIN.md names, in both counting modes."""

from __future__ import annotations

import pytest

from console.config import config_from_dict
from console.sms_length import measure, sms_settings

SIG = "【品牌】"        # 4 characters
OPT = "拒收请回复R"     # 6 characters


def codes(m):
    return {w.code for w in m.warnings}


@pytest.mark.parametrize(
    ("total", "parts"),
    [(11, 1), (70, 1), (71, 2), (134, 2), (135, 3), (160, 3), (201, 3), (202, 4), (500, 8)],
)
def test_china_counts_signature_content_and_opt_out(total, parts):
    content = "好" * (total - len(SIG) - len(OPT))
    units, got_parts, encoding, _ = measure(content, "cn", SIG, OPT)
    assert (units, got_parts, encoding) == (total, parts, "cn")


def test_china_over_500_characters_is_warned():
    m = measure("好" * 491, "cn", SIG, OPT)
    assert m.units == 501 and m.parts == 8
    assert "over_500" in codes(m)


def test_china_every_character_counts_one_even_an_emoji_at_the_boundary():
    # 69 characters + one emoji = 70: still one message, but the operator is warned about the emoji.
    m = measure("好" * (70 - 10 - 1) + "😀", "cn", SIG, OPT)
    assert (m.units, m.parts) == (70, 1)
    assert "emoji" in codes(m)
    m = measure("好" * (70 - 10) + "😀", "cn", SIG, OPT)
    assert (m.units, m.parts) == (71, 2)


@pytest.mark.parametrize(
    ("n", "parts"), [(153, 1), (154, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)])
def test_gsm7_single_160_then_153_per_part(n, parts):
    m = measure("a" * n, "gsm")
    assert (m.units, m.parts, m.encoding) == (n, parts, "gsm7")
    assert "ucs2" not in codes(m)


def test_gsm7_extension_character_costs_two_at_the_160_boundary():
    assert measure("a" * 158 + "€", "gsm")[:3] == (160, 1, "gsm7")
    assert measure("a" * 159 + "€", "gsm")[:3] == (161, 2, "gsm7")
    assert measure("a" * 157 + "{}", "gsm")[:2] == (161, 2)


def test_gsm7_extension_character_is_not_split_across_parts():
    # 152 + 2 + 152 = 306 units = exactly 2 x 153, but the escape pair cannot straddle parts: 3 parts.
    m = measure("a" * 152 + "€" + "a" * 152, "gsm")
    assert (m.units, m.parts) == (306, 3)
    # Moved one to the left it fits: 151 + 2 = 153, then 153.
    assert measure("a" * 151 + "€" + "a" * 153, "gsm")[:2] == (306, 2)


@pytest.mark.parametrize(("n", "parts"), [(67, 1), (68, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)])
def test_ucs2_single_70_then_67_per_part(n, parts):
    m = measure("好" * n, "gsm")
    assert (m.units, m.parts, m.encoding) == (n, parts, "ucs2")
    assert "ucs2" in codes(m)


def test_emoji_costs_two_ucs2_units_at_the_70_boundary():
    assert measure("a" * 68 + "😀", "gsm")[:3] == (70, 1, "ucs2")
    assert measure("a" * 69 + "😀", "gsm")[:3] == (71, 2, "ucs2")
    # Surrogate pair not split: 66 + 2 straddles the first 67-unit part.
    assert measure("a" * 66 + "😀" + "a" * 66, "gsm")[:2] == (134, 3)


def test_curly_quote_silently_forces_ucs2_and_the_warning_says_what_to_type():
    m = measure("It\u2019s been a while! " + "a" * 100, "gsm")
    assert m.encoding == "ucs2" and m.parts == 2
    warning = next(w for w in m.warnings if w.code == "ucs2")
    assert "replace" in warning and "'" in warning
    assert measure("It's been a while! " + "a" * 100, "gsm").parts == 1


def test_gsm_mode_counts_signature_and_opt_out_too():
    m = measure("a" * 130, "gsm", "Brand: ", " Reply STOP to opt out")
    assert m.units == 130 + 7 + 22 and m.parts == 1
    m = measure("a" * 132, "gsm", "Brand: ", " Reply STOP to opt out")
    assert m.units == 161 and m.parts == 2


def test_links_wording_and_missing_opt_out_are_warned():
    m = measure("好久不见，送您优惠券 https://b.example/x", "cn", SIG, "")
    assert {"link", "provider_wording", "no_opt_out"} <= codes(m)
    assert not codes(measure("好久不见", "cn", SIG, OPT))


def test_settings_default_to_china_mode_with_brand_signature():
    cfg = config_from_dict({"workspace": {"brand": "小店"}})
    s = sms_settings(cfg)
    assert (s.mode, s.signature, s.opt_out, s.price) == ("cn", "【小店】", "拒收请回复R", 0.04)
    cfg = config_from_dict({"workspace": {"locale": "en_US", "brand": "Shop"},
                            "channels": {"sms": {"mode": "gsm", "price": 0.0075}}})
    s = sms_settings(cfg)
    assert (s.mode, s.opt_out, s.price) == ("gsm", " Reply STOP to opt out", 0.0075)
