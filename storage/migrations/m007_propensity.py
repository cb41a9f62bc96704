"""Recall propensity (issue #9): fitted buy-till-you-die models and per-user scores.

`model_fits` keeps every fit (one row per model per `winback model fit` run, grouped by `run`), so `model show`
can explain the scores in use. `scores` holds one row per user who has ever ordered, replaced as a whole by
`winback model score`; segment rules and budget ranking read it with a LEFT JOIN (no row: never ordered).
"""

from storage.migrations import MIGRATIONS


@MIGRATIONS(name="m007_propensity")
def m007_propensity(db) -> None:
    db.execute(
        """
        CREATE TABLE model_fits (
            id INTEGER PRIMARY KEY,
            run INTEGER NOT NULL,               -- one `model fit` run fits several models
            model TEXT NOT NULL CHECK (model IN ('bgnbd', 'paretonbd', 'gammagamma')),
            unit TEXT NOT NULL CHECK (unit IN ('days', 'weeks')),
            as_of INTEGER NOT NULL,             -- order history up to this time
            params TEXT NOT NULL,               -- JSON {"r": .., "alpha": ..}
            log_likelihood REAL NOT NULL,
            customers INTEGER NOT NULL,         -- customers the model was fitted on
            converged INTEGER NOT NULL,
            message TEXT NOT NULL,              -- "converged", or why the fit is not trusted
            seconds REAL,
            calibration TEXT,                   -- JSON: holdout check (predicted vs actual by frequency)
            fitted_at INTEGER NOT NULL,
            fitted_by TEXT NOT NULL,
            UNIQUE (run, model)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE scores (
            user_id INTEGER PRIMARY KEY REFERENCES users(id),
            p_alive REAL NOT NULL,
            expected_orders_90d REAL NOT NULL,
            expected_value REAL,                -- NULL when spend could not be modelled
            model TEXT NOT NULL,                -- which model gave p_alive: bgnbd (repeat buyers) | paretonbd
            repeat_orders INTEGER NOT NULL,     -- the x the score was computed from
            fit_run INTEGER NOT NULL,
            as_of INTEGER NOT NULL,
            scored_at INTEGER NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX scores_expected_value ON scores(expected_value)")
