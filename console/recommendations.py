"""Recommendations for message copy, computed set-based from events for a whole audience at once.

- the **last item** a user viewed or bought (their last interaction: what, on which object);
- the **best sellers** of the user's top category;
- items **also bought** by people who bought the user's last purchase (item-to-item co-occurrence of orders).

Best sellers and co-occurrence are workspace-wide tables (rec_best_sellers, rec_also_bought) kept up to date by
:func:`refresh` whenever orders have arrived since the last build; per-user values are read in one query per
batch of users (:func:`for_users`).

What "also bought" counts (bounded, issue 17): for each buyer only their RECENT_ITEMS_PER_USER latest distinct
ordered items (by their last order of each) take part, so one buyer adds at most N·(N−1) pairs however many
thousand orders they have; B is "also bought" with A by the number of buyers who have both among those items.
A heavy buyer's old purchases thus stop counting once they have bought N newer distinct items.

The counts behind both tables are kept (m014: rec_item_orders, rec_user_items, rec_pairs), so a refresh after
new orders reads only those orders and the changed buyers' events: it removes the changed buyers' old pairs,
re-reads their latest items, adds their new pairs, and re-ranks only the items and categories they touched.
A first build, a build older than those tables, or more than INCREMENTAL_MAX_BUYERS changed buyers (a big
import: one pass over all orders is then cheaper) rebuild everything.
"""

from __future__ import annotations

import json
from typing import Any, TypedDict

import sqlite_utils

from console.clock import now_ts
from storage import temp_store
from storage.tx import immediate

ORDER_KINDS = ("order", "purchase")
ITEM_KINDS = ("view", "order", "purchase", "click", "cart")
PER_CATEGORY = 5
PER_ITEM = 5
RECENT_ITEMS_PER_USER = 20   # co-occurrence looks at each buyer's 20 latest distinct purchases (bounds the pairs)
INCREMENTAL_MAX_BUYERS = 100_000
REBUILD_CACHE_KIB = 32 * 1024
MARK_KEY = "recommendations_built"
BUILD_VERSION = 2   # builds that keep rec_pairs & co. (m014); an older build is rebuilt in full


def _kinds(kinds: tuple[str, ...]) -> str:
    return ", ".join(f"'{k}'" for k in kinds)


def _is_order(column: str = "kind") -> str:
    """`(kind = 'order' OR kind = 'purchase')`: over millions of rows cheaper than IN (see profiles.py)."""
    return "(" + " OR ".join(f"{column} = '{k}'" for k in ORDER_KINDS) + ")"


def _events_mark(db: sqlite_utils.Database) -> str:
    # Events are append-only and deduplicated on import: a new event always means a higher id.
    row = db.execute("SELECT MAX(id) FROM events").fetchone()
    return str(row[0] or 0)


def _built(db: sqlite_utils.Database) -> dict[str, Any] | None:
    row = db.execute("SELECT value FROM settings WHERE key = ?", [MARK_KEY]).fetchone()
    if row is None:
        return None
    try:
        built = json.loads(row[0])
    except ValueError:
        return None
    return built if isinstance(built, dict) else None


def _orders_since(db: sqlite_utils.Database, mark: int) -> bool:
    """Whether an order arrived after event id *mark* (a rowid range: only the new events are read)."""
    row = db.execute(f"SELECT 1 FROM events WHERE id > ? AND {_is_order()} AND object IS NOT NULL LIMIT 1",
                     [mark]).fetchone()
    return row is not None


def is_fresh(db: sqlite_utils.Database, max_age: int | None = None) -> bool:
    """No order arrived since the last build (visits and views change neither table) — or, with *max_age*
    seconds, built at most that long ago."""
    built = _built(db)
    if built is None:
        return False
    mark = str(built.get("events"))
    if mark == _events_mark(db) or (mark.isdigit() and not _orders_since(db, int(mark))):
        return True
    return max_age is not None and now_ts() - int(built.get("at", 0)) <= max_age


