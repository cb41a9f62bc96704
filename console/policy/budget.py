"""Budget: a campaign's spending ceiling, and how many more messages fit under it.

Spent is what the dispatcher booked in `campaign_runs.spent` (booked at claim time, inside the claim transaction,
refunded when a provider refuses): real runs share one budget, a dry run is measured on its own (its latest run),
so a rehearsal never eats the real budget. A campaign with no budget has no ceiling.
"""

from __future__ import annotations

import math
from typing import Any, TypedDict

import sqlite_utils

from console.config import Config, channel_price
from console.policy.caps import COUNTED_SQL

# Money is compared with a small tolerance so that 0.1 + 0.2 fits a ceiling of 0.3.
EPSILON = 1e-9


def spent(db: sqlite_utils.Database, campaign_id: int, *, dry_run: bool = False) -> float:
    """What the campaign has spent (or committed to in-flight claims): all real runs, or the latest dry run."""
    if db["campaign_runs"].exists():
        if dry_run:
            sql = ("SELECT COALESCE(SUM(spent), 0) FROM campaign_runs WHERE campaign_id = ? AND run = "
                   "(SELECT max(run) FROM campaign_runs WHERE campaign_id = ? AND dry_run = 1)")
            return float(db.execute(sql, [campaign_id, campaign_id]).fetchone()[0])
        sql = "SELECT COALESCE(SUM(spent), 0) FROM campaign_runs WHERE campaign_id = ? AND dry_run = 0"
        return float(db.execute(sql, [campaign_id]).fetchone()[0])
    # Without run bookkeeping, the ledger's own costs of messages that went out (or may have).
    row = db.execute(
        f"SELECT COALESCE(SUM(cost), 0) FROM sends WHERE campaign_id = ? AND dry_run = ? AND status IN {COUNTED_SQL}",
        [campaign_id, int(dry_run)],
    ).fetchone()
    return float(row[0])


def messages_that_fit(budget: float | None, spent_so_far: float, unit_cost: float) -> int | None:
    """How many more messages of *unit_cost* fit under *budget*; None when there is no ceiling or they are free."""
    if budget is None or unit_cost <= 0:
        return None
    room = budget - spent_so_far
    if room <= 0:
        return 0
    return max(0, math.floor(room / unit_cost + EPSILON))


def unit_cost(config: Config, channel: str) -> float:
    """The price of one message on *channel* (one billed part for SMS), as every other part of winback reads it."""
    return channel_price(config, channel)


class BudgetState(TypedDict):
    budget: float | None       # None: no budget
    spent: float
    remaining: float | None
    unit_cost: float           # per message (per billed part for SMS)
    messages_that_fit: int | None


def budget_state(db: sqlite_utils.Database, config: Config, campaign: dict[str, Any],
                 per_message: float | None = None) -> BudgetState:
    """Budget, spent, remaining and how many more messages fit, for one campaign row."""
    cost = unit_cost(config, campaign["channel"]) if per_message is None else per_message
    used = spent(db, campaign["id"], dry_run=bool(campaign.get("dry_run")))
    budget = campaign.get("budget")
    return {
        "budget": budget,
        "spent": round(used, 6),
        "remaining": None if budget is None else round(budget - used, 6),
        "unit_cost": cost,
        "messages_that_fit": messages_that_fit(budget, used, cost),
    }


def mark_over_budget(db: sqlite_utils.Database, room: float, table: str = "policy_result", *,
                     unit_cost: float | None = None, undecided: int | None = None) -> int:
    """Set-based: admit still-undecided users in user-id order while their running cost fits in *room* (money
    left); mark the rest over_budget. Returns how many were marked.

    Costs are never negative, so once the running sum passes the room every later user is over too: find that
    first user, then mark the range. With one *unit_cost* for all, that user is simply the (n+1)-th undecided one,
    n = messages_that_fit — found by stepping the primary key, no sort, no running sum.
    """
    if unit_cost is not None:
        if unit_cost <= 0:
            return 0
        fit = max(0, math.floor(room / unit_cost + EPSILON))
        if undecided is not None and undecided <= fit:
            return 0
        first_over = db.execute(
            f"SELECT user_id FROM {table} WHERE reason IS NULL ORDER BY user_id LIMIT 1 OFFSET ?", [fit]
        ).fetchone()
    else:
        first_over = db.execute(
            f"SELECT user_id FROM (SELECT user_id, SUM(cost) OVER (ORDER BY user_id) AS running FROM {table}"
            f" WHERE reason IS NULL) WHERE running > :room LIMIT 1",
            {"room": room + EPSILON},
        ).fetchone()
    if first_over is None:
        return 0
    return db.execute(f"UPDATE {table} SET reason = 'over_budget' WHERE reason IS NULL AND user_id >= ?",
                      [first_over[0]]).rowcount


def program_spent(db: sqlite_utils.Database, program_id: int, *, dry_run: bool) -> float:
    """What a program's step campaigns booked (claimed or sent, less refunds) in this mode: one ceiling over every
    step and run of the program (console.campaigns.pacing books it; `why` and `program show` read it)."""
    return float(db.execute(
        "SELECT COALESCE(SUM(r.spent), 0) FROM campaign_runs r JOIN campaigns c ON c.id = r.campaign_id "
        "WHERE c.program_id = ? AND r.dry_run = ?", [program_id, int(dry_run)]).fetchone()[0])
