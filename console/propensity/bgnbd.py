"""BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way").

While alive a customer buys at rate λ ~ Gamma(r, α); after each purchase they drop out with probability
p ~ Beta(a, b). Per customer: x repeat purchases, t_x time of the last since the first, T time since the first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

from console.propensity.mle import FitResult, Grouped, dot, maximise

NAMES = ("r", "alpha", "a", "b")


@dataclass(frozen=True)
class BGNBD:
    r: float
    alpha: float
    a: float
    b: float

    @classmethod
    def from_params(cls, params: dict[str, float]) -> BGNBD:
        return cls(*(float(params[n]) for n in NAMES))

    def log_likelihood(self, x, t_x, T) -> np.ndarray:
        """Log-likelihood of each customer's (x, t_x, T)."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
        rx = r + x
        head = gammaln(rx) - gammaln(r) + r * np.log(alpha) + betaln(a, b + x) - betaln(a, b)
        stay = -rx * np.log(alpha + T)
        with np.errstate(divide="ignore", invalid="ignore"):
            left = np.where(x > 0, np.log(a) - np.log(b + x - 1) - rx * np.log(alpha + t_x), -np.inf)
        return head + np.logaddexp(stay, left)

    def p_alive(self, x, t_x, T) -> np.ndarray:
        """P(still alive at T | x, t_x, T). Exactly 1 for x = 0: the model's known blind spot."""
        x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
        with np.errstate(divide="ignore", invalid="ignore"):
            log_odds_dead = (
                np.log(self.a)
                - np.log(self.b + x - 1)
                + (self.r + x) * (np.log(self.alpha + T) - np.log(self.alpha + t_x))
            )
        return np.where(x > 0, expit(-log_odds_dead), 1.0)

    def expected_orders(self, t: float, x, t_x, T) -> np.ndarray:
        """Expected repeat purchases in the next t units, given the history (x, t_x, T)."""
        r, alpha, b = self.r, self.alpha, self.b
        # The closed form divides by a − 1; nudge a off the removable singularity.
        a = self.a if abs(self.a - 1) > 1e-7 else 1 + 1e-7
        x, t_x, T = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (x, t_x, T)))
        return (a + b + x - 1) / (a - 1) * _bracket(r, alpha, a, b, t, x, T) * self.p_alive(x, t_x, T)

    def expected_orders_new(self, t) -> np.ndarray:
        """Expected purchases in (0, t] for a customer just acquired (the population curve)."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        a = a if abs(a - 1) > 1e-7 else 1 + 1e-7
        t = np.asarray(t, dtype=np.float64)
        return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, t / (alpha + t)))


def _bracket(r, alpha, a, b, t, x, T) -> np.ndarray:
    """1 − ((α+T)/(α+T+t))^(r+x) · 2F1(r+x, b+x; a+b+x−1; t/(α+T+t)), the heart of the conditional expectation.

    The textbook form multiplies a series that overflows by a power that underflows for heavy buyers (large x);
    Euler's transformation, (1−z)^(a−1) · 2F1(a+b−1−r, a−1; a+b+x−1; z), does the same for large a
    (homogeneous drop-out); Pfaff's, 2F1(r+x, a−1; a+b+x−1; −t/(α+T)), has no power at all but fails in yet
    other corners. They agree to ~1e-13 where all are finite; each customer gets the first finite one.
    """
    z = t / (alpha + T + t)
    one_minus_z = (alpha + T) / (alpha + T + t)
    with np.errstate(all="ignore"):
        out = 1 - one_minus_z ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z)
        bad = ~np.isfinite(out)
        if bad.any():
            xb, zb, ob = x[bad], z[bad], one_minus_z[bad]
            out[bad] = 1 - ob ** (a - 1) * hyp2f1(a + b - 1 - r, a - 1, a + b + xb - 1, zb)
            bad = ~np.isfinite(out)
        if bad.any():
            out[bad] = 1 - hyp2f1(r + x[bad], a - 1, a + b + x[bad] - 1, -t / (alpha + T[bad]))
    return out


def neg_mean_ll(params: np.ndarray, g: Grouped) -> tuple[float, np.ndarray]:
    """Mean negative log-likelihood over grouped customers and its gradient in (r, α, a, b)."""
    r, alpha, a, b = params
    N = g.n.sum()
    # Terms depending on x alone: evaluated once per distinct x.
    xu, cu = g.by_x
    total = dot(cu, gammaln(r + xu) - gammaln(r) + betaln(a, b + xu) - betaln(a, b)) + N * r * np.log(alpha)
    d_r = dot(cu, digamma(r + xu) - digamma(r)) + N * np.log(alpha)
    d_alpha = N * r / alpha
    d_a = dot(cu, digamma(a + b) - digamma(a + b + xu))
    d_b = dot(cu, digamma(b + xu) - digamma(a + b + xu) - digamma(b) + digamma(a + b))

    zero = ~g.repeaters
    T0, n0 = g.T[zero], g.n[zero]
    lT0 = np.log(alpha + T0)
    total -= r * dot(n0, lT0)
    d_r -= dot(n0, lT0)
    d_alpha -= r * dot(n0, 1 / (alpha + T0))

    rep = g.repeaters
    x, tx, T, n = g.x[rep], g.t_x[rep], g.T[rep], g.n[rep]
    rx = r + x
    lT = np.log(alpha + T)
    lt = np.log(alpha + tx)
    stay = -rx * lT
    left = np.log(a) - np.log(b + x - 1) - rx * lt
    both = np.logaddexp(stay, left)
    w = np.exp(left - both)  # share of the likelihood from "dropped out after the last purchase"
    total += dot(n, both)
    d_r -= dot(n, (1 - w) * lT + w * lt)
    d_alpha -= dot(n, rx * ((1 - w) / (alpha + T) + w / (alpha + tx)))
    d_a += dot(n, w) / a
    d_b -= dot(n, w / (b + x - 1))
    return -total / N, -np.array([d_r, d_alpha, d_a, d_b]) / N


def _objective(theta: np.ndarray, g: Grouped) -> tuple[float, np.ndarray]:
    """The optimiser's coordinates: log r, log(r/α), log(a/b), log(a+b).

    Each Gamma or Beta mixing distribution is split into its mean (r/α: mean purchase rate; a/(a+b) via the odds
    a/b: mean drop-out probability) and its concentration (r; a+b). When customers are alike, the likelihood
    keeps rising as a concentration → ∞ at a fixed mean; in these coordinates that ridge runs along one axis,
    which a cap stops.
    """
    r, rate, odds, kappa = np.exp(theta)
    alpha = r / rate
    a, b = kappa * odds / (1 + odds), kappa / (1 + odds)
    with np.errstate(all="ignore"):
        value, (g_r, g_alpha, g_a, g_b) = neg_mean_ll(np.array([r, alpha, a, b]), g)
    if not np.isfinite(value):
        return 1e10, np.zeros(4)
    m1m = a * b / kappa**2                      # m(1 − m), m = a/(a+b) = expit(log odds)
    grad = np.array([g_r * r + g_alpha * alpha, -g_alpha * alpha, (g_a - g_b) * kappa * m1m, g_a * a + g_b * b])
    return value, grad


# Caps on the concentrations. At a + b = 10⁴ the drop-out probability's standard deviation across customers is
# under half a point; at r = 10³ purchase rates differ by 3%: one value for all, the limit the ridge heads to.
KAPPA_CAP = 1e4
R_CAP = 1e3


def fit(g: Grouped, start: dict[str, float] | None = None) -> FitResult:
    """Maximum likelihood fit of BG/NBD to grouped customers."""
    if start is None:
        # Moment-ish start: α from the mean observation time, r from the mean purchase rate.
        rate = dot(g.n, g.x) / max(dot(g.n, np.maximum(g.T, 1e-9)), 1e-9)
        alpha0 = max(float(np.average(g.T, weights=g.n)), 1e-3)
        start = {"r": max(rate * alpha0, 0.1), "alpha": alpha0, "a": 1.0, "b": 1.0}
    x0 = np.log([start["r"], start["r"] / start["alpha"], start["a"] / start["b"], start["a"] + start["b"]])
    caps = {
        0: (R_CAP, "r at its cap: every customer buys at about the same rate"),
        3: (KAPPA_CAP, "a + b at its cap: drop-out probability after a purchase is about the same for every "
                       "customer"),
    }
    res = maximise("bgnbd", ("r", "rate", "odds", "kappa"), lambda th: _objective(th, g), x0, g.customers,
                   analytic_gradient=True, caps=caps)
    p = res.params
    res.params = {"r": p["r"], "alpha": p["r"] / p["rate"], "a": p["kappa"] * p["odds"] / (1 + p["odds"]),
                  "b": p["kappa"] / (1 + p["odds"])}
    return res