def refresh(db: sqlite_utils.Database, *, force: bool = False, max_age: int | None = None) -> bool:
    """Bring best sellers and co-occurrence up to date when orders arrived (or *force*); True if it did.

    Incremental from the new orders when the last build allows it; *force* rebuilds everything.
    *max_age* (seconds) tolerates a build that old even if orders arrived since: campaign batches and previews
    must not rebuild every time an order is imported mid-campaign. `winback refresh` calls this.
    """
    if not force and is_fresh(db, max_age):
        return False
    # Its sorts (a million buyers' items, their pairs) go to a temp file, not memory (the connection's
    # temp_store = MEMORY would hold them all), and a smaller page cache bounds each sorter's buffer (SQLite
    # sizes it from cache_size; three run at once in a full build); both put back afterwards.
    spilled = temp_store.spill_to_disk(db.conn)
    cache = int(db.execute("PRAGMA cache_size").fetchone()[0])
    db.execute(f"PRAGMA cache_size = {-REBUILD_CACHE_KIB}")
    try:
        _refresh(db, force)
    finally:
        db.execute(f"PRAGMA cache_size = {cache}")
        temp_store.restore(db.conn, spilled)
    return True


def _refresh(db: sqlite_utils.Database, force: bool) -> None:
    with immediate(db):
        mark = _events_mark(db)
        built = _built(db)
        since = str((built or {}).get("events", ""))
        changed = 0
        incremental = (not force and built is not None and built.get("version") == BUILD_VERSION
                       and since.isdigit())
        if incremental:
            changed = _changed_buyers(db, int(since))
            incremental = changed <= INCREMENTAL_MAX_BUYERS
        if incremental:
            _update(db, int(since))
        else:
            _rebuild(db)
        db.execute("DROP TABLE IF EXISTS temp.rec_changed")
        db.execute("DROP TABLE IF EXISTS temp.rec_touched")
        db.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [MARK_KEY, json.dumps({"events": mark, "at": now_ts(), "version": BUILD_VERSION})],
        )


# The SQL shared by the full and the incremental build. {who} narrows to some buyers (or is "1").

def _latest_items_sql(who: str, scan: str) -> str:
    """Each buyer's RECENT_ITEMS_PER_USER latest distinct ordered items (by their last order of each)."""
    return f"""
        SELECT user_id, object FROM (
            SELECT user_id, object,
                   ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY MAX(at) DESC, object) AS rn
            FROM events {scan} WHERE {_is_order()} AND object IS NOT NULL AND {who}
            GROUP BY user_id, object
        ) WHERE rn <= {RECENT_ITEMS_PER_USER}
    """


def _pairs_sql(who: str) -> str:
    """(object, other, buyers) over rec_user_items of the buyers matching {who} (a.user_id)."""
    return f"""
        SELECT a.object AS object, b.object AS other, COUNT(*) AS n
        FROM rec_user_items a JOIN rec_user_items b ON b.user_id = a.user_id AND b.object != a.object
        WHERE {who}
        GROUP BY a.object, b.object
    """


def _rank_also_bought(db: sqlite_utils.Database, which: str) -> None:
    db.execute(
        f"""
        INSERT INTO rec_also_bought (object, rank, other, buyers)
        SELECT object, rn, other, buyers FROM (
            SELECT object, other, buyers,
                   ROW_NUMBER() OVER (PARTITION BY object ORDER BY buyers DESC, other) AS rn
            FROM rec_pairs WHERE {which}
        ) WHERE rn <= {PER_ITEM}
        """
    )


def _rank_best_sellers(db: sqlite_utils.Database, which: str) -> None:
    db.execute(
        f"""
        INSERT INTO rec_best_sellers (category, rank, object, orders)
        SELECT category, rn, object, orders FROM (
            SELECT category, object, orders,
                   ROW_NUMBER() OVER (PARTITION BY category ORDER BY orders DESC, object) AS rn
            FROM rec_item_orders WHERE {which}
        ) WHERE rn <= {PER_CATEGORY}
        """
    )


def _rebuild(db: sqlite_utils.Database) -> None:
    """Everything from all orders: one sequential scan of events per table (no index look-ups)."""
    for table in ("rec_item_orders", "rec_user_items", "rec_pairs", "rec_best_sellers", "rec_also_bought"):
        db.execute(f"DELETE FROM {table}")
    db.execute(f"""
        INSERT INTO rec_item_orders (category, object, orders)
        SELECT category, object, COUNT(*) FROM events NOT INDEXED
        WHERE {_is_order()} AND object IS NOT NULL AND category IS NOT NULL
        GROUP BY category, object
    """)
    _rank_best_sellers(db, "1")
    db.execute(f"INSERT INTO rec_user_items (user_id, object) {_latest_items_sql('1', 'NOT INDEXED')} "
               "ORDER BY user_id, object")
    db.execute(f"INSERT INTO rec_pairs (object, other, buyers) {_pairs_sql('1')}")
    _rank_also_bought(db, "1")


