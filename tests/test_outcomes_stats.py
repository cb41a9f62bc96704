"""console.stats against the worked example in DOMAIN.md "Measuring a campaign honestly"."""

from __future__ import annotations

import pytest

from console import stats


def test_worked_example_z_test():
    test = stats.two_proportion_z_test(420, 10_000, 60, 2_000)
    assert test.z == pytest.approx(2.500, abs=5e-4)
    assert test.p_value == pytest.approx(0.0124, abs=5e-5)


def test_worked_example_newcombe_interval_in_percentage_points():
    ci = stats.newcombe_interval(420, 10_000, 60, 2_000)
    assert ci.low * 100 == pytest.approx(0.278, abs=5e-4)
    assert ci.high * 100 == pytest.approx(1.979, abs=5e-4)
    # The interval is asymmetric around the +1.2 pp lift, as a Wald interval would not be.
    assert 0.012 - ci.low != pytest.approx(ci.high - 0.012, abs=1e-5)


def test_wilson_bounds_solve_the_score_equation():
    # Wilson's bounds are the two rates pi where the score statistic equals z: (p - pi)^2 = z^2 pi(1 - pi)/n.
    z = 1.959963984540054
    for x, n in ((60, 2_000), (420, 10_000), (0, 50), (7, 7)):
        ci = stats.wilson_interval(x, n)
        for bound in (ci.low, ci.high):
            assert (x / n - bound) ** 2 == pytest.approx(z * z * bound * (1 - bound) / n, abs=1e-12)
    assert stats.wilson_interval(60, 2_000).low == pytest.approx(0.02338, abs=1e-5)


def test_sample_size_even_split():
    assert stats.sample_size(0.04, 0.03) == (5_301, 5_301)


def test_sample_size_ten_percent_holdout():
    assert stats.sample_size(0.04, 0.03, k=1 / 9) == (27_593, 3_066)


def test_minimum_detectable_lift_inverts_sample_size():
    mde = stats.minimum_detectable_lift(27_593, 3_066, 0.03)
    assert mde == pytest.approx(0.01, abs=2e-5)
    # A smaller audience can only see a larger lift.
    assert stats.minimum_detectable_lift_for_audience(10_000, 10, 0.03) > 0.015


def test_degenerate_inputs_are_undefined_not_errors():
    assert stats.two_proportion_z_test(0, 100, 0, 0) == stats.ZTest(None, None)
    assert stats.two_proportion_z_test(0, 100, 0, 50) == stats.ZTest(None, None)
    assert stats.newcombe_interval(3, 10, 0, 0) is None
    assert stats.minimum_detectable_lift(0, 10, 0.03) is None
    assert stats.minimum_detectable_lift(100, 10, 0.0) is None
    assert stats.minimum_detectable_lift(3, 1, 0.5) is None  # no lift up to 100% is detectable
    with pytest.raises(ValueError):
        stats.two_proportion_z_test(11, 10, 0, 10)
