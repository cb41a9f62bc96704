"""`winback refresh`: derive one profile per user from events, then dormancy, layers and the R×F grid.

Everything is set-based SQL over temp tables:

1. *base*: one ordered scan of the covering index events(user_id, at, kind, amount) gives first/last times,
   lifetime orders and spend per user (no sort, no table look-ups);
2. *windows*: per user, index range counts of visits in the 7 days up to the last visit and orders in the 30
   days up to the last order, and the id of the last event (whose action/object/source we then read);
3. *top category*: the category each user ordered most (ties: most recent, then name);
4. *R×F*: quintiles by rank (ntile) at a full refresh; their edges are kept in `settings` so an incremental
   refresh scores changed users against the same edges;
5. *derived state*: dormancy and the axis buckets from cutoffs (see console/dormancy.py), one UPDATE.

Incremental (the default): only users with events newer than the last refresh (an events.id watermark — a
back-filled old event still counts as new) and new users are recomputed in steps 1-4; step 5 also covers users
whose last event crossed a threshold day since the last refresh's date. `--full` and `--as-of` recompute all.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import sqlite_utils

from console import dormancy, layers
from console.clock import now_ts
from console.config import Config

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

_ORDERS = ", ".join(f"'{k}'" for k in ORDER_KINDS)
_VISITS = ", ".join(f"'{k}'" for k in VISIT_KINDS)

# The dormancy metric's time, per metric, as an expression over profile columns (never built from input).
# A visit metric counts orders as visits: whoever ordered came by.
METRIC_SQL = {
    "order": "last_order_at",
    "visit": "max(coalesce(last_visit_at, last_order_at), coalesce(last_order_at, last_visit_at))",
    "login": "last_login_at",
    "any": "last_event_at",
}


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

def refresh(db: sqlite_utils.Database, config: Config, *, as_of: int | None = None, full: bool = False,
            progress: Progress | None = None) -> dict[str, Any]:
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
    mode = "full"
    if not (full or historical or prev is None or prev["historical"]):
        mode = "incremental"
    step_total = 6
    step = 0

    def tick() -> None:
        nonlocal step
        step += 1
        if progress:
            progress(step, step_total)

    db.execute("BEGIN IMMEDIATE")
    try:
        events_max = db.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
        users_max = db.execute("SELECT coalesce(max(id), 0) FROM users").fetchone()[0]
        _drop_temp(db)
        if mode == "full":
            updated = _full_base(db, as_of_ts if historical else None, tick)
            edges = _rank_grid(db)
            _put(db, K_RF_EDGES, json.dumps(edges))
            tick()
            _derive(db, dorm, lay, as_of_ts, config, only_touched=False)
            tick()
        else:
            changed = _changed_users(db, int(get_setting(db, K_WATERMARK) or 0),
                                     int(get_setting(db, K_USERS_WATERMARK) or 0))
            tick()
            _incremental_base(db, tick)
            edges_text = get_setting(db, K_RF_EDGES)
            _score_grid(db, json.loads(edges_text) if edges_text else None)
            tick()
            if get_setting(db, K_SIGNATURE) != signature:
                _derive(db, dorm, lay, as_of_ts, config, only_touched=False)
            else:
                _add_crossings(db, dorm, lay, prev["as_of"] if prev else as_of_ts, as_of_ts, config)
                _derive(db, dorm, lay, as_of_ts, config, only_touched=True)
            tick()
            updated = changed
        _put(db, K_WATERMARK, events_max)
        _put(db, K_USERS_WATERMARK, users_max)
        _put(db, K_AS_OF, as_of_ts)
        _put(db, K_HISTORICAL, "1" if historical else "0")
        _put(db, K_SIGNATURE, signature)
        _put(db, K_REFRESHED_AT, now_ts())
        _put(db, K_TIMEZONE, config.timezone)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    finally:
        _drop_temp(db)
    if progress:
        progress(step_total, step_total)
    counts = dict(db.execute("SELECT dormancy, count(*) FROM profiles GROUP BY dormancy").fetchall())
    return {
        "mode": mode,
        "as_of": as_of_ts,
        "users_recomputed": updated,
        "profiles": sum(counts.values()),
        "dormancy": {s: counts.get(s, 0) for s in dormancy.STATES},
        "seconds": round(time.perf_counter() - started, 3),
    }


def _drop_temp(db: sqlite_utils.Database) -> None:
    for table in ("wb_changed", "wb_base", "wb_windows", "wb_top", "wb_touch", "wb_rf"):
        db.execute(f"DROP TABLE IF EXISTS temp.{table}")


def _base_select(where: str) -> str:
    """Step 1 over the covering index: per-user times, lifetime orders and spend."""
    return f"""
        SELECT user_id,
               min(at) AS first_seen_at,
               max(at) AS last_event_at,
               max(CASE WHEN kind IN ({_VISITS}) THEN at END) AS last_visit_at,
               max(CASE WHEN kind = 'login' THEN at END) AS last_login_at,
               max(CASE WHEN kind IN ({_ORDERS}) THEN at END) AS last_order_at,
               sum(kind IN ({_ORDERS})) AS orders,
               total(CASE WHEN kind IN ({_ORDERS}) THEN amount END) AS spend
        FROM events INDEXED BY events_user_activity
        WHERE {where}
        GROUP BY user_id
    """


def _windows_and_assemble(db: sqlite_utils.Database, at_limit: str, tick: Callable[[], None], *,
                          everyone: bool) -> None:
    """Steps 2-3 for the users in temp.wb_base, then write their profile rows (INSERT OR REPLACE)."""
    db.execute(f"""
        CREATE TEMP TABLE wb_windows AS
        SELECT b.user_id,
               (SELECT count(*) FROM events e INDEXED BY events_user_activity
                 WHERE e.user_id = b.user_id AND e.at > b.last_visit_at - {VISIT_WINDOW}
                   AND e.at <= b.last_visit_at AND e.kind IN ({_VISITS})) AS visits_7d,
               (SELECT count(*) FROM events e INDEXED BY events_user_activity
                 WHERE e.user_id = b.user_id AND e.at > b.last_order_at - {ORDER_WINDOW}
                   AND e.at <= b.last_order_at AND e.kind IN ({_ORDERS})) AS orders_30d,
               (SELECT e.id FROM events e INDEXED BY events_user_activity
                 WHERE e.user_id = b.user_id AND e.at = b.last_event_at
                 ORDER BY e.id DESC LIMIT 1) AS last_event_id
        FROM wb_base b
    """)
    tick()
    among = "1" if everyone else "e.user_id IN (SELECT user_id FROM wb_changed)"
    # Top category: what the user ordered most; ties go to the most recent, then the name.
    db.execute(f"""
        CREATE TEMP TABLE wb_top AS
        SELECT user_id, category FROM (
            SELECT user_id, category,
                   row_number() OVER (PARTITION BY user_id ORDER BY n DESC, last_at DESC, category) AS rn
            FROM (SELECT e.user_id, e.category, count(*) AS n, max(e.at) AS last_at
                  FROM events e
                  WHERE e.kind IN ({_ORDERS}) AND e.category IS NOT NULL AND {at_limit} AND {among}
                  GROUP BY e.user_id, e.category))
        WHERE rn = 1
    """)
    tick()
    db.execute("""
        INSERT OR REPLACE INTO profiles (user_id, first_seen_at, last_event_at, last_action, last_object,
            last_category, access_channel, last_visit_at, visits_7d, last_login_at, last_order_at, orders_30d,
            orders, spend, aov, top_category, refreshed_at)
        SELECT b.user_id, b.first_seen_at, b.last_event_at, e.kind, e.object, e.category, e.source,
               b.last_visit_at, w.visits_7d, b.last_login_at, b.last_order_at, w.orders_30d,
               b.orders, round(b.spend, 2), CASE WHEN b.orders > 0 THEN round(b.spend / b.orders, 2) END,
               t.category, :now
        FROM wb_base b
        JOIN wb_windows w ON w.user_id = b.user_id
        LEFT JOIN events e ON e.id = w.last_event_id
        LEFT JOIN wb_top t ON t.user_id = b.user_id
        ORDER BY b.user_id
    """, {"now": now_ts()})


def _full_base(db: sqlite_utils.Database, until: int | None, tick: Callable[[], None]) -> int:
    """Rebuild every profile (from events up to `until` when given); returns users with events."""
    db.execute("DELETE FROM profiles")
    limit = f"at <= {int(until)}" if until is not None else "1"
    db.execute(f"CREATE TEMP TABLE wb_base AS {_base_select(limit)}")
    tick()
    _windows_and_assemble(db, "e." + limit if until is not None else "1", tick, everyone=True)
    n = db.execute("SELECT count(*) FROM wb_base").fetchone()[0]
    # Users without any event get a row too: never active, so counts need no outer join.
    db.execute("INSERT INTO profiles (user_id, refreshed_at) SELECT id, ? FROM users "
               "WHERE id NOT IN (SELECT user_id FROM profiles)", [now_ts()])
    return n


def _changed_users(db: sqlite_utils.Database, events_watermark: int, users_watermark: int) -> int:
    """Users with events added since the last refresh, plus users imported since then."""
    db.execute("CREATE TEMP TABLE wb_changed (user_id INTEGER PRIMARY KEY)")
    db.execute("INSERT OR IGNORE INTO wb_changed SELECT user_id FROM events WHERE id > ?", [events_watermark])
    db.execute("INSERT OR IGNORE INTO wb_changed SELECT id FROM users WHERE id > ?", [users_watermark])
    return db.execute("SELECT count(*) FROM wb_changed").fetchone()[0]


def _incremental_base(db: sqlite_utils.Database, tick: Callable[[], None]) -> int:
    db.execute(f"CREATE TEMP TABLE wb_base AS "
               f"{_base_select('user_id IN (SELECT user_id FROM wb_changed)')}")
    _windows_and_assemble(db, "1", tick, everyone=False)
    db.execute("INSERT OR IGNORE INTO profiles (user_id, refreshed_at) SELECT user_id, ? FROM wb_changed",
               [now_ts()])
    return db.execute("SELECT count(*) FROM wb_base").fetchone()[0]


# ---- R×F grid ------------------------------------------------------------------------------------------------

def _grid_case() -> tuple[str, list[Any]]:
    """CASE over (rf_r, rf_f) giving the grid name; names are bound, not spliced."""
    parts, params = [], []
    for name, rs, fs in layers.GRID:
        parts.append(f"WHEN rf_r IN ({', '.join(rs)}) AND rf_f IN ({', '.join(fs)}) THEN ?")
        params.append(name)
    return "CASE " + " ".join(parts) + " END", params


def _rank_grid(db: sqlite_utils.Database) -> dict[str, list[list[int]]]:
    """Full refresh: R and F quintiles by rank over users with orders; returns the edges for later scoring.

    R ranks by last order time (oldest → 1, so 5 = most recent); F by lifetime orders with ties broken
    first-come (lower user id first), so the edges do not collapse when most users ordered once.
    """
    db.execute("""
        CREATE TEMP TABLE wb_rf AS
        SELECT user_id, last_order_at, orders,
               ntile(5) OVER (ORDER BY last_order_at, user_id) AS r,
               ntile(5) OVER (ORDER BY orders, user_id) AS f
        FROM profiles WHERE orders > 0
    """)
    case, params = _grid_case()
    db.execute("""
        UPDATE profiles SET rf_r = wb_rf.r, rf_f = wb_rf.f, rf_cell = NULL
        FROM wb_rf WHERE wb_rf.user_id = profiles.user_id
    """)
    db.execute(f"UPDATE profiles SET rf_cell = {case} WHERE rf_r IS NOT NULL", params)
    # Exact tuple edges: the first (value, user_id) of each tile from 2 to 5.
    r_edges = [list(db.execute("SELECT last_order_at, user_id FROM wb_rf WHERE r = ? "
                               "ORDER BY last_order_at, user_id LIMIT 1", [k]).fetchone() or [])
               for k in range(2, 6)]
    f_edges = [list(db.execute("SELECT orders, user_id FROM wb_rf WHERE f = ? "
                               "ORDER BY orders, user_id LIMIT 1", [k]).fetchone() or [])
               for k in range(2, 6)]
    return {"r": [e for e in r_edges if e], "f": [e for e in f_edges if e]}


def _score_grid(db: sqlite_utils.Database, edges: dict[str, list[list[int]]] | None) -> None:
    """Incremental refresh: score the changed users against the edges of the last full refresh."""
    if not edges:
        return
    r_terms = " + ".join(["((last_order_at, user_id) >= (?, ?))"] * len(edges["r"])) or "0"
    f_terms = " + ".join(["((orders, user_id) >= (?, ?))"] * len(edges["f"])) or "0"
    params = [v for e in edges["r"] for v in e] + [v for e in edges["f"] for v in e]
    db.execute(f"""
        UPDATE profiles SET rf_r = CASE WHEN orders > 0 THEN 1 + {r_terms} END,
                            rf_f = CASE WHEN orders > 0 THEN 1 + {f_terms} END
        WHERE user_id IN (SELECT user_id FROM wb_changed)
    """, params)
    case, case_params = _grid_case()
    db.execute(f"UPDATE profiles SET rf_cell = CASE WHEN rf_r IS NULL THEN NULL ELSE {case} END "
               "WHERE user_id IN (SELECT user_id FROM wb_changed)", case_params)


# ---- derived state -------------------------------------------------------------------------------------------

def _recency_case(column: str, cutoffs: list[int], params: list[Any]) -> str:
    """Bucket 0 if the column is newer than the first cutoff, 1 if newer than the second, ...; NULL stays NULL."""
    parts = [f"WHEN {column} IS NULL THEN NULL"]
    for i, cut in enumerate(cutoffs):
        parts.append(f"WHEN {column} >= ? THEN {i}")
        params.append(cut)
    return f"CASE {' '.join(parts)} ELSE {len(cutoffs)} END"


def _frequency_case(column: str, edges: tuple[int, ...], params: list[Any], null_when: str) -> str:
    """Bucket 0 for the most frequent: edges [2, 5] → ≥5 is 0, ≥2 is 1, else 2."""
    parts = [f"WHEN {null_when} THEN NULL"] if null_when else []
    for i, edge in enumerate(reversed(edges)):
        parts.append(f"WHEN {column} >= ? THEN {i}")
        params.append(edge)
    return f"CASE {' '.join(parts)} ELSE {len(edges)} END"


def _derive(db: sqlite_utils.Database, dorm: dormancy.DormancySettings, lay: layers.LayerSettings,
            as_of: int, config: Config, *, only_touched: bool) -> None:
    """Dormancy, axis buckets and layer from the profile's times and counts, as of `as_of`."""
    tz = dormancy.zone(config)

    def cuts(days: tuple[int, ...]) -> list[int]:
        return [dormancy.cutoff(as_of, d, tz) for d in days]

    metric = METRIC_SQL[dorm.metric]
    params: list[Any] = []
    risk, dormant, lost = cuts((dorm.at_risk_days, dorm.dormant_days, dorm.lost_days))
    state = (f"CASE WHEN {metric} IS NULL THEN 'never_active' WHEN {metric} < ? THEN 'lost' "
             f"WHEN {metric} < ? THEN 'dormant' WHEN {metric} < ? THEN 'at_risk' ELSE 'active' END")
    params += [lost, dormant, risk]
    visit_recency = _recency_case("last_visit_at", cuts(lay.visit_recency_days), params)
    visit_frequency = _frequency_case("visits_7d", lay.visit_frequency, params, "last_visit_at IS NULL")
    order_recency = _recency_case("last_order_at", cuts(lay.order_recency_days), params)
    order_frequency = _frequency_case("orders_30d", lay.order_frequency, params, "last_order_at IS NULL")
    temperature = _recency_case("last_event_at", cuts(lay.seen_days), params)
    # Never ordered counts as the lightest loyalty.
    loyalty = _frequency_case("orders_30d", lay.order_frequency, params, "last_event_at IS NULL")
    sql = f"""
        UPDATE profiles SET dormancy_at = {metric}, dormancy = {state},
            visit_recency = {visit_recency}, visit_frequency = {visit_frequency},
            order_recency = {order_recency}, order_frequency = {order_frequency},
            temperature = {temperature}, loyalty = {loyalty}
    """
    if only_touched:
        sql += " WHERE user_id IN (SELECT user_id FROM wb_touch)"
    db.execute(sql, params)
    # Layer names from the two buckets; names are bound parameters.
    names = [(t, lo, f"{tn} {ln}") for t, tn in enumerate(lay.temperature_names)
             for lo, ln in enumerate(lay.loyalty_names)]
    case = " ".join("WHEN temperature = ? AND loyalty = ? THEN ?" for _ in names)
    layer_params = [v for triple in names for v in triple]
    where = " WHERE user_id IN (SELECT user_id FROM wb_touch)" if only_touched else ""
    db.execute(f"UPDATE profiles SET layer = CASE {case} END{where}", layer_params)


