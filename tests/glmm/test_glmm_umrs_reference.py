"""UM.RS (unconditional logistic model with random study effects) against metafor 3.8-1's
``rma.glmm(measure = "OR", ai, n1i, ci, n2i, model = "UM.RS")`` and lme4's Laplace deviance.

Fixture: tests/fixtures/glmm/or_umrs.json, made by tests/r/make_reference_glmm_or.R (``Rscript
tests/r/make_reference_glmm_or.R UM.RS``; each record keeps its call).  Data: dat.bcg, dat.nielweise2007
(zero cells, one double-zero table left out) and dat.li2007 (rare events, zero cells).  rma.glmm warns
on every random-effects fit that it sets nAGQ to 1 (glmer integrates two random effects per study by
the Laplace approximation only); lme4 warns on the saturated fits of the two data sets with zero cells
(their study contrasts run off to infinity: "Hessian is numerically singular", "Model failed to
converge").

lme4 solves the conditional modes of its Laplace deviance to ``tolPwrss = 1e-7``.  That moves
rma.glmm's random-effects estimate by up to 4e-4 and its standard error by up to 1% from the maximum of
the Laplace approximation (its deviance function agrees with the exact Laplace approximation, and with
ours, to 1e-11 once the modes are solved to ``tolPwrss = 1e-11``).  So the fixture records, under
``laplace_tight``, lme4's own deviance function with ``tolPwrss = 1e-11``, maximised by nlminb, the
standard error from numDeriv's Hessian of it: that is compared at 1e-5, and rma.glmm's own values at
the looser tolerance lme4 leaves in them.  The standard error of dat.nielweise2007 is compared at 1e-4
(numDeriv's Richardson steps on the tight deviance differ there by 3e-5 from steps of 0.01 to 0.001).
The Wald-type test of heterogeneity comes from the Hessian of the saturated GLMM; on dat.bcg the
tight refit of that 14-parameter model by nlminb does not reach the maximum, so dat.bcg's is compared
with rma.glmm's (through lme4's finite-difference Hessian) at 1e-2 only.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import metareview as mr
from metareview.cli import main
from metareview.pooling.glmm import glmm_or

DATA = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "glmm" / "or_umrs.json").read_text())["datasets"]


def close(actual, expected, rtol=1e-5, atol=1e-9):
    np.testing.assert_allclose(float(actual), float(np.ravel(expected)[0]), rtol=rtol, atol=atol)


def fit(d, random):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return glmm_or(d["ai"], d["n1i"], d["ci"], d["n2i"], model="UM.RS", random=random)


@pytest.mark.parametrize("name", sorted(DATA))
def test_random_effects_model(name):
    """rma.glmm(measure = "OR", ai, n1i, ci, n2i, model = "UM.RS", control = list(glmerCtrl = ...))"""
    d = DATA[name]
    R, T = d["ML"], d["laplace_tight"]["ML"]
    r = fit(d, True)
    assert r.model_glmm == "UM.RS" and r.n_agq == 1 and r.k == R["k"] and r.q_df == R["QE_df"]
    assert r.converged and not r.boundary
    close(r.estimate, T["beta"])
    close(r.tau2, T["tau2"])
    close(r.sigma2, T["sigma2"])
    close(r.loglik, T["logLik"])
    close(r.se, T["se"], rtol=1e-4 if name == "nielweise2007" else 1e-5)
    close(r.q_lrt, R["QE_LRT"])
    close(r.q_lrt_p, R["QEp_LRT"], rtol=1e-4)   # a chi-square tail magnifies the 2e-6 of lme4's modes
    if name != "bcg":
        close(r.q, T["QE_Wld"])
    close(r.q, R["QE_Wld"], rtol=5e-2 if name != "bcg" else 1e-2)
    # rma.glmm's own (lme4's modes to 1e-7)
    for ours, theirs, rtol in (("estimate", "beta", 1e-3), ("tau2", "tau2", 1e-3), ("sigma2", "sigma2", 1e-3),
                               ("se", "se", 1e-2), ("loglik", "logLik", 1e-5), ("i2", "I2", 1e-3)):
        close(getattr(r, ours), R[theirs], rtol=rtol)
    assert r.pred_low < r.ci_low < r.estimate < r.ci_high < r.pred_high


@pytest.mark.parametrize("name", sorted(DATA))
def test_common_effect_model(name):
    """rma.glmm(measure = "OR", ai, n1i, ci, n2i, model = "UM.RS", method = "FE", control = ...): a random
    intercept (nAGQ = 7) and one log odds ratio."""
    d = DATA[name]
    R, T = d["CE"], d["laplace_tight"]["CE"]
    r = fit(d, False)
    assert r.model == "common" and r.tau2 == 0 and r.n_agq == 7
    close(r.estimate, R["beta"])
    close(r.estimate, T["beta"])
    close(r.sigma2, R["sigma2"])
    close(r.se, R["se"], rtol=2e-5)       # lme4's finite-difference Hessian
    if name == "bcg":                     # no zero cells: the saturated model has finite estimates
        close(r.q, R["QE_Wld"])
        close(r.q_lrt, R["QE_LRT"])


def test_laplace_gradient_is_the_derivative_of_the_likelihood():
    """The analytic score of the Laplace approximation (modes differentiated implicitly)."""
    from metareview.pooling.glmm import _LaplaceArms
    rng = np.random.default_rng(3)
    size = rng.integers(10, 100, (6, 2)).astype(float)
    y = np.floor(size * rng.uniform(0, 0.5, (6, 2)))
    y[0, 0] = 0
    Z = np.stack([np.ones((6, 2)), np.tile([0.5, -0.5], (6, 1))], axis=2)
    lik = _LaplaceArms(y, size, Z)
    o, psi = rng.normal(-1, 0.5, (1, 6, 2)), np.array([[0.1, -0.3]])
    _, g_o, g_psi = lik(o, psi)
    e = 1e-6
    for j in range(2):
        step = np.zeros_like(o)
        step[..., j] = e
        np.testing.assert_allclose((lik(o + step, psi)[0] - lik(o - step, psi)[0]) / (2 * e), g_o[..., j], atol=1e-7)
    for j in range(2):
        step = np.zeros_like(psi)
        step[0, j] = e
        np.testing.assert_allclose((lik(o, psi + step)[0] - lik(o, psi - step)[0]) / (2 * e), g_psi[..., j],
                                   atol=1e-7)


def test_metabin_and_cli(tmp_path, capsys):
    """metabin(method = "GLMM", model.glmm = "UM.RS") and `metareview pool --method GLMM --model-glmm UM.RS`."""
    d = DATA["bcg"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = mr.metabin(d["ai"], d["n1i"], d["ci"], d["n2i"], method="GLMM", model_glmm="UM.RS")
    close(res.pooled["random_estimate"], d["laplace_tight"]["ML"]["beta"])
    close(res.pooled["common_estimate"], d["CE"]["beta"])
    assert "GLMM, UM.RS; maximum likelihood, Laplace approximation; common-effect model: adaptive " \
        "Gauss-Hermite quadrature with 7 point(s)" in str(res)
    assert "σ² = 1.8616 (variance of the studies' baseline log odds)" in str(res)
    path = tmp_path / "bcg.csv"
    rows = ["study,events_e,n_e,events_c,n_c"] + [f"S{i},{a},{n1},{c},{n2}" for i, (a, n1, c, n2) in
                                                  enumerate(zip(d["ai"], d["n1i"], d["ci"], d["n2i"]))]
    path.write_text("\n".join(rows) + "\n")
    assert main(["pool", str(path), "--method", "GLMM", "--model-glmm", "um.rs", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["settings"]["model_glmm"] == "UM.RS" and doc["method_details"]["n_agq"] == 1
    close(doc["method_details"]["sigma2"], d["laplace_tight"]["ML"]["sigma2"])
    close(doc["random"]["estimate"], d["laplace_tight"]["ML"]["beta"])


def test_no_heterogeneity_gives_the_common_effect_model():
    """Identical odds ratios in every study: tau² = 0 is the maximum (boundary), as glmer reports, and the
    random-effects model is the common-effect one (random intercept, nAGQ = 1); with identical
    proportions as well sigma² = 0 too, and both are logistic regression with one intercept."""
    a, n1, n2 = [10, 60, 30, 15], [100, 200, 300, 150], [100, 200, 300, 150]
    r = glmm_or(a, n1, a, n2, model="UM.RS")
    assert r.boundary and r.tau2 == 0 and abs(r.estimate) < 1e-8 and r.sigma2 > 0.1 and r.converged
    r = glmm_or([10, 20, 30, 15], n1, [10, 20, 30, 15], n2, model="UM.RS")
    assert r.boundary and r.tau2 == 0 and r.sigma2 == 0 and abs(r.estimate) < 1e-8
    assert r.se == pytest.approx(glmm_or([10, 20, 30, 15], n1, [10, 20, 30, 15], n2, model="UM.FS").se, rel=1e-6)
