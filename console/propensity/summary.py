"""Per-customer purchase histories (x, t_x, T, monetary) from order events, in one set-based query.

Orders are counted per local calendar day (the workspace's time zone): two orders on one day are one purchase
occasion, as in the models' literature, and split shipments do not look like loyalty. Times are measured in
whole days from the customer's first order day and converted to the model's unit (days or weeks).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import sqlite_utils

from console.errors import BadInput

DAY = 86_400
UNITS = {"days": 1.0, "weeks": 7.0}


@dataclass
class Summary:
    """Arrays aligned by customer. With a holdout split, x/t_x/T describe history up to the split day."""

    user_id: np.ndarray        # int64
    x: np.ndarray              # repeat purchase days
    t_x: np.ndarray            # last − first purchase day, in unit
    T: np.ndarray              # end − first purchase day, in unit
    monetary: np.ndarray       # mean value of repeat purchase days; NaN when none or no amounts
    unit: str
    end_day: int               # last local day counted (days since epoch)
    holdout_orders: np.ndarray | None = None   # purchase days after the split, up to end_day

    @property
    def customers(self) -> int:
        return int(self.x.size)

    @property
    def repeaters(self) -> int:
        return int(np.count_nonzero(self.x > 0))

    @property
    def spenders(self) -> int:
        return int(np.count_nonzero((self.x > 0) & (np.nan_to_num(self.monetary) > 0)))


def unit_days(unit: str) -> float:
    if unit not in UNITS:
        raise BadInput(f"unknown time unit {unit!r}: use days or weeks")
    return UNITS[unit]


def tz_offset(tz_name: str, at: int) -> int:
    """The zone's UTC offset in seconds at *at* (day boundaries are local)."""
    try:
        zone = ZoneInfo(tz_name)
    except Exception:  # an unknown zone name in config: fall back to UTC days rather than fail a fit
        return 0
    offset = datetime.fromtimestamp(at, UTC).astimezone(zone).utcoffset()
    return int(offset.total_seconds()) if offset else 0


SUMMARY_SQL = """
WITH days AS (
    SELECT user_id, (at + :offset) / 86400 AS day, SUM(amount) AS spend
    FROM events
    WHERE kind = 'order' AND at <= :cutoff
    GROUP BY user_id, day
), marked AS (
    SELECT user_id, day, spend, MIN(day) OVER (PARTITION BY user_id) AS first_day
    FROM days
)
SELECT user_id,
       SUM(day <= :split) - 1 AS x,
       MIN(day) AS first_day,
       MAX(CASE WHEN day <= :split THEN day END) AS last_day,
       AVG(CASE WHEN day > first_day AND day <= :split THEN spend END) AS monetary,
       SUM(day > :split) AS holdout_orders
FROM marked
GROUP BY user_id
HAVING MIN(day) <= :split
ORDER BY user_id
"""


def summarise(
    db: sqlite_utils.Database,
    *,
    cutoff: int,
    unit: str = "weeks",
    offset: int = 0,
    holdout_days: int | None = None,
) -> Summary:
    """Summaries of every customer with an order at or before *cutoff*.

    With *holdout_days*, the history is split: x, t_x, T and monetary cover days up to the split (only customers
    who had ordered by then), and `holdout_orders` counts purchase days in the holdout period after it.
    """
    scale = unit_days(unit)
    end_day = (cutoff + offset) // DAY
    split = end_day - holdout_days if holdout_days else end_day
    rows = db.execute(SUMMARY_SQL, {"offset": offset, "cutoff": cutoff, "split": split}).fetchall()
    # One conversion for all columns; NULL (no repeat amounts) becomes NaN.
    table = np.array(rows, dtype=np.float64).reshape(len(rows), 6)
    uid, x, first, last, monetary, holdout = table.T
    return Summary(
        user_id=uid.astype(np.int64),
        x=x.copy(),
        t_x=(last - first) / scale,
        T=(split - first) / scale,
        monetary=monetary.copy(),
        unit=unit,
        end_day=int(split),
        holdout_orders=holdout.copy() if holdout_days else None,
    )
