"""Budget-aware targeting: who to message first when the budget cannot reach everyone.

Ranks an audience by a score (expected value by default) and takes recipients in that order until the budget
is spent. The scores predict what customers would do unprompted, so this spends where there is most value still
reachable; it is not an estimate of uplift — the campaign's holdout measures that. `rank_by="uplift"` ranks by
the predicted extra chance of returning if messaged instead (console/uplift, `uplift_scores`), refused while the
latest uplift fit is not usable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

import numpy as np
import sqlite_utils

from console.errors import BadInput
from console.personalisation import refused_sql
from console.uplift.targeting import BudgetComparison, budget_comparison, refusal, scores_calibrated
from console.uplift.value import OfferCost, mean_order_value, net_value

RANKABLE = ("expected_value", "p_alive", "expected_orders_90d", "uplift")   # uplift: console/uplift (issue 15)


class Reach(TypedDict):   # the summary's `chosen` and `everyone`: what messaging the first n of the ranking reaches
    recipients: int
    cost: float
    expected_orders_90d: float
    expected_value: float
    mean_p_alive: float | None     # None: none of them is scored


class BudgetSummary(TypedDict):   # BudgetPick.summary: what the budget buys against sending to everyone
    rank_by: str
    audience: int
    scored: int                   # of the audience, those with scores
    budget: float | None
    cost_per_message: float
    chosen: Reach
    everyone: Reach
    share_of_expected_value: float | None
    share_if_random: float | None  # what the same number picked at random would capture, on average
    cutoff: dict[str, float] | None   # {rank_by: the last one bought's score}; None when everyone is bought
    uplift: NotRequired[BudgetComparison]   # rank_by uplift only


@dataclass
class BudgetPick:
    chosen: list[int]             # user ids, best first
    summary: BudgetSummary


def rank_for_budget(
    db: sqlite_utils.Database,
    user_ids_query: str,
    cost_per_message: float,
    budget: float | None,
    *,
    params: Any = (),
    rank_by: str = "expected_value",
    into: str | None = None,
    offer_cost: OfferCost | None = None,
) -> BudgetPick:
    """Pick recipients from the audience *user_ids_query* (SQL returning user ids in its first column, with
    *params*) in descending order of *rank_by* until *budget* is spent at *cost_per_message* each.

    Users without a score (never ordered) come last, by id. budget None or cost 0: everyone is chosen.
    With *into* (a name), the chosen ids are also written to `temp.<into>(user_id PRIMARY KEY, rank)`, rank 1
    the best, so a caller can mark the rest set-based and freeze the ledger in rank order.
    With rank_by "uplift" and an *offer_cost* (a cash coupon), users are ranked by the expected extra revenue
    net of the coupon (console.uplift.value) instead of the extra chance of returning alone.
    A user who refused personalised marketing (console.personalisation, PIPL Art. 24) is ranked at the audience's
    average score, not their own.
    """
    if into is not None and not into.isidentifier():
        raise ValueError(f"temp table name {into!r} is not an identifier")
    if rank_by not in RANKABLE:
        raise BadInput(f"--rank-by {rank_by!r}: use one of {', '.join(RANKABLE)}")
    if cost_per_message < 0 or (budget is not None and budget < 0):
        raise BadInput("budget and cost per message must not be negative")
    key = f"s.{rank_by}"
    if rank_by == "uplift":
        if (why := refusal(db)) is not None:
            raise BadInput(why)
        key = "up.uplift"
    # then whether they refused personalised marketing; ranked by uplift, what the net value of a coupon needs
    # (console.uplift.value)
    value_columns = ", up.p_treated, up.p_control, p.aov, p.layer" if rank_by == "uplift" else ""
    value_join = "LEFT JOIN profiles AS p ON p.user_id = a.user_id" if rank_by == "uplift" else ""
    sql = f"""
        WITH audience(user_id) AS ({user_ids_query})
        SELECT a.user_id, s.expected_value, s.expected_orders_90d, s.p_alive, up.uplift,
               {refused_sql("a.user_id")}{value_columns}
        FROM (SELECT DISTINCT user_id FROM audience) AS a
        LEFT JOIN scores AS s ON s.user_id = a.user_id
        LEFT JOIN uplift_scores AS up ON up.user_id = a.user_id
        {value_join}
        ORDER BY {key} IS NULL, {key} DESC, a.user_id
    """
    rows = db.execute(sql, params).fetchall()
    net = None
    if rank_by == "uplift":
        net, rows = _by_net_value(db, rows, offer_cost)
    rows, net = _refused_at_average(rows, net, 1 + RANKABLE_COLUMN[rank_by])
    total = len(rows)
    if budget is None or cost_per_message == 0:
        affordable = total
    else:
        affordable = min(total, math.floor(budget / cost_per_message + 1e-9))
    ids = [r[0] for r in rows]
    cols = np.array([[np.nan if v is None else v for v in r[1:5]] for r in rows], dtype=np.float64) \
        if rows else np.zeros((0, 4))
    value, orders, alive = cols[:, 0], cols[:, 1], cols[:, 2]

    def part(n: int) -> Reach:
        return {
            "recipients": n,
            "cost": round(n * cost_per_message, 2),
            "expected_orders_90d": float(np.nansum(orders[:n])),
            "expected_value": float(np.nansum(value[:n])),
            "mean_p_alive": float(np.nanmean(alive[:n])) if n and not np.isnan(alive[:n]).all() else None,
        }

    chosen, everyone = part(affordable), part(total)
    share = chosen["expected_value"] / everyone["expected_value"] if everyone["expected_value"] else None
    summary: BudgetSummary = {
        "rank_by": rank_by,
        "audience": total,
        "scored": int(np.count_nonzero(~np.isnan(alive))),
        "budget": budget,
        "cost_per_message": cost_per_message,
        "chosen": chosen,
        "everyone": everyone,
        "share_of_expected_value": share,
        # The same number of recipients picked at random would capture this share on average.
        "share_if_random": affordable / total if total else None,
        "cutoff": {rank_by: float(cols[affordable - 1, RANKABLE_COLUMN[rank_by]])}
        if 0 < affordable < total and not np.isnan(cols[affordable - 1, RANKABLE_COLUMN[rank_by]]) else None,
    }
    if rank_by == "uplift":
        summary["uplift"] = budget_comparison(cols[:, 3], alive, affordable, net_value=net,
                                              cost_per_message=cost_per_message,
                                              offer=offer_cost.offer if offer_cost else None,
                                              ids=np.array(ids, dtype=np.int64),
                                              calibrated=scores_calibrated(db))
    if into is not None:
        db.execute(f"DROP TABLE IF EXISTS temp.{into}")
        db.execute(f"CREATE TEMP TABLE {into} (user_id INTEGER PRIMARY KEY, rank INTEGER NOT NULL)")
        db.conn.executemany(f"INSERT INTO temp.{into} (user_id, rank) VALUES (?, ?)",
                            zip(ids[:affordable], range(1, affordable + 1), strict=True))
    return BudgetPick(ids[:affordable], summary)


def _by_net_value(db: sqlite_utils.Database, rows: list[Any], offer_cost: OfferCost | None
                  ) -> tuple[np.ndarray | None, list[Any]]:
    """Uplift rows (in uplift order) with their net value of a coupon, re-ranked by it (best first, unscored
    users last, ties by id); unchanged without a cash coupon."""
    if offer_cost is None or not rows:
        return None, rows
    p1, p0, aov = (np.array([np.nan if r[i] is None else r[i] for r in rows], dtype=np.float64) for i in (6, 7, 8))
    net = net_value(p1, p0, aov, offer_cost.per_user([r[9] for r in rows]), mean_order_value(db))
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    order = np.lexsort((ids, -np.nan_to_num(net, nan=-np.inf)))
    return net[order], [rows[i] for i in order]


def _refused_at_average(rows: list[Any], net: np.ndarray | None, column: int
                        ) -> tuple[list[Any], np.ndarray | None]:
    """Rows (ranked) with those who refused personalised marketing (column 5) moved to where the average score
    of the others ranks (ties by id); unchanged when nobody in the audience refused."""
    refused = np.array([bool(r[5]) for r in rows], dtype=bool)
    if not refused.any():
        return rows, net
    key = net.copy() if net is not None else np.array([np.nan if r[column] is None else r[column] for r in rows],
                                                      dtype=np.float64)
    others = key[~refused]
    key[refused] = np.nanmean(others) if np.isfinite(others).any() else np.nan
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    order = np.lexsort((ids, -np.nan_to_num(key, nan=-np.inf)))
    return [rows[i] for i in order], None if net is None else net[order]


RANKABLE_COLUMN = {"expected_value": 0, "expected_orders_90d": 1, "p_alive": 2, "uplift": 3}
