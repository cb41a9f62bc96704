"""BG/NBD, Pareto/NBD and Gamma-Gamma against the published CDNOW fits (DOMAIN.md "Probability that a customer
is still alive"), plus the numerical properties the fits rely on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import check_grad

from console.propensity import bgnbd, gammagamma, paretonbd
from console.propensity.mle import Grouped

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def cdnow():
    d = np.loadtxt(DATA / "cdnow_customers_summary.csv", delimiter=",", skiprows=1)
    assert d.shape[0] == 2357
    return d[:, 1], d[:, 2], d[:, 3]


@pytest.fixture(scope="module")
def grouped(cdnow):
    return Grouped.build(*cdnow)


def test_bgnbd_fit_reproduces_the_published_cdnow_parameters(grouped):
    res = bgnbd.fit(grouped)
    assert res.converged, res.message
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for name, value in published.items():
        assert res.params[name] == pytest.approx(value, rel=0.01), name
    assert res.log_likelihood == pytest.approx(-9582.4, abs=0.5)
    assert res.customers == 2357


def test_bgnbd_p_alive_matches_the_domain_test_values(grouped):
    published = bgnbd.BGNBD(r=0.243, alpha=4.414, a=0.793, b=2.426)
    fitted = bgnbd.BGNBD.from_params(bgnbd.fit(grouped).params)
    for model in (published, fitted):
        p = model.p_alive([2, 1], [30.43, 1.71], [38.86, 38.86])
        assert p == pytest.approx([0.7266, 0.2121], abs=1e-3)
    # The blind spot that makes us use Pareto/NBD for one-time buyers:
    assert fitted.p_alive([0], [0], [38.86]) == pytest.approx([1.0])


def test_paretonbd_fit_reproduces_cdnow_and_the_x0_p_alive(grouped):
    res = paretonbd.fit(grouped)
    assert res.converged, res.message
    published = {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67}   # published to two decimals
    for name, value in published.items():
        assert res.params[name] == pytest.approx(value, rel=0.01), name
    assert res.log_likelihood == pytest.approx(-9595.0, abs=0.5)
    model = paretonbd.ParetoNBD.from_params(res.params)
    assert model.p_alive([0], [0], [38.86])[0] == pytest.approx(0.2951, abs=1e-3)


def test_gammagamma_fit_reproduces_the_published_cdnow_spend_model():
    d = np.loadtxt(DATA / "cdnow_customers_summary_with_transactions.csv", delimiter=",", skiprows=1)
    res = gammagamma.fit(d[:, 1], d[:, 4])
    assert res.converged, res.message
    assert res.customers == 946          # customers with a repeat purchase
    for name, value in {"p": 6.25, "q": 3.74, "gamma": 15.44}.items():
        assert res.params[name] == pytest.approx(value, rel=0.01), name
    gg = gammagamma.GammaGamma.from_params(res.params)
    population_mean = gg.p * gg.gamma / (gg.q - 1)
    # No repeats: the population mean; many repeats: close to the customer's own mean.
    assert gg.expected_spend([0], [0])[0] == pytest.approx(population_mean)
    assert gg.expected_spend([200], [50.0])[0] == pytest.approx(50.0, rel=0.02)


def test_gammagamma_analytic_gradient_matches_finite_differences():
    d = np.loadtxt(DATA / "cdnow_customers_summary_with_transactions.csv", delimiter=",", skiprows=1)
    x, m = d[d[:, 1] > 0, 1], d[d[:, 1] > 0, 4]
    for fn, at in ((gammagamma.neg_mean_ll, np.array([5.0, 3.0, 10.0])),
                   (gammagamma._objective, np.log([5.0, 3.0, 10.0 / 3.0]))):
        assert check_grad(lambda v, fn=fn: fn(v, x, m)[0], lambda v, fn=fn: fn(v, x, m)[1], at) < 1e-5


def test_bgnbd_analytic_gradient_matches_finite_differences(grouped):
    at = np.array([0.3, 5.0, 0.9, 2.0])
    err = check_grad(lambda p: bgnbd.neg_mean_ll(p, grouped)[0], lambda p: bgnbd.neg_mean_ll(p, grouped)[1], at)
    assert err < 1e-5
    # and through the optimiser's coordinates (log r, log r/α, log a/b, log a+b)
    theta = np.log([0.3, 0.3 / 5.0, 0.9 / 2.0, 2.9])
    err = check_grad(lambda t: bgnbd._objective(t, grouped)[0], lambda t: bgnbd._objective(t, grouped)[1], theta)
    assert err < 1e-5


def test_grouping_customers_does_not_change_the_likelihood(cdnow, grouped):
    assert grouped.x.size < 2357          # CDNOW repeats triplets; the bench relies on this at scale
    assert grouped.n.sum() == 2357
    bg = bgnbd.BGNBD(0.243, 4.414, 0.793, 2.426)
    pn = paretonbd.ParetoNBD(0.55, 10.58, 0.61, 11.67)
    raw_bg = bg.log_likelihood(*cdnow).sum()
    assert -bgnbd.neg_mean_ll(np.array([0.243, 4.414, 0.793, 2.426]), grouped)[0] * 2357 == pytest.approx(raw_bg)
    raw_pn = pn.log_likelihood(*cdnow).sum()
    assert -paretonbd.neg_mean_ll(np.log([0.55, 0.55 / 10.58, 0.61, 0.61 / 11.67]), grouped) * 2357 == pytest.approx(raw_pn)


def test_paretonbd_likelihood_is_finite_and_continuous_where_the_textbook_form_breaks():
    # t_x == T (bought today), α on either side of β, and a heavy buyer: all finite, and P(alive) in (0, 1].
    x = np.array([0, 3, 40, 5])
    t_x = np.array([0.0, 10.0, 38.0, 38.86])
    T = np.array([38.86, 38.86, 38.86, 38.86])
    for alpha, beta in ((10.58, 11.67), (11.67, 10.58), (11.0, 11.0 + 1e-9), (11.0 + 1e-9, 11.0)):
        m = paretonbd.ParetoNBD(0.55, alpha, 0.61, beta)
        ll = m.log_likelihood(x, t_x, T)
        p = m.p_alive(x, t_x, T)
        assert np.isfinite(ll).all(), (alpha, beta)
        assert ((p > 0) & (p <= 1)).all()
        assert p[3] == pytest.approx(1.0)      # bought at the end of observation: certainly alive
    # Heavy buyers with β ≫ α: the untransformed 2F1 overflows here.
    heavy = paretonbd.ParetoNBD(0.55, 1.0, 0.61, 100.0)
    assert np.isfinite(heavy.log_likelihood([500, 3000], [2.0, 38.0], [38.86, 38.86])).all()
    a = paretonbd.ParetoNBD(0.55, 11.0, 0.61, 11.0 + 1e-6).log_likelihood(x, t_x, T)
    b = paretonbd.ParetoNBD(0.55, 11.0 + 1e-6, 0.61, 11.0).log_likelihood(x, t_x, T)
    assert a == pytest.approx(b, abs=1e-6)


def test_expected_orders_agree_with_simulation_of_the_bgnbd_process():
    # A fresh customer's expected purchases in (0, t] against the generative process simulated with numpy.
    from console.propensity.simulate import simulate_bgnbd

    model = bgnbd.BGNBD(0.243, 4.414, 0.793, 2.426)
    rng = np.random.default_rng(7)
    x, t_x, T = simulate_bgnbd(rng, 200_000, model, T_max=39.0, T_min=39.0)
    # Every simulated customer is observed for 39 weeks after a first purchase: x counts repeats.
    assert x.mean() == pytest.approx(float(model.expected_orders_new(39.0)), rel=0.03)


def test_bgnbd_expected_orders_match_the_textbook_form_and_survive_heavy_buyers():
    from scipy.special import hyp2f1

    m = bgnbd.BGNBD(0.243, 4.414, 0.793, 2.426)
    x, t_x, T, t = np.array([0.0, 1, 2, 7]), np.array([0, 1.71, 30.43, 35]), np.full(4, 38.86), 39.0
    r, alpha, a, b = m.r, m.alpha, m.a, m.b
    textbook = ((a + b + x - 1) / (a - 1)
                * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1,
                                                                            t / (alpha + T + t)))
                * m.p_alive(x, t_x, T))
    assert m.expected_orders(t, x, t_x, T) == pytest.approx(textbook, rel=1e-9)
    assert m.expected_orders(t, x, t_x, T)[2] == pytest.approx(1.226, abs=1e-3)
    heavy = m.expected_orders(13.0, np.array([3000.0]), np.array([38.8]), np.array([38.86]))
    assert np.isfinite(heavy).all() and heavy[0] > 100


def test_customers_who_all_drop_out_alike_still_get_a_converged_fit():
    # Every customer has the same drop-out probability (a, b huge): the likelihood keeps rising towards
    # a, b → ∞ (and s, β → ∞ for Pareto/NBD). The fit must stop at the cap and say so, not fail.
    from console.propensity.fit import fit_models
    from console.propensity.simulate import simulate_bgnbd
    from console.propensity.summary import Summary

    rng = np.random.default_rng(3)
    n = 1500
    x, t_x, T = simulate_bgnbd(rng, n, bgnbd.BGNBD(2.0, 10.0, 1e5, 9e5), T_max=52, T_min=26, day_grid=7.0)
    fits, _ = fit_models(Summary(np.arange(n), x, t_x, T, np.full(n, np.nan), "weeks", 0))
    for name in ("bgnbd", "paretonbd"):
        assert fits[name].converged, fits[name].message
    b = fits["bgnbd"].params
    assert b["a"] / (b["a"] + b["b"]) == pytest.approx(0.1, abs=0.03)
    assert b["a"] + b["b"] > 50           # far from the heterogeneous CDNOW (a + b ≈ 3)


def test_expected_orders_stay_finite_when_everyone_drops_out_alike():
    # a, b in the thousands: Euler's form overflows here, the textbook form does not (heavy buyers: the reverse).
    from scipy.special import hyp2f1

    m = bgnbd.BGNBD(0.2549, 4.7459, 3285.5, 6714.5)
    x = np.arange(0.0, 30.0)
    T = np.linspace(0.0, 100.0, 30)
    t_x = np.where(x > 0, T / 2, 0.0)
    e = m.expected_orders(90 / 7, x, t_x, T)
    assert np.isfinite(e).all() and (e >= 0).all()
    z = (90 / 7) / (m.alpha + T + 90 / 7)
    textbook = ((m.a + m.b + x - 1) / (m.a - 1) * m.p_alive(x, t_x, T)
                * (1 - (1 - z) ** (m.r + x) * hyp2f1(m.r + x, m.b + x, m.a + m.b + x - 1, z)))
    assert e == pytest.approx(textbook, rel=1e-9)


def test_spend_alike_for_everyone_gets_a_converged_gamma_gamma_at_the_cap():
    from console.propensity.simulate import simulate_spend

    rng = np.random.default_rng(5)
    x = rng.integers(1, 8, 3000).astype(float)
    m = simulate_spend(rng, x, p=12.0, q=1e7, gamma=1e7 * 0.8)     # ν ≈ 1.25 for everyone: mean order 9.6
    res = gammagamma.fit(x, m)
    assert res.converged, res.message
    gg = gammagamma.GammaGamma.from_params(res.params)
    assert gg.expected_spend([0.0], [0.0])[0] == pytest.approx(9.6, rel=0.02)
