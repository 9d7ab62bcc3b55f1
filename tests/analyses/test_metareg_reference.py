"""Meta-regression against metafor 3.8-1 ``rma(yi, vi, mods = ..., method, test)`` on dat.bcg.

R call per case (in the fixture's ``r_call``), e.g.
``rma(yi, vi, mods = ~ ablat + factor(alloc), data = dat, method = "REML", test = "knha",
control = list(threshold = 1e-12, maxiter = 10000, tol = 1e-12, tau2.max = 1e6))``.
Tolerance 1e-8 for DL, HE, HS, SJ (closed form), 1e-6 for PM, ML, REML, EB (iterative).
"""


import numpy as np
import pytest

from metareview.analyses.metareg import metareg
from metareview.base.exceptions import DataError, MetaReviewWarning

from ._reference import cases, close, result, tol

CASES = cases("metareg")


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_metareg_matches_metafor(case):
    r = result(case["dataset"])
    m = metareg(r, case["formula"], method_tau2=case["method"], test=case["test"])
    t = tol(case["method"])
    f = m.fit
    co = case["coefficients"]
    assert list(f.names) == co["names"]
    for key in ("estimate", "se", "statistic", "p", "ci_low", "ci_high"):
        attr = {"estimate": "beta"}.get(key, key)
        close(getattr(f, attr), co[key], t, key)
    close(f.tau2, case["tau2"], t, "tau2")
    close(f.qm, case["qm"], t, "QM")
    close(f.qm_p, case["qm_p"], t, "QM p")
    close(f.qe, case["qe"], t, "QE")
    close(f.qe_p, case["qe_p"], t, "QE p")
    close(f.i2, case["i2"], t, "I2")
    close(f.h2, case["h2"], t, "H2")
    close(m.r2, case["r2"], t, "R2")
    assert list(f.qm_df) == case["qm_df"]
    if "predict" in case:
        pr = m.predict(case["predict"]["newmods"])
        for key in ("pred", "se", "ci_low", "ci_high", "pi_low", "pi_high"):
            close(pr[key].to_numpy(), case["predict"][key], t, f"predict {key}")


def test_metareg_json_block():
    r = result("bcg_rr")
    d = metareg(r, "~ ablat + factor(alloc)").to_dict()
    assert [c["name"] for c in d["coefficients"]] == ["intrcpt", "ablat", "factor(alloc)random",
                                                        "factor(alloc)systematic"]
    assert d["method_tau2"] == "REML" and d["qm"]["df"] == 3 and d["qe"]["df"] == 9


def test_missing_moderator_drops_studies_visibly():
    r = result("bcg_rr")
    cov = dict(r.covariates)
    ablat = np.array(cov["ablat"], dtype=object)
    ablat[[0, 4]] = None
    from dataclasses import replace
    r2 = replace(r, covariates={**cov, "ablat": ablat})
    with pytest.warns(MetaReviewWarning, match="'ablat'.*Aronson 1948.*Comstock et al 1974|2 studies"):
        m = metareg(r2, "~ ablat")
    assert m.fit.k == 11 and set(m.dropped) == {str(r.studlab[0]), str(r.studlab[4])}


def test_collinear_and_too_many_coefficients_are_errors():
    r = result("bcg_rr")
    from dataclasses import replace
    cov = dict(r.covariates)
    r2 = replace(r, covariates={**cov, "ablat2": 2 * np.array(cov["ablat"], float)})
    with pytest.raises(DataError, match="ablat2.*collinear"):
        metareg(r2, "~ ablat + ablat2")
    small = replace(r, covariates={**cov, "id": [str(i) for i in range(13)]})
    with pytest.raises(DataError, match="coefficients"):
        metareg(small, "~ factor(id)")


def test_mixed_numeric_text_column_is_an_error():
    r = result("bcg_rr")
    from dataclasses import replace
    vals = np.array(r.covariates["ablat"], dtype=object)
    vals[3] = "n/a?"
    r2 = replace(r, covariates={**r.covariates, "ablat": vals})
    with pytest.raises(DataError, match="non-numeric"):
        metareg(r2, "~ ablat")


@pytest.mark.parametrize("formula", ["~ 1", "1"])
def test_intercept_only_model_is_the_random_effects_model(formula):
    """``rma(yi, vi, mods = ~ 1)`` is ``rma(yi, vi)``: the pooled estimate, total heterogeneity, the Q test,
    and no test of moderators in the printout (metafor omits the QM of a single coefficient)."""
    r = result("bcg_rr", method="REML")
    m = metareg(r, formula, method_tau2="REML")
    assert m.intercept_only and list(m.names) == ["intrcpt"] and m.r2 is None
    close(m.fit.beta[0], r.random.estimate, 1e-6, "estimate")
    close(m.fit.se[0], r.random.se, 1e-6, "se")
    close(m.fit.tau2, r.heterogeneity.tau2, 1e-6, "tau2")
    close(m.fit.qe, r.heterogeneity.q, 1e-8, "Q")
    text = str(m)
    assert "Random-effects model" in text and "Test for heterogeneity: Q = 152.23, df = 12" in text
    assert "Test of moderators" not in text and "(residual)" not in text
    assert len(m.predict({})) == 1
    no_intercept = str(metareg(r, "~ 0 + ablat"))
    assert "Mixed-effects model" in no_intercept and "Test of moderators" not in no_intercept
    assert "Test of moderators: QM = " in str(metareg(r, "~ ablat"))


def test_fixed_effects_meta_regression_prints_as_metafor():
    """metafor: "Fixed-Effects with Moderators Model", no tau² line, R² from the weighted lm."""
    r = result("bcg_rr")
    text = str(metareg(r, "~ ablat", method_tau2="FE"))
    assert "Fixed-effects model with moderators (k = 13; Wald z tests)" in text
    assert "τ²" not in text and "Mixed-effects" not in text
    assert "R^2 (amount of heterogeneity accounted for) = 77.98%" in text
    assert "Fixed-effects model (k = 13; Wald z tests)" in str(metareg(r, "~ 1", method_tau2="FE"))
