"""What `winback model show` and the console display: the latest fit, its calibration, and score listings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict, cast

import sqlite_utils

from console.propensity.fit import latest_run

SORTABLE = ("expected_value", "p_alive", "expected_orders_90d")
MODEL_LABELS = {"bgnbd": "BG/NBD", "paretonbd": "Pareto/NBD", "gammagamma": "Gamma-Gamma"}


class ScoreCounts(TypedDict):
    customers: int                 # scored
    scored_at: int | None
    mean_p_alive: float | None
    p_alive_below_0_3: int


class ModelReport(TypedDict):
    """describe_latest: `winback model show --json`, and the console's model page."""
    run: int
    unit: str
    as_of: int
    fitted_at: int
    fitted_by: str | None
    models: dict[str, dict[str, Any]]      # per model: params, log_likelihood, customers, converged, message, seconds
    calibration: dict[str, Any] | None     # as stored: the check's header, "models" per model, or "skipped"
    scores: ScoreCounts


def describe_latest(db: sqlite_utils.Database) -> ModelReport | None:
    """The newest fit run: per-model parameters and log-likelihood, the calibration check, and score counts.

    None when nothing has been fitted. `calibration["models"][name]["rows"]` holds, per bucket of repeat orders
    before the split (0..6, 7+, all): customers, actual and predicted mean orders in the holdout — chart-ready.
    """
    latest = latest_run(db)
    if latest is None:
        return None
    first = next(iter(latest.values()))
    calibration: dict[str, Any] | None = None
    models = {}
    per_model_keys = ("params", "log_likelihood", "rows", "converged")
    for name, row in latest.items():
        cal = row["calibration"]
        if cal and "skipped" in cal:
            calibration = cal
        elif cal:
            if calibration is None:
                calibration = {k: v for k, v in cal.items() if k not in per_model_keys}
                calibration["models"] = {}
            calibration["models"][name] = {k: cal[k] for k in per_model_keys if k in cal}
        models[name] = {k: row[k] for k in ("params", "log_likelihood", "customers", "converged", "message",
                                            "seconds")}
    count, scored_at, mean_alive, gone = db.execute(
        "SELECT COUNT(*), MAX(scored_at), AVG(p_alive), SUM(p_alive < 0.3) FROM scores").fetchone()
    return {
        "run": first["run"], "unit": first["unit"], "as_of": first["as_of"],
        "fitted_at": first["fitted_at"], "fitted_by": first["fitted_by"],
        "models": models,
        "calibration": calibration,
        "scores": {"customers": count, "scored_at": scored_at, "mean_p_alive": mean_alive,
                   "p_alive_below_0_3": gone or 0},
    }


def calibration_table(calibration: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """One row per bucket: repeats, customers, actual, then one predicted column per model (by label)."""
    if not calibration or "models" not in calibration:
        return []
    merged: dict[str, dict[str, Any]] = {}
    for name, m in calibration["models"].items():
        for r in m["rows"]:
            row = merged.setdefault(r["bucket"], {"repeats": r["bucket"], "customers": r["customers"],
                                                  "actual": round(r["actual"], 3)})
            row[MODEL_LABELS.get(name, name)] = round(r["predicted"], 3)
    return list(merged.values())


class ScoreRow(TypedDict):   # list_scores: one scored customer
    user_id: int
    external_id: str
    name: str | None
    p_alive: float
    expected_orders_90d: float
    expected_value: float | None      # None: Gamma-Gamma did not converge
    repeat_orders: int
    model: str                        # bgnbd | paretonbd


def list_scores(
    db: sqlite_utils.Database, *, sort: str = "expected_value", ascending: bool = False, limit: int = 20,
    offset: int = 0,
) -> list[ScoreRow]:
    """Scored customers ordered by a score (unscored never appear): external_id, name, the scores."""
    if sort not in SORTABLE:
        raise ValueError(f"cannot sort by {sort!r}")
    direction = "ASC" if ascending else "DESC"
    return cast(list[ScoreRow], list(db.query(
        "SELECT s.user_id, u.external_id, u.name, s.p_alive, s.expected_orders_90d, s.expected_value,"
        " s.repeat_orders, s.model FROM scores s JOIN users u ON u.id = s.user_id"
        f" ORDER BY s.{sort} IS NULL, s.{sort} {direction}, s.user_id LIMIT ? OFFSET ?", [limit, offset])))