def _add_crossings(db: sqlite_utils.Database, dorm: dormancy.DormancySettings, lay: layers.LayerSettings,
                   prev_as_of: int, as_of: int, config: Config) -> None:
    """temp.wb_touch = changed users + users whose times crossed a threshold day between the two dates."""
    db.execute("CREATE TEMP TABLE wb_touch (user_id INTEGER PRIMARY KEY)")
    db.execute("INSERT INTO wb_touch SELECT user_id FROM wb_changed")
    tz = dormancy.zone(config)
    pairs: list[tuple[str, tuple[int, ...]]] = [
        ("dormancy_at", (dorm.at_risk_days, dorm.dormant_days, dorm.lost_days)),
        ("last_visit_at", lay.visit_recency_days),
        ("last_order_at", lay.order_recency_days),
        ("last_event_at", lay.seen_days),
    ]
    terms, params = [], []
    for column, days in pairs:
        for d in days:
            a, b = dormancy.cutoff(prev_as_of, d, tz), dormancy.cutoff(as_of, d, tz)
            if a == b:
                continue
            terms.append(f"({column} >= ? AND {column} < ?)")
            params += [min(a, b), max(a, b)]
    if terms:
        db.execute(f"INSERT OR IGNORE INTO wb_touch SELECT user_id FROM profiles WHERE {' OR '.join(terms)}",
                   params)
