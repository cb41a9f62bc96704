"""Ranking by predicted uplift: whether it may be used, and what a budget buys with it.

With one cost per message, the highest expected extra returns per cost are simply the highest predicted uplift;
with a cash coupon, the highest expected extra revenue net of the coupon (console.uplift.value). The comparison
is the model's own estimate (sums over the users bought); the ground truth comes later from the campaign's
holdout (console.outcomes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NotRequired, TypedDict

import sqlite_utils

from console.clock import ts_to_iso
from console.errors import BadInput

if TYPE_CHECKING:
    import numpy as np


def refusal(db: sqlite_utils.Database) -> str | None:
    """Why `--rank-by uplift` cannot be used now (the latest fit's verdict), or None."""
    row = db.execute("SELECT id, usable, verdict, fitted_at, scored FROM uplift_fits ORDER BY id DESC LIMIT 1"
                     ).fetchone()
    if row is None:
        return "--rank-by uplift: no uplift model yet — run `winback uplift fit` (needs a past campaign with a holdout)"
    fit_id, usable, verdict, fitted_at, scored = row
    if not usable:
        return f"--rank-by uplift: the latest uplift fit (#{fit_id}, {ts_to_iso(fitted_at)}) is not offered for " \
               f"targeting — {verdict}"
    if not scored:
        return f"--rank-by uplift: the latest uplift fit (#{fit_id}) scored nobody (no profiled users); run " \
               "`winback refresh` and `winback uplift fit` again"
    return None


def scores_calibrated(db: sqlite_utils.Database) -> bool:
    """Whether the stored scores are calibrated (console.uplift.calibration): the latest fit has a calibration.
    Fits stored before calibration existed scored the raw model's sizes, which overstate the effect."""
    row = db.execute("SELECT CASE WHEN json_valid(report) THEN json_type(report, '$.calibration') END "
                     "FROM uplift_fits ORDER BY id DESC LIMIT 1").fetchone()
    return row is not None and row[0] == "object"


def size_note(calibrated: bool | None) -> str:
    """How the plan names the size of its uplift figures."""
    if calibrated is False:
        return ("NOT calibrated: the uplift fit predates calibration and overstates — run `winback uplift fit` "
                "again")
    return "calibrated on past holdouts"


class MoneyFigures(TypedDict):   # budget_comparison: one way of picking, in money
    net_value: float
    messages: float
    net_after_messages: float


class ValueComparison(TypedDict):
    ranked: MoneyFigures
    ranked_by_p_alive: MoneyFigures | None   # None: no p_alive scores
    at_random: MoneyFigures
    everyone: MoneyFigures
    worth_it: int                            # of the bought, those worth more than their coupon costs


class BudgetComparison(TypedDict):
    """budget_comparison: what a budget buys ranked by uplift, by p_alive, at random, and messaging everyone."""
    recipients: int
    extra_returns: float
    extra_returns_ranked_by_p_alive: float | None   # None: no p_alive scores
    extra_returns_at_random: float
    extra_returns_everyone: float
    everyone: int
    calibrated: NotRequired[bool]                   # the scores are calibrated (scores_calibrated), when known
    offer: NotRequired[str | None]                  # these two with net_value only
    value: NotRequired[ValueComparison]


def budget_comparison(uplift: np.ndarray, p_alive: np.ndarray, affordable: int, *,
                      net_value: np.ndarray | None = None, cost_per_message: float = 0.0,
                      offer: str | None = None, ids: np.ndarray | None = None,
                      calibrated: bool | None = None) -> BudgetComparison:
    """Expected extra returns (sum of predicted uplift; unscored users count 0) bought by the first *affordable*
    users in ranking order (the arrays are in that order), by the same number ranked by p_alive, at random, and
    by messaging everyone. Ranked by p_alive, users without one come last by *ids* (user ids: as the ranking by
    p_alive would take them; not by their place in the uplift order, which would credit p_alive with uplift's
    picks); with no p_alive at all, the p_alive figures are None.

    With *net_value* (per user, console.uplift.value: extra revenue net of the coupon *offer*), the same four
    in money, and what the messages themselves cost (*cost_per_message* each): `net_value` is the coupon-net
    extra revenue, `net_after_messages` that minus the messages. *calibrated* (whether the scores are, when the
    caller knows) is passed through for the plan to say how far the sizes can be trusted."""
    import numpy as np

    u = np.nan_to_num(uplift, nan=0.0)
    total = u.size
    tie = np.arange(total) if ids is None else np.asarray(ids)
    by_alive = np.lexsort((tie, -np.nan_to_num(p_alive, nan=-np.inf)))[:affordable]
    no_alive = total > 0 and bool(np.isnan(p_alive).all())
    everyone = float(u.sum())
    out: BudgetComparison = {
        "recipients": affordable,
        "extra_returns": float(u[:affordable].sum()),
        "extra_returns_ranked_by_p_alive": None if no_alive else float(u[by_alive].sum()),
        "extra_returns_at_random": everyone * affordable / total if total else 0.0,
        "extra_returns_everyone": everyone,
        "everyone": total,
    }
    if calibrated is not None:
        out["calibrated"] = calibrated
    if net_value is not None:
        v = np.nan_to_num(net_value, nan=0.0)
        all_value = float(v.sum())

        def money(value: float, n: int) -> MoneyFigures:
            return {"net_value": round(value, 2), "messages": round(n * cost_per_message, 2),
                    "net_after_messages": round(value - n * cost_per_message, 2)}

        out["offer"] = offer
        out["value"] = {
            "ranked": money(float(v[:affordable].sum()), affordable),
            "ranked_by_p_alive": None if no_alive else money(float(v[by_alive].sum()), affordable),
            "at_random": money(all_value * affordable / total if total else 0.0, affordable),
            "everyone": money(all_value, total),
            # how many of the bought are worth more than their coupon costs (net value above zero)
            "worth_it": int(np.count_nonzero(v[:affordable] > 0)),
        }
    return out


def check_usable(db: sqlite_utils.Database, rank_by: str | None) -> None:
    """Raise BadInput with the verdict's reason when *rank_by* is uplift and the latest fit may not be used."""
    if rank_by == "uplift" and (why := refusal(db)) is not None:
        raise BadInput(why)
