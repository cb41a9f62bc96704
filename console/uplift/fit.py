"""`winback uplift fit`: learn whom a message changes from past campaigns' holdouts, judge it, store it.

The verdict is deliberately plain. The fit is offered for targeting only when the data can support it:
enough users and conversions in both arms, and a Qini coefficient whose 95 % bootstrap interval lies above
zero (the cross-fitted model ranks the persuadable first, better than chance). Otherwise it says why, stores
that, clears the old per-user scores, and `--rank-by uplift` is refused with the same reason.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NotRequired, TypedDict

import numpy as np
import sqlite_utils

from console import audit, stats
from console.clock import now_ts
from console.config import Config
from console.uplift import calibration, data, learner, metrics
from console.uplift.calibration import Calibration
from storage.tx import immediate

MIN_ARM_USERS = 200          # per arm, as outcomes' min_sample
MIN_CONVERSIONS = 50         # returners per arm: fewer and the two models learn noise
WRITE_BATCH = 50_000
FIT_CACHE_KIB = 8_192        # SQLite page cache while fitting (KiB)


class FitCampaign(TypedDict):   # a run the fit trained on
    campaign: str
    run: int
    start_at: int
    window_days: int
    simulated: bool


class LayerUplift(TypedDict):   # _by_layer: one layer at send time
    layer: str
    users: int
    treated: int
    control: int
    observed_lift: float | None     # treated − holdout rate; None when an arm is empty
    predicted_uplift: float         # mean (calibrated, for fits that have a calibration)


class AverageEffect(TypedDict):
    lift: float | None
    low: float | None
    high: float | None


class UpliftReport(TypedDict):
    """fit_uplift's report: `winback uplift fit --json`, stored with the fit (uplift_fits.report). The keys
    marked NotRequired are added as the fit gets that far (their order in the JSON is the order they are added);
    verdict, seconds, fit and fitted_at are in every report fit_uplift returns."""
    campaigns: list[FitCampaign]
    simulated: list[str]            # the simulated (demo) campaigns among them
    skipped: list[str]              # runs left out, and why
    treated: int
    control: int
    treated_conversions: int
    control_conversions: int
    folds: int
    replicates: int
    qini: float | None
    qini_low: float | None
    qini_high: float | None
    uplift_at: dict[str, dict[str, float]]   # "10" -> {"uplift", "low", "high"} (metrics.Evaluation)
    curve: list[dict[str, float]]
    by_layer: list[LayerUplift]
    usable: bool
    scored: int
    verdict: NotRequired[str]
    treated_rate: NotRequired[float | None]
    control_rate: NotRequired[float | None]
    average_effect: NotRequired[AverageEffect]
    scored_as_channel: NotRequired[str]
    not_scored_refused: NotRequired[int]   # PIPL Art. 24: refused personalised marketing, so not scored
    calibration: NotRequired[Calibration]   # absent from fits stored before calibration existed
    seconds: NotRequired[float]
    fit: NotRequired[int]
    fitted_at: NotRequired[int]


def fit_uplift(db: sqlite_utils.Database, config: Config, *, campaigns: list[str] | None = None,
               window_days: int | None = None, folds: int = 3, replicates: int = 200, seed: int = 0,
               progress=None) -> UpliftReport:
    """Fit, evaluate and store; score every profiled user when usable. Returns the report (also stored)."""
    with _small_page_cache(db):
        started = time.perf_counter()
        now = now_ts()
        db.execute("DROP TABLE IF EXISTS temp.uplift_stage")   # left over from an interrupted fit on this connection
        sources, skipped = data.eligible_runs(db, campaigns=campaigns, window_days=window_days, now=now,
                                              tz_name=config.timezone)
        report: UpliftReport = {
            "campaigns": [{"campaign": s.campaign, "run": s.run, "start_at": s.start_at, "window_days": s.window_days,
                           "simulated": s.simulated} for s in sources],
            "simulated": [s.campaign for s in sources if s.simulated],
            "skipped": skipped, "treated": 0, "control": 0, "treated_conversions": 0, "control_conversions": 0,
            "folds": folds, "replicates": replicates, "qini": None, "qini_low": None, "qini_high": None,
            "uplift_at": {}, "curve": [], "by_layer": [], "usable": False, "scored": 0,
        }
        if not sources:
            report["verdict"] = ("no usable data: no real campaign run with a holdout whose conversion window has "
                                 "closed and whose features were recorded at send time")
            return _store(db, report, started, now)
        training = data.load(db, sources, skipped)
        assert training.columns is not None and training.treated is not None and training.returned is not None
        t, y = training.treated, training.returned
        n_t, n_c = int(t.sum()), int((1 - t).sum())
        x_t, x_c = int(y[t == 1].sum()), int(y[t == 0].sum())
        report.update({"treated": n_t, "control": n_c, "treated_conversions": x_t, "control_conversions": x_c,
                       "treated_rate": stats.rate(x_t, n_t), "control_rate": stats.rate(x_c, n_c)})
        ci = stats.newcombe_interval(x_t, n_t, x_c, n_c)
        report["average_effect"] = {"lift": (x_t / n_t - x_c / n_c) if n_t and n_c else None,
                                    "low": ci.low if ci else None, "high": ci.high if ci else None}
        small = [f"{arm} has {n:,} users" for arm, n in (("treated", n_t), ("control", n_c)) if n < MIN_ARM_USERS]
        few = [f"{arm} has {x:,} returners" for arm, x in (("treated", x_t), ("control", x_c)) if x < MIN_CONVERSIONS]
        if small or few:
            report["verdict"] = (f"no usable model: too little data ({'; '.join(small + few)}; need at least "
                                 f"{MIN_ARM_USERS:,} users and {MIN_CONVERSIONS:,} returners in each arm)")
            return _store(db, report, started, now)
        kept = learner.kept_categories(training.columns)
        channel = _main_channel(training.columns)
        # the columns go as X is built, all but what the report still needs (the layer codes)
        X = learner.matrix(training.columns, kept, keep=("layer",))
        training.columns = data.Columns({"layer": training.columns.values["layer"]}, training.columns.vocab)
        uplift, _p1, _p0 = learner.cross_fit(X, t, y, groups=training.user_id, folds=folds, seed=seed,
                                             progress=progress)
        ev = metrics.evaluate(y, t, uplift, replicates=replicates, seed=seed)
        low, high = ev.qini_interval
        # the size the model predicts mapped onto what the holdouts observed, from the same out-of-fold predictions
        # (console.uplift.calibration); strictly monotone, so the Qini figures hold for the calibrated scores too
        cal = calibration.fit_calibration(uplift, t, y)
        report.update({"qini": _finite(ev.qini), "qini_low": _finite(low), "qini_high": _finite(high),
                       "uplift_at": ev.uplift_at, "curve": ev.curve, "calibration": cal,
                       "by_layer": _by_layer(training, calibration.apply(cal, uplift))})
        if not np.isfinite(low) or low <= 0:
            report["verdict"] = (
                f"no usable effect: the Qini coefficient is {ev.qini:.3f} and its 95% interval "
                f"({low:.3f} to {high:.3f}) includes zero — ranking by predicted uplift is not distinguishable "
                "from picking at random")
            return _store(db, report, started, now)
        report["usable"] = True
        report["verdict"] = (f"usable: the model ranks those a message changes first (Qini coefficient {ev.qini:.3f}, "
                             f"95% interval {low:.3f} to {high:.3f})")
        # Scores for today's base: models refitted on every training user, applied to current features.
        report["scored_as_channel"] = channel
        pair = learner.fit_pair(X, t, y, seed)
        del X, training        # a million rows of features: freed before today's base is read
        from console.personalisation import refused_count

        report["not_scored_refused"] = refused_count(db)   # PIPL Art. 24: no personal prediction for them
        for ids, cols in data.base_chunks(db, kept, channel=channel, now=now):
            p1, p0 = pair.predict(learner.matrix(cols, kept))
            _stage(db, ids, *calibration.calibrated_pair(cal, p1, p0))
            report["scored"] += len(ids)
        return _store(db, report, started, now)


@contextmanager
def _small_page_cache(db: sqlite_utils.Database) -> Iterator[None]:
    """The fit reads each row once, in order: a small page cache does as well as the connection's 64 MiB, which
    stayed resident for the whole fit (a tenth of the 1M-user peak). Put back afterwards."""
    saved = db.execute("PRAGMA cache_size").fetchone()[0]
    db.execute(f"PRAGMA cache_size = {-FIT_CACHE_KIB}")
    try:
        yield
    finally:
        db.execute(f"PRAGMA cache_size = {int(saved)}")


def _finite(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None


def _main_channel(cols: data.Columns) -> str:
    codes = cols.values["channel"]
    known = codes[codes >= 0]
    return cols.vocab["channel"][int(np.bincount(known).argmax())] if known.size else "sms"


def _by_layer(training: data.TrainingSet, uplift: np.ndarray) -> list[LayerUplift]:
    """Per layer at send time: users, observed lift (treated − holdout rate) and mean predicted uplift (*uplift*:
    the cross-fitted predictions, calibrated)."""
    assert training.columns is not None and training.treated is not None and training.returned is not None
    codes = training.columns.values["layer"]
    names = [*training.columns.vocab["layer"], "(none)"]
    out: list[LayerUplift] = []
    for code in np.unique(codes):
        mask = codes == code
        t, y = training.treated[mask], training.returned[mask]
        n_t, n_c = int(t.sum()), int((1 - t).sum())
        observed = float(y[t == 1].mean() - y[t == 0].mean()) if n_t and n_c else None
        out.append({"layer": names[int(code)], "users": int(mask.sum()), "treated": n_t, "control": n_c,
                    "observed_lift": observed, "predicted_uplift": float(uplift[mask].mean())})
    return sorted(out, key=lambda r: -r["predicted_uplift"])


STAGE = ("CREATE TEMP TABLE IF NOT EXISTS uplift_stage (user_id INTEGER PRIMARY KEY, uplift REAL, p_treated REAL, "
         "p_control REAL)")


def _stage(db: sqlite_utils.Database, ids: np.ndarray, uplift: np.ndarray, p1: np.ndarray, p0: np.ndarray) -> None:
    """Calibrated scores into temp.uplift_stage (temp writes take no lock on the workspace)."""
    db.execute(STAGE)
    for lo in range(0, len(ids), WRITE_BATCH):
        part = slice(lo, lo + WRITE_BATCH)
        db.conn.executemany("INSERT INTO temp.uplift_stage VALUES (?, ?, ?, ?)",
                            zip(ids[part].tolist(), uplift[part].tolist(), p1[part].tolist(),
                                p0[part].tolist(), strict=True))


def _store(db: sqlite_utils.Database, report: UpliftReport, started: float, now: int) -> UpliftReport:
    """One fit row; uplift_scores replaced by what was staged (emptied when the fit is not usable), so the write
    transaction is short."""
    db.execute(STAGE)
    if report.get("simulated"):   # every verdict says so: nothing simulated is ever shown as real
        names = ", ".join(repr(n) for n in report["simulated"])
        report["verdict"] += f" — trained on a simulated campaign (demo): {names}, nothing was sent"
    report["seconds"] = round(time.perf_counter() - started, 2)
    stored = dict(report)
    with immediate(db):
        fit_id = db.execute(
            """INSERT INTO uplift_fits (fitted_at, fitted_by, campaigns, treated, control, treated_conversions,
                   control_conversions, qini, qini_low, qini_high, usable, verdict, report, scored, seconds)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [now, audit.current_operator(), json.dumps(report["campaigns"]), report["treated"], report["control"],
             report["treated_conversions"], report["control_conversions"], report["qini"], report["qini_low"],
             report["qini_high"], int(report["usable"]), report["verdict"], json.dumps(stored), report["scored"],
             report["seconds"]],
        ).lastrowid
        db.execute("DELETE FROM uplift_scores")
        db.execute("INSERT INTO uplift_scores (user_id, uplift, p_treated, p_control, fit_id, scored_at) "
                   "SELECT st.user_id, st.uplift, st.p_treated, st.p_control, ?, ? FROM temp.uplift_stage st "
                   "WHERE st.user_id IN (SELECT id FROM users)", [fit_id, now])
        audit.record(db, "uplift.fit", fit=fit_id, usable=report["usable"], verdict=report["verdict"],
                     treated=report["treated"], control=report["control"], scored=report["scored"])
    db.execute("DROP TABLE IF EXISTS temp.uplift_stage")
    assert fit_id is not None   # the row just inserted
    report["fit"] = fit_id
    report["fitted_at"] = now
    return report


def latest_fit(db: sqlite_utils.Database) -> dict[str, Any] | None:
    """The latest fit row with its report decoded, or None."""
    rows = list(db.query("SELECT * FROM uplift_fits ORDER BY id DESC LIMIT 1"))
    if not rows:
        return None
    row = rows[0]
    row["report"] = json.loads(row["report"])
    return row
