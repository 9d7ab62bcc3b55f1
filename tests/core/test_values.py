"""Named pooled values (metareview.pooling.values) and the value semantics of results.

Every method (inverse variance, GLMM, Mantel-Haenszel, Peto) gives its pooled values as
``Pooled`` with ``Estimate``, ``Interval`` and ``Heterogeneity`` parts whose ``to_dict()``
is the ``pool`` JSON shape; results compare NaN-aware and hash consistently.  The numbers
themselves are checked against R in the reference tests of each method; here the names
must carry the same numbers as the flat keys and the JSON document.
"""

import copy
import math
import pickle
import warnings
from dataclasses import FrozenInstanceError
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import metareview as mr
from metareview.pooling.glmm import glmm_proportion
from metareview.pooling.inverse_variance import pool_arrays
from metareview.pooling.mh import mantel_haenszel, mantel_haenszel_rates
from metareview.pooling.peto import peto
from metareview.pooling.values import FLAT_KEYS, Estimate, Heterogeneity, Interval, Pooled, same, value_hash

SEED = pd.read_csv(Path(__file__).resolve().parents[1] / "fixtures" / "seed_tr.csv")
#: two-group binary data with a zero cell (MH, Peto, GLMM and inverse variance all apply)
BIN = ([3, 0, 15, 10, 2], [50, 40, 60, 100, 30], [8, 2, 5, 25, 6], [50, 42, 58, 98, 31])


