"""Why a user is or is not in a segment: the first condition that keeps them out, and every segment a user
is in.
"""

from __future__ import annotations

from typing import Any, TypedDict

import sqlite_utils

from console.dormancy import days_since
from console.errors import BadInput, NotFound
from console.profiles import last_refresh
from console.segments import fields
from console.segments.compile import Context, compile_rule
from console.segments.membership import EVERYONE, saved_rule
from console.segments.rule_types import Rule, is_and, is_condition
from console.segments.rules import to_text
from console.segments.saved import get, list_segments, rule_context
from console.users import find_user


def _holds(db: sqlite_utils.Database, rule: Rule, ctx: Context, user_id: int) -> bool:
    sql, params = compile_rule(rule, ctx)
    row = db.execute(f"SELECT CASE WHEN {sql} THEN 1 ELSE 0 END FROM users u "
                     "LEFT JOIN profiles p ON p.user_id = u.id WHERE u.id = ?", [*params, user_id]).fetchone()
    return bool(row and row[0])


def _first_exclusion(db: sqlite_utils.Database, rule: Rule, ctx: Context, user_id: int) -> Rule | None:
    """The condition that kept the user out: the first false part of an `and`, else the node itself."""
    if _holds(db, rule, ctx, user_id):
        return None
    if is_and(rule):
        for part in rule["and"]:
            found = _first_exclusion(db, part, ctx, user_id)
            if found is not None:
                return found
    return rule


def exclusion(db: sqlite_utils.Database, segment_name: str, user_id: int) -> dict[str, Any] | None:
    """None when the user (internal id) is in the segment now; else the condition that keeps them out, as
    {"excluded_by": rule text, "field": ..., "value": the user's own value} (for `winback why --campaign`).

    `all` means every user unless a segment by that name was saved, as campaigns read it."""
    try:
        segment = get(db, segment_name)
    except NotFound:
        if segment_name == EVERYONE:
            return None
        raise
    ctx = rule_context(db)
    rule = saved_rule(segment)
    excluded = _first_exclusion(db, rule, ctx, user_id)
    if excluded is None:
        return None
    found: dict[str, Any] = {"excluded_by": to_text(excluded)}
    if is_condition(excluded):
        found["field"] = excluded["field"]
        found["value"] = _value_of(db, excluded["field"], ctx, user_id)
    return found


def _value_of(db: sqlite_utils.Database, field_name: str, ctx: Context, user_id: int) -> Any:
    field = fields.lookup(field_name)
    if field is None:
        return None
    row = db.execute(f"SELECT {field.sql} FROM users u LEFT JOIN profiles p ON p.user_id = u.id WHERE u.id = ?",
                     [*field.params, user_id]).fetchone()
    value = row[0] if row else None
    if field.kind == "days":
        return days_since(value, ctx.as_of, ctx.tz)
    return field.null_as if value is None and field.null_as is not None else value


class UserSegments(TypedDict):
    """`explain`: one user against every saved segment (`winback why USER --json`)."""

    user: str                  # external id
    user_id: int
    as_of: int | None          # when profiles were last refreshed; None: never
    profile: dict[str, Any]    # dormancy, layer, grid, orders
    segments: list[dict[str, Any]]   # segment, member, rule; if not a member: excluded_by (field, value) or problem


def explain(db: sqlite_utils.Database, user_external_id: str | int) -> UserSegments:
    """For `winback why USER`: every segment, whether the user is in it, and if not the condition that excluded
    them with the user's own value for it."""
    user = find_user(db, user_external_id)
    ctx = rule_context(db)
    out = []
    for seg in list_segments(db):
        try:
            rule = saved_rule(seg)
        except BadInput as exc:      # one unusable saved rule must not hide the user's other segments
            out.append({"segment": seg.name, "member": False, "rule": seg.rule_text, "excluded_by": None,
                        "problem": str(exc)})
            continue
        excluded = _first_exclusion(db, rule, ctx, user["id"])
        item: dict[str, Any] = {"segment": seg.name, "member": excluded is None, "rule": to_text(rule)}
        if excluded is not None:
            item["excluded_by"] = to_text(excluded)
            if is_condition(excluded):
                item["field"] = excluded["field"]
                item["value"] = _value_of(db, excluded["field"], ctx, user["id"])
        out.append(item)
    info = last_refresh(db)
    profile = next(iter(db.query(
        "SELECT coalesce(p.dormancy, 'never_active') AS dormancy, p.layer, p.rf_cell AS grid, "
        "coalesce(p.orders, 0) AS orders FROM users u LEFT JOIN profiles p ON p.user_id = u.id WHERE u.id = ?",
        [user["id"]])))
    return {"user": user["external_id"], "user_id": user["id"], "as_of": info["as_of"] if info else None,
            "profile": profile, "segments": out}


def segments_of_user(db: sqlite_utils.Database, user_id: int) -> list[str]:
    """Names of the segments the user (internal id) is in."""
    ctx = rule_context(db)
    names = []
    for seg in list_segments(db):
        try:
            rule = saved_rule(seg)
        except BadInput:             # `segments list` reports it; a preview still lists the others
            continue
        if _holds(db, rule, ctx, user_id):
            names.append(seg.name)
    return names
