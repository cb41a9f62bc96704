"""Layers (分层): the four axes bucketed into named layers, the R×F grid, and the counts the console draws.

Axes (DOMAIN.md "Dormancy and layers"), each bucketed with thresholds from `[layers]` in winback.toml; bucket 0
is always the likeliest to come back (most recent, most frequent):

- visit_recency   days since the last visit             `visit_recency_days = [30, 90]`
- visit_frequency visits in the 7 days up to it          `visit_frequency = [2, 5]`   (≥5, 2-4, ≤1)
- order_recency   days since the last order             `order_recency_days = [30, 90]`
- order_frequency orders in the 30 days up to it         `order_frequency = [2, 3]`   (≥3, 2, ≤1)

A user's *layer* names two of them: temperature (days since last seen, any event: warm / cool / cold, edges
`seen_days = [30, 90]`) and loyalty (the order-frequency bucket: loyal / regular / light; never ordered counts as
light) — "warm loyal", "cold light". The console's heat map is exactly that 3×3 grid of layers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from console.config import Config
from console.dormancy import STATE_LABELS, STATES
from console.errors import BadInput

# The classic R×F grid (scores 1-5; R reversed so 5 = most recent). Names partition the 25 cells exactly once:
# (name, R scores, F scores). tests/test_segments_layers.py proves the partition.
GRID: tuple[tuple[str, str, str], ...] = (
    ("Champions", "5", "45"),
    ("Loyal", "34", "45"),
    ("Potential Loyalists", "45", "23"),
    ("New", "5", "1"),
    ("Promising", "4", "1"),
    ("Need Attention", "3", "3"),
    ("About to Sleep", "3", "12"),
    ("At Risk", "12", "34"),
    ("Can't Lose", "12", "5"),
    ("Hibernating", "12", "12"),
)
GRID_NAMES = tuple(name for name, _, _ in GRID)


def grid_names_of(r: int, f: int) -> list[str]:
    """Every grid name whose cells include (r, f) — exactly one for a valid table."""
    return [name for name, rs, fs in GRID if str(r) in rs and str(f) in fs]


def grid_name(r: int | None, f: int | None) -> str | None:
    if r is None or f is None:
        return None
    names = grid_names_of(r, f)
    return names[0] if names else None


@dataclass(frozen=True)
class LayerSettings:
    seen_days: tuple[int, ...] = (30, 90)
    visit_recency_days: tuple[int, ...] = (30, 90)
    visit_frequency: tuple[int, ...] = (2, 5)
    order_recency_days: tuple[int, ...] = (30, 90)
    order_frequency: tuple[int, ...] = (2, 3)
    temperature_names: tuple[str, ...] = ("warm", "cool", "cold")
    loyalty_names: tuple[str, ...] = ("loyal", "regular", "light")
    aov_bands: tuple[float, ...] = (100, 300, 1000)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {k: list(v) for k, v in self.__dict__.items() if isinstance(v, tuple)}

    def layer_names(self) -> list[str]:
        return [f"{t} {lo}" for t in self.temperature_names for lo in self.loyalty_names]


def _ascending_ints(key: str, value: Any) -> tuple[int, ...]:
    if not isinstance(value, list | tuple) or not value or not all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value
    ) or list(value) != sorted(set(value)):
        raise BadInput(f"[layers] {key} = {value!r}; give growing whole numbers above 0, e.g. [30, 90]")
    return tuple(value)


def settings(config: Config) -> LayerSettings:
    """Layer thresholds and names from `[layers]`, with the defaults above for anything not set."""
    raw = dict(config.layers or {})
    base = LayerSettings()
    values: dict[str, Any] = {}
    for key in ("seen_days", "visit_recency_days", "visit_frequency", "order_recency_days", "order_frequency"):
        values[key] = _ascending_ints(key, raw[key]) if key in raw else getattr(base, key)
    if "aov_bands" in raw:
        bands = raw["aov_bands"]
        if not isinstance(bands, list) or not bands or list(bands) != sorted(set(bands)):
            raise BadInput(f"[layers] aov_bands = {bands!r}; give growing amounts, e.g. [100, 300, 1000]")
        values["aov_bands"] = tuple(bands)
    for key, size_of in (("temperature_names", "seen_days"), ("loyalty_names", "order_frequency")):
        names = raw.get(key, getattr(base, key))
        want = len(values[size_of]) + 1
        if (not isinstance(names, list | tuple) or len(names) != want
                or not all(isinstance(n, str) and n.strip() for n in names)):
            raise BadInput(f"[layers] {key} needs {want} names (one per bucket of {size_of}), got {names!r}")
        values[key] = tuple(n.strip() for n in names)
    return LayerSettings(**values)


# ---- axis labels -------------------------------------------------------------------------------------------

def recency_labels(edges: tuple[int, ...]) -> list[str]:
    labels = [f"<{edges[0]}d"]
    labels += [f"{a}-{b}d" for a, b in zip(edges, edges[1:], strict=False)]
    labels.append(f"≥{edges[-1]}d")
    return labels


def frequency_labels(edges: tuple[int, ...]) -> list[str]:
    """Bucket 0 is the most frequent: [2, 5] → ≥5, 2-4, ≤1."""
    top = list(reversed(edges))
    labels = [f"≥{top[0]}"]
    for hi, lo in zip(top, top[1:], strict=False):
        labels.append(str(lo) if hi - lo == 1 else f"{lo}-{hi - 1}")
    labels.append(f"≤{edges[0] - 1}")
    return labels


AXES = ("temperature", "loyalty", "visit_recency", "visit_frequency", "order_recency", "order_frequency")


def axis_labels(s: LayerSettings, axis: str) -> tuple[list[str], str | None]:
    """(labels by bucket index, label for users without a value on that axis)."""
    if axis == "temperature":
        return [f"{n} ({lab})" for n, lab in zip(s.temperature_names, recency_labels(s.seen_days),
                                                 strict=True)], None
    if axis == "loyalty":
        return [f"{n} ({lab})" for n, lab in zip(s.loyalty_names, frequency_labels(s.order_frequency),
                                                 strict=True)], None
    if axis == "visit_recency":
        return [f"seen {lab}" for lab in recency_labels(s.visit_recency_days)], "no visits"
    if axis == "visit_frequency":
        return [f"{lab} visits/7d" for lab in frequency_labels(s.visit_frequency)], "no visits"
    if axis == "order_recency":
        return [f"ordered {lab}" for lab in recency_labels(s.order_recency_days)], "no orders"
    if axis == "order_frequency":
        return [f"{lab} orders/30d" for lab in frequency_labels(s.order_frequency)], "no orders"
    raise BadInput(f"no layer axis {axis!r}; choose one of {', '.join(AXES)}")


# ---- counts for the console ----------------------------------------------------------------------------------

def _segment_filter(db: sqlite_utils.Database, segment: Any) -> tuple[str, str, list[Any]]:
    """(FROM clause over profiled users, WHERE fragment, params). Profiles come first, so their indexes answer
    GROUP BY dormancy/layer without reading rows; `users` is joined only when the rule reads a user column."""
    if segment is None:
        return "FROM profiles p", "1", []
    from console import segments

    source, where, params = segments.profiled_source(db, segment)
    return f"FROM {source}", where, params




def _new_users(db: sqlite_utils.Database, where: str, params: list[Any]) -> int:
    """Users imported since the last refresh (no profile yet) that match: they count as never active."""
    row = db.execute("SELECT value FROM settings WHERE key = 'profiles.users_watermark'").fetchone()
    sql = (f"SELECT count(*) FROM users u LEFT JOIN profiles p NOT INDEXED ON p.user_id = u.id "
           f"WHERE u.id > ? AND p.user_id IS NULL AND ({where})")
    return db.execute(sql, [int(row[0]) if row else 0, *params]).fetchone()[0]


def funnel(db: sqlite_utils.Database, segment: Any = None) -> list[dict[str, Any]]:
    """Users per dormancy state, in funnel order: state, label, users, share (0-1).

    Users imported since the last refresh have no profile yet and count as never active.
    """
    source, where, params = _segment_filter(db, segment)
    counts = dict.fromkeys(STATES, 0)
    for state, n in db.execute(f"SELECT p.dormancy, count(*) {source} WHERE {where} GROUP BY 1",
                               params).fetchall():
        counts[state] = n
    counts["never_active"] += _new_users(db, where, params)
    total = sum(counts.values())
    return [{"state": s, "label": STATE_LABELS[s], "users": counts[s], "share": counts[s] / total if total else 0.0}
            for s in STATES]


dormancy_funnel = funnel


def layer_matrix(db: sqlite_utils.Database, segment: Any = None, *, config: Config | None = None,
                 rows: str = "temperature", cols: str = "loyalty") -> dict[str, Any]:
    """Counts per pair of axis buckets (default: the 3×3 layer grid), over a segment or all profiled users.

    Returns {"rows": [labels], "cols": [labels], "counts": [[n, ...], ...], "total": n, "layers": [[name]]};
    a "no visits"/"no orders" row or column is added when some users have no value on that axis.
    """
    from console.config import Config as _Config

    s = settings(config or _Config())
    row_labels, row_none = axis_labels(s, rows)
    col_labels, col_none = axis_labels(s, cols)
    source, where, params = _segment_filter(db, segment)
    # (row bucket, column bucket) -> users; None is the "no visits"/"no orders" bucket.
    cells: dict[tuple[int | None, int | None], int]
    # Axis names are checked against AXES above, so they are safe column names.
    if (rows, cols) == ("temperature", "loyalty"):
        # The layer name is exactly this pair: group by it and read the index, not the rows.
        pair = {f"{t} {lo}": (i, j) for i, t in enumerate(s.temperature_names)
                for j, lo in enumerate(s.loyalty_names)}
        sql = f"SELECT p.layer, count(*) {source} WHERE p.layer IS NOT NULL AND ({where}) GROUP BY 1"
        cells = {pair[name]: n for name, n in db.execute(sql, params).fetchall() if name in pair}
    else:
        # Axis names are checked against AXES above, so they are safe column names.
        sql = (f"SELECT p.{rows}, p.{cols}, count(*) {source} "
               f"WHERE p.layer IS NOT NULL AND ({where}) GROUP BY 1, 2")
        cells = {(r, c): n for r, c, n in db.execute(sql, params).fetchall()}
    has_row_none = any(r is None for r, _ in cells)
    has_col_none = any(c is None for _, c in cells)
    row_keys: list[int | None] = list(range(len(row_labels))) + ([None] if has_row_none else [])
    col_keys: list[int | None] = list(range(len(col_labels))) + ([None] if has_col_none else [])
    counts = [[cells.get((r, c), 0) for c in col_keys] for r in row_keys]
    out = {
        "rows": row_labels + ([row_none or "none"] if has_row_none else []),
        "cols": col_labels + ([col_none or "none"] if has_col_none else []),
        "counts": counts,
        "total": sum(cells.values()),
    }
    if rows == "temperature" and cols == "loyalty":
        out["layers"] = [[f"{t} {lo}" for lo in s.loyalty_names] for t in s.temperature_names]
    return out


def grid_matrix(db: sqlite_utils.Database, segment: Any = None) -> dict[str, Any]:
    """The R×F grid: counts per (R, F) score (rows R 5→1, columns F 5→1) and per grid name."""
    source, where, params = _segment_filter(db, segment)
    sql = f"SELECT p.rf_r, p.rf_f, count(*) {source} WHERE p.rf_r IS NOT NULL AND ({where}) GROUP BY 1, 2"
    cells = {(r, f): n for r, f, n in db.execute(sql, params).fetchall()}
    by_name = dict.fromkeys(GRID_NAMES, 0)
    for (r, f), n in cells.items():
        name = grid_name(r, f)
        if name:
            by_name[name] += n
    return {
        "rows": [f"R{r}" for r in range(5, 0, -1)],
        "cols": [f"F{f}" for f in range(5, 0, -1)],
        "counts": [[cells.get((r, f), 0) for f in range(5, 0, -1)] for r in range(5, 0, -1)],
        "names": [{"name": k, "users": v} for k, v in by_name.items()],
        "total": sum(cells.values()),
    }
