"""One analysis and a batch run one kernel: ``pool_one`` (the arrays of one analysis, its
per-analysis values numpy scalars) gives bit for bit what ``pool_arrays(...).row(i)`` gives.

Equality here is exact (NaN equal to NaN), not a tolerance: the single-analysis path must not
drift from the batch by a rounding (``x ** 2`` on a numpy scalar is ``pow()``, which differs
from the array square in the last bit about once in a thousand values).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from metareview.pooling.inverse_variance import pool_arrays, pool_one
from metareview.pooling.per_analysis import all_of, any_of, as_float, maximum, minimum, pick
from metareview.pooling.tau2 import ESTIMATORS, estimate_tau2, q_profile, se_tau2
from metareview.pooling.values import FLAT_KEYS


def _same_bits(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(np.asarray(a, float), np.asarray(b, float), equal_nan=True)
    a, b = float(a), float(b)
    return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))


def _assert_one_equals_row(y, v, mask, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batch = pool_arrays(y, v, mask, **options)
        for i in range(np.atleast_2d(y).shape[0]):
            row = batch.row(i)
            one = pool_one(np.atleast_2d(y)[i], np.atleast_2d(v)[i], np.atleast_2d(mask)[i], **options)
            for key in FLAT_KEYS:
                assert _same_bits(one[key], row[key]), (i, key, one[key], row[key], options)
            assert one == row


RNG = np.random.default_rng(20261206)
K = 12
Y = RNG.normal(0.3, 0.6, (40, K))
V = RNG.uniform(0.005, 0.4, (40, K))
MASK = (RNG.random((40, K)) > 0.25).astype(float)
MASK[0] = 1.0             # every study
MASK[1] = 0.0
MASK[1, 3] = 1.0          # one study
MASK[2] = 0.0
MASK[2, [0, 5]] = 1.0     # two studies
MASK[3] = 0.0
MASK[3, [1, 2, 7]] = 1.0  # three studies
Y[4, 2] = np.nan          # a study without an effect (not pooled)
Y[5] = 0.25               # no heterogeneity: tau² = 0


@pytest.mark.parametrize("method_tau2", [c for c in ESTIMATORS if c != "GENQ"])
def test_every_estimator_one_equals_batch_row(method_tau2):
    _assert_one_equals_row(Y, V, MASK, method_tau2=method_tau2)


def test_genq_with_user_weights_one_equals_batch_row():
    weights = RNG.uniform(0.5, 2.0, (40, K))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batch = pool_arrays(Y, V, MASK, method_tau2="GENQ", tau2_weights=weights)
        for i in range(Y.shape[0]):
            one = pool_one(Y[i], V[i], MASK[i], method_tau2="GENQ", tau2_weights=weights[i])
            assert all(_same_bits(one[key], batch.row(i)[key]) for key in FLAT_KEYS), i


@pytest.mark.parametrize("options", [
    {"random_ci": "hk"}, {"random_ci": "hk", "adhoc_hakn": "se"}, {"random_ci": "hk", "adhoc_hakn": "ci"},
    {"prediction": "v"}, {"prediction": "z"}, {"prediction": "z", "random_ci": "hk"}, {"prediction": "none"},
    {"i2_method": "tau2"}, {"i2_method": "tau2", "tau2_ci": False}, {"tau2_ci": False}, {"null": None},
    {"null": 0.4}, {"level": 0.9}, {"weights": False}, {"method_tau2": "REML", "i2_method": "tau2"},
    {"method_tau2": "PM", "random_ci": "hk", "prediction": "v"},
])
def test_options_one_equals_batch_row(options):
    _assert_one_equals_row(Y, V, MASK, **options)


def test_centre_of_the_q_behind_tau2_one_equals_batch_row():
    centre = RNG.normal(0.3, 0.1, Y.shape[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batch = pool_arrays(Y, V, MASK, tau2_center=centre, tau2_ci=False)
        for i in range(Y.shape[0]):
            one = pool_one(Y[i], V[i], MASK[i], tau2_center=centre[i], tau2_ci=False)
            assert all(_same_bits(one[key], batch.row(i)[key]) for key in FLAT_KEYS), i


def test_zero_sampling_variances_one_equals_batch_row():
    v = V.copy()
    v[:, 0] = 0.0
    _assert_one_equals_row(Y, v, MASK, method_tau2="REML", tau2_ci=False)


def test_many_random_analyses_one_equals_batch_row_bit_for_bit():
    """Hundreds of analyses of different sizes: a square by pow() instead of x * x in the
    one-analysis path would change a last bit somewhere among their tens of thousands of values."""
    rng = np.random.default_rng(7)
    for k in (30, 5):  # (fewer than 16 studies: the batch sums rows column by column)
        y = rng.normal(0, 1, (400, k)) * 10 ** rng.uniform(-3, 2, (400, 1))
        v = rng.uniform(0.001, 1, (400, k)) * 10 ** rng.uniform(-3, 2, (400, 1))
        mask = (rng.random((400, k)) > rng.uniform(0, 0.9, (400, 1))).astype(float)
        for options in ({}, {"random_ci": "hk", "i2_method": "tau2", "prediction": "v"}):
            _assert_one_equals_row(y, v, mask, **options)
        _assert_one_equals_row(y, v, np.ones((400, k)))


def test_tau2_functions_take_one_analysis_as_its_1d_arrays():
    """estimate_tau2, se_tau2 and q_profile on the arrays of one analysis give the batch's row as scalars."""
    for method in ESTIMATORS:
        if method == "GENQ":
            continue
        fit = estimate_tau2(Y, V, MASK, method, warn=False)
        se = se_tau2(Y, V, MASK, fit.tau2, method)
        for i in (0, 3, 6):
            one = estimate_tau2(Y[i], V[i], MASK[i], method, warn=False)
            assert np.ndim(one.tau2) == 0 and _same_bits(one.tau2, fit.tau2[i]), (method, i)
            assert int(one.iterations) == int(fit.iterations[i]) and bool(one.converged) == bool(fit.converged[i])
            assert _same_bits(se_tau2(Y[i], V[i], MASK[i], one.tau2, method), se[i]), (method, i)
    low, high = q_profile(Y, V, MASK)
    assert all(_same_bits(q_profile(Y[i], V[i], MASK[i])[0], low[i]) and
               _same_bits(q_profile(Y[i], V[i], MASK[i])[1], high[i]) for i in range(6))


