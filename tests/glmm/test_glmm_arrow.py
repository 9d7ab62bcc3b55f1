"""UM.FS's Hessian has a row per study intercept that meets only itself, the log odds ratio and log tau:
it is held and solved as an arrow (block elimination, O(k)).  These tests pin it to the dense matrix."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from metareview.pooling.glmm import _ArmsMarginal, _ArmsModel, _logistic_irls, _pd_solve, glmm_or


def tables(k, seed=1):
    rng = np.random.default_rng(seed)
    n1, n2 = rng.integers(40, 200, k), rng.integers(40, 200, k)
    base, lor = rng.normal(-1.5, 0.6, k), rng.normal(-0.4, 0.4, k)
    a = rng.binomial(n1, 1 / (1 + np.exp(-(base + lor))))
    c = rng.binomial(n2, 1 / (1 + np.exp(-base)))
    return a.astype(float), n1.astype(float), c.astype(float), n2.astype(float)


def design(k):
    X = np.zeros((k, 2, k + 1))
    X[:, 0, 0] = 1.0
    X[np.arange(k), :, 1 + np.arange(k)] = 1.0
    return X


def test_arrow_hessian_is_the_dense_hessian():
    k = 7
    a, n1, c, n2 = tables(k)
    y, size = np.column_stack([a, c]), np.column_stack([n1, n2])
    lik = _ArmsMarginal(y, size, np.tile([0.5, -0.5], (k, 1)), 7)
    theta = np.concatenate([[-0.3], np.full(k, -1.4), [-1.0]])
    f, g, H = _ArmsModel(lik, design(k))(theta)
    fa, ga, A = _ArmsModel(lik, design(k), intercepts=1)(theta)
    assert f == fa and np.array_equal(g, ga)
    dense = np.empty_like(H)
    for j in range(k + 2):   # the arrow applied to the unit vectors, column by column
        dense[:, j] = np.linalg.solve(-H, np.eye(k + 2)[j])
    for lam in (0.0, 0.5):
        for j in range(k + 2):
            e = np.eye(k + 2)[j]
            np.testing.assert_allclose(_pd_solve(-A, e, lam), _pd_solve(-H, e, lam), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose((-A).inverse_global(), dense[np.ix_([0, k + 1], [0, k + 1])], rtol=1e-10)
    np.testing.assert_allclose((-A).diagonal(), np.diag(-H), rtol=1e-12)


def test_arrow_refuses_what_is_not_positive_definite():
    k = 5
    a, n1, c, n2 = tables(k)
    lik = _ArmsMarginal(np.column_stack([a, c]), np.column_stack([n1, n2]), np.tile([0.5, -0.5], (k, 1)), 7)
    _, _, A = _ArmsModel(lik, design(k), intercepts=1)(np.concatenate([[-0.3], np.full(k, -1.4), [-1.0]]))
    with pytest.raises(np.linalg.LinAlgError):
        A.solve(np.ones(k + 2))        # the Hessian itself is negative definite


def test_logistic_regression_with_study_intercepts_is_the_dense_one():
    k = 9
    a, n1, c, n2 = tables(k, seed=4)
    y, n = np.column_stack([a, c]).ravel(), np.column_stack([n1, n2]).ravel()
    b, cov, mu, conv, it = _logistic_irls(y, n, design(k).reshape(2 * k, k + 1))
    ba, cova, mua, conva, ita = _logistic_irls(y, n, design(k), intercepts=1)
    np.testing.assert_allclose(ba, b, rtol=1e-10)
    np.testing.assert_allclose(cova[0, 0], cov[0, 0], rtol=1e-10)
    assert conv and conva and it == ita


def test_many_studies():
    """k = 300 tables: the arrow path converges to an interior maximum."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = glmm_or(*tables(300))
    assert r.converged and r.k == 300 and 0 < r.tau2 < 1 and r.se < 0.05
