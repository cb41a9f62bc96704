"""The Qini curve, Qini coefficient and uplift at k % of console.uplift.metrics, checked against an independent
implementation: scikit-uplift's `sklift.metrics` (a test-only dependency)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from console.uplift import metrics

sklift = pytest.importorskip("sklift.metrics")


def _data(seed: int, n: int, *, ties: bool):
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 2, n)
    score = rng.normal(size=n)
    if ties:
        score = np.round(score, 1)       # many equal scores: the curve must keep them together
    # returning depends on the score for the treated only, so the model is better than random
    y = (rng.random(n) < 0.05 + 0.1 * t * (score > 0)).astype(int)
    return y, t, score


@pytest.mark.parametrize(("seed", "n", "ties"), [(0, 500, False), (1, 3000, True), (2, 10_000, True),
                                                 (3, 257, False)])
def test_qini_curve_coefficient_and_uplift_at_k_match_scikit_uplift(seed, n, ties):
    y, t, score = _data(seed, n, ties=ties)
    o = metrics.ordered(y, t, score)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)   # sklift calls a deprecated sklearn helper
        ref_x, ref_y = sklift.qini_curve(y, score, t)
        ref_qini = sklift.qini_auc_score(y, score, t)
        ref_at = {k: sklift.uplift_at_k(y, score, t, strategy="overall", k=k) for k in (0.1, 0.2, 0.3)}
    x, v = metrics.qini_curve(o)
    np.testing.assert_allclose(x, ref_x)
    np.testing.assert_allclose(v, ref_y, atol=1e-9)
    perfect = metrics.ordered(y, t, y * t - y * (1 - t))
    assert metrics.qini_coefficient(o, perfect) == pytest.approx(ref_qini, abs=1e-12)
    for k, ref in ref_at.items():
        assert metrics.uplift_at(o, k) == pytest.approx(ref, abs=1e-12)


def test_the_evaluation_reports_the_reference_point_values_inside_their_intervals():
    y, t, score = _data(4, 4000, ties=False)
    ev = metrics.evaluate(y, t, score, replicates=100, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        assert ev.qini == pytest.approx(sklift.qini_auc_score(y, score, t), abs=1e-12)
    low, high = ev.qini_interval
    assert low < ev.qini < high and low > 0          # a real effect: the interval excludes zero
    for k in ("10", "20", "30"):
        at = ev.uplift_at[k]
        assert at["low"] <= at["uplift"] <= at["high"]
    assert ev.curve[0] == {"share": 0.0, "extra_returns": 0.0, "random": 0.0}
    assert ev.curve[-1]["extra_returns"] == pytest.approx(ev.curve[-1]["random"])


def test_a_random_score_has_an_interval_around_zero():
    rng = np.random.default_rng(5)
    n = 4000
    t, y = rng.integers(0, 2, n), (rng.random(n) < 0.1).astype(int)
    ev = metrics.evaluate(y, t, rng.normal(size=n), replicates=100, seed=0)
    assert ev.qini_interval[0] < 0 < ev.qini_interval[1]
