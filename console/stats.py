"""The statistics behind an honest campaign read-out: treated against holdout.

Formulas and test values are in docs/outcomes.md and the design's DOMAIN.md "Measuring a campaign honestly":

- pooled two-proportion z-test with a two-sided p-value;
- Newcombe's hybrid score interval (Wilson-based, his "method 10", the statsmodels default) for a difference
  of two proportions;
- the sample size per arm for an unequal split (k = n_control / n_treated), and its inverse, the minimum
  detectable lift for an audience of a given size and holdout.

Pure functions over counts: no database, no I/O. The normal distribution is the standard library's
(statistics.NormalDist, math.erfc), not scipy's: `winback campaign plan` and every process that reads outcomes
import this module, and scipy cost each of them ~0.8 s at start for two functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist

_NORMAL = NormalDist()   # inv_cdf is Wichura's AS241, as accurate as scipy's ndtri in doubles

# The conventional error rates: a 5% chance of calling a lift that is not there, an 80% chance of seeing a
# lift that is.
DEFAULT_ALPHA = 0.05
DEFAULT_POWER = 0.80


@dataclass(frozen=True)
class ZTest:
    """A pooled two-proportion z-test of treated against control."""

    z: float | None        # None when the test is undefined (an empty arm, or nobody/everybody converted)
    p_value: float | None  # two-sided


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


def rate(successes: int, trials: int) -> float | None:
    """successes / trials, None for an empty group."""
    return successes / trials if trials else None


def two_proportion_z_test(x_t: int, n_t: int, x_c: int, n_c: int) -> ZTest:
    """Pooled z-test of p_t = x_t/n_t against p_c = x_c/n_c; two-sided p.

    p̂ = (x_t + x_c) / (n_t + n_c);  z = (p_t − p_c) / √(p̂(1 − p̂)(1/n_t + 1/n_c)).
    Undefined (both None) when an arm is empty or when p̂ is 0 or 1 (no variance to test against).
    """
    _check_counts(x_t, n_t)
    _check_counts(x_c, n_c)
    if n_t == 0 or n_c == 0:
        return ZTest(None, None)
    pooled = (x_t + x_c) / (n_t + n_c)
    variance = pooled * (1 - pooled) * (1 / n_t + 1 / n_c)
    if variance <= 0:
        return ZTest(None, None)
    z = (x_t / n_t - x_c / n_c) / math.sqrt(variance)
    return ZTest(z, math.erfc(abs(z) / math.sqrt(2)))   # 2·P(Z > |z|), exact in the tails too


def wilson_interval(x: int, n: int, confidence: float = 0.95) -> Interval:
    """Wilson score interval for one proportion x/n."""
    _check_counts(x, n)
    if n == 0:
        return Interval(0.0, 1.0)
    z = _NORMAL.inv_cdf(1 - (1 - confidence) / 2)
    p = x / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # Clamp rounding noise at the edges (x = 0 or x = n give exactly 0 or 1 in exact arithmetic).
    return Interval(max(0.0, centre - half), min(1.0, centre + half))


def newcombe_interval(x_t: int, n_t: int, x_c: int, n_c: int, confidence: float = 0.95) -> Interval | None:
    """Newcombe's hybrid score interval (method 10) for the difference p_t − p_c.

    With Wilson intervals (l_t, u_t) and (l_c, u_c) and d = p_t − p_c:
    low = d − √((p_t − l_t)² + (u_c − p_c)²);  high = d + √((u_t − p_t)² + (p_c − l_c)²).
    None when an arm is empty.
    """
    if n_t == 0 or n_c == 0:
        return None
    p_t, p_c = x_t / n_t, x_c / n_c
    wt = wilson_interval(x_t, n_t, confidence)
    wc = wilson_interval(x_c, n_c, confidence)
    d = p_t - p_c
    low = d - math.sqrt((p_t - wt.low) ** 2 + (wc.high - p_c) ** 2)
    high = d + math.sqrt((wt.high - p_t) ** 2 + (p_c - wc.low) ** 2)
    return Interval(low, high)


def _required_treated(p_t: float, p_c: float, k: float, alpha: float, power: float) -> float:
    """Unrounded n_t of the sample-size formula (k = n_c / n_t)."""
    z_a = _NORMAL.inv_cdf(1 - alpha / 2)
    z_b = _NORMAL.inv_cdf(power)
    p_bar = (p_t + k * p_c) / (1 + k)
    root = z_a * math.sqrt(p_bar * (1 - p_bar) * (1 + 1 / k)) + z_b * math.sqrt(
        p_t * (1 - p_t) + p_c * (1 - p_c) / k
    )
    return root * root / (p_t - p_c) ** 2


def sample_size(
    p_treated: float,
    p_control: float,
    *,
    k: float = 1.0,
    alpha: float = DEFAULT_ALPHA,
    power: float = DEFAULT_POWER,
) -> tuple[int, int]:
    """Users needed (treated, control) to detect p_control → p_treated with a two-sided test.

    k = n_control / n_treated (1 for an even split; 1/9 for a 10% holdout). p̄ = (p_t + k·p_c)/(1 + k);
    n_t = [z_{1−α/2}√(p̄(1−p̄)(1+1/k)) + z_{1−β}√(p_t(1−p_t) + p_c(1−p_c)/k)]² / (p_t − p_c)²;
    n_c = k·n_t; both rounded up.
    """
    if not (0 < p_treated < 1 and 0 < p_control < 1) or p_treated == p_control:
        raise ValueError("rates must lie strictly between 0 and 1 and differ")
    if k <= 0:
        raise ValueError("k = n_control / n_treated must be positive")
    n_t = math.ceil(_required_treated(p_treated, p_control, k, alpha, power) - 1e-9)
    return n_t, math.ceil(n_t * k - 1e-9)


def split_audience(audience: int, holdout_pct: float) -> tuple[int, int]:
    """(treated, holdout) sizes expected when holdout_pct percent of an audience is held out."""
    control = round(audience * holdout_pct / 100)
    return audience - control, control


def minimum_detectable_lift(
    n_treated: int,
    n_control: int,
    baseline_rate: float,
    *,
    alpha: float = DEFAULT_ALPHA,
    power: float = DEFAULT_POWER,
) -> float | None:
    """The smallest absolute rise over baseline_rate these arm sizes detect (e.g. 0.012 = +1.2 pp).

    Inverts the sample-size formula: the smallest p_t > baseline with required n_t ≤ n_treated.
    None when an arm is empty, the baseline is not strictly between 0 and 1, or no rise up to 100% would
    be detectable with so few users.
    """
    if n_treated <= 0 or n_control <= 0 or not 0 < baseline_rate < 1:
        return None
    k = n_control / n_treated

    def gap(p_t: float) -> float:
        return _required_treated(p_t, baseline_rate, k, alpha, power) - n_treated

    # Required n falls as p_t rises, so the root is unique; search up to just under 100%.
    lo = baseline_rate + 1e-9
    hi = 1 - 1e-9
    if gap(hi) > 0:
        return None
    if gap(lo) <= 0:
        return 0.0
    return _root(gap, lo, hi, xtol=1e-10) - baseline_rate


def _root(f: Callable[[float], float], lo: float, hi: float, *, xtol: float) -> float:
    """The root of a decreasing f with f(lo) > 0 >= f(hi), to within xtol, by bisection (~33 steps for xtol
    1e-10 on (0, 1); scipy's brentq found the same root in fewer, but loading it cost more than all of them)."""
    while hi - lo > xtol:
        mid = (lo + hi) / 2
        if f(mid) > 0:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def minimum_detectable_lift_for_audience(
    audience: int,
    holdout_pct: float,
    baseline_rate: float,
    *,
    alpha: float = DEFAULT_ALPHA,
    power: float = DEFAULT_POWER,
) -> float | None:
    """Minimum detectable absolute lift for an audience before launch (see minimum_detectable_lift)."""
    treated, control = split_audience(audience, holdout_pct)
    return minimum_detectable_lift(treated, control, baseline_rate, alpha=alpha, power=power)


def _check_counts(x: int, n: int) -> None:
    if n < 0 or x < 0 or x > n:
        raise ValueError(f"need 0 <= successes <= trials, got {x}/{n}")
