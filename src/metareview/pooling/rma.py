"""The mixed-effects model with a design matrix: tau² and coefficients as metafor's ``rma.uni``.

The model is y_i = x_i'b + u_i + e_i with u_i ~ N(0, tau²) and e_i ~ N(0, v_i)
(Raudenbush 2009, in *The Handbook of Research Synthesis and Meta-Analysis*, 2nd ed.,
pp. 295-315).  tau² is estimated by any estimator of the table of
:mod:`metareview.pooling.tau2` (metafor's ``rma.uni`` definitions with moderators; all
thirteen take a design matrix), coefficients by weighted least squares
with weights 1/(v_i + tau²).  Tests are Wald-z or Knapp & Hartung's (2003, Stat Med
22:2693) t and F tests with the scale factor s² = sum w_i e_i² / (k - p); the omnibus test
of the coefficients (QM), the test of residual heterogeneity (QE) and metafor's I² and H²
of the residual heterogeneity come with the fit.  Meta-regression
(:mod:`metareview.analyses.metareg`), subgroups with a common tau², small-study tests
and influence diagnostics all fit through :func:`rma_fit`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import NamedTuple, Sequence

import numpy as np
from scipy import special

from ..base import dist as _dist
from ..base.exceptions import ConvergenceWarning, SettingsError
from .heterogeneity import i2_from_q, i2_h2_from_tau2
from .tau2 import MODERATOR_METHODS, estimate_tau2, tau2_code

__all__ = ["rma_fit", "tau2_mods", "RmaFit", "Coefficients", "wald_tests", "WaldTests", "METAREG_TAU2", "METAREG_TESTS"]


#: The tau² estimators with moderators (the table's), and FE, the common-effect model.
METAREG_TAU2 = MODERATOR_METHODS + ("FE",)
METAREG_TESTS = ("z", "knha", "t")


# ---------------------------------------------------------------------------------------
# the numerical core: one model with a design matrix
# ---------------------------------------------------------------------------------------

def _wls(X, w):
    """(X'WX)^-1 and the projection P = W - W X (X'WX)^-1 X'W."""
    WX = X * w[:, None]
    inv = np.linalg.inv(X.T @ WX)
    P = np.diag(w) - WX @ inv @ WX.T
    return inv, P


def tau2_mods(y, v, X, method: str = "REML", *, tol: float = 1e-12, maxiter: int = 10000, weights=None):
    """tau² of a meta-regression with design matrix ``X`` by metafor's definitions: the
    estimator's unit in :data:`~metareview.pooling.tau2.ESTIMATORS`, on this design.

    Returns ``(tau2, iterations, converged)``.  As metafor's ``rma.uni``, the estimators
    work on the mean-centred outcomes; ``FE`` is the common-effect model (tau² = 0).
    ``weights`` are the user weights of the GENQ estimator.
    """
    method = tau2_code(method, METAREG_TAU2, "tau² estimator for meta-regression")
    if method == "FE":
        return 0.0, 0, True
    y = np.asarray(y, float)
    fit = estimate_tau2(y[None], np.asarray(v, float)[None], np.ones((1, y.size)), method, X=np.asarray(X, float),
                        tol=tol, maxiter=maxiter, warn=False,
                        weights=None if weights is None else np.asarray(weights, float)[None])
    return float(fit.tau2[0]), int(fit.iterations[0]), bool(fit.converged[0])


@dataclass(frozen=True)
class Coefficients:
    """The coefficients of a fitted model with their covariance and Wald tests (see :func:`wald_tests`)."""

    names: tuple
    beta: np.ndarray
    vb: np.ndarray
    se: np.ndarray
    statistic: np.ndarray
    p: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray


@dataclass(frozen=True)
class RmaFit(Coefficients):
    """One fitted (meta-)regression model: coefficients, their covariance, tests, heterogeneity."""

    ddf: float | None
    tau2: float
    s2w: float
    qm: float
    qm_df: tuple
    qm_p: float
    qe: float
    qe_df: int
    qe_p: float
    i2: float
    h2: float
    k: int
    method: str
    test: str
    level: float
    converged: bool
    iterations: int
    weights: np.ndarray   # 1 / (v + tau2)
    btt: tuple


class WaldTests(NamedTuple):
    """Tests of the coefficients of a fitted model and the omnibus test QM of ``btt``."""

    se: np.ndarray
    statistic: np.ndarray
    p: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    qm: float
    qm_df: tuple
    qm_p: float
    btt: tuple


