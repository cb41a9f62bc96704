"""The rule language: parsing, errors that point at the column, compiling, and values that stay data."""

from __future__ import annotations

import pytest

from console import segments
from console.config import Config
from console.errors import BadInput
from console.profiles import refresh
from console.segments.rules import RuleError, parse, to_text, validate
from tests import segments_support as hand
from tests.segments_support import AS_OF


def test_the_example_from_the_command_line_contract():
    rule = parse("dormancy = dormant and orders >= 3 and region in (华东, 华南)")
    assert rule == {"and": [
        {"field": "dormancy", "op": "=", "value": "dormant"},
        {"field": "orders", "op": ">=", "value": 3},
        {"field": "region", "op": "in", "value": ["华东", "华南"]},
    ]}


def test_precedence_not_then_and_then_or_and_parentheses():
    assert parse("orders > 1 or orders < 5 and gender = F") == {"or": [
        {"field": "orders", "op": ">", "value": 1},
        {"and": [{"field": "orders", "op": "<", "value": 5}, {"field": "gender", "op": "=", "value": "F"}]},
    ]}
    assert parse("(orders > 1 or orders < 5) and not gender = F") == {"and": [
        {"or": [{"field": "orders", "op": ">", "value": 1}, {"field": "orders", "op": "<", "value": 5}]},
        {"not": {"field": "gender", "op": "=", "value": "F"}},
    ]}


def test_quoted_values_operators_and_spellings():
    assert parse('layer = "cold light"')["value"] == "cold light"
    assert parse("region = 'O''Brien'")["value"] == "O'Brien"
    assert parse(r'region = "say \"hi\""')["value"] == 'say "hi"'
    assert parse("dormancy = 'at risk'")["value"] == "at_risk"
    assert parse("DORMANCY == Dormant")["value"] == "dormant"
    assert parse("state <> lost") == {"field": "dormancy", "op": "!=", "value": "lost"}
    assert parse("region not in (华东)")["op"] == "not in"
    assert parse("spend >= 99.5")["value"] == 99.5
    assert parse("consent_sms = granted")["field"] == "consent_sms"
    assert parse("attr.vip = gold")["field"] == "attr.vip"
    assert parse("all") == {"all": True}


@pytest.mark.parametrize("text", [
    "dormancy = dormant and orders >= 3 and region in (华东, 华南)",
    'layer = "cold light" or not (orders < 2 and gender != F)',
    "not not region = x",
    "days_since_last_order >= 90 and consent_sms = granted",
    'region in ("a b", c) and grid = "Can\'t Lose"',
])
def test_text_round_trips(text):
    rule = parse(text)
    assert parse(to_text(rule)) == rule
    assert validate(rule) == rule


@pytest.mark.parametrize("text, column, words", [
    ("ordes >= 3", 1, "did you mean orders"),
    ("dormancy = domant", 12, "dormancy has no value 'domant'"),
    ("orders >= lots", 11, "orders is a number"),
    ("orders >=", 10, "expected a value for orders"),
    ("dormancy > dormant", 10, "use =, !=, in, not in"),
    ("region in (华东, 华南", 18, "expected ',' or ')'"),
    ("region = 'unclosed", 10, "never closed"),
    ("and orders > 1", 1, "expected a field name"),
    ("orders > 1 orders < 3", 12, "expected `and`, `or`"),
    ("orders > 1)", 11, "no matching '('"),
    ("(orders > 1", 12, "expected ')' to close the '(' at column 1"),
    ("", 1, "the rule is empty"),
    ("days_since_last_order >= 1.5", 26, "whole days"),
    ("region ~ x", 8, "expected a comparison after 'region'"),
    ("orders ! 3", 8, "unexpected '!'"),
])
def test_parse_errors_point_at_the_column(text, column, words):
    with pytest.raises(RuleError) as info:
        parse(text)
    err = info.value
    assert err.column == column
    assert words in str(err)
    assert err.exit_code == 2


