"""Who is in a segment: a rule compiled to a WHERE fragment over users and their profiles, the SQL of
its members' ids (the built-in `all` included), and the count.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from console.errors import BadInput, NotFound
from console.segments import fields, rules
from console.segments.compile import compile_rule
from console.segments.rule_types import Rule
from console.segments.rules import parse
from console.segments.saved import Segment, get, row_to_segment, rule_context


def _rule(db: sqlite_utils.Database, segment_or_rule: Any) -> Rule:
    """A rule from a Segment, a structured rule (dict), a segment name, or rule text."""
    if isinstance(segment_or_rule, Segment):
        return saved_rule(segment_or_rule)
    if isinstance(segment_or_rule, dict):
        return rules.validate(segment_or_rule)
    if isinstance(segment_or_rule, str):
        saved = list(db.query("SELECT * FROM segments WHERE name = ?", [segment_or_rule]))
        if saved:
            return saved_rule(row_to_segment(saved[0]))
        return parse(segment_or_rule)
    raise BadInput(f"not a segment or rule: {segment_or_rule!r}")


def saved_rule(segment: Segment) -> Rule:
    """A saved segment's rule, checked again: one saved by an older winback (or edited in the database) may be
    past the rule language's limits; BadInput names the segment and how to mend it."""
    try:
        return rules.validate(segment.rule)
    except BadInput as exc:
        raise BadInput(f"segment {segment.name!r} has a rule winback cannot use ({exc}); change it with "
                       f"`winback segments create {segment.name} --replace --rule ...` or remove it with "
                       f"`winback segments remove {segment.name}`") from None


def where_clause(db: sqlite_utils.Database, segment_or_rule: Any) -> tuple[str, list[Any]]:
    """(WHERE fragment, params) over `users u LEFT JOIN profiles p ON p.user_id = u.id`."""
    return compile_rule(_rule(db, segment_or_rule), rule_context(db))


def _needs_users(rule: Rule) -> bool:
    """Whether any condition reads a users column (else counts can stay inside the profile indexes)."""
    for cond in rules.conditions(rule):
        field = fields.lookup(cond["field"])
        if field is None or "u." in field.sql:
            return True
    return False


def profiled_source(db: sqlite_utils.Database, segment_or_rule: Any) -> tuple[str, str, list[Any]]:
    """(FROM clause, WHERE fragment, params) over the *profiled* users only (`profiles p`, joined to `users u`
    when the rule needs it). Add users imported since the last refresh with `new_users_source`."""
    rule = _rule(db, segment_or_rule)
    where, params = compile_rule(rule, rule_context(db))
    source = "profiles p JOIN users u ON u.id = p.user_id" if _needs_users(rule) else "profiles p"
    return source, where, params


def _users_watermark(db: sqlite_utils.Database) -> int:
    row = db.execute("SELECT value FROM settings WHERE key = 'profiles.users_watermark'").fetchone()
    return int(row[0]) if row else 0


# Campaigns, previews and `why` may name every user as "all", unless the operator saved a segment by that name.
EVERYONE = "all"


def member_ids_query_by_name(db: sqlite_utils.Database, name: str) -> tuple[str, Any]:
    """`member_ids_query` of the segment called *name*; every user for "all" when no such segment is saved."""
    try:
        return member_ids_query(db, get(db, name))
    except NotFound:
        if name != EVERYONE:
            raise
    return "SELECT id FROM users", []


def member_ids_query(db: sqlite_utils.Database, segment: Any) -> tuple[str, list[Any]]:
    """(SELECT of member user ids, params): usable as `... WHERE user_id IN (sql)` or `INSERT ... SELECT`.

    Profiled users are read from profiles first (so dormancy/layer indexes drive the scan); users imported
    since the last refresh have no profile and are checked separately.
    """
    source, where, params = profiled_source(db, segment)
    sql = (f"SELECT p.user_id AS user_id FROM {source} WHERE {where} "
           "UNION ALL "
           # NOT INDEXED: look profiles up by user id only, so this half walks the few new users (u.id > the
           # last refresh's highest id) instead of scanning a profile index a second time.
           f"SELECT u.id AS user_id FROM users u LEFT JOIN profiles p NOT INDEXED ON p.user_id = u.id "
           f"WHERE u.id > ? AND p.user_id IS NULL AND ({where})")
    return sql, [*params, _users_watermark(db), *params]


def count(db: sqlite_utils.Database, segment_or_rule: Any) -> int:
    """How many users a segment (or a rule, or rule text) matches now."""
    sql, params = member_ids_query(db, segment_or_rule)
    return db.execute(f"SELECT count(*) FROM ({sql})", params).fetchone()[0]