def wald_tests(beta, vb, *, intercept: bool, ddf: int | None, level: float) -> WaldTests:
    """Wald tests of coefficients ``beta`` with covariance ``vb``, as metafor's ``rma.uni`` and ``rma.mv``.

    With ``ddf`` None: z tests and QM ~ chi²(m); with ``ddf`` (Knapp & Hartung 2003, or
    ``test = "t"``): t tests on ``ddf`` degrees of freedom and QM/m ~ F(m, ddf), NaN where
    ``ddf`` < 1.  QM tests every coefficient but the intercept (metafor's default ``btt``);
    all of them when there is no intercept or it is the only one.
    """
    p = beta.size
    se = np.sqrt(np.diag(vb))
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = beta / se
    btt = tuple(range(1, p)) if (intercept and p > 1) else tuple(range(p))
    m = len(btt)
    bb = beta[list(btt)]
    try:
        qm = float(bb @ np.linalg.solve(vb[np.ix_(btt, btt)], bb))
    except np.linalg.LinAlgError:
        qm = float("nan")
    alpha = 1 - level
    if ddf is not None:
        qm = qm / m
        qm_df: tuple = (m, ddf)
        qm_p = float(special.fdtrc(m, ddf, qm)) if ddf > 0 else float("nan")
        pv = 2 * _dist.t_sf(np.abs(stat), ddf) if ddf > 0 else np.full(p, np.nan)
        crit = float(_dist.t_ppf(1 - alpha / 2, ddf)) if ddf > 0 else float("nan")
    else:
        qm_df = (m, None)
        qm_p = float(_dist.chi2_sf(qm, m))
        pv = 2 * _dist.norm_sf(np.abs(stat))
        crit = float(_dist.norm_ppf(1 - alpha / 2))
    return WaldTests(se=se, statistic=stat, p=np.asarray(pv, float), ci_low=beta - crit * se,
                     ci_high=beta + crit * se, qm=qm, qm_df=qm_df, qm_p=qm_p, btt=btt)


def rma_fit(y, v, X, *, method: str = "REML", test: str = "z", level: float = 0.95,
            names: Sequence[str] | None = None, intercept: bool = True, tau2: float | None = None,
            tol: float = 1e-12, maxiter: int = 10000, tau2_weights=None) -> RmaFit:
    """Fit y = Xb + u + e as metafor's ``rma.uni(yi, vi, mods = X, intercept = FALSE)``.

    ``intercept`` says whether the first column of ``X`` is the intercept (then QM tests
    the other coefficients, as metafor's default ``btt``).  ``tau2`` fixes tau².
    ``tau2_weights`` are the user weights of the GENQ estimator (they define tau² only).
    """
    test = str(test).lower()
    if test not in METAREG_TESTS:
        raise SettingsError(f"unknown test {test!r}; valid tests are: {', '.join(METAREG_TESTS)}")
    y = np.asarray(y, float)
    v = np.asarray(v, float)
    X = np.asarray(X, float)
    k, p = X.shape
    method = tau2_code(method, METAREG_TAU2, "tau² estimator for meta-regression")
    if tau2 is None:
        t2, iters, conv = tau2_mods(y, v, X, method, tol=tol, maxiter=maxiter, weights=tau2_weights)
        if not conv:
            warnings.warn(f"the {method} estimator of tau² did not converge in {maxiter} iterations; "
                          "the last iterate is reported", ConvergenceWarning, stacklevel=3)
    else:
        t2, iters, conv = float(tau2), 0, True
    w = 1 / (v + t2)
    inv, _ = _wls(X, w)
    beta = inv @ (X.T @ (w * y))
    s2w = 1.0
    if test == "knha":
        rss = float(np.sum(w * (y - X @ beta) ** 2))
        s2w = 0.0 if rss <= np.finfo(float).eps else rss / (k - p)
    vb = s2w * inv
    ddf = k - p if test in ("knha", "t") else None
    wt = wald_tests(beta, vb, intercept=intercept, ddf=ddf, level=level)
    if k > p:
        w0 = 1 / v
        _, P0 = _wls(X, w0)
        ymc = y - y.mean()  # metafor 3.8-1 computes QE from mean-centred outcomes
        qe = max(0.0, float(ymc @ P0 @ ymc))
        qe_p = float(_dist.chi2_sf(qe, k - p))
        vt = (k - p) / np.trace(P0)
        if method == "FE":
            i2 = i2_from_q(qe, k - p)
            h2 = qe / (k - p)
        else:
            i2, h2 = i2_h2_from_tau2(t2, vt)
    else:
        qe, qe_p, i2, h2 = 0.0, 1.0, 0.0, 1.0
    nm = tuple(names) if names is not None else tuple(f"x{j}" for j in range(p))
    return RmaFit(names=nm, beta=beta, vb=vb, se=wt.se, statistic=wt.statistic, p=wt.p,
                  ci_low=wt.ci_low, ci_high=wt.ci_high, ddf=ddf, tau2=t2, s2w=s2w,
                  qm=wt.qm, qm_df=wt.qm_df, qm_p=wt.qm_p, qe=qe, qe_df=k - p, qe_p=qe_p, i2=i2, h2=h2, k=k,
                  method=method, test=test, level=level, converged=bool(conv), iterations=int(iters),
                  weights=w, btt=wt.btt)


# ---------------------------------------------------------------------------------------
# moderators: formula, coding, missing values