def test_the_caret_sits_under_the_column_even_after_chinese():
    with pytest.raises(RuleError) as info:
        parse("region in (华东, 华南) and ordes > 1")
    lines = str(info.value).splitlines()
    rule_line, caret_line = lines[1], lines[2]
    assert rule_line.strip() == "region in (华东, 华南) and ordes > 1"
    # 华东 and 华南 take two terminal columns each: the caret is under the o of `ordes`.
    assert caret_line.index("^") == rule_line.index("ordes") + 4


@pytest.fixture
def profiled(db, monkeypatch):
    monkeypatch.setenv("WINBACK_NOW", AS_OF)
    hand.build(db)
    refresh(db, Config())
    return db


def members_of(db, text):
    sql, params = segments.member_ids_query(db, parse(text))
    ids = [r[0] for r in db.execute(sql, params).fetchall()]
    return sorted(r[0] for r in db.execute(
        f"SELECT external_id FROM users WHERE id IN ({','.join('?' * len(ids))})", ids).fetchall())


def test_rules_select_the_expected_users(profiled):
    db = profiled
    assert members_of(db, "dormancy = dormant and orders >= 3 and region in (华东, 华南)") == ["c"]
    assert members_of(db, "dormancy = never_active") == ["a", "b"]
    assert members_of(db, "orders < 1") == ["a", "b"]
    assert members_of(db, "not orders >= 1") == ["a", "b"]
    assert members_of(db, "days_since_last_order >= 90") == ["c", "f"]
    assert members_of(db, "days_since_last_order = 89") == ["d"]
    assert members_of(db, "days_since_last_order < 90") == ["d", "e", "g"]
    assert members_of(db, "not days_since_last_order < 90") == ["a", "b", "c", "f"]
    assert members_of(db, "layer = \"warm light\"") == ["b", "d"]
    assert members_of(db, "top_category = 美妆 or grid = Champions") == ["c", "e"]
    assert members_of(db, "region not in (华东, 华南)") == ["d", "f"]
    assert members_of(db, "all") == list("abcdefg")
    assert segments.count(db, "dormancy = at_risk") == 2


def test_users_imported_after_the_refresh_count_as_never_active(profiled):
    db = profiled
    hand.add_user(db, "late", region="华东")
    assert "late" in members_of(db, "dormancy = never_active")
    assert "late" in members_of(db, "orders = 0 and region = 华东")
    assert "late" not in members_of(db, "dormancy = dormant")


def test_consent_fields_read_the_latest_row(profiled):
    db = profiled
    uid = {r[0]: r[1] for r in db.execute("SELECT external_id, id FROM users")}
    for user, status, at in (("c", "granted", 1), ("c", "withdrawn", 2), ("e", "withdrawn", 1), ("e", "granted", 2)):
        db.execute("INSERT INTO consents (user_id, channel, status, at, source) VALUES (?, 'sms', ?, ?, 'test')",
                   [uid[user], status, at])
    assert members_of(db, "consent_sms = granted") == ["e"]
    assert members_of(db, "consent_sms = withdrawn") == ["c"]
    assert members_of(db, "consent_sms = unknown") == ["a", "b", "d", "f", "g"]


def test_an_injection_attempt_in_a_value_is_only_data(profiled):
    db = profiled
    evil = "华东' OR 1=1; DROP TABLE users; --"
    assert members_of(db, f'region = "{evil}"') == []
    assert db.execute("SELECT count(*) FROM users").fetchone()[0] == 7
    hand.add_user(db, "mallory", region=evil)
    assert members_of(db, f'region = "{evil}"') == ["mallory"]
    assert members_of(db, f"region in ('{evil.replace(chr(39), chr(39) * 2)}')") == ["mallory"]
    # A field name cannot smuggle SQL either: it must be a known name or attr.KEY.
    with pytest.raises(RuleError):
        parse("attr.x') = 1 or ('1 = 1")
    # A stored rule is re-validated before it is compiled.
    with pytest.raises(BadInput, match="no field"):
        segments.count(db, {"field": "1=1) OR (1", "op": "=", "value": 1})


