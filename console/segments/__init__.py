"""Segments: saved, named rules over user and profile fields, and who is in them.

    seg = create(db, "dormant-loyal", "dormancy = dormant and orders >= 3 and region in (华东, 华南)")
    count(db, seg); members(db, seg, page=1); sql, params = member_ids_query(db, seg)

Rules are structured JSON (console/segments/rules.py) compiled to a WHERE fragment with bound parameters
(console/segments/compile.py) over `users u LEFT JOIN profiles p`. Day counts are measured as of the last
refresh (`winback refresh`), like dormancy itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

from console import audit, dormancy, layers
from console.clock import now_ts
from console.config import Config
from console.dormancy import days_since
from console.errors import BadInput, NotFound
from console.privacy import mask_email, mask_name, mask_phone
from console.profiles import last_refresh, profiles_as_of
from console.segments import fields, rules
from console.segments.compile import Context, compile_rule
from console.segments.rules import RuleError, parse, to_text
from console.uplift.targeting import refusal
from console.users import find_user
from storage.tx import immediate

__all__ = [
    "Segment", "RuleError", "parse", "to_text", "get", "create", "remove", "list_segments", "count", "members",
    "member_ids_query", "where_clause", "profiled_source", "explain", "segments_of_user", "breakdown", "export_rows",
    "ensure_presets", "BREAKDOWNS",
]


@dataclass
class Segment:
    id: int
    name: str
    rule: dict[str, Any]
    rule_text: str
    description: str | None
    preset: bool
    created_at: int
    created_by: str
    updated_at: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _row_to_segment(row: dict[str, Any]) -> Segment:
    return Segment(id=row["id"], name=row["name"], rule=json.loads(row["rule"]), rule_text=row["rule_text"],
                   description=row["description"], preset=bool(row["preset"]), created_at=row["created_at"],
                   created_by=row["created_by"], updated_at=row["updated_at"])


def get(db: sqlite_utils.Database, name: str) -> Segment:
    """The segment called `name`; NotFound (exit 2) names the command that lists them."""
    rows = list(db.query("SELECT * FROM segments WHERE name = ?", [name]))
    if not rows:
        raise NotFound(f"no segment named {name!r} (see `winback segments list`)")
    return _row_to_segment(rows[0])


def list_segments(db: sqlite_utils.Database) -> list[Segment]:
    """All segments: presets first in their own order (dormancy states, then layers), then the rest by name."""
    return [_row_to_segment(r) for r in db.query(
        "SELECT * FROM segments ORDER BY preset DESC, CASE WHEN preset = 1 THEN id END, name")]


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 80 or any(ord(c) < 32 for c in name):
        raise BadInput(f"segment name {name!r}: give 1-80 printable characters")
    return name


def create(db: sqlite_utils.Database, name: str, rule_text: str, description: str | None = None, *,
           preset: bool = False, replace: bool = False) -> Segment:
    """Save a segment; the rule is parsed and checked first (RuleError points at the column). Audited.

    An existing name is an error unless `replace` (then its rule and description change, its id stays, so
    campaigns that use it follow).
    """
    name = _check_name(name)
    rule = parse(rule_text)
    compile_rule(rule, _context(db))  # every field compiles before anything is written
    now = now_ts()
    with immediate(db):
        existing = db.execute("SELECT id FROM segments WHERE name = ?", [name]).fetchone()
        if existing and not replace:
            raise BadInput(f"a segment named {name!r} exists; pick another name or pass --replace")
        if existing:
            db.execute("UPDATE segments SET rule = ?, rule_text = ?, description = coalesce(?, description), "
                       "updated_at = ? WHERE id = ?",
                       [json.dumps(rule, ensure_ascii=False), rule_text.strip(), description, now, existing[0]])
        else:
            db.execute("INSERT INTO segments (name, rule, rule_text, description, preset, created_at, created_by, "
                       "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       [name, json.dumps(rule, ensure_ascii=False), rule_text.strip(), description, int(preset),
                        now, audit.current_operator(), now])
        audit.record(db, "segment.replace" if existing else "segment.create", segment=name, rule=to_text(rule))
    return get(db, name)


def remove(db: sqlite_utils.Database, name: str) -> None:
    """Delete a segment no campaign uses. Audited."""
    seg = get(db, name)
    with immediate(db):
        if db["campaigns"].exists():
            used = db.execute("SELECT name FROM campaigns WHERE segment_id = ? LIMIT 1", [seg.id]).fetchone()
            if used:
                raise BadInput(f"segment {name!r} is used by campaign {used[0]!r}; it stays")
        db.execute("DELETE FROM segments WHERE id = ?", [seg.id])
        audit.record(db, "segment.remove", segment=name, rule=seg.rule_text)


# ---- compiling ----------------------------------------------------------------------------------------------

def _context(db: sqlite_utils.Database) -> Context:
    as_of, tz = profiles_as_of(db)
    return Context(as_of=as_of, tz=ZoneInfo(tz or "UTC"))


def _rule(db: sqlite_utils.Database, segment_or_rule: Any) -> dict[str, Any]:
    """A rule from a Segment, a structured rule (dict), a segment name, or rule text."""
    if isinstance(segment_or_rule, Segment):
        return _saved_rule(segment_or_rule)
    if isinstance(segment_or_rule, dict):
        return rules.validate(segment_or_rule)
    if isinstance(segment_or_rule, str):
        saved = list(db.query("SELECT * FROM segments WHERE name = ?", [segment_or_rule]))
        if saved:
            return _saved_rule(_row_to_segment(saved[0]))
        return parse(segment_or_rule)
    raise BadInput(f"not a segment or rule: {segment_or_rule!r}")


def _saved_rule(segment: Segment) -> dict[str, Any]:
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
    return compile_rule(_rule(db, segment_or_rule), _context(db))


def _needs_users(rule: dict[str, Any]) -> bool:
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
    where, params = compile_rule(rule, _context(db))
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


# ---- members ------------------------------------------------------------------------------------------------

ORDERINGS = {
    "id": "u.id",
    "last_order": "p.last_order_at DESC NULLS LAST, u.id",
    "last_seen": "p.last_event_at DESC NULLS LAST, u.id",
    "spend": "p.spend DESC NULLS LAST, u.id",
    "orders": "p.orders DESC NULLS LAST, u.id",
    # Propensity scores (issue 9, table `scores`): highest first — whom a message can still reach, the most
    # valuable first — and users without a score (never ordered, or no model fitted) last.
    "p_alive": "s.p_alive DESC NULLS LAST, u.id",
    "expected_value": "s.expected_value DESC NULLS LAST, u.id",
    "expected_orders_90d": "s.expected_orders_90d DESC NULLS LAST, u.id",
    # Predicted uplift (issue 15, table `uplift_scores`): whom a message changes most first; only while the
    # latest uplift fit is usable (console.uplift.targeting.refusal).
    "uplift": "up.uplift DESC NULLS LAST, u.id",
}
SCORE_ORDERINGS = ("p_alive", "expected_value", "expected_orders_90d")

_MEMBER_COLUMNS = ("u.id, u.external_id, u.name, u.phone, u.email, u.region, "
                   "coalesce(p.dormancy, 'never_active') AS dormancy, p.layer, p.rf_cell AS grid, "
                   "coalesce(p.orders, 0) AS orders, coalesce(p.spend, 0) AS spend, p.last_order_at, p.last_event_at")


def _shape(row: dict[str, Any], tz: ZoneInfo, unmask: bool) -> dict[str, Any]:
    def day(ts: int | None) -> str | None:
        return None if ts is None else datetime.fromtimestamp(ts, tz).date().isoformat()

    return {
        "user": row["external_id"],
        "name": row["name"] if unmask else mask_name(row["name"]),
        "phone": row["phone"] if unmask else mask_phone(row["phone"]),
        "email": row["email"] if unmask else mask_email(row["email"]),
        "region": row["region"],
        "dormancy": row["dormancy"],
        "layer": row["layer"],
        "grid": row["grid"],
        "orders": row["orders"],
        "spend": row["spend"],
        "last_order": day(row["last_order_at"]),
        "last_seen": day(row["last_event_at"]),
    }


def members(db: sqlite_utils.Database, segment: Any, *, page: int = 1, page_size: int = 50,
            order_by: str = "id", unmask: bool = False) -> list[dict[str, Any]]:
    """One page of members, contact details masked (138****5678) unless `unmask`, which is audited."""
    if page < 1 or not 1 <= page_size <= 10_000:
        raise BadInput("--page starts at 1 and --page-size is 1 to 10000")
    if order_by not in ORDERINGS:
        raise BadInput(f"--order-by {order_by!r}: choose one of {', '.join(ORDERINGS)}")
    if order_by == "uplift" and (why := refusal(db)) is not None:
        raise BadInput(why.replace("--rank-by uplift", "--order-by uplift"))
    where, params = where_clause(db, segment)
    ctx = _context(db)
    # In id order, walk users and stop at the page's last member (NOT INDEXED keeps SQLite from collecting
    # every member through a profile index and sorting them first); quick for any segment that is not tiny.
    hint = "NOT INDEXED" if order_by == "id" else ""
    sql = (f"SELECT {_MEMBER_COLUMNS} FROM users u LEFT JOIN profiles p {hint} ON p.user_id = u.id "
           f"WHERE {where} ORDER BY {ORDERINGS[order_by]} LIMIT ? OFFSET ?")
    if order_by in SCORE_ORDERINGS:
        # Only when sorting by a score: the scores join (one primary-key lookup per user) and its columns.
        sql = (f"SELECT {_MEMBER_COLUMNS}, s.p_alive, s.expected_orders_90d, s.expected_value "
               f"FROM users u LEFT JOIN profiles p ON p.user_id = u.id LEFT JOIN scores s ON s.user_id = u.id "
               f"WHERE {where} ORDER BY {ORDERINGS[order_by]} LIMIT ? OFFSET ?")
    if order_by == "uplift":
        sql = (f"SELECT {_MEMBER_COLUMNS}, up.uplift FROM users u LEFT JOIN profiles p ON p.user_id = u.id "
               f"LEFT JOIN uplift_scores up ON up.user_id = u.id "
               f"WHERE {where} ORDER BY {ORDERINGS[order_by]} LIMIT ? OFFSET ?")
    rows = []
    for r in db.query(sql, [*params, page_size, (page - 1) * page_size]):
        row = _shape(r, ctx.tz, unmask)
        if order_by in SCORE_ORDERINGS:
            row.update({k: r[k] for k in SCORE_ORDERINGS})
        elif order_by == "uplift":
            row["uplift"] = r["uplift"]
        rows.append(row)
    if unmask:
        audit.record_now(db, "segment.unmask", segment=_label(segment), page=page, users=len(rows))
    return rows


def export_rows(db: sqlite_utils.Database, segment: Any, *, unmask: bool = False,
                batch: int = 5_000) -> Iterator[dict[str, Any]]:
    """Every member, in id order, in batches (keyset paging: no OFFSET scans). Unmasking is audited once."""
    where, params = where_clause(db, segment)
    ctx = _context(db)
    if unmask:
        audit.record_now(db, "segment.export.unmask", segment=_label(segment))
    last = 0
    while True:
        sql = (f"SELECT {_MEMBER_COLUMNS} FROM users u LEFT JOIN profiles p NOT INDEXED ON p.user_id = u.id "
               f"WHERE u.id > ? AND ({where}) ORDER BY u.id LIMIT ?")
        rows = list(db.query(sql, [last, *params, batch]))
        if not rows:
            return
        for row in rows:
            yield _shape(row, ctx.tz, unmask)
        last = rows[-1]["id"]


def _label(segment: Any) -> str:
    if isinstance(segment, Segment):
        return segment.name
    if isinstance(segment, dict):
        return to_text(segment)
    return str(segment)


# ---- why ----------------------------------------------------------------------------------------------------

def _holds(db: sqlite_utils.Database, rule: dict[str, Any], ctx: Context, user_id: int) -> bool:
    sql, params = compile_rule(rule, ctx)
    row = db.execute(f"SELECT CASE WHEN {sql} THEN 1 ELSE 0 END FROM users u "
                     "LEFT JOIN profiles p ON p.user_id = u.id WHERE u.id = ?", [*params, user_id]).fetchone()
    return bool(row and row[0])


def _first_exclusion(db: sqlite_utils.Database, rule: dict[str, Any], ctx: Context, user_id: int
                     ) -> dict[str, Any] | None:
    """The condition that kept the user out: the first false part of an `and`, else the node itself."""
    if _holds(db, rule, ctx, user_id):
        return None
    if "and" in rule:
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
    ctx = _context(db)
    rule = _saved_rule(segment)
    excluded = _first_exclusion(db, rule, ctx, user_id)
    if excluded is None:
        return None
    found: dict[str, Any] = {"excluded_by": to_text(excluded)}
    if "field" in excluded:
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


def explain(db: sqlite_utils.Database, user_external_id: str | int) -> dict[str, Any]:
    """For `winback why USER`: every segment, whether the user is in it, and if not the condition that excluded
    them with the user's own value for it."""
    user = find_user(db, user_external_id)
    ctx = _context(db)
    out = []
    for seg in list_segments(db):
        try:
            rule = _saved_rule(seg)
        except BadInput as exc:      # one unusable saved rule must not hide the user's other segments
            out.append({"segment": seg.name, "member": False, "rule": seg.rule_text, "excluded_by": None,
                        "problem": str(exc)})
            continue
        excluded = _first_exclusion(db, rule, ctx, user["id"])
        item: dict[str, Any] = {"segment": seg.name, "member": excluded is None, "rule": to_text(rule)}
        if excluded is not None:
            item["excluded_by"] = to_text(excluded)
            if "field" in excluded:
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
    ctx = _context(db)
    names = []
    for seg in list_segments(db):
        try:
            rule = _saved_rule(seg)
        except BadInput:             # `segments list` reports it; a preview still lists the others
            continue
        if _holds(db, rule, ctx, user_id):
            names.append(seg.name)
    return names


