"""Fit the workspace's models on its order history and store them (`winback model fit`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict

import sqlite_utils

from console import audit
from console.clock import now_ts
from console.errors import WinbackError
from console.propensity import bgnbd, gammagamma, paretonbd
from console.propensity.calibration import CalibrationCheck, CalibrationSkipped, calibration_check
from console.propensity.enough import MIN_SPENDERS, check_enough
from console.propensity.mle import FitResult, Grouped
from console.propensity.paretonbd import start_from_bgnbd as pareto_start
from console.propensity.summary import Summary, summarise, tz_offset
from storage.tx import immediate


class FitRunDict(TypedDict):   # FitRun.as_dict: `winback model fit --json`
    run: int | None               # None: not stored
    unit: str
    as_of: int
    customers: int
    repeaters: int
    fits: dict[str, dict[str, Any]]   # model -> FitResult.as_dict
    calibration: CalibrationCheck | CalibrationSkipped | None
    notes: list[str]


@dataclass
class FitRun:
    """What one `model fit` produced."""

    run: int | None
    unit: str
    as_of: int
    customers: int
    repeaters: int
    fits: dict[str, FitResult]
    calibration: CalibrationCheck | CalibrationSkipped | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> FitRunDict:
        return {
            "run": self.run,
            "unit": self.unit,
            "as_of": self.as_of,
            "customers": self.customers,
            "repeaters": self.repeaters,
            "fits": {k: v.as_dict() for k, v in self.fits.items()},
            "calibration": self.calibration,
            "notes": self.notes,
        }


def fit_models(s: Summary) -> tuple[dict[str, FitResult], list[str]]:
    """Fit BG/NBD, Pareto/NBD and (if there are amounts) Gamma-Gamma to a summary. Raises TooThin."""
    check_enough(s)
    g = Grouped.build(s.x, s.t_x, s.T)
    fits: dict[str, FitResult] = {}
    notes: list[str] = []
    fits["bgnbd"] = bgnbd.fit(g)
    fits["paretonbd"] = paretonbd.fit(g, start=pareto_start(fits["bgnbd"].params))
    for name in ("bgnbd", "paretonbd"):
        if not fits[name].converged:
            # One retry from a neutral start before giving up: L-BFGS-B can stall on flat ridges.
            retry = (bgnbd if name == "bgnbd" else paretonbd).fit(g, start=dict.fromkeys(fits[name].params, 1.0))
            if retry.converged or retry.log_likelihood > fits[name].log_likelihood:
                fits[name] = retry
    if s.spenders >= MIN_SPENDERS:
        fits["gammagamma"] = gammagamma.fit(s.x, s.monetary)
        corr = fits["gammagamma"].extra.get("frequency_spend_correlation")
        if corr is not None and abs(corr) > 0.3:
            notes.append(f"spend per order and frequency correlate ({corr:.2f}); Gamma-Gamma assumes they "
                         "do not, so expected values are rougher")
    else:
        notes.append(f"only {s.spenders} repeat buyers have order amounts (need {MIN_SPENDERS}): "
                     "expected value is not scored")
    return fits, notes


def fit_workspace(
    db: sqlite_utils.Database,
    *,
    unit: str = "weeks",
    as_of: int | None = None,
    timezone: str = "UTC",
    holdout_days: int | None = 90,
    store: bool = True,
) -> FitRun:
    """Fit on order history up to *as_of* (default now), check calibration on a holdout, store the fits.

    Raises TooThin when there is too little history and WinbackError when BG/NBD or Pareto/NBD do not
    converge; nothing is stored then.
    """
    cutoff = now_ts() if as_of is None else as_of
    offset = tz_offset(timezone, cutoff)
    s = summarise(db, cutoff=cutoff, unit=unit, offset=offset)
    fits, notes = fit_models(s)
    failed = [f"{name}: {fits[name].message}" for name in ("bgnbd", "paretonbd") if not fits[name].converged]
    if failed:
        raise WinbackError("the model fit did not converge (" + "; ".join(failed) + "). Nothing was stored; "
                           "check the order events for oddities (one day holding most orders, test accounts).")
    calibration = None
    if holdout_days:
        calibration = calibration_check(db, cutoff=cutoff, unit=unit, offset=offset, holdout_days=holdout_days,
                                        starts={k: v.params for k, v in fits.items()})
    run = FitRun(None, unit, cutoff, s.customers, s.repeaters, fits, calibration, notes)
    if store:
        run.run = store_run(db, run)
    return run


def store_run(db: sqlite_utils.Database, run: FitRun) -> int:
    """Write a run's fits (one row per model) and an audit entry in one transaction; return the run number."""
    operator = audit.current_operator()
    at = now_ts()
    with immediate(db):
        number = db.execute("SELECT COALESCE(MAX(run), 0) + 1 FROM model_fits").fetchone()[0]
        for name, res in run.fits.items():
            calib: Mapping[str, Any] | None = None   # this model's row: the check's header and its figures
            if run.calibration and "skipped" in run.calibration:
                calib = run.calibration          # keep the reason: `model show` reports it later
            elif run.calibration and name in run.calibration.get("models", {}):
                calib = {k: v for k, v in run.calibration.items() if k != "models"} | run.calibration["models"][name]
            db.execute(
                "INSERT INTO model_fits (run, model, unit, as_of, params, log_likelihood, customers, converged,"
                " message, seconds, calibration, fitted_at, fitted_by) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [number, name, run.unit, run.as_of, json.dumps(res.params), res.log_likelihood, res.customers,
                 int(res.converged), res.message, res.seconds,
                 json.dumps(calib) if calib is not None else None, at, operator],
            )
        audit.record(db, "model.fit", run=number, unit=run.unit, as_of=run.as_of, customers=run.customers,
                     models={k: v.params for k, v in run.fits.items()})
    return int(number)


def latest_run(db: sqlite_utils.Database) -> dict[str, dict[str, Any]] | None:
    """The newest run's stored fits by model name, with params and calibration decoded; None if never fitted."""
    row = db.execute("SELECT MAX(run) FROM model_fits").fetchone()
    if not row or row[0] is None:
        return None
    fits = {}
    for r in db.query("SELECT * FROM model_fits WHERE run = ? ORDER BY id", [row[0]]):
        r["params"] = json.loads(r["params"])
        r["calibration"] = json.loads(r["calibration"]) if r["calibration"] else None
        r["converged"] = bool(r["converged"])
        fits[r["model"]] = r
    return fits
