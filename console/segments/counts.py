"""Counts for the console and `winback segments show`: users per dormancy state (the funnel), per layer (the
temperature × loyalty matrix, or any two axes) and per R×F grid cell, over a segment or all profiled users.

The buckets themselves (axes, labels, names) are console.layers'; the segment filter is console.segments'.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

import sqlite_utils

from console.config import Config
from console.dormancy import STATE_LABELS, STATES
from console.layers import GRID_NAMES, axis_labels, grid_name, settings
from console.segments import profiled_source


class StateCount(TypedDict):
    """One dormancy state of the funnel."""

    state: str
    label: str
    users: int
    share: float           # of all users counted, 0-1


class LayerMatrix(TypedDict):
    """Users per pair of axis buckets: counts[i][j] for rows[i] × cols[j]."""

    rows: list[str]
    cols: list[str]
    counts: list[list[int]]
    total: int
    layers: NotRequired[list[list[str]]]   # the layer name of each cell: only for temperature × loyalty


class GridName(TypedDict):
    name: str
    users: int


class GridMatrix(TypedDict):
    """The R×F grid: counts[i][j] for R rows[i] × F cols[j] (5→1), and the users per grid name."""

    rows: list[str]
    cols: list[str]
    counts: list[list[int]]
    names: list[GridName]
    total: int


def _segment_filter(db: sqlite_utils.Database, segment: Any) -> tuple[str, str, list[Any]]:
    """(FROM clause over profiled users, WHERE fragment, params). Profiles come first, so their indexes answer
    GROUP BY dormancy/layer without reading rows; `users` is joined only when the rule reads a user column."""
    if segment is None:
        return "FROM profiles p", "1", []
    source, where, params = profiled_source(db, segment)
    return f"FROM {source}", where, params


def _new_users(db: sqlite_utils.Database, where: str, params: list[Any]) -> int:
    """Users imported since the last refresh (no profile yet) that match: they count as never active."""
    row = db.execute("SELECT value FROM settings WHERE key = 'profiles.users_watermark'").fetchone()
    sql = (f"SELECT count(*) FROM users u LEFT JOIN profiles p NOT INDEXED ON p.user_id = u.id "
           f"WHERE u.id > ? AND p.user_id IS NULL AND ({where})")
    return db.execute(sql, [int(row[0]) if row else 0, *params]).fetchone()[0]


def funnel(db: sqlite_utils.Database, segment: Any = None) -> list[StateCount]:
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
                 rows: str = "temperature", cols: str = "loyalty") -> LayerMatrix:
    """Counts per pair of axis buckets (default: the 3×3 layer grid), over a segment or all profiled users.

    Returns {"rows": [labels], "cols": [labels], "counts": [[n, ...], ...], "total": n, "layers": [[name]]};
    a "no visits"/"no orders" row or column is added when some users have no value on that axis.
    """
    s = settings(config or Config())
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
    out: LayerMatrix = {
        "rows": row_labels + ([row_none or "none"] if has_row_none else []),
        "cols": col_labels + ([col_none or "none"] if has_col_none else []),
        "counts": counts,
        "total": sum(cells.values()),
    }
    if rows == "temperature" and cols == "loyalty":
        out["layers"] = [[f"{t} {lo}" for lo in s.loyalty_names] for t in s.temperature_names]
    return out


def grid_matrix(db: sqlite_utils.Database, segment: Any = None) -> GridMatrix:
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
