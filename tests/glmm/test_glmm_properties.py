"""GLMM machinery checked without R: quadrature against exact integration, analytic
score against differences, and the behaviour on degenerate data."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import integrate, optimize, special, stats

from metareview.base.exceptions import DataError, SettingsError, SmallSampleWarning
from metareview.pooling.glmm import _Binomial, _Marginal, _Poisson, fit_glmm, gauss_hermite, glmm_proportion, glmm_rate

X = np.array([8, 26, 26, 6, 109, 14, 13, 16, 6, 22, 7, 72, 16, 32, 63, 8, 16, 13, 18, 11.0])
N = np.array([10, 31, 30, 9, 140, 17, 18, 21, 6, 23, 11, 112, 22, 32, 72, 11, 18, 17, 25, 11.0])
XR = np.array([0, 3, 1, 0, 5, 2, 0, 1.0])
TR = np.array([120, 340, 95, 410, 600, 250, 80, 133.0])


def _exact_loglik(family, x, s, mu, tau):
    """Marginal log-likelihood by adaptive numerical integration (scipy.quad)."""
    total = 0.0
    for xi, si in zip(x, s):
        if family == "binomial":
            f = lambda e: stats.binom.pmf(xi, si, special.expit(e)) * stats.norm.pdf(e, mu, tau)  # noqa: E731,E501,B023 (called in this iteration)
        else:
            f = lambda e: stats.poisson.pmf(xi, si * math.exp(e)) * stats.norm.pdf(e, mu, tau)  # noqa: E731,E501,B023 (called in this iteration)
        val, _ = integrate.quad(f, mu - 12 * tau, mu + 12 * tau, epsabs=0, epsrel=1e-13,
                                limit=500)
        total += math.log(val)
    return total


@pytest.mark.parametrize("family,x,s,mu,tau", [
    ("binomial", X, N, 1.5, 0.5),
    ("binomial", X, N, 1.0, 1.2),
    ("binomial", np.array([0, 1, 0, 3.0]), np.array([40, 55, 30, 80.0]), -3.5, 0.8),
    ("poisson", XR, TR, -5.0, 0.6),
])
def test_many_point_quadrature_is_exact(family, x, s, mu, tau):
    fam = _Binomial(x, s) if family == "binomial" else _Poisson(x, s)
    ll = _Marginal(fam, 40)(np.array([mu]), np.array([math.log(tau)]))[0][0]
    assert ll == pytest.approx(_exact_loglik(family, x, s, mu, tau), rel=1e-10)


def test_laplace_is_the_textbook_approximation():
    """n_agq = 1: log of sqrt(2 pi / h) times the integrand at the conditional mode."""
    mu, tau = 1.3, 0.6
    ref = 0.0
    for xi, ni in zip(X, N):
        g = lambda e: -(stats.binom.logpmf(xi, ni, special.expit(e)) + stats.norm.logpdf(e, mu, tau))  # noqa: E731,E501,B023 (called in this iteration)
        e_hat = optimize.minimize_scalar(g, bracket=(mu - 1, mu + 1), tol=1e-12).x
        p = special.expit(e_hat)
        h = ni * p * (1 - p) + 1 / tau**2
        ref += -g(e_hat) + 0.5 * math.log(2 * math.pi / h)
    ll = _Marginal(_Binomial(X, N), 1)(np.array([mu]), np.array([math.log(tau)]))[0][0]
    assert ll == pytest.approx(ref, rel=1e-10)


@pytest.mark.parametrize("q", [1, 2, 7, 15])
@pytest.mark.parametrize("family", ["binomial", "poisson"])
def test_analytic_score_matches_differences(q, family):
    fam = _Binomial(X, N) if family == "binomial" else _Poisson(XR, TR)
    lik = _Marginal(fam, q)
    point = (1.4, -0.7) if family == "binomial" else (-5.2, -0.4)
    _, g, _ = lik(np.array([point[0]]), np.array([point[1]]))
    d = 1e-6
    for j in range(2):
        hi, lo = list(point), list(point)
        hi[j] += d
        lo[j] -= d
        num = (lik(np.array([hi[0]]), np.array([hi[1]]), grad=False)[0][0]
               - lik(np.array([lo[0]]), np.array([lo[1]]), grad=False)[0][0]) / (2 * d)
        assert g[0, j] == pytest.approx(num, rel=1e-6, abs=1e-7)


def test_gauss_hermite_rule_integrates_normal_moments():
    z, w = gauss_hermite(7)
    assert w.sum() == pytest.approx(1.0, rel=1e-14)
    assert np.sum(w * z**2) == pytest.approx(1.0, rel=1e-13)
    assert np.sum(w * z**12) == pytest.approx(10395.0, rel=1e-12)  # 11!! is exact for 7 points


def test_more_points_converge_to_the_exact_ml_fit():
    r7, r30 = glmm_proportion(X, N, n_agq=7), glmm_proportion(X, N, n_agq=30)
    assert r7.estimate == pytest.approx(r30.estimate, rel=1e-5)
    assert r7.tau2 == pytest.approx(r30.tau2, rel=1e-3)


def test_result_fields_and_diagnostics():
    r = glmm_proportion(X, N)
    d = r.to_dict()
    for key in ("estimate", "se", "ci_low", "ci_high", "statistic", "p", "tau2", "q",
                "q_df", "q_p", "q_lrt", "q_lrt_p", "i2", "iterations", "gradient_norm",
                "converged", "boundary", "n_agq", "measure", "model"):
        assert key in d
    assert r.measure == "PLO" and r.model == "random" and r.method == "ML"
    assert r.converged and not r.boundary and r.gradient_norm < 1e-8
    assert r.ci_low < r.estimate < r.ci_high and r.pred_low < r.ci_low
    with pytest.raises(AttributeError):
        r.estimate = 0.0  # frozen


def test_rare_events_with_zero_studies_fit_without_correction():
    x = np.array([0, 1, 2, 0, 5, 1, 1, 1, 1, 1, 0, 0, 3, 6, 0, 0, 1, 4.0])
    n = np.array([116, 44, 208, 130, 151, 98, 174, 74, 97, 113, 66, 70, 188, 187, 118, 252,
                  345, 64.0])
    r = glmm_proportion(x, n)
    assert r.converged and math.isfinite(r.estimate) and r.tau2 > 0


def test_k1_falls_back_to_common_effect_with_warning():
    with pytest.warns(SmallSampleWarning):
        r = glmm_proportion([5], [20])
    assert r.tau2 == 0.0 and r.estimate == pytest.approx(math.log(5 / 15), rel=1e-9)
    assert math.isnan(r.q) and r.q_df == 0


def test_k2_gives_a_fit():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = glmm_proportion([3, 15], [40, 42])
    assert r.k == 2 and r.converged and r.tau2 > 0 and r.q_df == 1


def test_k2_homogeneous_is_on_the_boundary():
    r = glmm_proportion([3, 4], [10, 12])
    assert r.boundary and r.tau2 == 0.0
    assert r.estimate == pytest.approx(math.log(7 / 15), rel=1e-9)


@pytest.mark.parametrize("x,n,rule", [
    ([0, 0, 0], [10, 20, 30], "some events"),
    ([10, 20], [10, 20], "some non-events"),
    ([0, 10, 0], [10, 10, 12], "some study with 0 < events < n"),
    ([3, 12], [10, 11], "events <= n"),
    ([3, -1], [10, 11], "events integer >= 0"),
    ([3, 1.5], [10, 11], "events integer >= 0"),
    ([3, 1], [10, 0], "n integer > 0"),
    ([3, float("nan")], [10, 11], "finite"),
])
def test_bad_proportions_raise_specific_errors(x, n, rule):
    with pytest.raises(DataError) as err:
        glmm_proportion(x, n)
    assert err.value.rule == rule


def test_separated_studies_still_have_a_common_effect():
    r = glmm_proportion([0, 10, 0], [10, 10, 12], model="common")
    assert r.estimate == pytest.approx(math.log(10 / 22), rel=1e-8)


def test_bad_rates_and_settings():
    with pytest.raises(DataError) as err:
        glmm_rate([1, 2], [10.0, -1.0])
    assert err.value.rule == "time > 0" and err.value.study == "1"
    with pytest.raises(DataError):
        glmm_rate([0, 0], [10.0, 5.0])
    with pytest.raises(SettingsError):
        glmm_proportion(X, N, n_agq=0)
    with pytest.raises(SettingsError):
        fit_glmm(X, N, family="gamma")
    with pytest.raises(SettingsError):
        fit_glmm(X, N, model="fixed")


def test_non_convergence_is_reported_with_diagnostics():
    from metareview.base.exceptions import ConvergenceWarning
    with pytest.warns(ConvergenceWarning, match="did not converge after 1 Newton steps"):
        r = fit_glmm(X, N, maxiter=1)
    assert not r.converged and r.iterations == 1 and r.gradient_norm > 1e-8


@pytest.mark.parametrize("q", [1, 2, 7, 15])
@pytest.mark.parametrize("family", ["binomial", "poisson"])
def test_shortcut_node_values_equal_the_robust_ones(q, family):
    """The node values from one exponential and the middle node as reference give what the robust
    values (logaddexp, expit) with the largest term as reference give."""
    fam = _Binomial(X, N) if family == "binomial" else _Poisson(XR, TR)
    lik = _Marginal(fam, q)
    mu, psi = (np.array([1.4, 1.5, 0.2]), np.array([-0.7, -0.3, 0.4])) if family == "binomial" else \
        (np.array([-5.2, -4.0, -6.0]), np.array([-0.4, 0.1, -1.0]))
    tau2 = np.exp(2 * psi)
    eta = lik.modes(mu, tau2, psi)
    ll, g, _ = lik._at(mu, psi, tau2, eta, True, robust=False)
    ll_r, g_r, _ = lik._at(mu, psi, tau2, eta, True, robust=True)
    np.testing.assert_allclose(ll, ll_r, rtol=1e-13)
    np.testing.assert_allclose(g, g_r, rtol=1e-10, atol=1e-12)


def test_linear_predictors_beyond_exp_range_use_the_robust_values():
    """Around a pooled logit of 720 exp() overflows at every node: the evaluation falls back to the
    robust node values, without a warning, and gives what the mirrored data (n - x events) give at
    -720, where the shortcut holds (the binomial likelihood is symmetric in x -> n - x, eta -> -eta)."""
    mu, psi = np.array([720.0, 720.5]), np.array([-0.7, -0.2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        high = _Marginal(_Binomial(X, N), 7)(mu, psi)
        low = _Marginal(_Binomial(N - X, N), 7)(-mu, psi)
    assert np.all(np.isfinite(high[0])) and np.all(np.isfinite(high[1]))
    np.testing.assert_allclose(high[0], low[0], rtol=1e-12)
    np.testing.assert_allclose(high[1][:, 0], -low[1][:, 0], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(high[1][:, 1], low[1][:, 1], rtol=1e-8, atol=1e-10)
