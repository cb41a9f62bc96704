"""console.stats' standard-library normal distribution and root gives scipy's figures (scipy is installed for model
fitting, so it can be the reference here): p-values, intervals, sample sizes and minimum detectable lifts."""

from __future__ import annotations

import itertools

import pytest

from console import stats

scipy_stats = pytest.importorskip("scipy.stats")
scipy_optimize = pytest.importorskip("scipy.optimize")


@pytest.mark.parametrize("q", [0.5, 0.8, 0.9, 0.95, 0.975, 0.99, 0.999, 1 - 1e-9])
def test_the_normal_quantile_is_scipys(q):
    assert stats._NORMAL.inv_cdf(q) == pytest.approx(scipy_stats.norm.ppf(q), rel=1e-14, abs=1e-15)


def test_p_values_and_intervals_are_scipys():
    for x_t, n_t, x_c, n_c in [(60, 2_000, 35, 2_000), (3, 50, 0, 40), (900, 1_000, 880, 1_000), (1, 10**6, 9, 10)]:
        test = stats.two_proportion_z_test(x_t, n_t, x_c, n_c)
        if test.z is not None:
            assert test.p_value == pytest.approx(2 * scipy_stats.norm.sf(abs(test.z)), rel=1e-12, abs=1e-300)
    z = scipy_stats.norm.ppf(0.975)
    ci = stats.wilson_interval(60, 2_000)
    centre, half = (0.03 + z * z / 4_000) / (1 + z * z / 2_000), z / (1 + z * z / 2_000)
    assert ci.low == pytest.approx(centre - half * (0.03 * 0.97 / 2_000 + z * z / 4 / 2_000**2) ** 0.5, rel=1e-12)


def test_minimum_detectable_lift_is_brentqs_root():
    for treated, holdout, base in itertools.product([300, 27_593, 200_000], [100, 3_066], [0.001, 0.03, 0.6]):
        k = holdout / treated

        def gap(p: float, base: float = base, k: float = k, treated: int = treated) -> float:
            return stats._required_treated(p, base, k, stats.DEFAULT_ALPHA, stats.DEFAULT_POWER) - treated

        mde = stats.minimum_detectable_lift(treated, holdout, base)
        if gap(1 - 1e-9) > 0:
            assert mde is None
        else:
            assert mde == pytest.approx(scipy_optimize.brentq(gap, base + 1e-9, 1 - 1e-9, xtol=1e-10) - base,
                                        abs=2e-10)
