"""GLMMs for single proportions (PLO) and incidence rates (IRLN) against R metafor/lme4.

Fixtures: ``tests/fixtures/glmm/glmm_plo.json`` and ``glmm_irln.json``, written by
``Rscript tests/r/make_reference_glmm.R`` (metafor 3.8-1, lme4 1.1-31), e.g.::

    rma.glmm(measure = "PLO", xi = x, ni = n)                      # nAGQ = 7
    rma.glmm(measure = "PLO", xi = x, ni = n, nAGQ = 7,
             control = list(glmerCtrl = list(optimizer = "bobyqa",
                            optCtrl = list(rhoend = 1e-10, maxfun = 1e5))))
    rma.glmm(measure = "PLO", xi = x, ni = n, method = "FE")
    rma.glmm(measure = "IRLN", xi = x, ti = t)

Tolerances (relative) and why:

* common-effect model, likelihood-ratio test, Wald test: 1e-8 (closed computations;
  measured <= 1e-14).  Exception: the seed data, whose last study (11/11) is the
  reference level of R's saturated ``glm``; the Wald statistic R gets by inverting that
  ill-conditioned covariance matrix is 8.9e-6 from the exact value: 2e-5 there.
* nAGQ = 7 with rma.glmm's default optimiser settings: estimate and se 1e-5 (measured
  <= 5.3e-6); tau² and the values derived from it 5e-5 (measured <= 1.8e-5): lme4's
  default bobyqa/Nelder-Mead stop that far from the maximum.
* nAGQ = 7 and 11 with a tight optimiser tolerance in R: estimate and tau² 1e-6
  (measured <= 1e-7), se 2e-6 (measured <= 6.7e-7; lme4 differentiates numerically).
* nAGQ = 3 and nAGQ = 1 (Laplace): lme4 scales the quadrature with the curvature from
  the weights of the previous penalised-least-squares iteration rather than at the
  converged conditional mode, which moves its approximation (and so its maximum) by up
  to 2e-4 (nAGQ = 1) in the estimate and 1e-2 in its numerical se; with 7 or more
  points the choice of scale no longer matters.  These are compared at 2e-5/5e-5/2e-4
  (nAGQ = 3) and 1e-3/5e-3/2e-2 (nAGQ = 1) for estimate/tau²/se, and the quadrature
  itself is tested against exact numerical integration in ``test_glmm_properties.py``.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import pytest

from metareview.pooling.glmm import fit_glmm, glmm_proportion

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "glmm"


def _cases():
    for fname, family, size in (("glmm_plo.json", "binomial", "n"),
                                ("glmm_irln.json", "poisson", "t")):
        data = json.loads((FIX / fname).read_text())["datasets"]
        for name, d in data.items():
            for case, ref in d["fits"].items():
                yield pytest.param(family, d["x"], d[size], name, case, ref,
                                   id=f"{family}-{name}-{case}")


TOL = {
    # case: (estimate, tau2, se)
    "ML_nAGQ7_default": (1e-5, 5e-5, 1e-5),
    "ML_nAGQ7_tight": (1e-6, 1e-6, 2e-6),
    "ML_nAGQ11_tight": (1e-6, 1e-6, 2e-6),
    "ML_nAGQ3_tight": (2e-5, 5e-5, 2e-4),
    "ML_nAGQ1_default": (1e-3, 5e-3, 2e-2),
    "ML_nAGQ1_tight": (1e-3, 5e-3, 2e-2),
}


def _close(actual, expected, rtol, atol=0.0, what=""):
    assert expected is not None, what
    assert abs(actual - expected) <= rtol * abs(expected) + atol, (
        f"{what}: {actual!r} vs R {expected!r} (rel {abs(actual - expected) / abs(expected):.2e})")


@pytest.mark.parametrize("family,x,size,name,case,ref", list(_cases()))
def test_against_rma_glmm(family, x, size, name, case, ref):
    if case == "CE":
        res = fit_glmm(x, size, family=family, model="common")
        t_est = t_tau = t_se = 1e-8
    else:
        q = int(case.split("nAGQ")[1].split("_")[0])
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # must converge silently
            res = fit_glmm(x, size, family=family, n_agq=q)
        assert res.converged
        t_est, t_tau, t_se = TOL[case]
    _close(res.estimate, ref["beta"], t_est, what="estimate")
    _close(res.se, ref["se"], t_se, what="se")
    _close(res.ci_low, ref["ci_lb"], max(t_est, t_se), what="ci_low")
    _close(res.ci_high, ref["ci_ub"], max(t_est, t_se), what="ci_high")
    _close(res.statistic, ref["zval"], max(t_est, t_se), what="z")
    # tau² on the boundary: R reports 0 or a value below 1e-8
    _close(res.tau2, ref["tau2"], t_tau, atol=1e-8, what="tau2")
    _close(res.i2, ref["I2"], t_tau, atol=1e-6, what="I2")
    _close(res.h2, ref["H2"], t_tau, what="H2")
    t_wald = 2e-5 if name == "seed_tr" else 1e-8
    _close(res.q, ref["QE_Wld"], t_wald, what="QE.Wld")
    _close(res.q_p, ref["QEp_Wld"], t_wald * 10, what="QEp.Wld")
    _close(res.q_lrt, ref["QE_LRT"], 1e-8, what="QE.LRT")
    _close(res.q_lrt_p, ref["QEp_LRT"], 1e-7, what="QEp.LRT")
    assert res.q_df == ref["QE_df"]
    assert res.k == ref["k"]
    if case != "CE":
        tol_pi = max(t_est, t_tau, t_se)
        _close(res.pred_low, ref["pi_lb"], tol_pi, what="pi.lb")
        _close(res.pred_high, ref["pi_ub"], tol_pi, what="pi.ub")


def test_seed_treatment_response_meta_glmm():
    """meta 4.9-6 ``metaprop(event, n)`` (default GLMM): 0.8189 (0.7604-0.8656)."""
    x = [8, 26, 26, 6, 109, 14, 13, 16, 6, 22, 7, 72, 16, 32, 63, 8, 16, 13, 18, 11]
    n = [10, 31, 30, 9, 140, 17, 18, 21, 6, 23, 11, 112, 22, 32, 72, 11, 18, 17, 25, 11]
    r = glmm_proportion(x, n)
    expit = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    assert round(expit(r.estimate), 4) == 0.8189
    assert round(expit(r.ci_low), 4) == 0.7604
    assert round(expit(r.ci_high), 4) == 0.8656
    assert r.k == 20 and r.q_df == 19 and r.n_agq == 7
    assert r.converged and r.gradient_norm < 1e-8 and 0 < r.iterations < 50


def test_boundary_tau2_zero_matches_r():
    """Rare constructed rates: lme4 puts tau² on the boundary; so do we, flagged."""
    d = json.loads((FIX / "glmm_irln.json").read_text())["datasets"]["rare"]
    ref = d["fits"]["ML_nAGQ7_default"]
    r = fit_glmm(d["x"], d["t"], family="poisson")
    assert r.boundary and r.tau2 == 0.0 and ref["tau2"] < 1e-8
    assert r.i2 == 0.0
    _close(r.estimate, ref["beta"], 1e-8, what="estimate")
    _close(r.se, ref["se"], 1e-6, what="se")
