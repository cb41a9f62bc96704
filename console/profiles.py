"""`winback refresh`: derive one profile per user from events, then dormancy, layers and the R×F grid.

Everything is set-based SQL over temp tables:

1. *base*: one ordered scan of the covering index events(user_id, at, kind, amount) gives first/last times,
   lifetime orders and spend per user (no sort, no table look-ups);
2. *windows*: per user, index range counts of visits in the 7 days up to the last visit and orders in the 30
   days up to the last order, and the id of the last event (whose action/object/source we then read);
3. *top category*: the category each user ordered most (ties: most recent, then name);
4. *R×F*: quintiles by rank (ntile) at a full refresh; their edges are kept in `settings` so an incremental
   refresh scores changed users against the same edges;
5. *derived state*: dormancy and the axis buckets from cutoffs (see console/dormancy.py).

A full refresh writes every profile with one INSERT ... SELECT (derived state computed inline, the profile
indexes dropped and rebuilt once) rather than updating rows after the fact. Incremental (the default): only users
with events newer than the last refresh (an events.id watermark — a back-filled old event still counts as new)
and new users are recomputed; users whose last event crossed a threshold day since the last refresh's date get
their derived state updated. `--full`, `--as-of` and a changed [dormancy]/[layers] config recompute all.

The derived state's SQL (dormancy, the layer axes and name, the R×F grid) is console/profile_state.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypedDict

import sqlite_utils

from console import dormancy, layers
from console.clock import now_ts
from console.config import Config
from console.profile_state import (  # the state a refresh derives, as SQL (console/profile_state.py)
    Binder,
    add_crossings,
    derived_columns,
    grid_case,
    grid_scores,
    layer_case,
    rank_grid,
)
from storage import temp_store
from storage.db import begin_immediate

ORDER_KINDS = ("order", "purchase")
VISIT_KINDS = ("visit", "login")
VISIT_WINDOW = 7 * dormancy.DAY
ORDER_WINDOW = 30 * dormancy.DAY

# settings keys
K_WATERMARK = "profiles.events_watermark"
K_USERS_WATERMARK = "profiles.users_watermark"
K_AS_OF = "profiles.as_of"
K_HISTORICAL = "profiles.historical"
K_SIGNATURE = "profiles.signature"
K_RF_EDGES = "profiles.rf_edges"
K_REFRESHED_AT = "profiles.refreshed_at"
K_TIMEZONE = "profiles.timezone"

Progress = Callable[[int, int | None], None]

REFRESH_CACHE_KIB = 64 * 1024   # 128 MiB: no faster at 1M/10M, 60 MB more peak; 256 MiB put the CLI over 300 MB



def _kind_is(column: str, kinds: tuple[str, ...]) -> str:
    """`(kind = 'a' OR kind = 'b')`: over ten million rows this is twice as fast as `kind IN ('a', 'b')`."""
    return "(" + " OR ".join(f"{column} = '{k}'" for k in kinds) + ")"


_IS_ORDER = _kind_is("kind", ORDER_KINDS)
_IS_VISIT = _kind_is("kind", VISIT_KINDS)
_E_IS_ORDER = _kind_is("e.kind", ORDER_KINDS)
_E_IS_VISIT = _kind_is("e.kind", VISIT_KINDS)

# ---- settings helpers ----------------------------------------------------------------------------------------

def get_setting(db: sqlite_utils.Database, key: str) -> str | None:
    row = db.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
    return row[0] if row else None


def _put(db: sqlite_utils.Database, key: str, value: Any) -> None:
    db.execute("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
               [key, str(value)])


def last_refresh(db: sqlite_utils.Database) -> dict[str, Any] | None:
    """When profiles were last refreshed and as of which time, or None before the first refresh."""
    as_of = get_setting(db, K_AS_OF)
    if as_of is None:
        return None
    return {"as_of": int(as_of), "refreshed_at": int(get_setting(db, K_REFRESHED_AT) or 0),
            "historical": get_setting(db, K_HISTORICAL) == "1", "timezone": get_setting(db, K_TIMEZONE)}


def profiles_as_of(db: sqlite_utils.Database) -> tuple[int, str | None]:
    """(as_of, time zone) that profile-based rules are evaluated at: the last refresh's, else now."""
    info = last_refresh(db)
    if info is None:
        return now_ts(), None
    return info["as_of"], info["timezone"]


def _signature(config: Config) -> str:
    return json.dumps({"dormancy": dormancy.settings(config).as_dict(), "layers": layers.settings(config).as_dict(),
                       "timezone": config.timezone}, sort_keys=True)


# ---- the refresh ---------------------------------------------------------------------------------------------

