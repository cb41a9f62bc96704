"""A simulated past campaign with a holdout and a known treatment effect (tests and tests/bench/bench_uplift.py).

It writes ledger rows directly (status included), so it lives with the tests, not in console/ (test_ledger_owner).

Users get an order count, days since their last visit and order, a p_alive that tracks how recently they ordered,
and a baseline chance of returning within the window that is highest for the recently active ("sure things").
The message lifts returning by `effect` only for users with at least 3 past orders who visited in the last 14
days (the persuadable); for everyone else it does nothing. `effect=0` gives a campaign that changes nobody.

A return is one order of the user's average value (50 for users who never ordered), so the true value of a coupon
campaign is known per user (`Simulated.true_net_value`). Everything is written set-wise: users, profiles, scores, a campaign with one real run and its ledger rows, the
features recorded exactly as the freeze records them (console.uplift.features.record_features, as of the run's
start), and one order event inside the window for each returner. Afterwards the profiles are moved forward to
*now* (as a refresh would), so today's base has the same shape as the audience had at send time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sqlite_utils

from console.uplift.features import record_features

DAY = 86_400


@dataclass
class Simulated:
    user_id: np.ndarray
    persuadable: np.ndarray       # bool
    true_uplift: np.ndarray       # the effect of messaging each user on P(return)
    treated: np.ndarray
    returned: np.ndarray
    campaign_id: int
    baseline: np.ndarray          # P(return | not messaged)
    order_value: np.ndarray       # what a return brings: one order of the user's average value (50 without one)

    def true_net_value(self, coupon: float) -> np.ndarray:
        """The true expected value of messaging each user with a coupon worth *coupon*: extra revenue net of
        the coupon minus the coupon handed to those who would have bought anyway (console.uplift.value)."""
        return self.true_uplift * self.order_value - (self.baseline + self.true_uplift) * coupon


def true_uplift(orders: np.ndarray, days_since_visit: np.ndarray, effect: float) -> np.ndarray:
    return np.where((orders >= 3) & (days_since_visit <= 14), effect, 0.0)


def simulate_campaign(db: sqlite_utils.Database, *, users: int = 20_000, effect: float = 0.25,
                      holdout_share: float = 0.3, window_days: int = 14, now: int, seed: int = 0,
                      name: str = "simulated-past", first_user: int = 1, batch: int = 200_000) -> Simulated:
    """Write a finished past campaign (launched window_days + 1 days before *now*) and its population."""
    rng = np.random.default_rng(seed)
    start = now - (window_days + 1) * DAY
    ids = np.arange(first_user, first_user + users, dtype=np.int64)
    orders = rng.poisson(2.0, users)
    days_visit = rng.uniform(0, 60, users)
    days_order = np.where(orders > 0, np.maximum(days_visit, rng.uniform(5, 365, users)), np.nan)
    p_alive = np.where(orders > 0, np.clip(1.0 - np.nan_to_num(days_order, nan=400) / 400 + rng.normal(0, 0.05, users),
                                            0.01, 0.99), 0.05)
    baseline = 0.03 + 0.30 * (np.nan_to_num(days_order, nan=999) < 40)        # sure things: recent buyers
    tau = true_uplift(orders, days_visit, effect)
    treated = (rng.random(users) >= holdout_share).astype(np.int64)
    returned = (rng.random(users) < baseline + tau * treated).astype(np.int64)
    spend = orders * rng.uniform(20, 200, users)
    order_value = np.where(orders > 0, spend / np.maximum(orders, 1), 50.0)

    def at(days: np.ndarray, base: int) -> list[int | None]:
        return [None if np.isnan(d) else int(base - d * DAY) for d in days]

    created = now - 400 * DAY
    db.execute("BEGIN")
    try:
        cid = db.execute(
            "INSERT INTO campaigns (name, segment, channel, holdout_pct, window_days, status, dry_run, salt, "
            "created_at, created_by, launched_at, completed_at) "
            "VALUES (?, 'all', 'sms', ?, ?, 'completed', 0, 'sim', ?, 'simulation', ?, ?)",
            [name, holdout_share * 100, window_days, start - DAY, start, start + DAY]).lastrowid
        db.execute("INSERT INTO campaign_runs (campaign_id, run, dry_run, started_at, finished_at, started_by) "
                   "VALUES (?, 1, 0, ?, ?, 'simulation')", [cid, start, start + DAY])
        last_visit, last_order = at(days_visit, start), at(days_order, start)
        for lo in range(0, users, batch):
            hi = min(users, lo + batch)
            part = range(lo, hi)
            db.conn.executemany(
                "INSERT INTO users (id, external_id, phone, region, signup_at, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(int(ids[i]), f"sim-{ids[i]}", f"+86139{ids[i]:08d}", ("north", "south", "east", "west")[i % 4],
                  created, created, created) for i in part])
            db.conn.executemany(
                "INSERT INTO profiles (user_id, last_event_at, last_visit_at, visits_7d, last_order_at, orders, "
                "spend, aov, dormancy, layer, refreshed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(int(ids[i]), max(v for v in (last_visit[i], last_order[i]) if v is not None), last_visit[i],
                  int(days_visit[i] < 7), last_order[i], int(orders[i]), float(spend[i]),
                  float(spend[i] / orders[i]) if orders[i] else None,
                  "dormant" if days_visit[i] > 30 else "at_risk", "warm" if orders[i] >= 3 else "cold", start)
                 for i in part])
            db.conn.executemany(
                "INSERT INTO scores (user_id, p_alive, expected_orders_90d, expected_value, model, repeat_orders, "
                "fit_run, as_of, scored_at) VALUES (?, ?, ?, ?, 'bgnbd', ?, 1, ?, ?)",
                [(int(ids[i]), float(p_alive[i]), float(p_alive[i] * orders[i] / 4),
                  float(p_alive[i] * spend[i] / 4), max(0, int(orders[i]) - 1), start, start) for i in part])
            db.conn.executemany(
                "INSERT INTO sends (campaign_id, user_id, run, arm, channel, address, status, dry_run, "
                "counts_for_caps, updated_at) VALUES (?, ?, 1, ?, 'sms', ?, ?, 0, 1, ?)",
                [(cid, int(ids[i]), "A" if treated[i] else "holdout", f"+86139{ids[i]:08d}",
                  "delivered" if treated[i] else "holdout", start) for i in part])
            db.conn.executemany(
                "INSERT INTO events (user_id, kind, at, amount, fingerprint) VALUES (?, 'order', ?, ?, ?)",
                [(int(ids[i]), start + DAY, float(order_value[i]), int(ids[i])) for i in part if returned[i]])
        record_features(db, cid, 1, start)
        # today's base: the same population, its clock moved to now (as a refresh would)
        shift = now - start
        db.execute("UPDATE profiles SET last_event_at = last_event_at + :s, last_visit_at = last_visit_at + :s, "
                   "last_order_at = last_order_at + :s, refreshed_at = :now WHERE user_id BETWEEN :lo AND :hi",
                   {"s": shift, "now": now, "lo": int(ids[0]), "hi": int(ids[-1])})
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return Simulated(ids, tau > 0, tau, treated, returned, int(cid or 0), baseline, order_value)
