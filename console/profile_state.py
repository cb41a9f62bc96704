"""The state `winback refresh` derives for each profile, as SQL expressions with bound parameters: dormancy and
the layer axes from cutoff days (console/dormancy.py, console/layers.py), the layer name, and the R×F grid —
quintiles by rank at a full refresh, scores against the kept edges at an incremental one.

The refresh itself (the scans, temp tables, writes and settings) is console/profiles.py.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from console import dormancy, layers
from console.config import Config

# The dormancy metric's time, per metric, as an expression over profile columns (never built from input).
# A visit metric counts orders as visits: whoever ordered came by.
METRIC_SQL = {
    "order": "last_order_at",
    "visit": "max(coalesce(last_visit_at, last_order_at), coalesce(last_order_at, last_visit_at))",
    "login": "last_login_at",
    "any": "last_event_at",
}


class Binder:
    """Named parameters for one statement: bind(value) returns the placeholder."""

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}

    def __call__(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f":{name}"


# ---- R×F grid ------------------------------------------------------------------------------------------------

def grid_case(bind: Binder) -> str:
    """CASE over (rf_r, rf_f) giving the grid name; names are bound, not spliced."""
    # Every score set in GRID is a contiguous range, so two comparisons each (cheaper than IN over 1M rows).
    parts = [f"WHEN rf_r BETWEEN {min(rs)} AND {max(rs)} AND rf_f BETWEEN {min(fs)} AND {max(fs)} "
             f"THEN {bind(name)}" for name, rs, fs in layers.GRID]
    return "CASE " + " ".join(parts) + " END"


def rank_grid(db: sqlite_utils.Database) -> dict[str, list[list[int]]]:
    """Full refresh: R and F quintiles by rank over users with orders; returns the edges for later scoring.

    R ranks by last order time (oldest → 1, so 5 = most recent); F by lifetime orders with ties broken
    first-come (lower user id first), so the edges do not collapse when most users ordered once.
    """
    db.execute("CREATE TEMP TABLE wb_rf (user_id INTEGER PRIMARY KEY, last_order_at, orders, r, f)")
    db.execute("""
        INSERT INTO wb_rf
        SELECT user_id, last_order_at, orders,
               ntile(5) OVER (ORDER BY last_order_at, user_id),
               ntile(5) OVER (ORDER BY orders, user_id)
        FROM wb_base WHERE orders > 0
        ORDER BY user_id
    """)
    # Exact tuple edges: the first (value, user_id) of each tile from 2 to 5.
    r_edges = [list(row) for k in range(2, 6) for row in db.execute(
        "SELECT last_order_at, user_id FROM wb_rf WHERE r = ? ORDER BY last_order_at, user_id LIMIT 1", [k])]
    f_edges = [list(row) for k in range(2, 6) for row in db.execute(
        "SELECT orders, user_id FROM wb_rf WHERE f = ? ORDER BY orders, user_id LIMIT 1", [k])]
    return {"r": r_edges, "f": f_edges}


def grid_scores(edges: dict[str, list[list[int]]], bind: Binder) -> tuple[str, str]:
    """Incremental refresh: R and F of changed users against the edges of the last full refresh."""
    def score(value: str, key: str) -> str:
        terms = " + ".join(f"(({value}, c.user_id) >= ({bind(a)}, {bind(b)}))" for a, b in edges.get(key, []))
        return f"CASE WHEN b.orders > 0 THEN 1 + {terms or '0'} END"

    return score("b.last_order_at", "r"), score("b.orders", "f")


# ---- derived state -------------------------------------------------------------------------------------------

def _recency_case(column: str, cutoffs: list[int], bind: Binder) -> str:
    """Bucket 0 if the column is newer than the first cutoff, 1 if newer than the second, ...; NULL stays NULL."""
    parts = [f"WHEN {column} IS NULL THEN NULL"]
    parts += [f"WHEN {column} >= {bind(cut)} THEN {i}" for i, cut in enumerate(cutoffs)]
    return f"CASE {' '.join(parts)} ELSE {len(cutoffs)} END"


def _frequency_case(column: str, edges: tuple[int, ...], bind: Binder, null_when: str) -> str:
    """Bucket 0 for the most frequent: edges [2, 5] → ≥5 is 0, ≥2 is 1, else 2."""
    parts = [f"WHEN {null_when} THEN NULL"]
    parts += [f"WHEN {column} >= {bind(edge)} THEN {i}" for i, edge in enumerate(reversed(edges))]
    return f"CASE {' '.join(parts)} ELSE {len(edges)} END"


def derived_columns(dorm: dormancy.DormancySettings, lay: layers.LayerSettings, as_of: int, config: Config,
                     bind: Binder) -> list[tuple[str, str]]:
    """(column, expression) of the state derived as of `as_of`, over bare profile column names."""
    tz = dormancy.zone(config)

    def cuts(days: tuple[int, ...]) -> list[int]:
        return [dormancy.cutoff(as_of, d, tz) for d in days]

    metric = METRIC_SQL[dorm.metric]
    risk, dormant, lost = cuts((dorm.at_risk_days, dorm.dormant_days, dorm.lost_days))
    state = (f"CASE WHEN {metric} IS NULL THEN 'never_active' WHEN {metric} < {bind(lost)} THEN 'lost' "
             f"WHEN {metric} < {bind(dormant)} THEN 'dormant' WHEN {metric} < {bind(risk)} THEN 'at_risk' "
             "ELSE 'active' END")
    return [
        ("dormancy_at", metric),
        ("dormancy", state),
        ("visit_recency", _recency_case("last_visit_at", cuts(lay.visit_recency_days), bind)),
        ("visit_frequency", _frequency_case("visits_7d", lay.visit_frequency, bind, "last_visit_at IS NULL")),
        ("order_recency", _recency_case("last_order_at", cuts(lay.order_recency_days), bind)),
        ("order_frequency", _frequency_case("orders_30d", lay.order_frequency, bind, "last_order_at IS NULL")),
        ("temperature", _recency_case("last_event_at", cuts(lay.seen_days), bind)),
        # Never ordered counts as the lightest loyalty.
        ("loyalty", _frequency_case("orders_30d", lay.order_frequency, bind, "last_event_at IS NULL")),
    ]


def layer_case(lay: layers.LayerSettings, bind: Binder) -> str:
    """The layer name from the temperature and loyalty buckets; names are bound parameters."""
    parts = [f"WHEN temperature = {t} AND loyalty = {lo} THEN {bind(f'{tn} {ln}')}"
             for t, tn in enumerate(lay.temperature_names) for lo, ln in enumerate(lay.loyalty_names)]
    return f"CASE {' '.join(parts)} END"


def add_crossings(db: sqlite_utils.Database, dorm: dormancy.DormancySettings, lay: layers.LayerSettings,
                   prev_as_of: int, as_of: int, config: Config) -> int:
    """temp.wb_touch = users (not just recomputed) whose times crossed a threshold day between the two dates."""
    db.execute("CREATE TEMP TABLE wb_touch (user_id INTEGER PRIMARY KEY)")
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
    if not terms:
        return 0
    changed = "AND user_id NOT IN (SELECT user_id FROM wb_changed)"
    db.execute(f"INSERT INTO wb_touch SELECT user_id FROM profiles WHERE ({' OR '.join(terms)}) {changed}", params)
    return db.execute("SELECT count(*) FROM wb_touch").fetchone()[0]
