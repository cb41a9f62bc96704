"""Customers drawn from the models' own generative processes, with numpy: for benchmarks, tests and demos."""

from __future__ import annotations

import numpy as np

from console.propensity.bgnbd import BGNBD


def simulate_bgnbd(
    rng: np.random.Generator,
    n: int,
    model: BGNBD,
    *,
    T_max: float,
    T_min: float = 0.0,
    day_grid: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, t_x, T) for n customers from the BG/NBD process, observed for T ~ Uniform(T_min, T_max) units.

    λ ~ Gamma(r, α), p ~ Beta(a, b); purchases arrive at rate λ and the customer drops out right after each
    repeat purchase with probability p, so at most D ~ Geometric(p) repeats happen. Given N arrivals in (0, T],
    the x-th arrival time is T · Beta(x, N − x + 1). With day_grid (days per unit), times are floored to whole
    days as winback's summaries of order events are.
    """
    lam = rng.gamma(model.r, 1.0 / model.alpha, n)
    p = rng.beta(model.a, model.b, n)
    T = rng.uniform(T_min, T_max, n)
    if day_grid:
        T = np.floor(T * day_grid) / day_grid
    arrivals = rng.poisson(lam * T)
    survives = rng.geometric(p)
    x = np.minimum(arrivals, survives)
    t_x = np.zeros(n)
    rep = x > 0
    t_x[rep] = T[rep] * rng.beta(x[rep], arrivals[rep] - x[rep] + 1)
    if day_grid:
        t_x = np.floor(t_x * day_grid) / day_grid
    return x.astype(np.float64), t_x, T


def simulate_spend(
    rng: np.random.Generator, x: np.ndarray, *, p: float, q: float, gamma: float
) -> np.ndarray:
    """Mean value of each customer's x repeat orders under Gamma-Gamma (NaN where x = 0)."""
    nu = rng.gamma(q, 1.0 / gamma, x.size)
    m = np.full(x.size, np.nan)
    rep = x > 0
    # The mean of x Gamma(p, ν) values is Gamma(p·x, ν·x).
    m[rep] = rng.gamma(p * x[rep], 1.0 / (nu[rep] * x[rep]))
    return m
