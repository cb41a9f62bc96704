"""Gamma-Gamma spend per order (Fader, Hardie & Lee 2005, "The Gamma-Gamma model of monetary value").

Each order's value is Gamma(p, ν) with ν ~ Gamma(q, γ) across customers; fitted on customers with at least one
repeat order, using the mean value m of their repeat orders. It assumes spend per order does not depend on how
often a customer buys; `fit` reports the correlation between the two so an operator can see when that fails.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import digamma, gammaln

from console.propensity.mle import FitResult, maximise

NAMES = ("p", "q", "gamma")


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    gamma: float

    @classmethod
    def from_params(cls, params: dict[str, float]) -> GammaGamma:
        return cls(*(float(params[n]) for n in NAMES))

    @property
    def usable(self) -> bool:
        """The mean spend is finite only for q > 1."""
        return self.q > 1

    def expected_spend(self, x, m) -> np.ndarray:
        """Expected value of a customer's next order given x repeat orders with mean value m.

        A weighted average of the population mean pγ/(q−1) and the customer's own mean; x = 0 gives the
        population mean.
        """
        x = np.asarray(x, dtype=np.float64)
        m = np.nan_to_num(np.asarray(m, dtype=np.float64), nan=0.0)
        p, q, g = self.p, self.q, self.gamma
        return p * (g + x * m) / (p * x + q - 1)

    def log_likelihood(self, x, m) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        m = np.asarray(m, dtype=np.float64)
        p, q, g = self.p, self.q, self.gamma
        px = p * x
        return (gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(g) + (px - 1) * np.log(m)
                + px * np.log(x) - (px + q) * np.log(g + m * x))


def neg_mean_ll(params: np.ndarray, x: np.ndarray, m: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean negative log-likelihood and its gradient in (p, q, γ)."""
    p, q, g = params
    px = p * x
    lm, lx, lgmx = np.log(m), np.log(x), np.log(g + m * x)
    ll = (gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(g) + (px - 1) * lm + px * lx
          - (px + q) * lgmx)
    psi = digamma(px + q)
    d_p = x * (psi - digamma(px) + lm + lx - lgmx)
    d_q = psi - digamma(q) + np.log(g) - lgmx
    d_g = q / g - (px + q) / (g + m * x)
    n = x.size
    return -ll.sum() / n, -np.array([d_p.sum(), d_q.sum(), d_g.sum()]) / n


def _objective(theta: np.ndarray, x: np.ndarray, m: np.ndarray) -> tuple[float, np.ndarray]:
    """The optimiser's coordinates: log p, log q, log(γ/q).

    When every customer spends alike, q and γ run off together (ν's Gamma shrinks to a point) at a fixed γ/q;
    with γ/q as a coordinate that ridge runs along log q alone, where a cap stops it.
    """
    p, q, ratio = np.exp(theta)
    g = q * ratio
    with np.errstate(all="ignore"):
        value, (d_p, d_q, d_g) = neg_mean_ll(np.array([p, q, g]), x, m)
    if not np.isfinite(value):
        return 1e10, np.zeros(3)
    return value, np.array([d_p * p, (d_q + d_g * ratio) * q, d_g * g])


# At q = 10⁴ the customers' spend levels differ by about 1%: one level for all.
Q_CAP = 1e4


def fit(x, m) -> FitResult:
    """Fit on customers with x ≥ 1 repeat orders and a positive mean repeat-order value m."""
    x = np.asarray(x, dtype=np.float64)
    m = np.asarray(m, dtype=np.float64)
    keep = (x > 0) & np.isfinite(m) & (m > 0)
    x, m = x[keep], m[keep]
    mean, var = float(m.mean()), float(m.var())
    # Start from a method-of-moments guess: p·ν ≈ mean, with q = 2 so the population mean is finite.
    p0 = max(mean**2 / max(var, 1e-9), 0.5)
    start = np.log([p0, 2.0, max(mean, 1e-3) / 2.0])
    note = "q at its cap: spend per order is about the same level for every customer"
    result = maximise("gammagamma", ("p", "q", "ratio"), lambda th: _objective(th, x, m), start, int(x.size),
                      analytic_gradient=True, caps={1: (Q_CAP, note)})
    pr = result.params
    result.params = {"p": pr["p"], "q": pr["q"], "gamma": pr["q"] * pr["ratio"]}
    corr = float(np.corrcoef(x, m)[0, 1]) if x.size > 2 and np.std(x) > 0 and np.std(m) > 0 else None
    result.extra["frequency_spend_correlation"] = corr
    if result.converged and result.params["q"] <= 1:
        result.converged = False
        result.message = "q ≤ 1: mean spend per order is unbounded under this fit; expected value not scored"
    return result