def _changed_buyers(db: sqlite_utils.Database, since: int) -> int:
    """temp.rec_changed: buyers with an order after event id *since*; their count."""
    db.execute("DROP TABLE IF EXISTS temp.rec_changed")
    db.execute("CREATE TEMP TABLE rec_changed (user_id INTEGER PRIMARY KEY)")
    db.execute(f"INSERT OR IGNORE INTO rec_changed SELECT user_id FROM events WHERE id > ? AND {_is_order()} "
               "AND object IS NOT NULL", [since])
    return db.execute("SELECT count(*) FROM rec_changed").fetchone()[0]


def _update(db: sqlite_utils.Database, since: int) -> None:
    """Fold the orders after event id *since* into the kept counts; re-rank only what they touched."""
    changed = "a.user_id IN (SELECT user_id FROM rec_changed)"
    db.execute("DROP TABLE IF EXISTS temp.rec_touched")
    db.execute("CREATE TEMP TABLE rec_touched (object TEXT PRIMARY KEY) WITHOUT ROWID")
    # Best sellers: add the new orders' counts.
    db.execute(f"""
        INSERT INTO rec_item_orders (category, object, orders)
        SELECT category, object, COUNT(*) FROM events
        WHERE id > ? AND {_is_order()} AND object IS NOT NULL AND category IS NOT NULL
        GROUP BY category, object
        ON CONFLICT (category, object) DO UPDATE SET orders = orders + excluded.orders
    """, [since])
    # Co-occurrence: take the changed buyers' old pairs out, re-read their latest items, put the new pairs in.
    db.execute(f"INSERT OR IGNORE INTO rec_touched SELECT a.object FROM rec_user_items a WHERE {changed}")
    db.execute(f"""
        UPDATE rec_pairs SET buyers = buyers - old.n
        FROM ({_pairs_sql(changed)}) AS old
        WHERE rec_pairs.object = old.object AND rec_pairs.other = old.other
    """)
    db.execute("DELETE FROM rec_user_items WHERE user_id IN (SELECT user_id FROM rec_changed)")
    db.execute(f"INSERT INTO rec_user_items (user_id, object) "
               f"{_latest_items_sql('user_id IN (SELECT user_id FROM rec_changed)', '')}")
    db.execute(f"INSERT OR IGNORE INTO rec_touched SELECT a.object FROM rec_user_items a WHERE {changed}")
    db.execute(f"""
        INSERT INTO rec_pairs (object, other, buyers) {_pairs_sql(changed)}
        ON CONFLICT (object, other) DO UPDATE SET buyers = buyers + excluded.buyers
    """)
    touched = "object IN (SELECT object FROM rec_touched)"
    db.execute(f"DELETE FROM rec_pairs WHERE {touched} AND buyers <= 0")
    db.execute(f"DELETE FROM rec_also_bought WHERE {touched}")
    _rank_also_bought(db, touched)
    categories = (f"category IN (SELECT DISTINCT category FROM events WHERE id > {int(since)} "
                  f"AND {_is_order()} AND object IS NOT NULL AND category IS NOT NULL)")
    db.execute(f"DELETE FROM rec_best_sellers WHERE {categories}")
    _rank_best_sellers(db, categories)


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


class UserRecommendations(TypedDict):
    """Lookup.for_user: a message's `recommendations` (what the user last looked at or bought, and what to show)."""
    last_item: str | None
    last_item_kind: str | None
    top_category: str | None
    best_sellers: list[str]    # the top category's best sellers the user does not have, at most 3
    also_bought: list[str]     # bought with their last purchase, at most 3


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
                 last_bought: str | None) -> UserRecommendations:
        best = self.best.get(top_category or "", [])
        owned = {last_item, last_bought}
        return {
            "last_item": last_item,
            "last_item_kind": last_kind,
            "top_category": top_category,
            "best_sellers": [o for o in best if o not in owned][:3],
            "also_bought": [o for o in self.also.get(last_bought or "", []) if o not in owned][:3],
        }
