"""Fit statistics, the standard error of tau², profile-likelihood and Wald intervals for tau²,
and BLUPs against metafor 3.8-1 (tests/r/make_reference_toolkit.R; R calls in ``r_call``):
``fitstats(fit)``, ``fit$se.tau2``, ``confint(fit, type = "PL")``, ``confint(fit, type = "Wald")``,
``blup(fit)`` and ``ranef(fit)`` for ML and REML fits.  Closed forms at the fitted tau²:
1e-8 relative (the fit itself is iterative, so values that depend on tau² get 1e-6);
the profile-likelihood bounds (a root search): 1e-6."""

import json
from pathlib import Path

import numpy as np
import pytest

import metareview as mr
from metareview.pooling.tau2 import se_tau2

from ._reference import arr, cases, close

CASES = cases("statistics")


def _fit(case, **kw):
    i = case["input"]
    return mr.metagen(i["yi"], vi=i["vi"], method_tau2=case["method"],
                      random_ci="hk" if case["test"] == "knha" else "wald", **kw)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["case"])
def test_fitstats(case):
    """fitstats(fit): logLik, deviance, AIC, BIC, AICc."""
    res = _fit(case)
    fs = res.fitstats()
    ref = case["fitstats"]
    assert fs.method == case["method"]
    for key in ("loglik", "deviance", "aic", "bic", "aicc"):
        close(getattr(fs, key), ref[key], 1e-6, atol=1e-9)
    assert res.fitstats().to_dict()["loglik"] == fs.loglik


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["case"])
def test_se_tau2_and_intervals(case):
    """fit$se.tau2, confint(fit, type = "PL") and confint(fit, type = "Wald")."""
    res = _fit(case)
    close(res.pooled["se_tau2"], case["fit"]["se_tau2"], 1e-6)
    close(res.to_dict()["heterogeneity"]["se_tau2"], case["fit"]["se_tau2"], 1e-6)
    pl = res.tau2_ci("PL")
    close(pl.low, case["pl"]["tau2_ci_low"], 1e-6, atol=1e-10)
    close(pl.high, case["pl"]["tau2_ci_high"], 1e-6, atol=1e-10)
    wald = res.tau2_ci("wald")
    close(wald.low, case["wald"]["tau2_ci_low"], 1e-6, atol=1e-10)
    close(wald.high, case["wald"]["tau2_ci_high"], 1e-6, atol=1e-10)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["case"])
def test_blup_and_ranef(case):
    """blup(fit) and ranef(fit): predictions, standard errors, prediction intervals."""
    res = _fit(case)
    for kind, got in (("blup", res.blup()), ("ranef", res.ranef())):
        ref = case[kind]
        close(got.pred, ref["pred"], 1e-6, atol=1e-10)
        close(got.se, ref["se"], 1e-6, atol=1e-10)
        close(got.pi_low, ref["pi_low"], 1e-6, atol=1e-10)
        close(got.pi_high, ref["pi_high"], 1e-6, atol=1e-10)


def test_se_tau2_of_every_core_estimator():
    """fit$se.tau2 of the core fixtures (tests/r/make_reference_core.R): DL, PM, REML, ML, HS, SJ,
    HE and EB on every dataset, at 1e-8 relative given metafor's tau²."""
    checked = set()
    for path in sorted((Path(__file__).resolve().parents[1] / "fixtures" / "core").glob("*.json")):
        for c in json.loads(path.read_text())["cases"]:
            f = c.get("fit")
            if not f or c.get("error") or c["method"] == "FE" or c["test"] != "z" or f["se_tau2"] is None:
                continue
            y, v = arr(c["escalc"]["yi"]), arr(c["escalc"]["vi"])
            keep = np.isfinite(y) & np.isfinite(v)
            got = se_tau2(y[keep][None], v[keep][None], np.ones((1, keep.sum())), np.array([f["tau2"]]), c["method"])
            close(got[0], f["se_tau2"], 1e-8)
            checked.add(c["method"])
    assert checked == {"DL", "PM", "REML", "ML", "HS", "SJ", "HE", "EB"}


@pytest.mark.parametrize("case", cases("estimators"), ids=lambda c: c["case"])
def test_se_tau2_of_the_new_estimators(case):
    i = case["input"]
    got = se_tau2(arr(i["yi"])[None], arr(i["vi"])[None], np.ones((1, len(i["yi"]))), np.array([case["fit"]["tau2"]]),
                  case["method"], weights=arr(i["n"])[None])
    close(got[0], case["fit"]["se_tau2"], 1e-8)


def test_profile_likelihood_needs_a_likelihood_fit():
    res = mr.metagen([0.1, 0.5, 0.9], vi=[0.02, 0.03, 0.04])
    with pytest.raises(mr.SettingsError, match="needs a maximum-likelihood fit"):
        res.tau2_ci("PL")
    with pytest.raises(mr.SettingsError, match="valid types are: QP, PL, Wald"):
        res.tau2_ci("HT")
    qp = res.tau2_ci("QP")
    assert (qp.low, qp.high) == (res.pooled["tau2_ci_low"], res.pooled["tau2_ci_high"])


def test_profile_bound_at_zero_when_the_likelihood_at_zero_is_inside():
    case = next(c for c in CASES if c["case"] == "homogeneous_REML")
    pl = _fit(case).tau2_ci("PL")
    assert pl.low == 0.0 and case["pl"]["tau2_ci_low"] == 0.0
    assert "profile-likelihood confidence interval for τ²" in str(pl)


def test_blup_of_a_ratio_measure_is_back_transformed_and_excluded_studies_get_none():
    r = mr.metabin([4, 6, 3, 62], [123, 306, 231, 13598], [11, 29, 11, 248], [139, 303, 220, 12867],
                   ["A", "B", "C", "D"], method_tau2="REML", exclude=["C"])
    b = r.blup()
    doc = b.to_dict()
    assert doc["rows"][2]["pred"] is None
    close(doc["rows"][0]["backtransformed"]["estimate"], np.exp(b.pred[0]), 1e-14)
    assert "Best linear unbiased predictions" in str(b)
