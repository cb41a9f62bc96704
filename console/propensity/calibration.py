"""Does the model predict? Fit on history up to a split date, predict the holdout period that follows, and
compare predicted with actual repeat purchases, by how often customers had bought before the split."""

from __future__ import annotations

from typing import TypedDict, final

import numpy as np
import sqlite_utils

from console.propensity import bgnbd, paretonbd
from console.propensity.enough import TooThin, check_enough
from console.propensity.mle import FitResult, Grouped
from console.propensity.summary import DAY, Summary, summarise, unit_days

TOP_BUCKET = 7   # 7+ repeat purchases share a row


class BucketRow(TypedDict):   # bucket_rows: customers by repeat purchases before the split
    bucket: str                 # '0' … '6', '7+', 'all'
    customers: int
    actual: float               # mean holdout purchases
    predicted: float


def bucket_rows(s: Summary, predicted: np.ndarray) -> list[BucketRow]:
    """Customers, mean actual and mean predicted holdout purchases by calibration-period x (0..6, 7+)."""
    assert s.holdout_orders is not None
    bucket = np.minimum(s.x, TOP_BUCKET).astype(int)
    rows: list[BucketRow] = []
    for k in range(TOP_BUCKET + 1):
        mask = bucket == k
        n = int(mask.sum())
        if n == 0:
            continue
        rows.append({
            "bucket": f"{k}+" if k == TOP_BUCKET else str(k),
            "customers": n,
            "actual": float(s.holdout_orders[mask].mean()),
            "predicted": float(predicted[mask].mean()),
        })
    rows.append({
        "bucket": "all",
        "customers": s.customers,
        "actual": float(s.holdout_orders.mean()) if s.customers else 0.0,
        "predicted": float(predicted.mean()) if s.customers else 0.0,
    })
    return rows


class ModelCalibration(TypedDict):   # one model fitted on the calibration period
    params: dict[str, float]
    log_likelihood: float
    converged: bool
    rows: list[BucketRow]


@final   # final: `"skipped" in calibration` tells the two apart for mypy
class CalibrationCheck(TypedDict):
    holdout_days: int
    split_at: int                      # end of the last calibration day
    customers: int
    models: dict[str, ModelCalibration]


@final
class CalibrationSkipped(TypedDict):   # the calibration period alone is too thin to fit
    holdout_days: int
    skipped: str


def calibration_check(
    db: sqlite_utils.Database, *, cutoff: int, unit: str, offset: int, holdout_days: int,
    starts: dict[str, dict[str, float]] | None = None,
) -> CalibrationCheck | CalibrationSkipped:
    """Fit both models on history up to (cutoff − holdout_days) and score them against the holdout.

    Returns {"holdout_days", "split_at", "customers", "models": {name: {"params", "log_likelihood", "rows"}}},
    the per-model values for the calibration-period fit (the check is of the method, not of the stored fit),
    or {"skipped": reason} when the calibration period alone is too thin to fit.
    """
    s = summarise(db, cutoff=cutoff, unit=unit, offset=offset, holdout_days=holdout_days)
    try:
        check_enough(s, what=f"order history before the {holdout_days}-day holdout")
    except TooThin as exc:
        return {"holdout_days": holdout_days, "skipped": str(exc)}
    g = Grouped.build(s.x, s.t_x, s.T)
    horizon = holdout_days / unit_days(unit)
    out: CalibrationCheck = {
        "holdout_days": holdout_days,
        "split_at": int((s.end_day + 1) * DAY - offset - 1),   # end of the last calibration day
        "customers": s.customers,
        "models": {},
    }
    starts = starts or {}
    # Starting from the full-history fit (when given) saves most of the search: the two are usually close.
    b = bgnbd.fit(g, start=starts.get("bgnbd"))
    fitted: dict[str, tuple[FitResult, bgnbd.BGNBD | paretonbd.ParetoNBD]] = {
        "bgnbd": (b, bgnbd.BGNBD.from_params(b.params))}
    p = paretonbd.fit(g, start=starts.get("paretonbd") or paretonbd.start_from_bgnbd(b.params))
    fitted["paretonbd"] = (p, paretonbd.ParetoNBD.from_params(p.params))
    for name, (res, model) in fitted.items():
        predicted = model.expected_orders(horizon, s.x, s.t_x, s.T)
        out["models"][name] = {
            "params": res.params,
            "log_likelihood": res.log_likelihood,
            "converged": res.converged,
            "rows": bucket_rows(s, predicted),
        }
    return out