# ---- profile breakdowns ---------------------------------------------------------------------------------

BREAKDOWNS = {
    "gender": "u.gender",
    "region": "u.region",
    "age_band": "u.age_band",
    "occupation": "u.occupation",
    "access_channel": "p.access_channel",
    "top_category": "p.top_category",
    "aov_band": None,          # built from [layers] aov_bands
    "last_action": "p.last_action",
    "last_object": "p.last_object",
    "dormancy": "coalesce(p.dormancy, 'never_active')",
    "layer": "p.layer",
    "grid": "p.rf_cell",
}


def _aov_band(config: Any) -> tuple[str, list[Any]]:
    bands = layers.settings(config).aov_bands
    parts = ["WHEN p.aov IS NULL THEN ?"]
    params: list[Any] = ["no orders"]
    parts.append("WHEN p.aov < ? THEN ?")
    params += [bands[0], f"<{bands[0]:g}"]
    for lo, hi in zip(bands, bands[1:], strict=False):
        parts.append("WHEN p.aov < ? THEN ?")
        params += [hi, f"{lo:g}-{hi:g}"]
    parts.append("ELSE ?")
    params.append(f"≥{bands[-1]:g}")
    return f"CASE {' '.join(parts)} END", params


def breakdown(db: sqlite_utils.Database, segment: Any, dimension: str, *, config: Any = None,
              limit: int = 12) -> list[dict[str, Any]]:
    """A segment against the whole base on one dimension: users, share, base share, and the index
    (100 = as common as in the base; 150 = half again as common)."""
    if dimension not in BREAKDOWNS:
        raise BadInput(f"no breakdown {dimension!r}; choose one of {', '.join(BREAKDOWNS)}")
    expr, expr_params = (_aov_band(config or Config()) if dimension == "aov_band"
                         else (BREAKDOWNS[dimension], []))
    where, params = where_clause(db, segment)
    base_sql = f"SELECT {expr} AS v, count(*) FROM users u LEFT JOIN profiles p ON p.user_id = u.id GROUP BY 1"
    base = {v: n for v, n in db.execute(base_sql, expr_params).fetchall()}
    seg_sql = (f"SELECT {expr} AS v, count(*) FROM users u LEFT JOIN profiles p ON p.user_id = u.id "
               f"WHERE {where} GROUP BY 1")
    seg = {v: n for v, n in db.execute(seg_sql, [*expr_params, *params]).fetchall()}
    seg_total, base_total = sum(seg.values()), sum(base.values())
    rows = []
    for value, n in sorted(seg.items(), key=lambda kv: (-kv[1], str(kv[0]))):
        share = n / seg_total if seg_total else 0.0
        base_share = base.get(value, 0) / base_total if base_total else 0.0
        rows.append({"value": "(unknown)" if value is None else value, "users": n, "share": round(share, 4),
                     "base_users": base.get(value, 0), "base_share": round(base_share, 4),
                     "index": round(100 * share / base_share) if base_share else None})
    return rows[:limit]


