"""Single incidence rates (R meta's metarate) through the core, against metafor 3.8-1.

Inverse-variance fits: tests/fixtures/core/hart1999.json (tests/r/make_reference_core.R),
compared in test_reference_metafor.py for all estimators; here the API path.  GLMM:
tests/fixtures/glmm/glmm_irln.json (tests/r/make_reference_glmm.R), rma.glmm(measure =
"IRLN", nAGQ = 7) with tightened optimiser control, at 1e-5 relative (lme4's own accuracy).
"""

import json
from pathlib import Path

import numpy as np
import pytest

import metareview as mr

FIX = Path(__file__).resolve().parents[1] / "fixtures"


def test_metarate_matches_rma_for_each_measure():
    doc = json.loads((FIX / "core" / "hart1999.json").read_text())
    for case in doc["cases"]:
        if case["method"] != "REML" or case["test"] != "z":
            continue
        inp = case["input"]
        r = mr.metarate(inp["events"], inp["time"], inp["study"], measure=case["measure"], method_tau2="REML")
        assert r.pooled["random_estimate"] == pytest.approx(case["fit"]["estimate"], rel=1e-6)
        assert r.pooled["tau2"] == pytest.approx(case["fit"]["tau2"], rel=1e-6)
        np.testing.assert_allclose(r.yi, case["escalc"]["yi"], rtol=1e-10)


def test_metarate_glmm_poisson_normal():
    d = json.loads((FIX / "glmm" / "glmm_irln.json").read_text())["datasets"]["hart1999"]
    r = mr.metarate(d["x"], d["t"], method="GLMM")
    tight = d["fits"]["ML_nAGQ7_tight"]
    assert r.pooled["random_estimate"] == pytest.approx(tight["beta"], rel=1e-5)
    assert r.pooled["random_se"] == pytest.approx(tight["se"], rel=1e-5)
    assert r.pooled["tau2"] == pytest.approx(tight["tau2"], rel=5e-5)
    assert r.pooled["common_estimate"] == pytest.approx(d["fits"]["CE"]["beta"], rel=1e-8)
    bt = r.to_dict()["backtransformed"]["random"]["estimate"]
    assert bt == pytest.approx(np.exp(tight["beta"]), rel=1e-5)


def test_rate_design_from_columns_and_zero_events():
    r = mr.metaanalysis({"study": ["A", "B", "C"], "events": [0, 4, 9], "time": [120.0, 300.0, 410.0]})
    assert r.measure.code == "IRLN" and r.incr[0] == 0.5 and r.incr[1] == 0
    assert "Rate" in str(r) and "Person-time: 830" in str(r)
    with pytest.raises(mr.DataError, match="study 'B', column 'time'"):
        mr.metarate([1, 2], [10.0, -1.0], ["A", "B"])


def test_scalar_correlation_applies_to_every_study():
    args = ([10, 12], [5, 6], [1, 1.2], [4, 4.4], [1.1, 1], ["A", "B"])
    one = mr.metaprepost(*args, r=0.5, measure="MC")
    each = mr.metaprepost(*args, r=[0.5, 0.5], measure="MC")
    np.testing.assert_allclose(one.yi, each.yi)
    np.testing.assert_allclose(one.vi, each.vi)
