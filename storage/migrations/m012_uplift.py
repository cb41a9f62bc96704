"""Uplift targeting (issue #15): features frozen at send time, uplift fits and per-user predicted uplift.

- `uplift_features`: one row per (campaign, run, user) written by the freeze (treated and holdout alike), with
  the user's features *as of that moment* — so a model trained on past campaigns never sees what happened after
  the message. Recency is stored as days before the freeze, which keeps campaigns of different dates comparable.
- `uplift_fits`: every `winback uplift fit` (sizes, Qini, uplift@k with intervals, the verdict, `usable`).
- `uplift_scores`: predicted uplift (extra probability of returning if messaged) for every profiled user, from
  the latest fit; replaced as a whole by each fit. Targeting reads it only while the latest fit is usable.
"""

from storage.migrations import MIGRATIONS


@MIGRATIONS(name="m012_uplift")
def m012_uplift(db) -> None:
    db.execute(
        """
        CREATE TABLE uplift_features (
            campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
            run INTEGER NOT NULL,
            user_id INTEGER NOT NULL REFERENCES users(id),
            treated INTEGER NOT NULL,          -- 0: holdout; 1: any variant (intention to treat)
            channel TEXT,
            region TEXT,
            age_band TEXT,
            gender TEXT,
            layer TEXT,
            dormancy TEXT,
            orders INTEGER,
            spend REAL,
            aov REAL,
            visits_7d INTEGER,
            orders_30d INTEGER,
            rf_r INTEGER,
            rf_f INTEGER,
            days_since_order REAL,             -- days before the freeze; NULL: never
            days_since_visit REAL,
            days_since_seen REAL,
            tenure_days REAL,
            p_alive REAL,                      -- NULL: not scored at the time
            expected_value REAL,
            expected_orders_90d REAL,
            prior_messages INTEGER NOT NULL,   -- treated rows of other campaigns/runs before this one
            frozen_at INTEGER NOT NULL,
            PRIMARY KEY (campaign_id, run, user_id)
        ) WITHOUT ROWID
        """
    )
    db.execute(
        """
        CREATE TABLE uplift_fits (
            id INTEGER PRIMARY KEY,
            fitted_at INTEGER NOT NULL,
            fitted_by TEXT NOT NULL,
            campaigns TEXT NOT NULL,           -- JSON [{"campaign", "run", "start_at", "window_days"}]
            treated INTEGER NOT NULL,
            control INTEGER NOT NULL,
            treated_conversions INTEGER NOT NULL,
            control_conversions INTEGER NOT NULL,
            qini REAL,                         -- normalised Qini coefficient of the cross-fitted scores
            qini_low REAL,                     -- bootstrap 95% interval
            qini_high REAL,
            usable INTEGER NOT NULL,           -- 1: offered for targeting
            verdict TEXT NOT NULL,
            report TEXT NOT NULL,              -- JSON: everything `uplift fit --json` shows
            scored INTEGER NOT NULL DEFAULT 0, -- users written to uplift_scores
            seconds REAL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE uplift_scores (
            user_id INTEGER PRIMARY KEY REFERENCES users(id),
            uplift REAL NOT NULL,              -- predicted P(return | messaged) − P(return | not)
            p_treated REAL NOT NULL,
            p_control REAL NOT NULL,
            fit_id INTEGER NOT NULL,
            scored_at INTEGER NOT NULL
        )
        """
    )
