"""Pareto/NBD (Schmittlein, Morrison & Colombo 1987; likelihood as in Fader & Hardie 2005).

While alive a customer buys at rate λ ~ Gamma(r, α) and dies at an unobserved time with rate μ ~ Gamma(s, β).
Unlike BG/NBD, a customer with no repeat purchase can be dead: the longer they stay silent, the likelier.

The likelihood has a Gauss hypergeometric term A₀, computed in a numerically stable form: each 2F1 goes
through Euler's transformation (no overflow for heavy buyers, see `_log_a0_parts`), everything stays in logs,
and the two summands at t_x and T are combined as log(A − B) = log A + log(−expm1(log B − log A)), which stays
finite when they are close (t_x ≈ T), where the textbook difference of two powers cancels to garbage or goes
negative. The 2F1 argument is always |α − β| / (max(α, β) + t) ∈ [0, 1), where the series converges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln, hyp2f1

from console.propensity.mle import FitResult, Grouped, dot, maximise

NAMES = ("r", "alpha", "s", "beta")


def _log_a0_parts(r, alpha, s, beta, x, t):
    """log of 2F1(r+s+x, b; r+s+x+1; z)/(max(α,β)+t)^(r+s+x), the summand of A₀ at time t (t_x or T).

    Euler's transformation 2F1(a, b; a+1; z) = (1−z)^(1−b) · 2F1(1, a+1−b; a+1; z) takes the power that blows
    up for heavy buyers (b = r+x large, z near 1) out of the series, into a log; the remaining series is
    bounded by 1/(1−z).
    """
    rsx = r + s + x
    if alpha >= beta:
        big, small, second = alpha, beta, s + 1
    else:
        big, small, second = beta, alpha, r + x
    log_big = np.log(big + t)
    log_one_minus_z = np.log(small + t) - log_big     # 1 − z = (min(α,β) + t) / (max(α,β) + t)
    series = hyp2f1(1.0, rsx + 1 - second, rsx + 1, (big - small) / (big + t))
    return (1 - second) * log_one_minus_z + np.log(series) - rsx * log_big


def _log_terms(r, alpha, s, beta, x, t_x, T, part_tx=None, part_T=None):
    """Per customer: log of the "alive at T" term, and log of the whole likelihood without the constant head."""
    if part_tx is None:
        part_tx = _log_a0_parts(r, alpha, s, beta, x, t_x)
    if part_T is None:
        part_T = _log_a0_parts(r, alpha, s, beta, x, T)
    d = np.minimum(part_T - part_tx, 0.0)  # T ≥ t_x, so A₀ ≥ 0; rounding must not make it negative
    with np.errstate(divide="ignore"):
        log_a0 = part_tx + np.log(-np.expm1(d))  # −inf when t_x == T: no time to have died unseen
    alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    died = np.log(s) - np.log(r + s + x) + log_a0
    return alive, np.logaddexp(alive, died)


@dataclass(frozen=True)
class ParetoNBD:
    r: float
    alpha: float
    s: float
    beta: float

    @classmethod
    def from_params(cls, params: dict[str, float]) -> ParetoNBD:
        return cls(*(float(params[n]) for n in NAMES))

    def _head(self, x):
        r, alpha, s, beta = self.r, self.alpha, self.s, self.beta
        return gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)

    def log_likelihood(self, x, t_x, T) -> np.ndarray:
        x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
        _, body = _log_terms(self.r, self.alpha, self.s, self.beta, x, t_x, T)
        return self._head(x) + body

    def p_alive(self, x, t_x, T) -> np.ndarray:
        """P(still alive at T | x, t_x, T)."""
        x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
        alive, body = _log_terms(self.r, self.alpha, self.s, self.beta, x, t_x, T)
        return np.exp(alive - body)

    def expected_orders(self, t: float, x, t_x, T) -> np.ndarray:
        """Expected purchases in the next t units, given the history (x, t_x, T)."""
        r, alpha, s, beta = self.r, self.alpha, self.s, self.beta
        x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
        rate = (r + x) / (alpha + T)
        if abs(s - 1) < 1e-7:  # the s → 1 limit of the closed form
            lifetime = (beta + T) * np.log((beta + T + t) / (beta + T))
        else:
            lifetime = (beta + T) / (s - 1) * (1 - ((beta + T) / (beta + T + t)) ** (s - 1))
        return self.p_alive(x, t_x, T) * rate * lifetime


def neg_mean_ll(theta: np.ndarray, g: Grouped) -> float:
    """Mean negative log-likelihood over grouped customers; 2F1 evaluated once per distinct (x, t) pair.

    theta = log(r, r/α, s, s/β): each Gamma split into its concentration and its mean (purchase rate r/α,
    drop-out rate s/β), so the ridges towards homogeneous customers (r, α → ∞ or s, β → ∞ at a fixed mean) run
    along one axis each, where the caps on r and s stop them.
    """
    r, mean_lambda, s, mean_mu = np.exp(theta)
    alpha, beta = r / mean_lambda, s / mean_mu
    N = g.n.sum()
    xu, cu = g.by_x
    with np.errstate(all="ignore"):  # the line search probes extreme values; non-finite results are rejected
        head = dot(cu, gammaln(r + xu)) + N * (-gammaln(r) + r * np.log(alpha) + s * np.log(beta))
        x_tx, v_tx, inv_tx = g.pairs("t_x")
        x_T, v_T, inv_T = g.pairs("T")
        part_tx = _log_a0_parts(r, alpha, s, beta, x_tx, v_tx)[inv_tx]
        part_T = _log_a0_parts(r, alpha, s, beta, x_T, v_T)[inv_T]
        _, body = _log_terms(r, alpha, s, beta, g.x, g.t_x, g.T, part_tx, part_T)
        value = -(head + dot(g.n, body)) / N
    return float(value) if np.isfinite(value) else 1e10


# s is the shape of the drop-out rates' Gamma: at s = 100 their coefficient of variation is 10%, practically
# one rate for all. Beyond it, 2F1 slows down by orders of magnitude (its argument nears 1) for no gain.
S_CAP = 100.0
R_CAP = 1e3   # the same cap on the purchase rates' concentration as BG/NBD's


def fit(g: Grouped, start: dict[str, float] | None = None) -> FitResult:
    """Maximum likelihood fit of Pareto/NBD to grouped customers (gradient by finite differences)."""
    if start is None:
        start = {"r": 0.5, "alpha": max(float(np.average(g.T, weights=g.n)), 1e-3), "s": 0.5, "beta": 1.0}
        start["beta"] = start["alpha"]
    x0 = np.log([start["r"], start["r"] / start["alpha"], start["s"], start["s"] / start["beta"]])
    caps = {
        0: (R_CAP, "r at its cap: every customer buys at about the same rate"),
        2: (S_CAP, "s at its cap: the drop-out rate is about the same for every customer"),
    }
    res = maximise(
        "paretonbd", ("r", "mean_lambda", "s", "mean_mu"), lambda th: neg_mean_ll(th, g), x0, g.customers,
        analytic_gradient=False, gradient_tolerance=1e-3, caps=caps,
    )
    p = res.params
    res.params = {"r": p["r"], "alpha": p["r"] / p["mean_lambda"], "s": p["s"], "beta": p["s"] / p["mean_mu"]}
    return res


def start_from_bgnbd(b: dict[str, float]) -> dict[str, float]:
    """A Pareto/NBD starting point from a BG/NBD fit, which saves most of the search.

    The purchase process is the same model. For small p, Beta(a, b) is nearly Gamma(a, b), and drop-out per
    unit time is about p times the mean purchase rate r/α: so s ≈ a, with β keeping the mean drop-out rate
    s/β = a/(a+b) · r/α. Homogeneous drop-out (a large) starts at the cap on s, where the fit will end.
    """
    s0 = float(np.clip(b["a"], 0.1, S_CAP))
    mean_rate = b["a"] / (b["a"] + b["b"]) * b["r"] / b["alpha"]
    return {"r": b["r"], "alpha": b["alpha"], "s": s0, "beta": s0 / mean_rate}