@pytest.mark.parametrize("a, b", [(1.0, 2.0), (2.0, 1.0), (np.nan, 1.0), (1.0, np.nan), (np.nan, np.nan),
                                  (0.0, -0.0), (-0.0, 0.0), (np.inf, 1.0), (-np.inf, 1.0), (3.0, 3.0)])
def test_scalar_maximum_minimum_pick_follow_numpy(a, b):
    fa, fb = np.float64(a), np.float64(b)
    assert _same_bits(maximum(fa, fb), np.maximum(np.array([a]), np.array([b]))[0])
    assert _same_bits(minimum(fa, fb), np.minimum(np.array([a]), np.array([b]))[0])
    assert _same_bits(pick(fa > fb, fa, fb), np.where(np.array([a]) > np.array([b]), a, b)[0])
    arrays = np.array([a, b]), np.array([b, a])
    assert np.array_equal(maximum(*arrays), np.maximum(*arrays), equal_nan=True)
    assert np.array_equal(minimum(*arrays), np.minimum(*arrays), equal_nan=True)


def test_scalar_helpers_keep_scalars_scalars():
    assert type(as_float(3)) is np.float64 and isinstance(as_float([1, 2]), np.ndarray)
    assert type(pick(np.float64(2) > 1, np.float64(2), 0.0)) is np.float64
    assert any_of(np.bool_(True)) and not any_of(np.array([False, False])) and any_of(np.array([False, True]))
    assert all_of(np.bool_(True)) and not all_of(np.array([True, False]))


def test_heterogeneity_of_one_q_equals_the_arrays_bit_for_bit():
    """I², H and their test-based intervals of a single Q (numpy scalars) are the array values,
    over thousands of Q and k (where a square by pow() would differ in a last bit)."""
    from metareview.pooling.heterogeneity import from_q, typical_variance

    rng = np.random.default_rng(3)
    k = rng.integers(1, 60, 5000).astype(float)
    q = rng.chisquare(np.maximum(k - 1, 1)) * rng.uniform(0.2, 5, 5000)
    arrays = from_q(q, k, 0.95)
    for i in range(q.size):
        one = from_q(q[i], k[i], 0.95)
        assert all(_same_bits(one[key], arrays[key][i]) for key in arrays), (q[i], k[i])
    v = rng.uniform(0.001, 2, (5000, 3)) * 10 ** rng.uniform(-3, 3, (5000, 1))
    mask = np.ones(v.shape)
    s2 = typical_variance(v, mask)
    assert all(_same_bits(typical_variance(v[i], mask[i]), s2[i]) for i in range(v.shape[0]))