class RefreshSummary(TypedDict):
    """What `refresh` did (`winback refresh --json` adds console.workspace_refresh's keys)."""

    mode: str                      # full | incremental
    as_of: int
    users_recomputed: int
    profiles: int
    dormancy: dict[str, int]       # profiles per dormancy state
    seconds: float
    steps: dict[str, float]        # seconds per step


def refresh(db: sqlite_utils.Database, config: Config, *, as_of: int | None = None, full: bool = False,
            progress: Progress | None = None) -> RefreshSummary:
    """Recompute profiles; incremental unless `full` or `as_of` is given. Returns what was done.

    `as_of` recomputes every profile from the events up to that time, as the workspace looked then.
    One transaction: readers see the old profiles until it commits.
    """
    started = time.perf_counter()
    dorm = dormancy.settings(config)
    lay = layers.settings(config)
    signature = _signature(config)
    historical = as_of is not None
    as_of_ts = as_of if as_of is not None else now_ts()
    prev = last_refresh(db)
    mode = "incremental"
    if (full or historical or prev is None or prev["historical"]
            or get_setting(db, K_SIGNATURE) != signature or get_setting(db, K_RF_EDGES) is None):
        mode = "full"
    timings: dict[str, float] = {}
    step_total = 4 if mode == "full" else 3
    step = 0
    mark = time.perf_counter()

    def tick(label: str) -> None:
        nonlocal step, mark
        step += 1
        now = time.perf_counter()
        timings[label] = round(now - mark, 3)
        mark = now
        if progress:
            progress(step, step_total)

    # A batch job over millions of rows: a bigger page cache for its sorts and index builds, and a helper thread
    # for the sorter; temp tables and sorts go to a temp file when that is harmless (storage/temp_store.py: in
    # memory a million users' facts and their sorts were most of a 950 MB peak — issue 17). All are this
    # connection's settings and are put back afterwards.
    saved = {k: db.execute(f"PRAGMA {k}").fetchone()[0] for k in ("cache_size", "threads")}
    db.execute(f"PRAGMA cache_size = {min(saved['cache_size'], -REFRESH_CACHE_KIB)}")
    db.execute("PRAGMA threads = 2")
    spilled = temp_store.spill_to_disk(db.conn)
    # Phase 1 reads events into temp tables inside a read snapshot: writers (a campaign sending, an import) are
    # not held up meanwhile. Phase 2 takes the write lock only to write profiles.
    db.execute("BEGIN")
    try:
        events_max = db.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
        users_max = db.execute("SELECT coalesce(max(id), 0) FROM users").fetchone()[0]
        _drop_temp(db)
        if mode == "full":
            recomputed, edges = _full_read(db, as_of_ts if historical else None, tick)
        else:
            recomputed = _incremental_read(db, tick)
        db.execute("COMMIT")
        begin_immediate(db.conn)   # waits out a long import (WINBACK_WRITE_WAIT) like every writer
        if mode == "full":
            _full_write(db, dorm, lay, as_of_ts, config, edges, tick)
        else:
            _incremental_write(db, dorm, lay, as_of_ts, prev["as_of"] if prev else as_of_ts, config,
                               recomputed, tick)
        _put(db, K_WATERMARK, events_max)
        _put(db, K_USERS_WATERMARK, users_max)
        _put(db, K_AS_OF, as_of_ts)
        _put(db, K_HISTORICAL, "1" if historical else "0")
        _put(db, K_SIGNATURE, signature)
        _put(db, K_REFRESHED_AT, now_ts())
        _put(db, K_TIMEZONE, config.timezone)
        db.execute("COMMIT")
    except BaseException:
        if db.conn.in_transaction:
            db.execute("ROLLBACK")
        raise
    finally:
        _drop_temp(db)
        for key, value in saved.items():
            db.execute(f"PRAGMA {key} = {int(value)}")
        temp_store.restore(db.conn, spilled)
    if progress:
        progress(step_total, step_total)
    counts = dict(db.execute("SELECT dormancy, count(*) FROM profiles GROUP BY dormancy").fetchall())
    return {
        "mode": mode,
        "as_of": as_of_ts,
        "users_recomputed": recomputed,
        "profiles": sum(counts.values()),
        "dormancy": {s: counts.get(s, 0) for s in dormancy.STATES},
        "seconds": round(time.perf_counter() - started, 3),
        "steps": timings,
    }


def _drop_temp(db: sqlite_utils.Database) -> None:
    for table in ("wb_changed", "wb_base", "wb_windows", "wb_top", "wb_touch", "wb_rf"):
        db.execute(f"DROP TABLE IF EXISTS temp.{table}")


# ---- collecting facts from events ------------------------------------------------------------------------

