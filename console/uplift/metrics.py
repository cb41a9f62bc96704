"""Qini curve, Qini coefficient and uplift at k %, with bootstrap intervals (numpy only).

Definitions follow Radcliffe (2007) as scikit-uplift implements them (tests/test_uplift_metrics.py checks every
figure against `sklift.metrics`):

- Users are ordered by predicted uplift, best first (ties kept together: the curve has one point per distinct
  score). At each point, Qini(n) = Y_t(n) − Y_c(n) · N_t(n) / N_c(n): treated returners among the first n minus
  the control returners scaled to the treated count — the extra returns the first n treated users bought.
- Qini coefficient: area between the curve and the random line (0 → the end point), divided by the same area
  for the perfect ordering (treated returners first, control returners last). 0 = no better than random,
  1 = perfect; it can be negative.
- Uplift at k %: among the first k % of all users, the treated return rate minus the control rate.

Intervals come from the Poisson bootstrap: each replicate gives every user a Poisson(1) weight instead of
re-drawing the sample, so the order (one sort) is shared by all replicates and a million users take seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def descending(score: np.ndarray) -> np.ndarray:
    """Best first; among equal scores the later user first (scikit-uplift's reversed stable sort)."""
    return np.argsort(score, kind="mergesort")[::-1]


@dataclass(frozen=True)
class Ordered:
    """Outcome and treatment in score order, and where each run of equal scores ends."""

    y: np.ndarray          # float 0/1
    t: np.ndarray          # float 0/1
    ends: np.ndarray       # index of the last user of each distinct score
    order: np.ndarray      # the permutation: position i holds user order[i]


def ordered(y: np.ndarray, t: np.ndarray, score: np.ndarray) -> Ordered:
    order = descending(score)
    s = score[order]
    ends = np.r_[np.flatnonzero(np.diff(s)), s.size - 1] if s.size else np.zeros(0, dtype=np.int64)
    return Ordered(np.asarray(y, dtype=np.float64)[order], np.asarray(t, dtype=np.float64)[order], ends, order)


def _perfect(y: np.ndarray, t: np.ndarray) -> Ordered:
    return ordered(y, t, y * t - y * (1 - t))


def qini_curve(o: Ordered, w: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(n, Qini(n)) at each distinct score, starting at (0, 0); *w* weights users (bootstrap)."""
    w = np.ones_like(o.y) if w is None else w
    wt = w * o.t
    wc = w - wt
    n_t = np.cumsum(wt)[o.ends]
    n_c = np.cumsum(wc)[o.ends]
    y_t = np.cumsum(wt * o.y)[o.ends]
    y_c = np.cumsum(wc * o.y)[o.ends]
    ratio = np.divide(n_t, n_c, out=np.zeros_like(n_t), where=n_c != 0)
    values = y_t - y_c * ratio
    x = n_t + n_c
    return np.r_[0.0, x], np.r_[0.0, values]


def _area(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1])) / 2.0)


def qini_coefficient(o: Ordered, perfect: Ordered, w: np.ndarray | None = None) -> float:
    """Normalised area between the Qini curve and the random line (see the module docstring); NaN when the
    perfect ordering is no better than random (nobody returned). *w*: per-user weights in user order."""
    xa, ya = qini_curve(o, None if w is None else w[o.order])
    xp, yp = qini_curve(perfect, None if w is None else w[perfect.order])
    base = xp[-1] * yp[-1] / 2.0
    best = _area(xp, yp) - base
    return (_area(xa, ya) - base) / best if best > 0 else float("nan")


def uplift_at(o: Ordered, k: float, w: np.ndarray | None = None) -> float:
    """Treated return rate minus control rate among the first int(n·k) users (scikit-uplift's "overall")."""
    n = int(o.y.size * k)
    w = np.ones(n) if w is None else w[:n]
    y, t = o.y[:n], o.t[:n]
    wt, wc = (w * t).sum(), (w * (1 - t)).sum()
    if wt == 0 or wc == 0:
        return float("nan")
    return float((w * t * y).sum() / wt - (w * (1 - t) * y).sum() / wc)


@dataclass
class Evaluation:
    qini: float
    qini_interval: tuple[float, float]
    uplift_at: dict[str, dict[str, float]]          # "10" -> {"uplift", "low", "high"}
    curve: list[dict[str, float]]                   # share of users, extra returns (model), random
    replicates: int


def evaluate(y: np.ndarray, t: np.ndarray, score: np.ndarray, *, ks: tuple[float, ...] = (0.1, 0.2, 0.3),
             replicates: int = 200, seed: int = 0, points: int = 20) -> Evaluation:
    """Qini coefficient and uplift at each k with 95 % Poisson-bootstrap intervals, and the curve at *points*
    evenly spaced shares of the users (with the random line's value beside it)."""
    o = ordered(y, t, score)
    p = _perfect(np.asarray(y, dtype=np.float64), np.asarray(t, dtype=np.float64))
    rng = np.random.default_rng(seed)
    qinis = np.empty(replicates)
    ups = {k: np.empty(replicates) for k in ks}
    for b in range(replicates):
        # a weight per user (in user order), carried into both orderings
        w = rng.poisson(1.0, size=y.size).astype(np.float64)
        qinis[b] = qini_coefficient(o, p, w)
        wa = w[o.order]
        for k in ks:
            ups[k][b] = uplift_at(o, k, wa)

    def interval(values: np.ndarray) -> tuple[float, float]:
        finite = values[np.isfinite(values)]
        if finite.size < replicates // 2:
            return (float("nan"), float("nan"))
        low, high = np.percentile(finite, [2.5, 97.5])
        return (float(low), float(high))

    x, v = qini_curve(o)
    shares = np.linspace(0.0, 1.0, points + 1)
    values = np.interp(shares * x[-1], x, v) if x[-1] > 0 else np.zeros_like(shares)
    curve = [{"share": round(float(s), 4), "extra_returns": float(val), "random": float(s * v[-1])}
             for s, val in zip(shares, values, strict=True)]
    return Evaluation(
        qini=qini_coefficient(o, p),
        qini_interval=interval(qinis),
        uplift_at={f"{round(k * 100)}": {"uplift": uplift_at(o, k), "low": interval(ups[k])[0],
                                          "high": interval(ups[k])[1]} for k in ks},
        curve=curve,
        replicates=replicates,
    )
