"""A batch gives the numbers of the single-analysis API (1e-10) for every design, measure,
estimator and interval option, on ragged random analyses (k = 1 and 2 included)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import metareview as mr
from metareview.api import batch as batch_module
from metareview.api.batch import POOLED_COLUMNS, batch
from metareview.pooling.tau2 import TAU2_METHODS

from .conftest import assert_same_as_single, random_table

MEASURES = [
    ("proportion", m) for m in ("PLO", "PR", "PLN", "PAS", "PFT")
] + [("mean", "MN"), ("mean", "MNLN")] + [
    ("prepost", m) for m in ("MD", "MC", "SMCC", "SMCR")
] + [("cont2", m) for m in ("MD", "SMD", "ROM")] + [
    ("bin2", m) for m in ("OR", "RR", "RD")
] + [("rate", m) for m in ("IR", "IRLN", "IRS", "IRFT")] + [
    ("generic", "GEN"), ("generic_sei", "GEN"), ("generic", "OR"), ("generic", "MNLN")] + [
    ("cont2", m) for m in ("SMDH", "CVR", "VR")] + [("prepost", m) for m in ("ROMC", "SMCRH")] + [
    ("rate2", m) for m in ("IRR", "IRD", "IRSD")] + [("cor", m) for m in ("COR", "UCOR", "ZCOR")] + [
    ("pcor", m) for m in ("PCOR", "ZPCOR", "SPCOR")]


def run(table, measure=None, **settings):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return batch(table, measure=measure, **settings)


@pytest.mark.parametrize("design,measure", MEASURES, ids=[f"{d}-{m}" for d, m in MEASURES])
def test_every_measure(design, measure):
    table = random_table(design, n_analyses=25, seed=len(design) + len(measure))
    assert_same_as_single(run(table, measure), table, measure, {})


@pytest.mark.parametrize("method", [m for m in TAU2_METHODS if m != "GENQ"])
@pytest.mark.parametrize("design,measure", [("proportion", "PFT"), ("cont2", "SMD"), ("bin2", "OR"),
                                            ("generic", "GEN")])
def test_every_estimator(method, design, measure):
    table = random_table(design, n_analyses=25, seed=7)
    assert_same_as_single(run(table, measure, method_tau2=method), table, measure, {"method_tau2": method})


@pytest.mark.parametrize("design,measure", [("cont2", "SMD"), ("generic", "GEN")])
def test_genq_with_weights_from_a_column(design, measure):
    """GENQ takes its user weights from the column genq_weights, in a batch as in one analysis."""
    table = random_table(design, n_analyses=25, seed=7)
    table["genq_weights"] = np.random.default_rng(3).uniform(5, 50, len(table))
    assert_same_as_single(run(table, measure, method_tau2="GENQ"), table, measure, {"method_tau2": "GENQ"})
    from metareview.base.exceptions import MetaReviewError
    with pytest.raises(MetaReviewError, match="genq_weights"):
        run(table.drop(columns="genq_weights"), measure, method_tau2="GENQ")


SETTINGS = [
    {"random_ci": "hk"},
    {"random_ci": "hk", "adhoc_hakn": "se", "method_tau2": "REML"},
    {"random_ci": "hk", "adhoc_hakn": "ci", "method_tau2": "PM"},
    {"prediction": "z"},
    {"prediction": "z", "random_ci": "hk"},
    {"prediction": "none"},
    {"i2_method": "tau2", "method_tau2": "REML"},
    {"level": 0.9, "method_tau2": "ML"},
    {"method_incr": "if0all"},
    {"method_incr": "all", "incr": 0.25},
    {"incr_style": "metafor"},
    {"allstudies": True},
]


@pytest.mark.parametrize("settings", SETTINGS, ids=[",".join(f"{k}={v}" for k, v in s.items()) for s in SETTINGS])
@pytest.mark.parametrize("design,measure", [("proportion", "PLO"), ("bin2", "RR")])
def test_interval_and_correction_options(settings, design, measure):
    table = random_table(design, n_analyses=20, seed=11)
    assert_same_as_single(run(table, measure, **settings), table, measure, settings)


RATE_CASES = [("IR", "only0"), ("IR", "if0all"), ("IR", "all"), ("IRLN", "if0all"), ("IRFT", "none")]


@pytest.mark.parametrize("measure,method_incr", RATE_CASES)
def test_rates_and_their_continuity_rules(measure, method_incr):
    table = random_table("rate", n_analyses=20, seed=13)
    settings = {"method_incr": method_incr, "method_tau2": "REML"}
    assert_same_as_single(run(table, measure, **settings), table, measure, settings)


def test_double_zero_studies_are_not_pooled_unless_allstudies():
    table = random_table("bin2", n_analyses=20, seed=11)
    default = run(table, "OR").set_index("analysis")
    every = run(table, "OR", allstudies=True).set_index("analysis")
    assert (default["k"] < every["k"]).any() and (default["k"] <= every["k"]).all()


def test_approximate_smd_correction():
    table = random_table("cont2", n_analyses=20, seed=5)
    assert_same_as_single(run(table, "SMD", exact_smd=False), table, "SMD", {"exact_smd": False})


def test_default_measure_is_read_from_the_design():
    table = random_table("proportion", n_analyses=5, seed=2)
    assert set(run(table)["measure"]) == {"PLO"}
    table = random_table("bin2", n_analyses=5, seed=2)
    assert set(run(table)["measure"]) == {"OR"}


@pytest.mark.parametrize("chunk_size", [1, 2, 7, 1000])
def test_chunk_boundaries_do_not_change_results(chunk_size):
    table = random_table("proportion", n_analyses=40, seed=3, kmax=20)
    whole = run(table, "PLO", method_tau2="REML")
    parts = run(table, "PLO", method_tau2="REML", chunk_size=chunk_size)
    pd.testing.assert_frame_equal(whole, parts, rtol=1e-12, atol=1e-12)
    assert_same_as_single(parts, table, "PLO", {"method_tau2": "REML"})


def test_cell_budget_splits_a_chunk(monkeypatch):
    """A chunk is split when padding it to its largest k would exceed the cell budget."""
    table = random_table("generic", seed=4, ks=[1, 2, 60, 3, 2, 50, 1, 4])
    expected = run(table, method_tau2="PM")
    calls = []
    real = batch_module.pool_arrays

    def spy(yi, vi, mask, **kw):
        calls.append(np.shape(yi))
        return real(yi, vi, mask, **kw)
    monkeypatch.setattr(batch_module, "pool_arrays", spy)
    monkeypatch.setattr(batch_module, "MAX_CELLS", 120)  # with chunk_size: the memory guard
    split = run(table, method_tau2="PM", chunk_size=1000)
    assert all(a * k <= 120 or a == 1 for a, k in calls) and len(calls) > 1
    pd.testing.assert_frame_equal(expected, split, rtol=1e-12, atol=1e-12)
    calls.clear()
    monkeypatch.setattr(batch_module, "CHUNK_CELLS", 100)  # without: the default chunk budget
    split = run(table, method_tau2="PM")
    assert all(a * k <= 100 or a == 1 for a, k in calls) and len(calls) > 1
    pd.testing.assert_frame_equal(expected, split, rtol=1e-12, atol=1e-12)


def test_one_kernel_call_per_chunk(monkeypatch):
    table = random_table("proportion", n_analyses=50, seed=9)
    calls = []
    real = batch_module.pool_arrays

    def spy(yi, vi, mask, **kw):
        calls.append(np.shape(yi))
        return real(yi, vi, mask, **kw)
    monkeypatch.setattr(batch_module, "pool_arrays", spy)
    run(table, chunk_size=20)
    assert [a for a, _ in calls] == [20, 20, 10]


def test_ragged_k_one_and_two():
    table = random_table("generic", seed=6, ks=[1, 2, 1, 2, 5])
    res = run(table, method_tau2="REML", random_ci="hk")
    assert res.set_index("analysis")["k"].sort_index().tolist() == [1, 2, 1, 2, 5]
    one = res[res["k"] == 1]
    assert (one["tau2"] == 0).all() and (one["q"] == 0).all() and (one["i2"] == 0).all()
    assert one["prediction_low"].isna().all()  # t with k - 2 df needs three studies
    assert_same_as_single(res, table, None, {"method_tau2": "REML", "random_ci": "hk"})


def test_warnings_are_summarised_once():
    table = random_table("generic", seed=6, ks=[1, 2, 1, 3])
    with pytest.warns(UserWarning, match=r"2 analysis\(es\) with one study \('A00[02]', 'A00[02]'\)"):
        batch(table)


def test_without_tau2_ci_only_those_columns_change():
    table = random_table("proportion", n_analyses=20, seed=8)
    full = run(table, method_tau2="REML")
    fast = run(table, method_tau2="REML", tau2_ci=False)
    assert fast["tau2_ci_low"].isna().all() and fast["tau2_ci_high"].isna().all()
    same = [c for c in full.columns if c not in ("tau2_ci_low", "tau2_ci_high")]
    pd.testing.assert_frame_equal(full[same], fast[same])


def test_columns_follow_the_contract():
    table = random_table("proportion", n_analyses=3, seed=1)
    res = run(table)
    assert list(res.columns[1:len(POOLED_COLUMNS) + 1]) == list(POOLED_COLUMNS)
    assert res["k"].dtype == np.int64 and res["tau2_converged"].dtype == bool
    untransformed = run(random_table("cont2", n_analyses=3, seed=1), "MD")
    assert not any(c.startswith("bt_") for c in untransformed.columns)


def test_column_roles_can_be_mapped():
    table = random_table("proportion", n_analyses=6, seed=12)
    renamed = table.rename(columns={"events": "responders", "n": "total", "analysis": "outcome"})
    res = run(renamed, by="outcome", columns={"events": "responders", "n": "total"})
    base = run(table)
    assert res["outcome"].tolist() == base["analysis"].tolist()
    pd.testing.assert_frame_equal(res.drop(columns="outcome"), base.drop(columns="analysis"))


def test_integer_ids_keep_their_type():
    table = random_table("generic", n_analyses=5, seed=1)
    table["analysis"] = table["analysis"].str[1:].astype(int)
    res = run(table)
    assert res["analysis"].dtype == table["analysis"].dtype


def test_empty_table_gives_the_columns():
    table = random_table("proportion", n_analyses=4, seed=1).iloc[:0]
    res = run(table)
    assert len(res) == 0 and "bt_random_estimate" in res.columns


def test_docstring_example():
    import doctest

    assert doctest.testmod(batch_module).failed == 0


@pytest.mark.parametrize("method", ["REML", "ML", "HE", "SJ"])
def test_zero_sampling_variances_as_in_one_analysis(method):
    """A study with vi = 0 is legal with the estimators metafor allows it for: the random-effects
    results are the single analysis', the common-effect model, Q, I², H and the tau² interval are
    empty, with a warning naming the analyses."""
    table = pd.DataFrame({"analysis": ["a"] * 4 + ["b"] * 3, "study": list("ABCDABC"),
                          "yi": [0.1, 0.9, -0.5, 0.4, 0.1, 0.5, 0.3], "vi": [0.04, 0.0, 0.02, 0.03, 0.04, 0.05, 0.02]})
    with pytest.warns(mr.MetaReviewWarning, match=r"1 analysis\(es\) with a sampling variance 0 \('a'\)"):
        result = batch(table, method_tau2=method)
    assert_same_as_single(result, table, None, {"method_tau2": method})
    a = result.set_index("analysis").loc["a"]
    assert np.isnan(a["common_estimate"]) and np.isnan(a["q"]) and a["tau2"] > 0