def _collect(db: sqlite_utils.Database, where: str, params: dict[str, Any], *, until: int | None,
             everyone: bool) -> None:
    """temp.wb_base, wb_windows, wb_top for the users whose events match `where` (keyed by user_id)."""
    db.execute("CREATE TEMP TABLE wb_base (user_id INTEGER PRIMARY KEY, first_seen_at, last_event_at, "
               "last_visit_at, last_login_at, last_order_at, orders, spend)")
    # One ordered pass over the covering index: rows come out by user_id, so this appends.
    db.execute(f"""
        INSERT INTO wb_base
        SELECT user_id, min(at), max(at),
               max(CASE WHEN {_IS_VISIT} THEN at END),
               max(CASE WHEN kind = 'login' THEN at END),
               max(CASE WHEN {_IS_ORDER} THEN at END),
               sum({_IS_ORDER}),
               total(CASE WHEN {_IS_ORDER} THEN amount END)
        FROM events INDEXED BY events_user_activity
        WHERE {where}
        GROUP BY user_id
    """, params)
    db.execute("CREATE TEMP TABLE wb_windows (user_id INTEGER PRIMARY KEY, visits_7d, orders_30d, last_event_id)")
    db.execute(f"""
        INSERT INTO wb_windows
        SELECT b.user_id,
               CASE WHEN b.last_visit_at IS NOT NULL THEN
               (SELECT count(*) FROM events e INDEXED BY events_user_activity
                 WHERE e.user_id = b.user_id AND e.at > b.last_visit_at - {VISIT_WINDOW}
                   AND e.at <= b.last_visit_at AND {_E_IS_VISIT}) ELSE 0 END,
               CASE WHEN b.last_order_at IS NOT NULL THEN
               (SELECT count(*) FROM events e INDEXED BY events_user_activity
                 WHERE e.user_id = b.user_id AND e.at > b.last_order_at - {ORDER_WINDOW}
                   AND e.at <= b.last_order_at AND {_E_IS_ORDER}) ELSE 0 END,
               (SELECT e.id FROM events e INDEXED BY events_user_activity
                 WHERE e.user_id = b.user_id AND e.at = b.last_event_at
                 ORDER BY e.id DESC LIMIT 1)
        FROM wb_base b
    """)
    # Top category: what the user ordered most; ties go to the most recent, then the name.
    among = "1" if everyone else "e.user_id IN (SELECT user_id FROM wb_changed)"
    # Everyone: one sequential table scan (an index on user_id would mean ten million look-ups in id order).
    scan = "NOT INDEXED" if everyone else ""
    limit = "1" if until is None else "e.at <= :until"
    db.execute("CREATE TEMP TABLE wb_top (user_id INTEGER PRIMARY KEY, category)")
    db.execute(f"""
        INSERT INTO wb_top
        SELECT user_id, category FROM (
            SELECT user_id, category,
                   row_number() OVER (PARTITION BY user_id ORDER BY n DESC, last_at DESC, category) AS rn
            FROM (SELECT e.user_id, e.category, count(*) AS n, max(e.at) AS last_at
                  FROM events e {scan}
                  WHERE {_E_IS_ORDER} AND e.category IS NOT NULL AND {limit} AND {among}
                  GROUP BY e.user_id, e.category))
        WHERE rn = 1
    """, {"until": until} if until is not None else {})


PROFILE_COLUMNS = (
    "user_id", "first_seen_at", "last_event_at", "last_action", "last_object", "last_category", "access_channel",
    "last_visit_at", "visits_7d", "last_login_at", "last_order_at", "orders_30d", "orders", "spend", "aov",
    "top_category", "rf_r", "rf_f", "dormancy_at", "dormancy", "visit_recency", "visit_frequency",
    "order_recency", "order_frequency", "temperature", "loyalty", "layer", "rf_cell", "refreshed_at",
)


def _profile_rows(driver: str, user_id: str, rf: tuple[str, str], derived: list[tuple[str, str]], bind: Binder,
                  lay: layers.LayerSettings) -> str:
    """SELECT of whole profile rows: facts from the temp tables, then derived state over them, then names."""
    facts = f"""
        SELECT {user_id} AS user_id, b.first_seen_at, b.last_event_at, e.kind AS last_action,
               e.object AS last_object, e.category AS last_category, e.source AS access_channel,
               b.last_visit_at, coalesce(w.visits_7d, 0) AS visits_7d, b.last_login_at, b.last_order_at,
               coalesce(w.orders_30d, 0) AS orders_30d, coalesce(b.orders, 0) AS orders,
               round(coalesce(b.spend, 0), 2) AS spend,
               CASE WHEN b.orders > 0 THEN round(b.spend / b.orders, 2) END AS aov,
               t.category AS top_category, {rf[0]} AS rf_r, {rf[1]} AS rf_f
        FROM {driver}
        LEFT JOIN wb_base b ON b.user_id = {user_id}
        LEFT JOIN wb_windows w ON w.user_id = {user_id}
        LEFT JOIN events e ON e.id = w.last_event_id
        LEFT JOIN wb_top t ON t.user_id = {user_id}
    """
    derived_sql = ", ".join(f"{expr} AS {name}" for name, expr in derived)
    layer = layer_case(lay, bind)
    grid = grid_case(bind)
    columns = ", ".join(PROFILE_COLUMNS)
    return f"""
        SELECT {columns} FROM (
            SELECT d.*, {layer} AS layer, {grid} AS rf_cell, {bind(now_ts())} AS refreshed_at
            FROM (SELECT f.*, {derived_sql} FROM ({facts}) f) d)
    """


