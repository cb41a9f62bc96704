"""A segment's members as operators see them: a page in a chosen order (scores and uplift included), or
every member for an export; contact details masked unless unmasking, which is audited.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, NotRequired, TypedDict, cast
from zoneinfo import ZoneInfo

import sqlite_utils

from console import audit
from console.errors import BadInput
from console.personalisation import refused_sql
from console.privacy import mask_email, mask_name, mask_phone
from console.segments.membership import where_clause
from console.segments.rule_types import Rule
from console.segments.rules import to_text
from console.segments.saved import Segment, rule_context
from console.uplift.targeting import refusal

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


class Member(TypedDict):
    """One member of a segment as listed (`members`, `export_rows`); contact details masked unless unmasked."""

    user: str                  # external id
    name: str | None
    phone: str | None
    email: str | None
    region: str | None
    dormancy: str
    layer: str | None
    grid: str | None
    orders: int
    spend: float
    last_order: str | None     # YYYY-MM-DD in the workspace's zone
    last_seen: str | None
    # Only when ordered by a score (SCORE_ORDERINGS) or by uplift: the value ordered by (None: unscored).
    p_alive: NotRequired[float | None]
    expected_orders_90d: NotRequired[float | None]
    expected_value: NotRequired[float | None]
    uplift: NotRequired[float | None]


def _shape(row: dict[str, Any], tz: ZoneInfo, unmask: bool) -> Member:
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


# What `/` on a segment's members searches: what the console shows of them — contacts as masked, unless unmasked
# (audited) — and their region.
_SEARCHED = ("u.external_id", "u.region", "coalesce(p.dormancy, 'never_active')", "p.layer")
_MASKED = ("wb_mask_name(u.name)", "wb_mask_phone(u.phone)", "wb_mask_email(u.email)")
_UNMASKED = ("u.name", "u.phone", "u.email")


def _search_where(db: sqlite_utils.Database, search: str | None, unmask: bool) -> tuple[str, list[Any]]:
    from console import search as searching

    return searching.where(db, (*_SEARCHED, *(_UNMASKED if unmask else _MASKED)), search)


def member_count(db: sqlite_utils.Database, segment: Any, *, search: str | None = None,
                 unmask: bool = False) -> int:
    """How many members `members` pages through (with the same `search`)."""
    where, params = where_clause(db, segment)
    found, more = _search_where(db, search, unmask)
    sql = (f"SELECT COUNT(*) FROM users u LEFT JOIN profiles p ON p.user_id = u.id "
           f"WHERE ({where}) AND {found}")
    return int(db.execute(sql, [*params, *more]).fetchone()[0])


def members(db: sqlite_utils.Database, segment: Any, *, page: int = 1, page_size: int = 50,
            order_by: str = "id", unmask: bool = False, search: str | None = None) -> list[Member]:
    """One page of members, contact details masked (138****5678) unless `unmask`, which is audited; only those
    whose shown text contains `search` (console.search), when given."""
    if page < 1 or not 1 <= page_size <= 10_000:
        raise BadInput("--page starts at 1 and --page-size is 1 to 10000")
    if order_by not in ORDERINGS:
        raise BadInput(f"--order-by {order_by!r}: choose one of {', '.join(ORDERINGS)}")
    if order_by == "uplift" and (why := refusal(db)) is not None:
        raise BadInput(why.replace("--rank-by uplift", "--order-by uplift"))
    where, params = where_clause(db, segment)
    found, more = _search_where(db, search, unmask)
    where, params = f"({where}) AND {found}", [*params, *more]
    ctx = rule_context(db)
    # In id order, walk users and stop at the page's last member (NOT INDEXED keeps SQLite from collecting
    # every member through a profile index and sorting them first); quick for any segment that is not tiny.
    hint = "NOT INDEXED" if order_by == "id" else ""
    sql = (f"SELECT {_MEMBER_COLUMNS} FROM users u LEFT JOIN profiles p {hint} ON p.user_id = u.id "
           f"WHERE {where} ORDER BY {ORDERINGS[order_by]} LIMIT ? OFFSET ?")
    if order_by in SCORE_ORDERINGS:
        # Only when sorting by a score: the scores join (one primary-key lookup per user) and its columns.
        sql = (f"SELECT {_MEMBER_COLUMNS}, s.p_alive, s.expected_orders_90d, s.expected_value "
               f"FROM users u LEFT JOIN profiles p ON p.user_id = u.id LEFT JOIN scores s ON s.user_id = u.id "
               # PIPL Art. 24: who refused personalised marketing is not ordered by their score (listed unscored)
               f"AND NOT {refused_sql('u.id')} "
               f"WHERE {where} ORDER BY {ORDERINGS[order_by]} LIMIT ? OFFSET ?")
    if order_by == "uplift":
        sql = (f"SELECT {_MEMBER_COLUMNS}, up.uplift FROM users u LEFT JOIN profiles p ON p.user_id = u.id "
               f"LEFT JOIN uplift_scores up ON up.user_id = u.id "
               f"WHERE {where} ORDER BY {ORDERINGS[order_by]} LIMIT ? OFFSET ?")
    rows = []
    for r in db.query(sql, [*params, page_size, (page - 1) * page_size]):
        row = _shape(r, ctx.tz, unmask)
        if order_by in SCORE_ORDERINGS:
            row["p_alive"], row["expected_value"] = r["p_alive"], r["expected_value"]   # SCORE_ORDERINGS' order
            row["expected_orders_90d"] = r["expected_orders_90d"]
        elif order_by == "uplift":
            row["uplift"] = r["uplift"]
        rows.append(row)
    if unmask:
        searched = {"search": search} if search else {}
        audit.record_now(db, "segment.unmask", segment=_label(segment), page=page, users=len(rows), **searched)
    return rows


def export_rows(db: sqlite_utils.Database, segment: Any, *, unmask: bool = False,
                batch: int = 5_000) -> Iterator[Member]:
    """Every member, in id order, in batches (keyset paging: no OFFSET scans). Unmasking is audited once."""
    where, params = where_clause(db, segment)
    ctx = rule_context(db)
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
        return to_text(cast(Rule, segment))   # a structured rule, checked where it was compiled
    return str(segment)
