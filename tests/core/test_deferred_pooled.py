"""One analysis leaves to its first read what metafor's rma() leaves to confint(), predict() and
weights(): the Q-profile interval of tau², the I² and H intervals, the prediction interval and the
study weights (``pool_one(deferred=True)``).  Read, they are bit for bit the values computed at once."""

from __future__ import annotations

import math
import pickle
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import metareview
from metareview.base.deferred import Deferred
from metareview.pooling import inverse_variance
from metareview.pooling.inverse_variance import pool_one
from metareview.pooling.tau2 import ESTIMATORS
from metareview.pooling.values import FLAT_KEYS

SEED = pd.read_csv(Path(__file__).resolve().parents[1] / "fixtures" / "seed_tr.csv")
EVENTS, N = SEED["events"].to_numpy(), SEED["n"].to_numpy()

RNG = np.random.default_rng(18_3)
K = 9
Y, V = RNG.normal(0.2, 0.7, (30, K)), RNG.uniform(0.01, 0.5, (30, K))
MASK = (RNG.random((30, K)) > 0.2).astype(float)
for row, pooled in ((0, list(range(K))), (1, [4]), (2, [0, 6])):  # every study, one study, two studies
    MASK[row] = np.isin(np.arange(K), pooled)
Y[3] = 0.4                                      # tau² = 0, Q = 0
Y[4, 1] = np.nan                                # a study without an effect


def _same_bits(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.asarray(a, float).tobytes() == np.asarray(b, float).tobytes()
    a, b = float(a), float(b)
    return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))


