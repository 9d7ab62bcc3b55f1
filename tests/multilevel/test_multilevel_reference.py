"""Multilevel / multivariate models against metafor 3.8-1's ``rma.mv`` and clubSandwich 0.5.8.

Fixtures: tests/fixtures/multilevel/*.json, made by tests/r/make_reference_multilevel.R; each
records the R call that made its numbers (``call``), repeated in the test's docstring.  The
variance components are iterative estimates: 1e-6 relative (as every REML/ML value of the
project); QE is closed-form given the data: 1e-10.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import metareview as mr
from metareview.analyses.multilevel import vcalc

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "multilevel"
TOL = 1e-6


def load(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def close(actual, expected, rtol=TOL, atol=1e-12):
    np.testing.assert_allclose(np.asarray(actual, float), np.asarray(expected, float), rtol=rtol, atol=atol)


def check_fit(res, R):
    f = res.fit
    assert list(f.names) == list(np.atleast_1d(R["coef_names"]))
    close(f.beta, R["beta"])
    close(f.se, R["se"])
    close(f.statistic, R["zval"])
    close(f.p, R["pval"])
    close(f.ci_low, R["ci_lb"])
    close(f.ci_high, R["ci_ub"])
    close(f.vb, np.asarray(R["vb"], float).reshape(f.vb.shape))
    close(f.sigma2, R["sigma2"])
    assert list(f.nlevels) == list(R["s_nlevels"])
    assert list(f.components) == list(R["s_names"])
    close(f.qe, R["QE"], rtol=1e-10)
    assert f.qe_df == R["QEdf"]
    close(f.qe_p, R["QEp"])
    close(f.qm, R["QM"])
    close(f.qm_p, R["QMp"])
    for ours, theirs in (("loglik", "logLik"), ("deviance", "deviance"), ("aic", "AIC"), ("bic", "BIC"),
                         ("aicc", "AICc")):
        close(getattr(f, ours), R[theirs], rtol=1e-8)
    ddf = [x for x in np.atleast_1d(R.get("ddf")) if x is not None]
    assert f.ddf == (ddf[0] if ddf else None)
    if R.get("pi"):
        close(res.prediction, R["pi"])


def check_robust(res, R):
    rb = res.robust
    close(rb.se, R["se"])
    close(rb.df, R["df"])
    close(rb.statistic, R["tval"])
    close(rb.p, R["pval"])
    close(rb.ci_low, R["ci_lb"])
    close(rb.ci_high, R["ci_ub"])
    close(rb.vb, np.asarray(R["vb"], float).reshape(rb.vb.shape))
    # the omnibus test: clubSandwich's HTZ Wald test for several coefficients, t² for one (metafor's QM)
    close(rb.qm, R["QM"])
    assert rb.qm_df[0] == R["QMdf"][0] and rb.qm_test == ("t" if R["QMdf"][0] == 1 else "HTZ")
    close(rb.qm_df[1], R["QMdf"][1])
    close(rb.qm_p, R["QMp"])


@pytest.mark.parametrize("method", ["reml", "ml"])
def test_three_level_konstantopoulos(method):
    """rma.mv(yi, vi, random = ~ 1 | district/school, data = dat.konstantopoulos2011, method = 'REML' | 'ML');
    robust(res, cluster = district, clubSandwich = TRUE);
    anova(res, update(res, sigma2 = c(0, NA))) and anova(res, update(res, sigma2 = c(NA, 0)))"""
    d = load(f"konstantopoulos_{method}")
    res = mr.metamv("yi", "vi", data=d["data"], random="~ 1 | district/school", method=method.upper(),
                    robust=True)
    check_fit(res, d["fit"])
    check_robust(res, d["robust"])
    assert res.robust.n_clusters == 11 and res.robust.cluster == "district"
    for ours, theirs in zip(res.lrt, d["lrt"]):
        close(ours["lrt"], theirs["LRT"])
        close(ours["p"], theirs["pval"])
        close(ours["loglik_reduced"], theirs["ll_reduced"], rtol=1e-8)
        assert ours["df"] == 1


@pytest.mark.parametrize("test", ["z", "t"])
def test_three_level_with_moderator(test):
    """rma.mv(yi, vi, mods = ~ year, random = ~ 1 | district/school, data = dat.konstantopoulos2011[, test = 't']);
    robust(res, cluster = district, clubSandwich = TRUE)"""
    d = load("konstantopoulos_year" + ("_t" if test == "t" else ""))
    res = mr.metamv("yi", "vi", data=d["data"], random="~ 1 | district/school", mods="~ year", test=test,
                    robust=test == "z")
    check_fit(res, d["fit"])
    if test == "z":
        check_robust(res, d["robust"])
    else:
        assert res.fit.qm_df == (1, 54)
    assert res.prediction is None


def test_several_effect_sizes_per_study():
    """rma.mv(yi, vi, random = ~ 1 | study/esid, data = dat.assink2016);
    robust(res, cluster = study, clubSandwich = TRUE)"""
    d = load("assink_reml")
    res = mr.metamv("yi", "vi", data=d["data"], random="~ 1 | study/esid", robust=True)
    check_fit(res, d["fit"])
    check_robust(res, d["robust"])


def test_constant_within_study_correlation_and_factor_moderator():
    """V <- vcalc(vi, cluster = study, obs = esid, data = dat.assink2016, rho = 0.6);
    rma.mv(yi, V, mods = ~ deltype, random = ~ 1 | study/esid, data = dat.assink2016);
    robust(res, cluster = study, clubSandwich = TRUE)"""
    d = load("assink_vcalc_deltype")
    res = mr.metamv("yi", "vi", data=d["data"], random="~ 1 | study/esid", rho=d["rho"], mods="~ deltype",
                    robust=True)
    check_fit(res, d["fit"])
    check_robust(res, d["robust"])
    # the same V given as a matrix
    V = vcalc(d["data"]["vi"], d["data"]["study"], 0.6)
    res2 = mr.metamv("yi", V=V, data=d["data"], random="~ 1 | study/esid", mods="~ deltype")
    close(res2.fit.beta, d["fit"]["beta"])


def test_htz_wald_test_of_three_coefficients():
    """V <- vcalc(vi, cluster = study, obs = esid, data = dat.assink2016, rho = 0.6);
    rma.mv(yi, V, mods = ~ deltype + year, random = ~ 1 | study/esid, data = dat.assink2016);
    robust(res, cluster = study, clubSandwich = TRUE)  (QM: clubSandwich's Wald_test, test = "HTZ")"""
    d = load("assink_vcalc_deltype_year")
    res = mr.metamv("yi", "vi", data=d["data"], random="~ 1 | study/esid", rho=d["rho"],
                    mods="~ deltype + year", robust=True)
    check_fit(res, d["fit"])
    check_robust(res, d["robust"])
    assert res.robust.qm_df[0] == 3


def test_constant_correlation_ml():
    """V <- vcalc(vi, cluster = study, obs = esid, data = dat.assink2016, rho = 0.6);
    rma.mv(yi, V, random = ~ 1 | study/esid, data = dat.assink2016, method = 'ML')"""
    d = load("assink_vcalc_ml")
    res = mr.metamv("yi", "vi", data=d["data"], random="~ 1 | study/esid", rho=d["rho"], method="ML")
    check_fit(res, d["fit"])


def test_multivariate_known_covariances():
    """V <- bldiag(lapply(split(dat.berkey1998[, c('v1i', 'v2i')], dat.berkey1998$trial), as.matrix));
    rma.mv(yi, V, mods = ~ outcome - 1, random = ~ 1 | trial/outcome, data = dat.berkey1998);
    robust(res, cluster = trial, clubSandwich = TRUE)"""
    d = load("berkey_known_v")
    res = mr.metamv("yi", V=np.asarray(d["V"], float), data=d["data"], random="~ 1 | trial/outcome",
                    mods="~ outcome - 1", robust=True)
    check_fit(res, d["fit"])
    check_robust(res, d["robust"])
    assert res.fit.btt == (0, 1)   # no intercept: QM tests both coefficients, as metafor


def test_vcalc_matches_metafor_layout():
    """vcalc(vi, cluster, obs, rho): rho * sqrt(vi vj) within a cluster, 0 across clusters."""
    V = vcalc([1.0, 4.0, 9.0], ["a", "a", "b"], 0.5)
    np.testing.assert_allclose(V, [[1.0, 1.0, 0.0], [1.0, 4.0, 0.0], [0.0, 0.0, 9.0]])


def test_fixed_component_reproduces_reduced_model():
    """rma.mv(..., sigma2 = c(0, NA)): its log-likelihood is the fixture's reduced model."""
    d = load("konstantopoulos_reml")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = mr.metamv("yi", "vi", data=d["data"], random="~ 1 | district/school", sigma2=[0.0, None])
    assert res.fit.sigma2[0] == 0.0 and res.fit.parms == 2
    close(res.fit.loglik, d["lrt"][0]["ll_reduced"], rtol=1e-8)


def test_crossed_random_effects():
    """rma.mv(yi, vi, random = list(~ 1 | study, ~ 1 | deltype), data = dat.assink2016)"""
    d = load("assink_crossed")
    res = mr.metamv("yi", "vi", data=d["data"], random=["~ 1 | study", "~ 1 | deltype"])
    check_fit(res, d["fit"])


def test_block_and_dense_likelihoods_agree():
    """The block-diagonal computation (clusters apart) gives the dense computation's numbers."""
    from metareview.analyses import multilevel as ml

    d = load("assink_vcalc_deltype")
    data = d["data"]
    V = vcalc(data["vi"], data["study"], 0.6)
    levels = [(n, *ml._level_index([np.asarray(data[c], dtype=object) for c in cols]))
              for n, cols in ml.parse_random("~ 1 | study/esid")]
    lv = [(idx, n) for _, idx, n in levels]
    X = np.column_stack([np.ones(100), [x == "general" for x in data["deltype"]],
                         [x == "overt" for x in data["deltype"]]]).astype(float)
    y = np.asarray(data["yi"], float)
    blocks = ml._blocks(V, lv)
    assert len(blocks) == 17
    dense, block = ml._Model(y, V, X, lv), ml._BlockModel(y, V, X, lv, blocks)
    s2 = np.array([0.08, 0.12])
    a, b = dense.at(s2), block.at(s2)
    for key in ("ll_ml", "ll_reml", "beta", "vb", "r", "Wr"):
        np.testing.assert_allclose(b[key], a[key], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(block.marginal(s2), a["M"], rtol=1e-14)
    for reml in (True, False):
        for observed in (True, False):
            sa, ia = dense.score_info(a, reml, observed)
            sb, ib = block.score_info(b, reml, observed)
            np.testing.assert_allclose(sb, sa, rtol=1e-9, atol=1e-10)
            np.testing.assert_allclose(ib, ia, rtol=1e-9, atol=1e-10)


def test_components_with_the_same_levels_warn_and_share_their_sum():
    """rma.mv(yi, vi, random = ~ 1 | s/e, data = dd) with one estimate per s: only the sum of the
    two variances is identified; it, the coefficient and the likelihood agree with rma.mv."""
    d = load("one_per_cluster")
    with pytest.warns(mr.MetaReviewWarning, match="cannot be told apart"):
        res = mr.metamv("yi", "vi", data=d["data"], random="~ 1 | s/e")
    R = d["fit"]
    close(np.sum(res.fit.sigma2), np.sum(R["sigma2"]))
    close(res.fit.beta, R["beta"])
    close(res.fit.se, R["se"])
    close(res.fit.loglik, R["logLik"], rtol=1e-8)
