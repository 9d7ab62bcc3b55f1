"""The table of tau² estimators: one implementation per estimator for any design.

The intercept-only path (row sums, never a matrix of ones) and a design matrix that holds the
same column of ones are the same estimator written once, so they must agree to rounding; a batch
of analyses with their own design matrices gives each analysis what it gets alone.  The numbers
themselves are checked against metafor elsewhere (tests/toolkit/test_estimators_reference.py,
tests/analyses/test_metareg_estimators_reference.py)."""

import numpy as np
import pytest

from metareview.base.exceptions import SettingsError
from metareview.pooling import projection
from metareview.pooling.rma import METAREG_TAU2, tau2_mods
from metareview.pooling.settings import Settings
from metareview.pooling.tau2 import (
    ESTIMATORS,
    MODERATOR_METHODS,
    TAU2_METHODS,
    ZERO_VARIANCE_METHODS,
    Tau2Data,
    estimate_tau2,
    se_tau2,
)

RNG = np.random.default_rng(16)
M, K = 6, 12
Y = RNG.normal(0.3, 0.6, (M, K))
V = RNG.uniform(0.02, 0.4, (M, K))
MASK = (RNG.uniform(size=(M, K)) > 0.2).astype(float)
MASK[:, :4] = 1.0
A = RNG.uniform(5, 50, (M, K))   # GENQ's user weights


def _weights(method):
    return A if ESTIMATORS[method].needs_weights else None


@pytest.mark.parametrize("method", TAU2_METHODS)
def test_intercept_path_is_the_design_of_ones(method):
    ones = projection.Matrix(np.ones((K, 1)))
    fast = estimate_tau2(Y, V, MASK, method, weights=_weights(method))
    # the design matrix path, forced (design_of would take the intercept path for ones)
    d = Tau2Data(Y, V, MASK, ones, weights=_weights(method), tol=1e-12, maxiter=1000)
    with np.errstate(divide="ignore", invalid="ignore"):
        slow, _, conv = ESTIMATORS[method].estimate(d)
    slow = np.where(np.isfinite(slow), np.maximum(slow, 0.0), 0.0)
    np.testing.assert_allclose(fast.tau2, slow, rtol=1e-9, atol=1e-13)
    assert fast.converged.all() and conv.all()
    assert (fast.tau2 > 0).any()


@pytest.mark.parametrize("method", TAU2_METHODS)
def test_a_batch_of_designs_gives_each_analysis_its_own_fit(method):
    X = np.stack([np.column_stack([np.ones(K), RNG.normal(size=K)]) for _ in range(M)])
    both = estimate_tau2(Y, V, MASK, method, X=X, weights=_weights(method)).tau2
    for j in range(M):
        keep = MASK[j] > 0
        alone, _, conv = tau2_mods(Y[j, keep], V[j, keep], X[j][keep], method,
                                   weights=None if _weights(method) is None else A[j, keep])
        assert conv
        np.testing.assert_allclose(both[j], alone, rtol=1e-9, atol=1e-13)


def test_a_single_column_of_ones_takes_the_intercept_path():
    assert isinstance(projection.design_of(np.ones((K, 1))), projection.Intercept)
    assert isinstance(projection.design_of(np.column_stack([np.ones(K), np.arange(K)])), projection.Matrix)
    t, _, _ = tau2_mods(Y[0], V[0], np.ones((K, 1)), "REML")
    assert t == pytest.approx(estimate_tau2(Y[:1], V[:1], np.ones((1, K)), "REML").tau2[0], rel=1e-12)


def test_the_table_is_what_settings_metareg_and_the_checks_read():
    assert TAU2_METHODS == tuple(ESTIMATORS) and len(TAU2_METHODS) == 13
    assert METAREG_TAU2 == MODERATOR_METHODS + ("FE",)
    assert set(ZERO_VARIANCE_METHODS) == {"HE", "ML", "REML", "EB", "SJ", "SJIT", "GENQ"}
    assert Settings(method_tau2="hsk").method_tau2 == "HSk"
    with pytest.raises(SettingsError, match="valid estimators are: " + ", ".join(TAU2_METHODS)):
        Settings(method_tau2="XX")
    with pytest.raises(SettingsError, match="for meta-regression.*" + ", ".join(METAREG_TAU2)):
        tau2_mods(Y[0], V[0], np.ones((K, 1)), "XX")
    for e in ESTIMATORS.values():
        assert e.name and e.citation and e.formula and callable(e.estimate) and callable(e.se)


def test_standard_errors_come_from_each_estimators_unit():
    for method in TAU2_METHODS:
        t = estimate_tau2(Y, V, MASK, method, weights=_weights(method)).tau2
        se = se_tau2(Y, V, MASK, t, method, weights=_weights(method))
        assert np.isfinite(se).all() and (se > 0).all(), method