def _assert_deferred_equals_at_once(**options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(Y.shape[0]):
            at_once = pool_one(Y[i], V[i], MASK[i], **options)
            later = pool_one(Y[i], V[i], MASK[i], deferred=True, **options)
            for key in FLAT_KEYS:  # read in this order: the weights and prediction before the intervals
                assert _same_bits(later[key], at_once[key]), (i, key, later[key], at_once[key], options)
            assert later == at_once and hash(later) == hash(at_once)


@pytest.mark.parametrize("method_tau2", [c for c in ESTIMATORS if c != "GENQ"])
def test_every_estimator_deferred_equals_at_once(method_tau2):
    _assert_deferred_equals_at_once(method_tau2=method_tau2)


@pytest.mark.parametrize("options", [
    {"random_ci": "hk"}, {"random_ci": "hk", "adhoc_hakn": "se"}, {"random_ci": "hk", "adhoc_hakn": "ci"},
    {"prediction": "v"}, {"prediction": "z"}, {"prediction": "z", "random_ci": "hk"}, {"prediction": "none"},
    {"i2_method": "tau2"}, {"i2_method": "tau2", "tau2_ci": False}, {"tau2_ci": False}, {"null": None},
    {"level": 0.9}, {"weights": False}, {"method_tau2": "REML", "i2_method": "tau2", "level": 0.8},
    {"method_tau2": "PM", "random_ci": "hk", "prediction": "v", "tau2_tol": 1e-8}])
def test_options_deferred_equals_at_once(options):
    _assert_deferred_equals_at_once(**options)


def test_deferred_values_read_first_one_by_one_equal_at_once():
    """Each deferred part computed alone (the others still pending) gives its value."""
    at_once = pool_one(Y[0], V[0], MASK[0])
    for key in ("prediction_low", "weight_common", "weight_random", "i2_ci_low", "h_ci_high", "tau2_ci_low"):
        later = pool_one(Y[0], V[0], MASK[0], deferred=True)
        assert _same_bits(later[key], at_once[key]), key
        assert later.to_dict() == at_once.to_dict()


def test_a_single_analysis_computes_them_on_first_read_only(monkeypatch):
    calls = []
    for name in ("_later_prediction", "_later_weights", "_later_intervals"):
        original = getattr(inverse_variance, name)

        def counting(*args, _name=name, _original=original):
            calls.append(_name)
            return _original(*args)
        monkeypatch.setattr(inverse_variance, name, counting)
    r = metareview.metaprop(EVENTS, N)
    p = r.pooled
    assert calls == []
    assert isinstance(p._prediction, Deferred) and isinstance(p._weight_random, Deferred) and p._fill is not None
    assert r.random.estimate == p["random_estimate"] and p.heterogeneity.i2 == r.heterogeneity.i2
    assert r.pooled["i2"] >= 0 and r.pooled["tau2"] > 0 and calls == ["_later_intervals"]
    assert math.isfinite(r.prediction.low) and calls.count("_later_prediction") == 1
    assert abs(np.nansum(p.weight_common) - 100) < 1e-9 and abs(np.nansum(p.weight_random) - 100) < 1e-9
    assert calls.count("_later_weights") == 1
    r.to_dict()
    assert sorted(calls) == ["_later_intervals", "_later_prediction", "_later_weights"]  # each once


def test_replace_keeps_pending_values_pending_and_pickling_reads_them():
    p = pool_one(Y[0], V[0], MASK[0], deferred=True)
    q = p.replace(method_details={"note": 1})
    assert isinstance(q._prediction, Deferred) and isinstance(q._weight_common, Deferred)
    assert q.prediction == pool_one(Y[0], V[0], MASK[0]).prediction
    again = pickle.loads(pickle.dumps(pool_one(Y[0], V[0], MASK[0], deferred=True)))
    assert again == pool_one(Y[0], V[0], MASK[0])


def test_a_result_with_every_value_pending_reports_what_one_computed_at_once_reports():
    """A refit with a zero sampling variance pools at once; the same data without it lazily: the
    printout and JSON of a lazy result read every deferred value."""
    r = metareview.metaprop(EVENTS, N)
    eager = pool_one(r.yi, r.vi, (~r.excluded).astype(float), null=None)
    assert r.pooled == eager
    assert r.pooled.to_dict() == eager.to_dict()
    assert np.array_equal(r.pooled.weight_random, eager.weight_random)


@pytest.mark.parametrize("row, options", [
    (1, {}), (1, {"random_ci": "hk"}), (0, {}), (2, {"random_ci": "hk"}),
    (0, {"method_tau2": "REML", "tau2_maxiter": 1}), (1, {"method_tau2": "PM", "tau2_maxiter": 1}),
    (0, {"method_tau2": "SJIT", "tau2_maxiter": 2, "random_ci": "hk"})])
def test_the_kernel_warnings_made_from_its_values_are_those_it_gives(row, options):
    """A single analysis pools with warn=False and makes the kernel's warnings from the result
    (recording warnings costs more than pooling): the same messages and categories, in order."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pool_one(Y[row], V[row], MASK[row], **options)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warn=False gives none
        quiet = pool_one(Y[row], V[row], MASK[row], deferred=True, warn=False, **options)
    made = inverse_variance.kernel_warnings(quiet, method_tau2=options.get("method_tau2", "DL"),
                                            random_ci=options.get("random_ci", "wald"),
                                            tau2_maxiter=options.get("tau2_maxiter", 1000))
    assert [(str(w.message), w.category) for w in caught] == made


def test_one_study_is_noted_and_warned_once_from_the_analysis_function():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = metareview.metagen([0.3], vi=[0.1])
    message = inverse_variance.one_study_message("wald")
    assert [str(w.message) for w in caught] == [message] and r.notes == (message,)
    assert caught[0].category is metareview.SmallSampleWarning
    assert caught[0].filename.endswith("meta.py")  # where _noted pointed: the analysis function


@pytest.mark.parametrize("deferred", [False, True])
@pytest.mark.parametrize("method_tau2", ["DL", "REML", "PM", "HE"])
def test_no_mask_is_every_study_pooled(deferred, method_tau2):
    """A single analysis with no study left out pools without a mask: the same bits as a mask of ones."""
    for i in range(Y.shape[0]):
        y = np.where(np.isfinite(Y[i]), Y[i], 0.1)
        with_mask = pool_one(y, V[i], np.ones(K), method_tau2=method_tau2, deferred=deferred)
        without = pool_one(y, V[i], None, method_tau2=method_tau2, deferred=deferred)
        for key in FLAT_KEYS:
            assert _same_bits(without[key], with_mask[key]), (i, key)
