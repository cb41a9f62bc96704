"""A ranked step (`rank_by` with a `budget`): at each run the budget buys the due users with the highest score
per cost; the others skip the step (recorded `ranked_out`) and go on to the next.

Everyone due, passing `only` and reachable is ranked in one order, treated and control alike — as a ranked
campaign's holdout is a slice of the same top (console/campaigns/plan.py `_rank`), so that comparing the arms
measures the message, not the ranking. Walking down the order, the budget pays for each treated user's message on
the channel chosen for them; the last one it pays for is the cut-off, and everyone below it, in both arms, is
ranked out. Scores: predicted uplift (uplift_scores: the latest `winback uplift fit`, only while its verdict makes
it usable — console.uplift.targeting) or the propensity scores (p_alive, expected value …); users without a score
come last, by id. The budget is per run: what the step may spend on the users due at one run-due.

Valued as a ranked campaign values them (console.propensity.targeting.rank_for_budget): by uplift, when the step's
offer is a cash coupon, the expected extra revenue net of the coupon (console.uplift.value), not the extra chance
alone; and a person who refused personalised marketing (console.personalisation, PIPL Art. 24) is scored at the
due users' average, not by their own score.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import sqlite_utils

from console.campaigns import integrations, model
from console.config import Config, channel_price
from console.personalisation import refused_sql
from console.programs import store
from console.programs.spec import uplift_verdict
from console.uplift.value import OfferCost, mean_order_value, net_value, offer_cost

SAMPLE = 20   # users rendered per channel to estimate a message's cost (SMS parts)


def refused(step: store.Step, db: sqlite_utils.Database) -> str | None:
    """Why this step cannot be ranked now (uplift without a usable fit: the fit's verdict), or None."""
    return f"rank_by uplift: {why}" if step.rank_by == "uplift" and (why := uplift_verdict(db)) else None


def ranked_out(db: sqlite_utils.Database, config: Config, step: store.Step, chosen: dict[int, tuple[str, str]],
               control: dict[int, int]) -> tuple[set[int], dict[str, Any]]:
    """(users below the cut-off, a summary) for the reachable due users `chosen` (user → (channel, address));
    `control` maps each user to 1 when held out of the program."""
    assert step.rank_by is not None and step.budget is not None
    users = sorted(chosen)
    cost = {channel: _cost_per_message(db, config, step, channel, [u for u in users if chosen[u][0] == channel])
            for channel in {c for c, _ in chosen.values()}}
    score = _scores(db, step, users)

    def key(user: int) -> tuple[int, float, int]:
        s, c = score.get(user), cost[chosen[user][0]]
        if s is None:
            return (1, 0.0, user)
        per_cost = s / c if c > 0 else (math.inf if s > 0 else s)
        return (0, -per_cost, user)

    order = sorted(users, key=key)
    spent, cut = 0.0, -1
    for i, user in enumerate(order):
        if control.get(user):
            continue
        price = cost[chosen[user][0]]
        if spent + price > step.budget + 1e-9:
            break
        spent, cut = spent + price, i
    out = set(order[cut + 1:])
    bought = sum(1 for u in order[:cut + 1] if not control.get(u))
    return out, {"rank_by": step.rank_by, "budget": step.budget, "bought": bought, "ranked_out": len(out),
                 "estimated_cost": round(spent, 4), "unscored": sum(1 for u in users if score.get(u) is None)}


def _scores(db: sqlite_utils.Database, step: store.Step, users: list[int]) -> dict[int, float]:
    """Each due user's value for the ranking (module docstring); users without one are left out."""
    assert step.rank_by is not None
    coupon = offer_cost(db, step.offer, step.offer_by_layer) if step.rank_by == "uplift" else None
    if coupon is not None:
        score = _net_of_coupon(db, users, coupon)
    else:
        # rank_by is one of console.propensity.targeting.RANKABLE (checked when the program was added)
        table, column = ("uplift_scores", "uplift") if step.rank_by == "uplift" else ("scores", step.rank_by)
        score = {r[0]: r[1] for r in db.execute(
            f"SELECT user_id, {column} FROM {table} WHERE user_id IN (SELECT value FROM json_each(?)) "
            f"AND {column} IS NOT NULL", [json.dumps(users)])}
    return _refused_at_average(db, users, score)


def _net_of_coupon(db: sqlite_utils.Database, users: list[int], coupon: OfferCost) -> dict[int, float]:
    """Expected extra revenue net of the coupon per scored user (console.uplift.value.net_value)."""
    rows = db.execute(
        "SELECT up.user_id, up.p_treated, up.p_control, p.aov, p.layer FROM uplift_scores up "
        "LEFT JOIN profiles p ON p.user_id = up.user_id "
        "WHERE up.user_id IN (SELECT value FROM json_each(?)) AND up.uplift IS NOT NULL", [json.dumps(users)]
    ).fetchall()
    if not rows:
        return {}
    p1, p0, aov = (np.array([np.nan if r[i] is None else r[i] for r in rows], dtype=np.float64) for i in (1, 2, 3))
    net = net_value(p1, p0, aov, coupon.per_user([r[4] for r in rows]), mean_order_value(db))
    return {r[0]: float(v) for r, v in zip(rows, net, strict=True) if not math.isnan(v)}


def _refused_at_average(db: sqlite_utils.Database, users: list[int], score: dict[int, float]) -> dict[int, float]:
    """Those who refused personalised marketing scored at the average of the other due users' scores (unscored
    when none of the others has one), as budget ranking does for campaigns."""
    refused = {r[0] for r in db.execute(
        f"SELECT value FROM json_each(?) WHERE {refused_sql('value')}", [json.dumps(users)])}
    if not refused:
        return score
    others = [v for u, v in score.items() if u not in refused]
    average = sum(others) / len(others) if others else None
    for user in refused:
        score.pop(user, None)
        if average is not None:
            score[user] = average
    return score


def _cost_per_message(db: sqlite_utils.Database, config: Config, step: store.Step, channel: str,
                      users: list[int]) -> float:
    """The channel's price times the billed parts of this step's message, averaged over a sample of its users
    (as a campaign plan estimates it)."""
    price = channel_price(config, channel)
    if not price or not users:
        return price
    sample = users[:: max(1, len(users) // SAMPLE)][:SAMPLE]
    rendered = integrations.render_for_users(
        db, config, step.templates[channel], sample, offer=integrations.get_offer(db, step.offer),
        campaign=model.get(db, step.campaigns[channel]))
    parts = [max(1, r.parts) for r in rendered.values() if not r.error]
    return price * (sum(parts) / len(parts) if parts else 1.0)
