"""Studies with sampling variance 0, as metafor 3.8-1 allows them: the seed treatment-response
data as raw proportions without continuity correction (three studies with x = n, vi = 0), from
tests/r/make_reference_core.R (cases seed_tr_PR_<method>_z_to-none; R calls in ``r_call``)."""

import json
from pathlib import Path

import numpy as np
import pytest

import metareview as mr

from ._reference import close

CORE = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "core" / "seed_tr.json").read_text())
CASES = {c["method"]: c for c in CORE["cases"]
         if c["measure"] == "PR" and c.get("variant") == "to-none" and c["test"] == "z"}


@pytest.mark.parametrize("method", ["REML", "ML", "SJ", "HE", "EB"])
def test_estimators_that_allow_zero_variances_match_metafor(method):
    c = CASES[method]
    f = c["fit"]
    with pytest.warns(mr.MetaReviewWarning, match="sampling variance 0 in Chan M, Turkevich, Gianfelice"):
        r = mr.metagen(c["escalc"]["yi"], vi=c["escalc"]["vi"], studlab=c["input"]["study"], method_tau2=method,
                       prediction="z")
    p = r.pooled
    tol = 1e-8 if method in ("SJ", "HE") else 1e-6
    close(p["tau2"], f["tau2"], tol)
    close(p["random_estimate"], f["estimate"], tol)
    close(p["random_se"], f["se"], tol)
    close(p["random_ci_low"], f["ci_low"], tol)
    close(p["prediction_high"], f["pred_high"], tol)
    close(p["se_tau2"], f["se_tau2"], tol)
    close(r.pooled["weight_random"][np.isfinite(r.pooled["weight_random"])], f["weights"], tol)
    # what 1/v_i defines is not reported (metafor: NA)
    doc = r.to_dict()
    assert doc["common"]["estimate"] is None and doc["heterogeneity"]["q"] is None
    assert doc["heterogeneity"]["tau2_ci_low"] is None and doc["heterogeneity"]["i2"] is None
    assert any("sampling variance 0" in n for n in doc["notes"])
    assert "Random effects model" in str(r)


@pytest.mark.parametrize("method", ["DL", "PM", "HS"])
def test_estimators_that_divide_by_the_variances_refuse_them(method):
    c = CASES[method]
    assert "non-positive sampling variances" in c["error"]
    with pytest.raises(mr.DataError) as err:
        mr.metagen(c["escalc"]["yi"], vi=c["escalc"]["vi"], studlab=c["input"]["study"], method_tau2=method)
    assert err.value.study == "Chan M" and err.value.column == "vi" and err.value.rule == "vi > 0"


def test_zero_variance_with_tau2_zero_is_an_error_as_in_metafor():
    """rma(c(.1, .2, .5), c(0, .1, .2), method = "REML"): division by zero in the weights."""
    with pytest.warns(mr.MetaReviewWarning), pytest.raises(mr.DataError, match="tau² estimated as 0"):
        mr.metagen([0.1, 0.2, 0.5], vi=[0, 0.1, 0.2], method_tau2="REML")


def test_negative_variances_are_still_an_error():
    with pytest.raises(mr.DataError) as err:
        mr.metagen([0.1, 0.2, 0.5], vi=[0.1, -0.1, 0.2], studlab=["A", "B", "C"], method_tau2="REML")
    assert err.value.study == "B" and err.value.rule == "vi >= 0"


def test_forest_plot_draws_the_random_effects_model_only(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    c = CASES["REML"]
    with pytest.warns(mr.MetaReviewWarning):
        r = mr.metagen(c["escalc"]["yi"], vi=c["escalc"]["vi"], studlab=c["input"]["study"], method_tau2="REML")
    disp = r.forest()
    texts = [t.get_text() for t in disp.figure_.findobj(matplotlib.text.Text)]
    assert "Random effects model" in texts and "Common effect model" not in texts
    assert any("not defined: a sampling variance is 0" in t for t in texts)
    assert not any("nan" in t for t in texts)
