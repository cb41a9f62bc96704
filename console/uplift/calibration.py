"""Calibrated uplift: the model's predicted size mapped onto what the holdouts observed.

The T-learner ranks users well (the Qini coefficient says so) but the *size* of its prediction is a difference of
two classifiers' probabilities, each with its own error: on the demo, customers the simulated campaign lifted by
+20 pp scored up to +70 pp, and never-active users (never in any campaign) up to +40 pp. The budget's estimate
("what it buys"), a coupon's net value and every uplift column are sums and readings of that size, so they
overstated what the money buys.

The map is learned from the fit's cross-fitted (out-of-fold) predictions, the same ones the Qini curve judges:

1. users are ordered by predicted uplift and cut into up to GROUPS groups of equal size, fewer when an arm is
   small, so that each group holds at least MIN_ARM treated and MIN_ARM holdout users (a group's observed uplift
   is a difference of two rates: below ~100 users an arm's rate is too noisy to calibrate anything by);
2. per group, the observed uplift is the treated return rate minus the holdout rate (randomised arms: an unbiased
   estimate of the group's average effect), shown with Newcombe's 95 % interval; its weight is the inverse of
   the difference's variance, p_t(1 − p_t)/n_t + p_c(1 − p_c)/n_c, with each rate taken as (x + 1)/(n + 2)
   (Agresti–Caffo) so that a group where nobody returned keeps a finite weight. Inverse-variance weights are
   the efficient choice for a weighted least-squares fit, and they matter here: the groups where the model is
   sure nobody returns either way (the dormant, the lost) measure "no effect" very precisely, while a group of
   active customers mis-ranked at the bottom measures a few points with wide error — with equal weights the
   pooled bottom of the map gave every dormant user +1.1 pp on the demo; with these, ~0;
3. a weighted isotonic regression (scikit-learn, increasing) of observed on the group's mean prediction gives
   each group its calibrated uplift, monotone in the prediction — the model's order is kept, its size replaced
   by what was measured (where two groups' observations run against the model's order, they are pooled);
4. a score is the calibrated uplift of the group whose range of predictions it falls in (the edges are the
   predictions at the cuts), so the calibrated scores of a group add up to what the group observed: a sum over
   the users a budget buys is an unbiased estimate of their extra returns, which a line drawn between the
   groups' means was not (on the simulated test campaign it under-stated the top 2,000's by a quarter, the
   half of the top group below its mean being drawn towards the next group). Below the first edge and above
   the last a score is the first or last group's, so nobody (least of all someone unlike anyone trained on) is
   scored above the largest or below the smallest uplift the groups observed.

Within a group many users share one value and would lose the model's order; TIE_BREAK times the raw prediction
(at most 1e-6, i.e. 0.0001 pp) is added so ranking by the calibrated score is ranking by the raw one: the Qini
coefficient and uplift at k % reported for the fit hold for the calibrated scores too.
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np

from console import stats

GROUPS = 10
MIN_ARM = 100          # treated and holdout users per group, at least
TIE_BREAK = 1e-6       # share of the raw prediction added: keeps the model's order where the map is flat


class CalibrationGroup(TypedDict):   # one group of users by cross-fitted predicted uplift, lowest first
    users: int
    treated: int
    control: int
    treated_returned: int
    control_returned: int
    predicted: float       # mean raw (cross-fitted) prediction
    observed: float        # treated return rate − holdout return rate
    low: float | None      # Newcombe's 95 % interval of `observed`
    high: float | None
    calibrated: float      # the monotone map at `predicted`


class Calibration(TypedDict):
    """Stored in the fit's report (`calibration`): the groups, lowest prediction first, and the raw predictions
    that separate them (len(groups) − 1 edges)."""
    method: str
    groups: list[CalibrationGroup]
    edges: list[float]
    raw_max: float         # the largest cross-fitted prediction, for the report's "before"
    calibrated_max: float  # the map's ceiling: the largest uplift a user can be scored


def group_bounds(t: np.ndarray, order: np.ndarray, groups: int = GROUPS, min_arm: int = MIN_ARM) -> list[int]:
    """Cut points (into *order*) of equal-size groups, each with at least *min_arm* users of each arm: as many
    as the smaller arm allows (up to *groups*), neighbours merged when a cut left an arm short."""
    n = len(order)
    n_t = int(t.sum())
    k = max(1, min(groups, min(n_t, n - n_t) // min_arm))
    cuts = [round(i * n / k) for i in range(k + 1)]
    treated_before = np.r_[0, np.cumsum(t[order])]

    def short(lo: int, hi: int) -> bool:
        treated = int(treated_before[hi] - treated_before[lo])
        return min(treated, hi - lo - treated) < min_arm

    i = 0
    while len(cuts) > 2 and i < len(cuts) - 1:
        if short(cuts[i], cuts[i + 1]):
            # merge with the next group (the last one with the one before it)
            del cuts[i + 1 if i + 1 < len(cuts) - 1 else i]
            i = max(0, i - 1)
        else:
            i += 1
    return cuts


def fit_calibration(uplift: np.ndarray, t: np.ndarray, y: np.ndarray) -> Calibration:
    """The calibration of cross-fitted *uplift* against arms *t* and outcomes *y* (module docstring)."""
    from sklearn.isotonic import IsotonicRegression

    t = np.asarray(t, dtype=np.int64)
    y = np.asarray(y, dtype=np.int64)
    order = np.argsort(uplift, kind="stable")
    cuts = group_bounds(t, order)
    rows: list[CalibrationGroup] = []
    weights: list[float] = []
    for lo, hi in zip(cuts[:-1], cuts[1:], strict=True):
        part = order[lo:hi]
        tt, yy = t[part], y[part]
        n_t, n_c = int(tt.sum()), int(len(part) - tt.sum())
        x_t, x_c = int(yy[tt == 1].sum()), int(yy[tt == 0].sum())
        ci = stats.newcombe_interval(x_t, n_t, x_c, n_c)
        rows.append({"users": len(part), "treated": n_t, "control": n_c, "treated_returned": x_t,
                     "control_returned": x_c, "predicted": float(uplift[part].mean()),
                     "observed": x_t / n_t - x_c / n_c, "low": ci.low if ci else None,
                     "high": ci.high if ci else None, "calibrated": 0.0})
        weights.append(1.0 / _variance(x_t, n_t, x_c, n_c))
    x = np.array([g["predicted"] for g in rows])
    iso = IsotonicRegression(increasing=True, out_of_bounds="clip")
    iso.fit(x, np.array([g["observed"] for g in rows]), sample_weight=np.array(weights))
    fitted = iso.predict(x)
    for g, v in zip(rows, fitted, strict=True):
        g["calibrated"] = float(v)
    # a prediction at a cut belongs to the group above it (searchsorted side="right" in apply)
    edges = [float(uplift[order[c]]) for c in cuts[1:-1]]
    return {"method": "isotonic (weighted) on groups of cross-fitted predicted uplift", "groups": rows,
            "edges": edges, "raw_max": float(np.max(uplift)) if len(uplift) else 0.0,
            "calibrated_max": float(max(fitted))}


def _variance(x_t: int, n_t: int, x_c: int, n_c: int) -> float:
    """Variance of the difference of two rates, each rate Agresti–Caffo adjusted ((x + 1)/(n + 2))."""
    p_t, p_c = (x_t + 1) / (n_t + 2), (x_c + 1) / (n_c + 2)
    return p_t * (1 - p_t) / n_t + p_c * (1 - p_c) / n_c


def apply(calibration: Calibration, raw: np.ndarray) -> np.ndarray:
    """Calibrated uplift of raw predictions: their group's (the first's below the first edge, the last's above the
    last), the model's order kept by TIE_BREAK."""
    values = np.array([g["calibrated"] for g in calibration["groups"]])
    mapped = values[np.searchsorted(np.asarray(calibration["edges"]), raw, side="right")]
    return mapped + TIE_BREAK * np.clip(raw, -1.0, 1.0)


def calibrated_pair(calibration: Calibration, p1: np.ndarray, p0: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                                         np.ndarray]:
    """(uplift, p_treated, p_control) to store: the calibrated uplift; the holdout model's P(return | not
    messaged) as it is (one classifier's probability, not a difference); P(return | messaged) = that plus the
    calibrated uplift, kept within [0, 1] — so a coupon's net value (console.uplift.value) reads calibrated sizes."""
    uplift = apply(calibration, p1 - p0)
    return uplift, np.clip(p0 + uplift, 0.0, 1.0), p0


def uncalibrated_note(fit: int | None) -> str:
    """What is said of a usable fit stored before calibration existed (its scores overstate the effect)."""
    which = f"fit #{fit}" if fit else "this fit"
    return (f"{which} predates calibration: its scores are the raw model's sizes, which overstate the effect — "
            "run `winback uplift fit` again for calibrated scores")


__all__ = ["GROUPS", "MIN_ARM", "Calibration", "CalibrationGroup", "apply", "calibrated_pair", "fit_calibration",
           "group_bounds", "uncalibrated_note"]