def _full_read(db: sqlite_utils.Database, until: int | None, tick: Callable[[str], None]
               ) -> tuple[int, dict[str, list[list[int]]]]:
    """Facts and R×F ranks of every user (from the events up to `until` when given); (users with events, edges)."""
    _collect(db, "1" if until is None else "at <= :until", {"until": until} if until is not None else {},
             until=until, everyone=True)
    tick("collect")
    edges = rank_grid(db)
    tick("rank")
    return db.execute("SELECT count(*) FROM wb_base").fetchone()[0], edges


def _full_write(db: sqlite_utils.Database, dorm: dormancy.DormancySettings, lay: layers.LayerSettings, as_of: int,
                config: Config, edges: dict[str, list[list[int]]], tick: Callable[[str], None]) -> None:
    """Replace every profile with one INSERT ... SELECT; the profile indexes are rebuilt once afterwards."""
    index_sql = [r[0] for r in db.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'profiles' AND sql IS NOT NULL")]
    for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'profiles' "
                              "AND sql IS NOT NULL").fetchall():
        db.execute(f"DROP INDEX {name}")
    db.execute("DELETE FROM profiles")
    bind = Binder()
    derived = derived_columns(dorm, lay, as_of, config, bind)
    # Driven by users: everyone gets a row, the never active too, so counts need no outer join.
    sql = _profile_rows("users u LEFT JOIN wb_rf rf ON rf.user_id = u.id", "u.id", ("rf.r", "rf.f"), derived,
                        bind, lay)
    db.execute(f"INSERT INTO profiles ({', '.join(PROFILE_COLUMNS)}) {sql} ORDER BY user_id", bind.params)
    tick("write")
    for statement in index_sql:
        db.execute(statement)
    _put(db, K_RF_EDGES, json.dumps(edges))
    tick("index")


def _incremental_read(db: sqlite_utils.Database, tick: Callable[[str], None]) -> int:
    """Users with events added since the last refresh, and users imported since then; their facts."""
    db.execute("CREATE TEMP TABLE wb_changed (user_id INTEGER PRIMARY KEY)")
    db.execute("INSERT OR IGNORE INTO wb_changed SELECT user_id FROM events WHERE id > ?",
               [int(get_setting(db, K_WATERMARK) or 0)])
    db.execute("INSERT OR IGNORE INTO wb_changed SELECT id FROM users WHERE id > ?",
               [int(get_setting(db, K_USERS_WATERMARK) or 0)])
    changed = db.execute("SELECT count(*) FROM wb_changed").fetchone()[0]
    if changed:
        _collect(db, "user_id IN (SELECT user_id FROM wb_changed)", {}, until=None, everyone=False)
    tick("changed")
    return changed


def _incremental_write(db: sqlite_utils.Database, dorm: dormancy.DormancySettings, lay: layers.LayerSettings,
                       as_of: int, prev_as_of: int, config: Config, changed: int,
                       tick: Callable[[str], None]) -> None:
    """Rewrite the changed users' profiles; re-derive users who crossed a threshold day since `prev_as_of`."""
    if changed:
        bind = Binder()
        edges = json.loads(get_setting(db, K_RF_EDGES) or '{"r": [], "f": []}')
        derived = derived_columns(dorm, lay, as_of, config, bind)
        sql = _profile_rows("wb_changed c", "c.user_id", grid_scores(edges, bind), derived, bind, lay)
        db.execute(f"INSERT OR REPLACE INTO profiles ({', '.join(PROFILE_COLUMNS)}) {sql}", bind.params)
    tick("recompute")
    touched = add_crossings(db, dorm, lay, prev_as_of, as_of, config)
    if touched:
        bind = Binder()
        derived = derived_columns(dorm, lay, as_of, config, bind)
        sets = ", ".join(f"{name} = {expr}" for name, expr in derived)
        db.execute(f"UPDATE profiles SET {sets} WHERE user_id IN (SELECT user_id FROM wb_touch)", bind.params)
        bind = Binder()
        db.execute(f"UPDATE profiles SET layer = {layer_case(lay, bind)} "
                   "WHERE user_id IN (SELECT user_id FROM wb_touch)", bind.params)
    tick("crossings")


