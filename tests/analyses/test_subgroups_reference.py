"""Subgroup analyses against separate metafor 3.8-1 fits per subgroup and R meta's test for subgroup differences.

R (fixture ``r_call``): per level ``rma(yi, vi, method = "FE")`` and ``rma(yi, vi, method)`` (with
``tau2 = rma(yi, vi, mods = ~ factor(g), method)$tau2`` for a common tau², meta's ``tau.common``);
Q between as R meta's subgroup.R: ``rma(est, sei = se, method = "FE")$QE`` over the subgroups, on
(number of subgroups - 1) df, for the common and the random effects estimates.
Tolerance 1e-8 for DL (closed form), 1e-6 for REML and PM (iterative).
"""

import json
import warnings

import numpy as np
import pytest

from metareview.analyses.subgroups import subgroup
from metareview.base.exceptions import DataError, MetaReviewWarning, SmallSampleWarning

from ._reference import cases, close, result, tol

SG = cases("subgroups")


def _with_size(r, case):
    if case["by"] == "size":
        from dataclasses import replace
        n = np.array(r.covariates["n"], float)
        return replace(r, covariates={**r.covariates, "size": np.where(n >= 20, "large", "small").astype(object)})
    return r


@pytest.mark.parametrize("case", SG, ids=[c["case"] for c in SG])
def test_subgroups_match_r(case):
    r = _with_size(result(case["dataset"], case["method"]), case)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallSampleWarning)
        sg = subgroup(r, case["by"], tau_common=case["tau_common"])
    t = tol(case["method"])
    assert sg.levels == case["levels"]
    if case["tau_common"]:
        close(sg.tau2_common, case["tau2_common"], t, "common tau2")
    for g in case["groups"]:
        res = sg.groups[g["level"]]
        p = res.pooled
        assert res.k == g["k"]
        for key in ("estimate", "se", "ci_low", "ci_high"):
            close(p[f"common_{key}"], g["common"][key], 1e-8, f"{g['level']} common {key}")
            close(p[f"random_{key}"], g["random"][key], t, f"{g['level']} random {key}")
        close(p["random_p"], g["random"]["p"], t, "random p")
        close(p["tau2"], g["tau2"], t, "tau2")
        close(p["q"], g["q"], 1e-8, "Q")
    for model in ("common", "random"):
        close(sg.test[model]["q"], case["test"][model]["q"], t, f"Q between ({model})")
        close(sg.test[model]["p"], case["test"][model]["p"], t, f"p between ({model})")
        assert sg.test[model]["df"] == case["test"][model]["df"]


def test_subgroup_json_and_printout():
    r = result("bcg_rr", "REML")
    sg = subgroup(r, "alloc")
    doc = json.loads(json.dumps(sg.to_dict()))
    assert doc["variable"] == "alloc" and [g["level"] for g in doc["groups"]] == ["random", "alternate", "systematic"]
    assert set(doc["test"]) == {"common", "random"} and set(doc["test"]["random"]) == {"q", "df", "p"}
    for g in doc["groups"]:
        assert {"common", "random", "heterogeneity", "prediction", "studies"} <= set(g)
    text = str(sg)
    assert "Test for subgroup differences" in text and "alloc = systematic" in text
    assert "<table" in sg._repr_html_()


def test_subgroup_result_refits_with_update():
    r = result("bcg_rr", "DL")
    sg = subgroup(r, "alloc")
    g = sg.groups["random"]
    again = g.update(method_tau2="DL")
    close(again.pooled["random_estimate"], g.pooled["random_estimate"], 1e-12)
    assert list(again.studlab) == list(g.studlab)


def test_bad_subgroup_input():
    r = result("bcg_rr", "DL")
    from dataclasses import replace
    vals = np.array(r.covariates["alloc"], dtype=object)
    vals[2] = None
    with pytest.warns(MetaReviewWarning, match="no value in column 'alloc' for Rosenthal"):
        sg = subgroup(replace(r, covariates={**r.covariates, "alloc": vals}), "alloc")
    assert "(missing)" in sg.levels and sg.groups["(missing)"].k == 1
    with pytest.raises(DataError, match="not in the data"):
        subgroup(r, "design")
    one = np.array(["a"] * 12 + ["b"], dtype=object)
    with pytest.warns(SmallSampleWarning, match="b has one study"):
        sg = subgroup(r, one)
    assert sg.groups["b"].k == 1
