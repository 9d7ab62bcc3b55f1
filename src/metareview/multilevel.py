"""Multilevel and multivariate random-effects models: several estimates per study.

The model is metafor's ``rma.mv`` with random intercepts (Konstantopoulos 2011, Res Synth
Methods 2:61-76; Van den Noortgate et al. 2013, Behav Res 45:576-594; Viechtbauer 2010,
J Stat Softw 36(3))::

    y = X b + sum_j Z_j u_j + e,   u_j ~ N(0, sigma²_j I),   e ~ N(0, V)

so that the marginal covariance is ``M = V + sum_j sigma²_j Z_j Z_j'``.  ``V`` holds the
sampling variances and, where known or assumed, their covariances: a full matrix, or the
variances with one correlation ``rho`` between the estimates of the same cluster (metafor's
``vcalc(vi, cluster, obs, rho)``).  The random intercepts are given as R formulas:
``"~ 1 | study/outcome"`` nests outcomes within studies (two components, ``study`` and
``study/outcome``: the three-level model), a list of formulas adds crossed components.

The variance components are estimated by REML or ML (Harville 1977, J Am Stat Assoc
72:320-338): Fisher scoring on ``sigma²`` itself, components at zero held there while
their score is not positive (the boundary of the parameter space), then Newton steps with
the observed information for quadratic convergence.  The coefficients are generalised
least squares estimates with ``(X'M⁻¹X)⁻¹`` as covariance; Wald z or t tests (``test="t"``:
k - p df, as ``rma.mv(test = "t")``), the omnibus test of moderators (QM), the test for
residual heterogeneity (QE, with ``V`` only), the log-likelihood, deviance, AIC, BIC and
AICc as metafor's ``fitstats``, and a likelihood-ratio test of each variance component
against the model without it (metafor's ``anova(full, reduced)``).

Cluster-robust standard errors are the bias-reduced linearisation (CR2) of Bell &
McCaffrey (2002, Surv Methodol 28:169-181) with the Satterthwaite degrees of freedom of
Tipton (2015, Psychol Methods 20:375-393) and Pustejovsky & Tipton (2018, J Bus Econ Stat
36:672-683), computed as clubSandwich's ``coef_test(vcov = "CR2")`` for an ``rma.mv`` fit
(metafor's ``robust(res, cluster, clubSandwich = TRUE)``).
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
from scipy import linalg, special

from . import _dist
from ._format import Reportable, fmt as _f, fmt_p as _p, fmt_peq as _peq, num as _num
from .exceptions import ConvergenceWarning, DataError, MetaReviewWarning, SettingsError

__all__ = ["metamv", "rma_mv", "multilevel", "vcalc", "MultilevelResult", "MVFit", "RobustTest",
           "parse_random", "MV_METHODS", "MV_TESTS"]

MV_METHODS = ("REML", "ML")
MV_TESTS = ("z", "t")
_LOG2PI = math.log(2 * math.pi)
_RANDOM = re.compile(r"^\s*~\s*1\s*\|\s*(?P<groups>[^|~]+?)\s*$")


# ---------------------------------------------------------------------------------------
# random effects and the sampling covariance matrix
# ---------------------------------------------------------------------------------------

def parse_random(random: str | Sequence[str]) -> list[tuple[str, tuple[str, ...]]]:
    """The variance components of R random-intercept formulas, as ``(name, columns)``.

    ``"~ 1 | a/b"`` gives ``[("a", ("a",)), ("a/b", ("a", "b"))]`` (b nested in a); a list
    of formulas adds their components in order (crossed random effects).
    """
    formulas = [random] if isinstance(random, str) else list(random)
    if not formulas:
        raise SettingsError("random needs at least one formula such as '~ 1 | study/outcome'")
    out: list[tuple[str, tuple[str, ...]]] = []
    for text in formulas:
        m = _RANDOM.match(str(text))
        if m is None:
            raise SettingsError(f"cannot read the random-effects formula {text!r}: random intercepts are written "
                                "'~ 1 | study' or '~ 1 | study/outcome' (nested), several as a list")
        cols = [c.strip() for c in m.group("groups").split("/")]
        if any(not c for c in cols):
            raise SettingsError(f"cannot read the random-effects formula {text!r}: an empty grouping column")
        for j in range(len(cols)):
            name = "/".join(cols[: j + 1])
            if any(name == n for n, _ in out):
                raise SettingsError(f"the random effect {name!r} is given twice")
            out.append((name, tuple(cols[: j + 1])))
    return out


def _level_index(columns: Sequence[np.ndarray]) -> tuple[np.ndarray, int]:
    """Integer level of each row for the combination of ``columns`` (R's interaction factor)."""
    keys = [tuple(str(c[i]) for c in columns) for i in range(len(columns[0]))]
    levels = {key: j for j, key in enumerate(dict.fromkeys(keys))}
    return np.array([levels[key] for key in keys], dtype=np.intp), len(levels)


def vcalc(vi, cluster, rho: float) -> np.ndarray:
    """Sampling covariance matrix with one correlation ``rho`` between the estimates of a cluster.

    ``V[i, j] = rho * sqrt(vi[i] * vi[j])`` for two different estimates of the same
    cluster, 0 across clusters, ``vi`` on the diagonal: metafor's
    ``vcalc(vi, cluster, obs, rho)`` with a distinct ``obs`` for each estimate of a cluster.
    """
    vi = np.asarray(vi, float).ravel()
    if not (isinstance(rho, (int, float, np.floating)) and -1 < float(rho) < 1):
        raise SettingsError(f"rho must be a correlation between -1 and 1 (exclusive), not {rho!r}")
    idx, _ = _level_index([np.asarray(cluster, dtype=object).ravel()])
    same = idx[:, None] == idx[None, :]
    sd = np.sqrt(vi)
    V = np.where(same, float(rho) * np.outer(sd, sd), 0.0)
    np.fill_diagonal(V, vi)
    return V


# ---------------------------------------------------------------------------------------
# the likelihood and its maximisation
# ---------------------------------------------------------------------------------------

class _Model:
    """y, V, X and the random-effect indicators; evaluates M, W and the GLS fit at sigma²."""

    def __init__(self, y, V, X, levels: Sequence[tuple[np.ndarray, int]]):
        self.y, self.V, self.X = y, V, X
        self.k, self.p = X.shape
        self.Z = []
        for idx, n in levels:
            Z = np.zeros((self.k, n))
            Z[np.arange(self.k), idx] = 1.0
            self.Z.append(Z)
        self.D = [Z @ Z.T for Z in self.Z]
        self.logdet_xx = float(np.linalg.slogdet(X.T @ X)[1])

    def at(self, sigma2: np.ndarray) -> dict:
        M = self.V.copy()
        for s, D in zip(sigma2, self.D):
            if s > 0:
                M += s * D
        try:
            c = linalg.cho_factor(M, lower=True, check_finite=False)
        except linalg.LinAlgError:
            return {"ok": False}
        W = linalg.cho_solve(c, np.eye(self.k), check_finite=False)
        logdet_m = 2.0 * float(np.sum(np.log(np.diag(c[0]))))
        X, y = self.X, self.y
        WX = W @ X
        XWX = X.T @ WX
        vb = np.linalg.inv(XWX)
        beta = vb @ (WX.T @ y)
        r = y - X @ beta
        Wr = W @ r
        rss = float(r @ Wr)
        k, p = self.k, self.p
        ll_ml = -0.5 * k * _LOG2PI - 0.5 * logdet_m - 0.5 * rss
        ll_reml = (-0.5 * (k - p) * _LOG2PI + 0.5 * self.logdet_xx - 0.5 * logdet_m
                   - 0.5 * float(np.linalg.slogdet(XWX)[1]) - 0.5 * rss)
        return {"ok": True, "M": M, "W": W, "WX": WX, "vb": vb, "beta": beta, "r": r, "Wr": Wr,
                "ll_ml": ll_ml, "ll_reml": ll_reml}

    def score_info(self, fit: dict, reml: bool, observed: bool):
        """Score and information (expected, or observed) of the log-likelihood in sigma²."""
        W, WX, vb = fit["W"], fit["WX"], fit["vb"]
        P = W - WX @ vb @ WX.T if reml else W
        Pr = fit["Wr"]  # P r = W r for the GLS residual r
        PZ = [P @ Z for Z in self.Z]
        ZPr = [Z.T @ Pr for Z in self.Z]
        q = len(self.Z)
        score = np.array([-0.5 * float(np.sum(Z * pz)) + 0.5 * float(zpr @ zpr)
                          for Z, pz, zpr in zip(self.Z, PZ, ZPr)])
        info = np.empty((q, q))
        for a in range(q):
            for b in range(a, q):
                ZPZ = self.Z[a].T @ PZ[b]
                tr = float(np.sum(ZPZ * ZPZ))
                if observed:
                    # -d²l: r'P D_a P D_b P r - tr(P D_a P D_b) / 2 (the ML form has W for P in the trace)
                    val = float(ZPr[a] @ (ZPZ @ ZPr[b])) - 0.5 * tr
                else:
                    val = 0.5 * tr
                info[a, b] = info[b, a] = val
        return score, info


def _maximise(model: _Model, reml: bool, fixed: np.ndarray, start: np.ndarray, tol: float,
              maxiter: int):
    """sigma² maximising the (restricted) likelihood; ``fixed`` marks components held at ``start``."""
    s2 = np.where(fixed, start, np.maximum(start, 0.0))
    free = ~fixed
    fit = model.at(s2)
    key = "ll_reml" if reml else "ll_ml"
    if not fit["ok"]:
        raise DataError("the marginal covariance matrix is not positive definite at the starting values: "
                        "check V (a correlation above 1, a negative variance)", column="V",
                        rule="positive definite V")
    it, converged = 0, False
    for it in range(1, maxiter + 1):
        score, info = model.score_info(fit, reml, observed=it > 3)
        active = free & ~((s2 <= 0) & (score <= 0))
        step = np.zeros_like(s2)
        if active.any():
            A = np.ix_(active, active)
            try:
                step[active] = np.linalg.solve(info[A], score[active])
            except np.linalg.LinAlgError:
                step[active] = score[active] / np.maximum(np.diag(info)[active], 1e-300)
            if it > 3 and (np.any(np.linalg.eigvalsh(info[A]) <= 0) or float(score[active] @ step[active]) <= 0):
                _, fisher = model.score_info(fit, reml, observed=False)
                step[active] = np.linalg.solve(fisher[A], score[active])
        t = 1.0
        while True:
            new = np.where(active, np.maximum(s2 + t * step, 0.0), s2)
            nfit = model.at(new)
            if nfit["ok"] and nfit[key] >= fit[key] - 1e-12 * abs(fit[key]):
                break
            t *= 0.5
            if t < 1e-8:
                new, nfit = s2, fit
                break
        change = float(np.max(np.abs(new - s2))) if s2.size else 0.0
        s2, fit = new, nfit
        if change <= tol * (1.0 + float(np.max(np.abs(s2)))):
            converged = True
            break
    return s2, fit, it, converged


@dataclass(frozen=True)
class RobustTest:
    """Cluster-robust (CR2) coefficient tests with Satterthwaite df (clubSandwich's ``coef_test``)."""

    cluster: str
    n_clusters: int
    vb: np.ndarray
    se: np.ndarray
    statistic: np.ndarray
    df: np.ndarray
    p: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray


@dataclass(frozen=True)
class MVFit:
    """One fitted multilevel / multivariate model (the numbers metafor's ``rma.mv`` prints)."""

    names: tuple
    beta: np.ndarray
    vb: np.ndarray
    se: np.ndarray
    statistic: np.ndarray
    p: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    ddf: int | None
    sigma2: np.ndarray
    components: tuple          # component names ("study", "study/outcome")
    nlevels: tuple
    qm: float
    qm_df: tuple
    qm_p: float
    qe: float
    qe_df: int
    qe_p: float
    loglik: float
    deviance: float
    aic: float
    bic: float
    aicc: float
    parms: int
    k: int
    method: str
    test: str
    level: float
    converged: bool
    iterations: int
    btt: tuple
    M: np.ndarray
    residuals: np.ndarray


def rma_mv(y, V, X, random_levels: Sequence[tuple[str, np.ndarray, int]], *, method: str = "REML",
           test: str = "z", level: float = 0.95, names: Sequence[str] | None = None, intercept: bool = True,
           sigma2: Sequence[float | None] | None = None, tol: float = 1e-10, maxiter: int = 500) -> MVFit:
    """Fit ``y = X b + sum_j Z_j u_j + e`` as metafor's ``rma.mv(y, V, mods = X, random = ...)``.

    ``random_levels``: ``(name, level index per row, number of levels)`` per variance
    component.  ``sigma2`` fixes components (a number) or leaves them free (``None``), as
    ``rma.mv(sigma2 = c(0, NA))``; a component with a single level is fixed at 0 with a
    warning, as metafor does.  ``intercept``: the first column of ``X`` is the intercept
    (QM then tests the others).
    """
    method = str(method).upper()
    if method not in MV_METHODS:
        raise SettingsError(f"unknown method {method!r} for the multilevel model; valid methods are: "
                            f"{', '.join(MV_METHODS)}")
    test = str(test).lower()
    if test not in MV_TESTS:
        raise SettingsError(f"unknown test {test!r}; valid tests are: {', '.join(MV_TESTS)}")
    if not 0 < level < 1:
        raise SettingsError("level must be between 0 and 1 (e.g. 0.95)")
    y = np.asarray(y, float).ravel()
    V = np.asarray(V, float)
    X = np.asarray(X, float)
    k, p = X.shape
    q = len(random_levels)
    if q == 0:
        raise SettingsError("the multilevel model needs at least one random effect")
    fixed = np.zeros(q, bool)
    start = np.zeros(q)
    for j, value in enumerate(sigma2 if sigma2 is not None else [None] * q):
        if value is not None:
            if not (np.isfinite(value) and value >= 0):
                raise SettingsError(f"a fixed sigma² must be a number >= 0, not {value!r}")
            fixed[j], start[j] = True, float(value)
    for j, (name, _, n) in enumerate(random_levels):
        if n == 1 and not fixed[j]:
            warnings.warn(f"the random effect {name!r} has a single level: its sigma² is fixed at 0 (as rma.mv)",
                          MetaReviewWarning, stacklevel=2)
            fixed[j] = True
    model = _Model(y, V, X, [(idx, n) for _, idx, n in random_levels])
    fe = model.at(np.zeros(q))
    if not fe["ok"]:
        raise DataError("the sampling covariance matrix V is not positive definite", column="V",
                        rule="positive definite V")
    # QE: the weighted residual sum of squares of the model without random effects
    qe = float(fe["r"] @ fe["Wr"])
    qe_df = k - p
    # start: the excess of the residual variance over the sampling variances, shared equally
    excess = max(float(qe / max(qe_df, 1) - 1.0) * float(np.mean(np.diag(V))), 0.0)
    free_n = int((~fixed).sum())
    start = np.where(fixed, start, max(excess / max(free_n, 1), 0.01 * float(np.mean(np.diag(V)))))
    s2, fit, its, conv = _maximise(model, method == "REML", fixed, start, tol, maxiter)
    if not conv:
        warnings.warn(f"the {method} estimates of the variance components did not converge in {maxiter} "
                      "iterations; the last iterate is reported", ConvergenceWarning, stacklevel=2)
    beta, vb = fit["beta"], fit["vb"]
    se = np.sqrt(np.diag(vb))
    stat = beta / se
    btt = tuple(range(1, p)) if (intercept and p > 1) else tuple(range(p))
    m = len(btt)
    bb = beta[list(btt)]
    qm = float(bb @ np.linalg.solve(vb[np.ix_(btt, btt)], bb))
    alpha = 1 - level
    if test == "t":
        ddf = k - p
        if ddf < 1:
            raise DataError(f"test='t' needs more estimates ({k}) than coefficients ({p})", rule="k > p")
        qm /= m
        qm_df: tuple = (m, ddf)
        qm_p = float(special.fdtrc(m, ddf, qm))
        pv = 2 * _dist.t_sf(np.abs(stat), ddf)
        crit = float(_dist.t_ppf(1 - alpha / 2, ddf))
    else:
        ddf = None
        qm_df = (m, None)
        qm_p = float(_dist.chi2_sf(qm, m))
        pv = 2 * _dist.norm_sf(np.abs(stat))
        crit = float(_dist.norm_ppf(1 - alpha / 2))
    qe_p = float(_dist.chi2_sf(qe, qe_df)) if qe_df > 0 else 1.0
    if qe_df <= 0:
        qe = 0.0
    # fit statistics as metafor's rma.mv (fit.stats): parameters = coefficients + free components
    parms = p + int((~fixed).sum())
    if method == "ML":
        ll = fit["ll_ml"]
        n_eff = k
        diag = np.diag(V)
        if np.all(diag > 0):
            ll_sat = -0.5 * k * _LOG2PI - 0.5 * float(np.linalg.slogdet(V)[1])
            dev = -2.0 * (ll - ll_sat)
        else:
            dev = -2.0 * ll
    else:
        ll = fit["ll_reml"]
        n_eff = k - p
        dev = -2.0 * ll
    aic = -2.0 * ll + 2 * parms
    bic = -2.0 * ll + parms * math.log(n_eff)
    big = max(n_eff, parms + 2)
    aicc = -2.0 * ll + 2 * parms * big / (big - parms - 1)
    nm = tuple(names) if names is not None else tuple(f"x{j}" for j in range(p))
    return MVFit(names=nm, beta=beta, vb=vb, se=se, statistic=stat, p=np.asarray(pv, float),
                 ci_low=beta - crit * se, ci_high=beta + crit * se, ddf=ddf, sigma2=s2,
                 components=tuple(n for n, _, _ in random_levels),
                 nlevels=tuple(int(n) for _, _, n in random_levels), qm=qm, qm_df=qm_df, qm_p=qm_p,
                 qe=qe, qe_df=qe_df, qe_p=qe_p, loglik=ll, deviance=dev, aic=aic, bic=bic, aicc=aicc,
                 parms=parms, k=k, method=method, test=test, level=level, converged=bool(conv),
                 iterations=int(its), btt=btt, M=fit["M"], residuals=fit["r"])


# ---------------------------------------------------------------------------------------
# cluster-robust tests (CR2, Satterthwaite df)
# ---------------------------------------------------------------------------------------

def _inv_sqrt_psd(G: np.ndarray) -> np.ndarray:
    """G^(-1/2) of a symmetric matrix, eigenvalues below 1e-12 set to 0 (clubSandwich's matrix_power)."""
    val, vec = np.linalg.eigh(0.5 * (G + G.T))
    inv = np.where(val > 1e-12, 1.0 / np.sqrt(np.where(val > 1e-12, val, 1.0)), 0.0)
    return (vec * inv) @ vec.T


def robust_cr2(fit: MVFit, X: np.ndarray, cluster, cluster_name: str = "cluster") -> RobustTest:
    """CR2 covariance of the coefficients and Satterthwaite t tests, as clubSandwich's
    ``coef_test(fit, vcov = "CR2", cluster = cluster)`` for an ``rma.mv`` fit with model weights
    (Bell & McCaffrey 2002; Tipton 2015; Pustejovsky & Tipton 2018)."""
    X = np.asarray(X, float)
    idx, J = _level_index([np.asarray(cluster, dtype=object).ravel()])
    if J < 2:
        raise DataError("cluster-robust standard errors need at least two clusters", column=cluster_name,
                        rule="two or more clusters")
    p = X.shape[1]
    rows = [np.flatnonzero(idx == j) for j in range(J)]
    M, r, vb = fit.M, fit.residuals, fit.vb
    blocks = []
    for rj in rows:
        Mj = M[np.ix_(rj, rj)]
        Wj = np.linalg.inv(Mj)
        blocks.append((rj, Mj, Wj))
    MU = np.linalg.inv(sum(X[rj].T @ Wj @ X[rj] for rj, _, Wj in blocks))
    MU_ct = np.linalg.cholesky(MU)                    # lower triangle: t(chol(M_U)) in R
    comps, G_rows, H = [], [], np.empty((p, p, J))
    for j, (rj, Mj, Wj) in enumerate(blocks):
        Xj = X[rj]
        Uj = np.linalg.cholesky(Mj).T                 # upper: Theta = U'U (R's chol)
        IH = np.eye(rj.size) - Xj @ MU @ Xj.T @ Wj
        G = Uj @ IH @ Mj @ Uj.T
        A = Uj.T @ _inv_sqrt_psd(G) @ Uj
        E = Xj.T @ Wj @ A                             # p x n_j
        comps.append(E @ r[rj])
        ME = vb @ E
        G_rows.append(ME @ Uj.T)
        H[:, :, j] = ME @ Xj @ MU_ct
    C = np.array(comps).T                             # p x J
    vcr = vb @ (C @ C.T) @ vb
    se = np.sqrt(np.diag(vcr))
    df = np.empty(p)
    for i in range(p):
        Hi = H[i]                                     # u x J
        P = -(Hi.T @ Hi)
        P[np.diag_indices(J)] += np.array([float(g[i] @ g[i]) for g in G_rows])
        df[i] = float(np.trace(P)) ** 2 / float(np.sum(P * P))
    stat = fit.beta / se
    pv = 2 * special.stdtr(df, -np.abs(stat))
    crit = special.stdtrit(df, 1 - (1 - fit.level) / 2)
    return RobustTest(cluster=cluster_name, n_clusters=J, vb=vcr, se=se, statistic=stat, df=df, p=pv,
                      ci_low=fit.beta - crit * se, ci_high=fit.beta + crit * se)