def seed(**kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mr.metaprop(SEED["events"].to_numpy(), SEED["n"].to_numpy(), **kwargs)


def binary(**kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mr.metabin(*BIN, **kwargs)


# --- the types ----------------------------------------------------------------------------

def test_interval_estimate_and_heterogeneity_give_the_json_shapes():
    ci = Interval(-0.5, math.nan, 0.95)
    assert ci.to_dict() == {"low": -0.5, "high": None}
    common = Estimate(0.2, 0.1, Interval(0.0, 0.4, 0.95), 2.0, 0.05)
    assert list(common.to_dict()) == ["estimate", "se", "ci_low", "ci_high", "statistic", "p"]
    random = Estimate(0.2, 0.1, Interval(0.0, 0.4, 0.95), math.nan, math.nan, math.nan)
    assert random.to_dict()["df"] is None and random.to_dict()["p"] is None
    assert (common.ci_low, common.ci_high) == (0.0, 0.4)
    het = Heterogeneity(q=3.0, df=2, p=0.2, tau2=0.04, tau2_interval=Interval(0.0, 0.25, 0.95), tau=0.2,
                        i2=33.3, i2_interval=Interval(0.0, 80.0, 0.95), h=1.2, h_interval=Interval(1.0, 2.2, 0.95),
                        converged=True, iterations=0, se_tau2=None)
    assert het.to_dict()["tau2_ci_high"] == 0.25 and het.to_dict()["se_tau2"] is None
    assert het.tau_interval == Interval(0.0, 0.5, 0.95)


def test_values_are_frozen():
    p = seed().pooled
    with pytest.raises(FrozenInstanceError):
        p.random = p.common
    with pytest.raises(FrozenInstanceError):
        p.random.interval.low = 0.0
    with pytest.raises(TypeError):
        p["random_estimate"] = 0.0
    with pytest.raises(TypeError, match="no field"):
        p.replace(tau2=0.0)


def test_backtransform_maps_the_estimate_and_interval_and_keeps_the_test():
    e = Estimate(0.0, 0.5, Interval(-1.0, 1.0, 0.9), 0.0, 1.0)
    bt = e.backtransform(np.exp)
    assert bt.estimate == 1.0 and bt.interval == Interval(math.exp(-1), math.exp(1), 0.9)
    assert math.isnan(bt.se) and (bt.statistic, bt.p) == (0.0, 1.0)


def test_same_is_nan_aware_and_never_raises_on_arrays():
    assert same(math.nan, float("nan")) and not same(math.nan, 0.0)
    assert same(np.array([1.0, np.nan]), np.array([1.0, np.nan]))
    assert not same(np.array([1.0, np.nan]), np.array([1.0, 2.0]))
    assert not same(np.array([1.0, 2.0]), np.array([1.0, 2.0, 3.0]))
    assert same(np.array(["a", None], object), np.array(["a", None], object))
    assert same({"x": np.array([np.nan])}, {"x": np.array([np.nan])})
    assert not same({"x": 1}, {"y": 1}) and not same([1, 2], (1, 2)) and not same(np.array([1.0]), [1.0])
    assert value_hash(math.nan, np.array([np.nan, 1.0])) == value_hash(float("nan"), np.array([np.nan, 1.0]))


# --- every method gives named values -------------------------------------------------------

def test_the_kernel_row_is_named_and_reads_as_the_flat_keys():
    y, v = [0.1, 0.3, 0.5, -0.2], [0.04, 0.05, 0.03, 0.06]
    arrays = pool_arrays(y, v, level=0.9)
    p = arrays.row(0)
    assert isinstance(p, Pooled) and set(p) == set(FLAT_KEYS)
    for key in FLAT_KEYS:
        expected = getattr(arrays, key)[0]
        assert same(np.asarray(p[key]), np.asarray(expected)), key
    assert p.random.estimate == arrays.random_estimate[0] and p.random.interval.level == 0.9
    assert p.heterogeneity.i2_interval.high == arrays.i2_ci_high[0]
    assert p.prediction == Interval(arrays.prediction_low[0], arrays.prediction_high[0], 0.9)
    assert "method_details" not in p and p.get("method_details") is None


@pytest.mark.parametrize("method, measure", [("Inverse", "OR"), ("MH", "OR"), ("MH", "RR"), ("MH", "RD"),
                                             ("Peto", "OR"), ("GLMM", "OR")])
def test_every_method_gives_named_values_that_are_its_json(method, measure):
    r = binary(method=method, measure=measure, **({"method_tau2": "ML"} if method == "GLMM" else {}))
    assert isinstance(r.pooled, Pooled)
    assert isinstance(r.common, Estimate) and isinstance(r.random, Estimate)
    assert isinstance(r.prediction, Interval) and isinstance(r.heterogeneity, Heterogeneity)
    doc = r.to_dict()
    assert doc["common"] == r.common.to_dict() and doc["random"] == r.random.to_dict()
    assert doc["prediction"] == r.prediction.to_dict() and doc["heterogeneity"] == r.heterogeneity.to_dict()
    assert "df" not in doc["common"] and "df" in doc["random"]
    assert r.pooled["common_estimate"] == r.common.estimate and r.pooled["tau2"] == r.heterogeneity.tau2
    assert ("method_details" in r.pooled) == (method != "Inverse")


def test_mantel_haenszel_and_peto_values_are_their_methods():
    a, n1, c, n2 = BIN
    mh = mantel_haenszel(a, n1, c, n2, measure="RR")
    r = binary(method="MH", measure="RR")
    assert (r.common.estimate, r.common.se, r.common.interval.low) == (mh.estimate, mh.se, mh.ci_low)
    assert (r.heterogeneity.q, r.heterogeneity.df, r.heterogeneity.p) == (mh.q, mh.q_df, mh.q_p)
    pe = peto(a, n1, c, n2)
    r = binary(method="Peto")
    assert (r.common.estimate, r.common.statistic, r.heterogeneity.q) == (pe.estimate, pe.statistic, pe.q)
    assert r.pooled.method_details["method"] == "Peto"


def test_mantel_haenszel_rates_and_glmm_values_are_their_methods():
    x1, t1, x2, t2 = [5, 0, 7, 3], [100.0, 120, 80, 90], [9, 4, 8, 6], [110.0, 100, 95, 85]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = mr.metainc(x1, t1, x2, t2, method="MH")
    mh = mantel_haenszel_rates(x1, t1, x2, t2, study_correction=0.5)
    assert (r.common.estimate, r.heterogeneity.q) == (mh.estimate, mh.q)
    assert r.pooled.method_details["mh"] is not None
    ev, n = SEED["events"].to_numpy(), SEED["n"].to_numpy()
    g = seed(method="GLMM", method_tau2="ML")
    fit = glmm_proportion(ev, n)
    assert (g.random.estimate, g.heterogeneity.tau2, g.heterogeneity.iterations) == (fit.estimate, fit.tau2,
                                                                                     fit.iterations)
    assert g.heterogeneity.se_tau2 is None and math.isnan(g.random.df)
    assert g.to_dict()["heterogeneity"]["se_tau2"] is None


def test_mantel_haenszel_random_effects_take_tau2_about_the_mh_estimate():
    r = binary(method="MH", measure="OR")
    iv = binary(measure="OR")
    assert r.heterogeneity.tau2 > 0 and r.heterogeneity.tau2 != iv.heterogeneity.tau2
    # the Q-profile interval and the standard error of tau² stay the inverse-variance model's
    assert r.heterogeneity.tau2_interval == iv.heterogeneity.tau2_interval
    assert r.heterogeneity.se_tau2 == iv.heterogeneity.se_tau2


def test_derived_analyses_use_the_named_values():
    r = seed()
    loo = r.leave1out()
    first = loo.pooled.row(0)
    assert isinstance(first, Pooled)
    assert loo.to_dict()["rows"][0]["random"] == first.random.to_dict()
    sub = r.subgroup(np.arange(r.k_all) % 2, tau_common=True)
    for g in sub.groups.values():
        assert isinstance(g.pooled, Pooled) and g.heterogeneity.tau2 == sub.tau2_common
        assert math.isnan(g.heterogeneity.tau2_interval.low)
    tf = r.trimfill()
    assert isinstance(tf.pooled, Pooled) and tf.adjusted["random"] == tf.pooled.random.to_dict()


# --- the deferred Q-profile interval ---------------------------------------------------------

def test_the_deferred_interval_is_computed_once_on_first_use():
    calls = []

    def fill():
        calls.append(1)
        return {"tau2_ci_low": 0.0, "tau2_ci_high": 1.0}
    p = pool_arrays([0.1, 0.3, 0.5, -0.2], [0.04, 0.05, 0.03, 0.06], tau2_ci=False).row(0).deferring(fill)
    assert p["tau2"] > 0 and p.common.estimate and not calls
    moved = p.replace(weight_common=None)
    assert not calls
    assert p["tau2_ci_high"] == 1.0 and p.heterogeneity.tau2_interval.low == 0.0 and calls == [1]
    assert moved.heterogeneity.tau2_interval.high == 1.0 and len(calls) == 2


def test_the_deferred_interval_equals_the_one_computed_at_once():
    r = seed(method_tau2="REML", i2_method="tau2")
    at_once = pool_arrays(r.yi, r.vi, method_tau2="REML", i2_method="tau2", null=None).row(0)
    assert r.heterogeneity == at_once.heterogeneity


# --- results compare and hash ------------------------------------------------------------------

def test_two_identical_fits_are_equal_and_hash_equally():
    a, b = seed(), seed()
    assert a is not b
    assert math.isnan(a.random.p)  # NaN values must not make equal fits unequal
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert (a != b) is False
    assert binary(method="MH") == binary(method="MH") and binary(method="Peto") == binary(method="Peto")


def test_fits_differ_after_a_change():
    a = seed()
    assert a != a.update(method_tau2="REML")
    assert a != a.update(exclude=[str(a.studlab[0])])
    events = SEED["events"].to_numpy().copy()
    events[0] += 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert a != mr.metaprop(events, SEED["n"].to_numpy())
    assert a != "a result" and a.pooled != seed(level=0.9).pooled


def test_comparing_results_never_raises_value_error():
    a = binary(method="GLMM", method_tau2="ML")
    b = binary(method="GLMM", method_tau2="ML")
    assert (a == b) is True
    assert (a == binary()) is False
    assert a.pooled == dict(a.pooled)  # a pooled block still compares with its flat mapping


def test_results_survive_copies_and_pickling_as_equal_values():
    r = seed()
    assert copy.deepcopy(r.pooled) == r.pooled and pickle.loads(pickle.dumps(r.pooled)) == r.pooled
    assert pickle.loads(pickle.dumps(r.random)) == r.random
