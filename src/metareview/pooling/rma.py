"""The mixed-effects model with a design matrix: tau² and coefficients as metafor's ``rma.uni``.

The model is y_i = x_i'b + u_i + e_i with u_i ~ N(0, tau²) and e_i ~ N(0, v_i)
(Raudenbush 2009, in *The Handbook of Research Synthesis and Meta-Analysis*, 2nd ed.,
pp. 295-315).  tau² is estimated by metafor's ``rma.uni`` definitions for a model with
moderators (DL, HE, HS, SJ, PM, ML, REML, EB), coefficients by weighted least squares
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
from typing import Sequence

import numpy as np
from scipy import special

from ..base import dist as _dist
from ..base.exceptions import ConvergenceWarning, SettingsError

__all__ = ["rma_fit", "tau2_mods", "RmaFit", "METAREG_TAU2", "METAREG_TESTS"]


METAREG_TAU2 = ("DL", "HE", "HS", "SJ", "PM", "ML", "REML", "EB", "FE")
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


def _ll(y, v, X, tau2, reml):
    w = 1 / (v + tau2)
    inv, _ = _wls(X, w)
    b = inv @ (X.T @ (w * y))
    rss = float(np.sum(w * (y - X @ b) ** 2))
    k, p = X.shape
    if reml:
        sign, logdet = np.linalg.slogdet(X.T @ (X * w[:, None]))
        return -0.5 * (k - p) * np.log(2 * np.pi) - 0.5 * np.sum(np.log(v + tau2)) - 0.5 * logdet - 0.5 * rss
    return -0.5 * k * np.log(2 * np.pi) - 0.5 * np.sum(np.log(v + tau2)) - 0.5 * rss


def tau2_mods(y, v, X, method: str = "REML", *, tol: float = 1e-12, maxiter: int = 10000):
    """tau² of a meta-regression with design matrix ``X`` by metafor's definitions.

    Returns ``(tau2, iterations, converged)``.  As metafor's ``rma.uni``, the estimators
    work on the mean-centred outcomes; ML, REML and EB start from the HE estimate and use
    Fisher scoring with step halving at zero; ML and REML are set to zero when the
    likelihood at zero is higher; PM solves the generalised Q = k - p.
    """
    method = str(method).upper()
    if method not in METAREG_TAU2:
        raise SettingsError(f"unknown tau² estimator {method!r} for meta-regression; valid estimators are: "
                            f"{', '.join(METAREG_TAU2)}")
    y = np.asarray(y, float)
    v = np.asarray(v, float)
    X = np.asarray(X, float)
    k, p = X.shape
    ymc = y - y.mean()
    if method == "FE":
        return 0.0, 0, True
    it, conv = 0, True

    def rss_at(t):
        _, P = _wls(X, 1 / (v + t))
        return float(ymc @ P @ ymc)

    if method in ("DL", "HS"):
        w = 1 / v
        _, P = _wls(X, w)
        rss = float(ymc @ P @ ymc)
        tau2 = (rss - (k - p)) / np.trace(P) if method == "DL" else (rss - k) / w.sum()
    elif method == "SJ":
        t0 = float(np.var(y, ddof=1) * (k - 1) / k)
        tau2 = t0 * rss_at(t0) / (k - p)
    elif method == "PM":
        target = k - p
        if rss_at(0.0) < target:
            tau2 = 0.0
        else:
            lo, hi = 0.0, max(1.0, 10 * float(np.var(y)))
            while rss_at(hi) > target:
                lo, hi = hi, hi * 4
                if hi > 1e12:
                    break
            tau2 = 0.5 * (lo + hi)
            conv = False
            for it in range(1, maxiter + 1):
                f = rss_at(tau2) - target
                if f > 0:
                    lo = tau2
                else:
                    hi = tau2
                w = 1 / (v + tau2)
                _, P = _wls(X, w)
                Py = P @ ymc
                d = -float(Py @ Py)  # derivative of y'P(t)y
                new = tau2 - f / d if d != 0 else 0.5 * (lo + hi)
                if not lo < new < hi:
                    new = 0.5 * (lo + hi)
                done = abs(new - tau2) <= tol * (1 + abs(tau2)) or (hi - lo) <= tol * (1 + hi)
                tau2 = new
                if done:
                    conv = True
                    break
    else:  # HE, and the start of ML, REML, EB
        H = X @ np.linalg.inv(X.T @ X) @ X.T
        P = np.eye(k) - H
        rss = float(ymc @ P @ ymc)
        tau2 = (rss - float(np.trace(P * v[None, :]))) / (k - p)
        if method in ("ML", "REML", "EB"):
            tau2 = max(0.0, tau2)
            conv = False
            for it in range(1, maxiter + 1):
                w = 1 / (v + tau2)
                _, P = _wls(X, w)
                Py = P @ ymc
                if method == "ML":
                    adj = (float(Py @ Py) - w.sum()) / float((w * w).sum())
                elif method == "REML":
                    PP = P @ P
                    adj = (float(Py @ Py) - np.trace(P)) / np.trace(PP)
                else:
                    adj = (float(ymc @ Py) * k / (k - p) - k) / w.sum()
                if not np.isfinite(adj):
                    adj = 0.0
                while tau2 + adj < 0:
                    adj /= 2
                    if abs(adj) < 1e-300:
                        adj = 0.0
                        break
                old = tau2
                tau2 = tau2 + adj
                if abs(tau2 - old) <= tol:
                    conv = True
                    break
            if conv and method in ("ML", "REML") and tau2 > 0:
                reml = method == "REML"
                if _ll(y, v, X, 0.0, reml) - _ll(y, v, X, tau2, reml) > tol and tau2 > tol:
                    tau2 = 0.0
    tau2 = max(0.0, float(tau2)) if np.isfinite(tau2) else 0.0
    return tau2, it, conv


@dataclass(frozen=True)
class RmaFit:
    """One fitted (meta-)regression model: coefficients, their covariance, tests, heterogeneity."""

    names: tuple
    beta: np.ndarray
    vb: np.ndarray
    se: np.ndarray
    statistic: np.ndarray
    p: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
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


def rma_fit(y, v, X, *, method: str = "REML", test: str = "z", level: float = 0.95,
            names: Sequence[str] | None = None, intercept: bool = True, tau2: float | None = None,
            tol: float = 1e-12, maxiter: int = 10000) -> RmaFit:
    """Fit y = Xb + u + e as metafor's ``rma.uni(yi, vi, mods = X, intercept = FALSE)``.

    ``intercept`` says whether the first column of ``X`` is the intercept (then QM tests
    the other coefficients, as metafor's default ``btt``).  ``tau2`` fixes tau².
    """
    test = str(test).lower()
    if test not in METAREG_TESTS:
        raise SettingsError(f"unknown test {test!r}; valid tests are: {', '.join(METAREG_TESTS)}")
    y = np.asarray(y, float)
    v = np.asarray(v, float)
    X = np.asarray(X, float)
    k, p = X.shape
    method = str(method).upper()
    if tau2 is None:
        t2, iters, conv = tau2_mods(y, v, X, method, tol=tol, maxiter=maxiter)
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
    ddf = k - p if test in ("knha", "t") else None
    alpha = 1 - level
    if test in ("knha", "t"):
        qm = qm / m
        qm_df = (m, k - p)
        qm_p = float(special.fdtrc(m, k - p, qm)) if k - p > 0 else float("nan")
        pv = 2 * _dist.t_sf(np.abs(stat), k - p) if k - p > 0 else np.full(p, np.nan)
        crit = float(_dist.t_ppf(1 - alpha / 2, k - p)) if k - p > 0 else float("nan")
    else:
        qm_df = (m, None)
        qm_p = float(_dist.chi2_sf(qm, m))
        pv = 2 * _dist.norm_sf(np.abs(stat))
        crit = float(_dist.norm_ppf(1 - alpha / 2))
    if k > p:
        w0 = 1 / v
        _, P0 = _wls(X, w0)
        ymc = y - y.mean()  # metafor 3.8-1 computes QE from mean-centred outcomes
        qe = max(0.0, float(ymc @ P0 @ ymc))
        qe_p = float(_dist.chi2_sf(qe, k - p))
        vt = (k - p) / np.trace(P0)
        if method == "FE":
            i2 = max(0.0, 100 * (qe - (k - p)) / qe) if qe > 0 else 0.0
            h2 = qe / (k - p)
        else:
            i2 = 100 * t2 / (vt + t2)
            h2 = t2 / vt + 1
    else:
        qe, qe_p, i2, h2 = 0.0, 1.0, 0.0, 1.0
    nm = tuple(names) if names is not None else tuple(f"x{j}" for j in range(p))
    return RmaFit(names=nm, beta=beta, vb=vb, se=se, statistic=stat, p=np.asarray(pv, float),
                  ci_low=beta - crit * se, ci_high=beta + crit * se, ddf=ddf, tau2=t2, s2w=s2w,
                  qm=qm, qm_df=qm_df, qm_p=qm_p, qe=qe, qe_df=k - p, qe_p=qe_p, i2=i2, h2=h2, k=k,
                  method=method, test=test, level=level, converged=bool(conv), iterations=int(iters),
                  weights=w, btt=btt)


# ---------------------------------------------------------------------------------------
# moderators: formula, coding, missing values
