"""`days_since_X in (...)` compiles compactly (runs of days merged, long lists looked up in a JSON list, repeated
parts once) and still selects exactly the users whose calendar-day count is in the list (a Python oracle on random
rules, time zones with DST, and timestamps around the day boundaries)."""

from __future__ import annotations

import sqlite3
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.dormancy import days_since
from console.segments.compile import NEGATE, Context, _py_compare, compile_rule
from console.segments.rule_tokens import MAX_CONDITIONS, MAX_DAY_VALUES
from console.segments.rule_types import is_condition, is_not, split_group
from console.segments.rules import parse

AS_OF = 1_764_000_000          # 2025-11-24T16:00:00Z
DAY = 86_400
CTX = Context(as_of=AS_OF, tz=ZoneInfo("Asia/Shanghai"))
FIELDS = ("days_since_last_order", "days_since_last_visit")
COLUMN = {"days_since_last_order": "last_order_at", "days_since_last_visit": "last_visit_at"}


def test_a_list_of_consecutive_days_is_one_span_and_a_scattered_one_a_lookup_in_one_json_list():
    _, params = compile_rule(parse(f"days_since_last_order in ({', '.join(map(str, range(MAX_DAY_VALUES)))})"), CTX)
    assert len(params) == 2
    scattered = ", ".join(str(d) for d in range(0, 2 * MAX_DAY_VALUES, 2))
    sql, params = compile_rule(parse(f"days_since_last_order not in ({scattered})"), CTX)
    assert len(params) == 4 and "json_each" in sql     # no clock change in Shanghai: one piece of days


def test_the_widest_rule_binds_a_handful_of_parameters_not_twelve_thousand():
    days = ", ".join(map(str, range(MAX_DAY_VALUES)))
    wide = " or ".join([f"days_since_last_order in ({days})"] * 30 + ["orders < 1"] * (MAX_CONDITIONS - 30))
    sql, params = compile_rule(parse(wide), CTX)
    assert len(params) <= 4 and len(sql) < 200


def _oracle(rule: Any, row: dict[str, int | None], negated: bool = False) -> bool:
    """What the rule means, in Python, NOTs pushed down: a missing timestamp matches no day condition, and so
    every negated one (`not days_since_last_order = 0` holds for a user who never ordered)."""
    if is_not(rule):
        return _oracle(rule["not"], row, not negated)
    if is_condition(rule):
        days = days_since(row[COLUMN[rule["field"]]], CTX.as_of, CTX.tz)
        op = NEGATE[rule["op"]] if negated else rule["op"]
        return negated if days is None else _py_compare(days, op, rule["value"])
    key, members = split_group(rule)
    results = [_oracle(part, row, negated) for part in members]
    return any(results) if (key == "or") != negated else all(results)


_days = st.integers(min_value=0, max_value=70)
_condition = st.one_of(
    st.builds(lambda f, op, v: {"field": f, "op": op, "value": v}, st.sampled_from(FIELDS),
              st.sampled_from(["=", "!=", "<", "<=", ">", ">="]), _days),
    st.builds(lambda f, op, v: {"field": f, "op": op, "value": v}, st.sampled_from(FIELDS),
              st.sampled_from(["in", "not in"]), st.lists(_days, min_size=1, max_size=50)),
)
_rules = st.recursive(_condition, lambda inner: st.one_of(
    st.builds(lambda r: {"not": r}, inner),
    st.builds(lambda k, parts: {k: parts + parts[:1]}, st.sampled_from(["and", "or"]),   # a part repeated too
              st.lists(inner, min_size=1, max_size=3)),
), max_leaves=6)
# Seconds before AS_OF: whole days give the day boundaries themselves, the rest anything in between.
_ages = st.one_of(st.none(), st.integers(min_value=-DAY, max_value=75 * DAY),
                  st.integers(min_value=-1, max_value=75).map(lambda d: d * DAY + 16 * 3600 - 8 * 3600))
_zones = st.sampled_from(["Asia/Shanghai", "UTC", "America/New_York", "Europe/London", "Australia/Lord_Howe"])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule=_rules, zone=_zones, ages=st.lists(st.tuples(_ages, _ages), min_size=1, max_size=25),
       as_of_shift=st.integers(min_value=0, max_value=400 * DAY))
def test_compiled_day_rules_select_exactly_the_users_the_rule_means(rule, zone, ages, as_of_shift):
    global CTX
    saved, CTX = CTX, Context(as_of=AS_OF - as_of_shift, tz=ZoneInfo(zone))    # _oracle reads CTX
    try:
        db = sqlite3.connect(":memory:")
        db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
        db.execute("CREATE TABLE profiles (user_id INTEGER, last_order_at INTEGER, last_visit_at INTEGER)")
        rows = []
        for i, (order, visit) in enumerate(ages, start=1):
            row = {"last_order_at": None if order is None else CTX.as_of - order,
                   "last_visit_at": None if visit is None else CTX.as_of - visit}
            rows.append(row)
            db.execute("INSERT INTO users VALUES (?)", [i])
            db.execute("INSERT INTO profiles VALUES (?, ?, ?)", [i, row["last_order_at"], row["last_visit_at"]])
        sql, params = compile_rule(rule, CTX)
        got = {r[0] for r in db.execute(
            f"SELECT u.id FROM users u LEFT JOIN profiles p ON p.user_id = u.id WHERE {sql}", params)}
        assert got == {i for i, row in enumerate(rows, start=1) if _oracle(rule, row)}
    finally:
        CTX = saved


def test_a_scattered_list_across_a_clock_change_counts_every_hour_on_its_own_calendar_day():
    """New York fell back on 2 November 2025 (a 25-hour day, 22 days before AS_OF): the list is cut into pieces
    there, and each hour of the 60 days before AS_OF (its first, middle and last second) is in the list exactly
    when its day count is."""
    ctx = Context(as_of=AS_OF, tz=ZoneInfo("America/New_York"))
    listed = [*range(0, 60, 3), 22, 23]
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
    db.execute("CREATE TABLE profiles (user_id INTEGER, last_order_at INTEGER)")
    hours = [AS_OF - h * 3600 + s for h in range(60 * 24) for s in (0, 1799, 3599.5)]   # REAL ones too
    db.executemany("INSERT INTO users VALUES (?)", [[i] for i in range(len(hours))])
    db.executemany("INSERT INTO profiles VALUES (?, ?)", list(enumerate(hours)))
    for op in ("in", "not in"):
        sql, params = compile_rule({"field": "days_since_last_order", "op": op, "value": listed}, ctx)
        assert "json_each" in sql
        got = {r[0] for r in db.execute(
            f"SELECT u.id FROM users u LEFT JOIN profiles p ON p.user_id = u.id WHERE {sql}", params)}
        assert got == {i for i, at in enumerate(hours)
                       if (days_since(at, AS_OF, ctx.tz) in listed) == (op == "in")}, op
