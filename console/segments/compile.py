"""Structured rule → SQL WHERE fragment over `users u LEFT JOIN profiles p`, values always bound parameters.

NOT is pushed down to the conditions (De Morgan), so every condition decides by itself what a missing value
means: `orders < 3` matches a user without a profile (0 orders), `region = 华东` does not match an unknown
region, and `not region = 华东` does. Day counts become comparisons with cutoff timestamps (see
console/dormancy.py), which SQLite answers from indexes.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from console.dormancy import cutoff
from console.errors import BadInput
from console.segments import fields as registry
from console.segments.day_lists import in_days
from console.segments.rule_types import Condition, Rule, is_all, is_condition, is_not, split_group

NEGATE = {"=": "!=", "!=": "=", "<": ">=", "<=": ">", ">": "<=", ">=": "<", "in": "not in", "not in": "in"}
SQL_OP = {"=": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">=", "in": "IN", "not in": "NOT IN"}
_PY = {"=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
       ">=": operator.ge}


@dataclass(frozen=True)
class Context:
    """What day counts are measured against: the profiles' as-of time and the workspace time zone."""

    as_of: int
    tz: ZoneInfo


def _py_compare(left: Any, op: str, value: Any) -> bool:
    if op == "in":
        return left in value
    if op == "not in":
        return left not in value
    try:
        return bool(_PY[op](left, value))
    except TypeError:
        return False


def compile_rule(rule: Rule, ctx: Context, *, negated: bool = False) -> tuple[str, list[Any]]:
    """(SQL fragment, params) true exactly for the users the rule matches (never NULL)."""
    if is_all(rule):
        return ("0" if negated else "1"), []
    if is_not(rule):
        return compile_rule(rule["not"], ctx, negated=not negated)
    if is_condition(rule):
        return _condition(rule, ctx, negated)
    key, members = split_group(rule)
    joiner = key if not negated else ("or" if key == "and" else "and")
    parts: list[str] = []
    params: list[Any] = []
    seen: set[tuple[str, str]] = set()
    for part in members:
        sql, p = compile_rule(part, ctx, negated=negated)
        seen_key = (sql, repr(p))
        if seen_key in seen:   # `x or x` is x (and `x and x`): a repeated part would only cost SQLite more to prepare
            continue
        seen.add(seen_key)
        parts.append(f"({sql})")
        params += p
    return f" {joiner.upper()} ".join(parts), params


def _condition(rule: Condition, ctx: Context, negated: bool) -> tuple[str, list[Any]]:
    field = registry.lookup(rule["field"])
    if field is None:
        raise BadInput(f"this rule uses the field {rule['field']!r}, which this workspace does not offer")
    op, value = rule["op"], rule["value"]
    null_truth = field.null_as is not None and _py_compare(field.null_as, op, value)
    if negated:
        op, null_truth = NEGATE[op], not null_truth
    if field.kind == "days":
        sql, params = _days(field, op, value, ctx)
    else:
        expr = field.sql
        if field.kind == "attr":
            # Imported attributes are mostly text: compare as text unless a number was given for < >.
            numeric = op not in ("=", "!=", "in", "not in") or isinstance(value, int | float)
            expr = f"CAST({expr} AS {'REAL' if numeric else 'TEXT'})"
            if not numeric:
                value = [str(v) for v in value] if isinstance(value, list) else str(value)
        if op in ("in", "not in"):
            sql = f"{expr} {SQL_OP[op]} ({', '.join('?' * len(value))})"
            params = [*field.params, *value]
        else:
            sql = f"{expr} {SQL_OP[op]} ?"
            params = [*field.params, value]
    if null_truth:
        # A missing value counts as matching (e.g. `orders < 3` for a user never profiled).
        return f"({sql} OR {field.sql} IS NULL)", [*params, *field.params]
    # Otherwise a NULL makes the comparison NULL, which WHERE reads as false; NOTs were pushed down to here, so
    # nothing above can turn it back into true.
    return sql, params


def _days(field: registry.Field, op: str, value: Any, ctx: Context) -> tuple[str, list[Any]]:
    """`days_since_X op N` as comparisons of the timestamp with local-midnight cutoffs (NULL never matches)."""
    col = field.sql

    def at_least(n: int) -> tuple[str, list[Any]]:    # days >= n
        return f"{col} < ?", [cutoff(ctx.as_of, n, ctx.tz)]

    def below(n: int) -> tuple[str, list[Any]]:       # days < n
        return f"{col} >= ?", [cutoff(ctx.as_of, n, ctx.tz)]

    def equal(n: int) -> tuple[str, list[Any]]:
        (a, pa), (b, pb) = at_least(n), below(n + 1)
        return f"({a} AND {b})", pa + pb

    if op in ("in", "not in"):
        sql, params = in_days(col, (int(v) for v in value), ctx.as_of, ctx.tz)
        if op == "in":
            return sql, params
        return f"({col} IS NOT NULL AND NOT {sql})", params
    n = int(value)  # days are whole numbers (checked when the rule was parsed)
    if op == ">=":
        return at_least(n)
    if op == ">":
        return at_least(n + 1)
    if op == "<":
        return below(n)
    if op == "<=":
        return below(n + 1)
    if op == "=":
        return equal(n)
    sql, params = equal(n)
    return f"({col} IS NOT NULL AND NOT {sql})", params
