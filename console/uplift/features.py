"""Features as they were at send time, and the same features for today's base.

The freeze calls `record_features` inside its transaction, right after the audience is written to `sends`: one
INSERT…SELECT over the run's ledger rows (treated and holdout alike), so training never sees what happened after
the message. Recency is stored as days before the freeze, which keeps campaigns of different dates comparable.
"""

from __future__ import annotations

import sqlite_utils

DAY = 86_400.0

CATEGORICAL = ("channel", "region", "age_band", "gender", "layer", "dormancy")
NUMERIC = ("orders", "spend", "aov", "visits_7d", "orders_30d", "rf_r", "rf_f", "days_since_order",
           "days_since_visit", "days_since_seen", "tenure_days", "p_alive", "expected_value",
           "expected_orders_90d", "prior_messages")
COLUMNS = CATEGORICAL + NUMERIC

# Everything but channel and prior_messages, for a user `u` (users) with `p` (profiles) and `s` (scores) joined,
# as of the named parameter :wb_now.
_PROFILE_EXPRS = {
    "region": "u.region",
    "age_band": "u.age_band",
    "gender": "u.gender",
    "layer": "p.layer",
    "dormancy": "p.dormancy",
    "orders": "p.orders",
    "spend": "p.spend",
    "aov": "p.aov",
    "visits_7d": "p.visits_7d",
    "orders_30d": "p.orders_30d",
    "rf_r": "p.rf_r",
    "rf_f": "p.rf_f",
    "days_since_order": f"(:wb_now - p.last_order_at) / {DAY}",
    "days_since_visit": f"(:wb_now - p.last_visit_at) / {DAY}",
    "days_since_seen": f"(:wb_now - p.last_event_at) / {DAY}",
    "tenure_days": f"(:wb_now - COALESCE(u.signup_at, p.first_seen_at)) / {DAY}",
    "p_alive": "s.p_alive",
    "expected_value": "s.expected_value",
    "expected_orders_90d": "s.expected_orders_90d",
}
_JOINS = "JOIN users u ON u.id = {user} LEFT JOIN profiles p ON p.user_id = {user} LEFT JOIN scores s ON s.user_id = {user}"


def record_features(db: sqlite_utils.Database, campaign_id: int, run: int, now: int) -> int:
    """Store the features of every recipient of (campaign, run) as of *now*; returns rows written.

    Called by console.campaigns.freeze inside the freeze's transaction. Prior exposure counts the user's other
    ledger rows that count towards frequency caps (real, not exempt, never holdout): the partial index sends_caps
    answers that per user without reading a row (this run's own row is subtracted rather than tested, which would
    read it); testing dry_run or arm instead would read every row, or scan the whole ledger per recipient.
    """
    names = ", ".join(_PROFILE_EXPRS)
    exprs = ", ".join(_PROFILE_EXPRS.values())
    cursor = db.execute(
        f"""INSERT OR REPLACE INTO uplift_features (campaign_id, run, user_id, treated, channel, {names},
                prior_messages, frozen_at)
            SELECT x.campaign_id, x.run, x.user_id, x.arm != 'holdout', x.channel, {exprs},
                   (SELECT COUNT(*) FROM sends o WHERE o.user_id = x.user_id AND o.counts_for_caps = 1)
                     - x.counts_for_caps,
                   :wb_now
            FROM sends x {_JOINS.format(user='x.user_id')}
            WHERE x.campaign_id = :wb_cid AND x.run = :wb_run
            ORDER BY x.user_id""",   # user order: the (campaign, user, run) index, in-order look-ups and inserts
        {"wb_cid": campaign_id, "wb_run": run, "wb_now": now},
    )
    return cursor.rowcount


def base_features_sql() -> str:
    """SELECT user_id, <COLUMNS> for every profiled user as of :wb_now, as if messaged now on :wb_channel."""
    exprs = ", ".join(f"{e} AS {n}" for n, e in _PROFILE_EXPRS.items())
    return (
        f"SELECT p.user_id AS user_id, :wb_channel AS channel, {exprs}, "
        "(SELECT COUNT(*) FROM sends o WHERE o.user_id = p.user_id AND o.counts_for_caps = 1) "
        "AS prior_messages "
        "FROM profiles p JOIN users u ON u.id = p.user_id LEFT JOIN scores s ON s.user_id = p.user_id"
    )