def test_attributes_are_compared_through_a_bound_json_path(profiled):
    db = profiled
    db.execute("UPDATE users SET attributes = ? WHERE external_id = 'b'", ['{"vip": "gold", "level": 3}'])
    db.execute("UPDATE users SET attributes = ? WHERE external_id = 'c'", ['{"vip": "silver", "level": "7"}'])
    assert members_of(db, "attr.vip = gold") == ["b"]
    assert members_of(db, "attr.level >= 3") == ["b", "c"]
    assert members_of(db, "attr.level = 3") == ["b"]


# ---- hostile but small rules (issue 12.4): refused where they cross a limit, never a traceback -----------------

def _alternatives(n: int) -> str:
    return " or ".join(f"orders = {i}" for i in range(n))


def _nested_groups(levels: int) -> str:
    """`and`/`or` groups inside each other, `levels` deep."""
    text = "orders > 1 or orders < 5"
    for i in range(levels - 1):
        text = f"gender = F {'and' if i % 2 == 0 else 'or'} ({text})"
    return text


@pytest.mark.parametrize("text, column, words", [
    ("(" * 3000 + "orders > 1" + ")" * 3000, 33, "nests deeper than 32 levels"),
    ("not " * 3000 + "orders > 1", 129, "nests deeper than 32 levels"),
    ("orders > " + "1" * 25, 10, "too large"),
    ("attr.code = " + "9" * 25, 13, "quote it to compare it as text"),
    ("spend > 1e300", 9, "too large"),
    (_alternatives(3000), _alternatives(201).rindex("orders") + 1, "at most 200 conditions"),
    ("days_since_last_order > 99999999", 25, "at most 100,000"),
    ("days_since_last_order in (" + ", ".join(map(str, range(150))) + ")", 23, "at most 100 day counts"),
    (_nested_groups(9), 1, "nest more than 8 deep"),
])
def test_hostile_rules_are_refused_at_the_column(text, column, words):
    with pytest.raises(RuleError) as info:
        parse(text)
    assert info.value.column == column
    assert words in str(info.value)
    # A long rule is shown around the mistake, not in full.
    assert all(len(line) < 200 for line in str(info.value).splitlines())


def test_a_rule_at_every_limit_still_runs_in_sqlite(profiled):
    """The limits are low enough that whatever passes them compiles and runs (SQLite's expression depth, its
    parser stack, its bound-parameter limit), through every query that wraps a segment."""
    from console.segments import counts
    from console.segments.rules import MAX_CONDITIONS, MAX_DAY_VALUES, MAX_NESTING, nesting

    db = profiled
    days = ", ".join(map(str, range(MAX_DAY_VALUES)))
    leaf = f"days_since_last_order not in ({days}) or orders < 3 or dormancy != lost"
    deep = _nested_groups(MAX_NESTING).replace("orders > 1 or orders < 5", leaf)
    assert nesting(parse(deep)) == MAX_NESTING
    wide = " or ".join([f"days_since_last_order in ({days})"] * 30 + ["orders < 1"] * (MAX_CONDITIONS - 30))
    for text in (deep, wide):
        rule = parse(text)
        assert segments.count(db, rule) >= 0
        counts.funnel(db, rule)
        counts.layer_matrix(db, rule, config=Config())
        segments.breakdown(db, rule, "region")
        assert len(segments.members(db, rule, page_size=10)) <= 10
    assert members_of(db, wide) == ["a", "b", "c", "d", "e", "g"]     # f's last order is 389 days ago


def test_a_stored_rule_past_the_limits_is_refused_by_validate():
    too_many = {"or": [{"field": "orders", "op": "=", "value": i} for i in range(3000)]}
    with pytest.raises(BadInput, match="more than 200 conditions"):
        validate(too_many)
    with pytest.raises(BadInput, match="too large"):
        validate({"field": "orders", "op": ">", "value": int("1" * 25)})
    deep: dict = {"field": "orders", "op": ">", "value": 1}
    for _ in range(5000):
        deep = {"not": deep}
    with pytest.raises(BadInput, match="nests deeper"):
        validate(deep)
