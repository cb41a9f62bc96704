"""Recommendations for message copy, computed set-based from events for a whole audience at once.

- the **last item** a user viewed or bought (their last interaction: what, on which object);
- the **best sellers** of the user's top category;
- items **also bought** by people who bought the user's last purchase (item-to-item co-occurrence of orders).

Best sellers and co-occurrence are workspace-wide tables (rec_best_sellers, rec_also_bought) rebuilt by
:func:`refresh` whenever events have changed since the last build; per-user values are read in one query per
batch of users (:func:`for_users`).
"""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from console.clock import now_ts
from storage.tx import immediate

ORDER_KINDS = ("order", "purchase")
ITEM_KINDS = ("view", "order", "purchase", "click", "cart")
PER_CATEGORY = 5
PER_ITEM = 5
RECENT_ITEMS_PER_USER = 20   # co-occurrence looks at each user's 20 latest distinct purchases (bounds the pairs)
MARK_KEY = "recommendations_built"


def _kinds(kinds: tuple[str, ...]) -> str:
    return ", ".join(f"'{k}'" for k in kinds)


def _events_mark(db: sqlite_utils.Database) -> str:
    # Events are append-only and deduplicated on import: a new event always means a higher id.
    row = db.execute("SELECT MAX(id) FROM events").fetchone()
    return str(row[0] or 0)


def _built(db: sqlite_utils.Database) -> dict[str, Any] | None:
    row = db.execute("SELECT value FROM settings WHERE key = ?", [MARK_KEY]).fetchone()
    if row is None:
        return None
    try:
        return json.loads(row[0])
    except ValueError:
        return None


def is_fresh(db: sqlite_utils.Database, max_age: int | None = None) -> bool:
    """Built since the last event arrived — or, with *max_age* seconds, built at most that long ago."""
    built = _built(db)
    if built is None:
        return False
    if built.get("events") == _events_mark(db):
        return True
    return max_age is not None and now_ts() - int(built.get("at", 0)) <= max_age


def refresh(db: sqlite_utils.Database, *, force: bool = False, max_age: int | None = None) -> bool:
    """Rebuild best sellers and co-occurrence when events changed (or *force*); True if it rebuilt.

    *max_age* (seconds) tolerates a build that old even if events arrived since: campaign batches and previews
    must not rebuild every time an order is imported mid-campaign. `winback refresh` should call this.
    """
    if not force and is_fresh(db, max_age):
        return False
    mark = _events_mark(db)
    orders = _kinds(ORDER_KINDS)
    with immediate(db):
        db.execute("DELETE FROM rec_best_sellers")
        db.execute(
            f"""
            INSERT INTO rec_best_sellers (category, rank, object, orders)
            SELECT category, rn, object, n FROM (
                SELECT category, object, COUNT(*) AS n,
                       ROW_NUMBER() OVER (PARTITION BY category ORDER BY COUNT(*) DESC, object) AS rn
                FROM events
                WHERE kind IN ({orders}) AND object IS NOT NULL AND category IS NOT NULL
                GROUP BY category, object
            ) WHERE rn <= {PER_CATEGORY}
            """
        )
        db.execute("DROP TABLE IF EXISTS temp.rec_bought")
        db.execute(
            f"""
            CREATE TEMP TABLE rec_bought AS
            SELECT user_id, object FROM (
                SELECT user_id, object,
                       ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY MAX(at) DESC, object) AS rn
                FROM events WHERE kind IN ({orders}) AND object IS NOT NULL
                GROUP BY user_id, object
            ) WHERE rn <= {RECENT_ITEMS_PER_USER}
            """
        )
        db.execute("CREATE INDEX temp.rec_bought_user ON rec_bought(user_id, object)")
        db.execute("DELETE FROM rec_also_bought")
        db.execute(
            f"""
            INSERT INTO rec_also_bought (object, rank, other, buyers)
            SELECT object, rn, other, n FROM (
                SELECT a.object AS object, b.object AS other, COUNT(*) AS n,
                       ROW_NUMBER() OVER (PARTITION BY a.object ORDER BY COUNT(*) DESC, b.object) AS rn
                FROM rec_bought a JOIN rec_bought b ON b.user_id = a.user_id AND b.object != a.object
                GROUP BY a.object, b.object
            ) WHERE rn <= {PER_ITEM}
            """
        )
        db.execute("DROP TABLE temp.rec_bought")
        db.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [MARK_KEY, json.dumps({"events": mark, "at": now_ts()})],
        )
    return True


def last_item_sql(user_expr: str = "u.id") -> str:
    """A correlated subquery: 'object\\x1fkind\\x1fcategory' of the user's last item event (uses events_user_at)."""
    return (
        "(SELECT e.object || char(31) || e.kind || char(31) || COALESCE(e.category, '') FROM events e "
        f"WHERE e.user_id = {user_expr} AND e.object IS NOT NULL AND e.kind IN ({_kinds(ITEM_KINDS)}) "
        "ORDER BY e.at DESC, e.id DESC LIMIT 1)"
    )


def last_order_item_sql(user_expr: str = "u.id") -> str:
    return (
        "(SELECT e.object FROM events e "
        f"WHERE e.user_id = {user_expr} AND e.object IS NOT NULL AND e.kind IN ({_kinds(ORDER_KINDS)}) "
        "ORDER BY e.at DESC, e.id DESC LIMIT 1)"
    )


class Lookup:
    """Workspace-wide best sellers (all categories) and co-occurrence, loaded on demand for a batch."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        self.best: dict[str, list[str]] = {}
        for r in db.execute("SELECT category, object FROM rec_best_sellers ORDER BY category, rank"):
            self.best.setdefault(r[0], []).append(r[1])
        self.also: dict[str, list[str]] = {}

    def load_also_bought(self, objects: set[str]) -> None:
        """Load co-occurrence rows for *objects* not seen yet: one query per batch."""
        missing = [o for o in objects if o and o not in self.also]
        if not missing:
            return
        for o in missing:
            self.also[o] = []
        rows = self.db.execute(
            "SELECT object, other FROM rec_also_bought WHERE object IN (SELECT value FROM json_each(?)) "
            "ORDER BY object, rank", [json.dumps(missing, ensure_ascii=False)])
        for obj, other in rows:
            self.also[obj].append(other)

    def for_user(self, last_item: str | None, last_kind: str | None, top_category: str | None,
                 last_bought: str | None) -> dict[str, Any]:
        best = self.best.get(top_category or "", [])
        owned = {last_item, last_bought}
        return {
            "last_item": last_item,
            "last_item_kind": last_kind,
            "top_category": top_category,
            "best_sellers": [o for o in best if o not in owned][:3],
            "also_bought": [o for o in self.also.get(last_bought or "", []) if o not in owned][:3],
        }