# ---- presets ------------------------------------------------------------------------------------------------

PRESET_STATE_NAMES = {"active": "active", "at_risk": "at-risk", "dormant": "dormant", "lost": "lost",
                      "never_active": "never-active"}


def preset_definitions(config: Any) -> list[tuple[str, str, str]]:
    """(name, rule text, description) of the preset segments: one per dormancy state and per layer."""
    d = dormancy.settings(config)
    what = {"order": "an order", "visit": "a visit", "login": "a login", "any": "any activity"}[d.metric]
    described = {
        "active": f"{what} in the last {d.at_risk_days} days",
        "at_risk": f"{d.at_risk_days}-{d.dormant_days - 1} days without {what}",
        "dormant": f"{d.dormant_days}-{d.lost_days - 1} days without {what}",
        "lost": f"{d.lost_days} days or more without {what}",
        "never_active": f"never {'ordered' if d.metric == 'order' else 'active'}",
    }
    out = [(PRESET_STATE_NAMES[s], f"dormancy = {s}", f"Preset: {described[s]}") for s in dormancy.STATES]
    lay = layers.settings(config)
    for t in lay.temperature_names:
        for lo in lay.loyalty_names:
            layer = f"{t} {lo}"
            out.append((layer.replace(" ", "-"), f"layer = {rules._value_text(layer)}",
                        f"Preset: layer {layer} (temperature × loyalty)"))
    return out


def ensure_presets(db: sqlite_utils.Database, config: Any) -> list[str]:
    """Create the preset segments that are missing (never overwrites an operator's edits); returns those made."""
    made = []
    existing = {r[0] for r in db.execute("SELECT name FROM segments").fetchall()}
    for name, rule_text, description in preset_definitions(config):
        if name not in existing:
            create(db, name, rule_text, description, preset=True)
            made.append(name)
    return made
