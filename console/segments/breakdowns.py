"""A segment against the whole base on one profile dimension: users, share, base share and the index.
"""

from __future__ import annotations

from typing import Any, TypedDict

import sqlite_utils

from console import layers
from console.config import Config
from console.errors import BadInput
from console.segments.membership import where_clause

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


def _aov_band(config: Config) -> tuple[str, list[Any]]:
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


class BreakdownRow(TypedDict):
    """One value of a dimension: the segment's users with it against the whole base's."""

    value: Any                 # the dimension's value ("(unknown)" for none)
    users: int
    share: float               # of the segment, 0-1
    base_users: int
    base_share: float          # of the whole base, 0-1
    index: int | None          # 100 = as common as in the base; None when the base has none


def breakdown(db: sqlite_utils.Database, segment: Any, dimension: str, *, config: Config | None = None,
              limit: int = 12) -> list[BreakdownRow]:
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
    rows: list[BreakdownRow] = []
    for value, n in sorted(seg.items(), key=lambda kv: (-kv[1], str(kv[0]))):
        share = n / seg_total if seg_total else 0.0
        base_share = base.get(value, 0) / base_total if base_total else 0.0
        rows.append({"value": "(unknown)" if value is None else value, "users": n, "share": round(share, 4),
                     "base_users": base.get(value, 0), "base_share": round(base_share, 4),
                     "index": round(100 * share / base_share) if base_share else None})
    return rows[:limit]
