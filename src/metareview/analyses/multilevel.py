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
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import numpy as np
from scipy import linalg, special

from ..base import dist as _dist
from ..base.exceptions import ConvergenceWarning, DataError, MetaReviewWarning, SettingsError
from ..base.format import Reportable, fmt as _f, fmt_p as _p, fmt_peq as _peq, num as _num
from ..pooling.rma import Coefficients, wald_tests
from ..tables.arguments import column_argument
from .moderators import drop_missing, is_missing

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
    code = np.zeros(len(columns[0]), dtype=np.int64)
    for col in columns:
        text = [str(x) for x in np.asarray(col, dtype=object).ravel()]
        rank = {v: i for i, v in enumerate(sorted(set(text)))}       # levels in sorted order, as np.unique
        inner = np.fromiter((rank[v] for v in text), dtype=np.int64, count=len(text))
        code = code * (len(rank) + 1) + inner
        _, code = np.unique(code, return_inverse=True)
    code = code.ravel().astype(np.intp)
    return code, int(code.max()) + 1 if code.size else 0


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

    def marginal(self, sigma2) -> np.ndarray:
        return self.at(sigma2)["M"]

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


class _BlockModel:
    """The same model when M is block diagonal (estimates of different clusters independent).

    Every quantity is a sum over blocks, computed for all blocks of one size at once
    (batched Cholesky and products of small matrices), so that the cost grows with the
    number of estimates, not with its cube, and no large BLAS call is needed.
    """

    def __init__(self, y, V, X, levels: Sequence[tuple[np.ndarray, int]], blocks: list[np.ndarray]):
        self.y, self.V, self.X = y, V, X
        self.k, self.p = X.shape
        self.q = len(levels)
        self.logdet_xx = float(np.linalg.slogdet(X.T @ X)[1])
        # blocks of similar size padded to a common size: padded rows have variance 1 and no
        # data, so they add nothing to any sum; sizes are split into groups where that saves
        # more of the cubic work than a group's fixed cost (about fifty numpy calls)
        buckets = _buckets(blocks)
        self.groups = []
        for size, bl in buckets.items():
            n = len(bl)
            idx = np.full((n, size), -1, dtype=np.intp)
            for i, b in enumerate(bl):
                idx[i, : b.size] = b
            real = idx >= 0
            safe = np.where(real, idx, 0)
            Xg = np.where(real[:, :, None], X[safe], 0.0)
            yg = np.where(real, y[safe], 0.0)
            Vg = np.where(real[:, :, None] & real[:, None, :], V[safe[:, :, None], safe[:, None, :]], 0.0)
            Vg[~real] = 0.0
            eye = np.broadcast_to(np.eye(size, dtype=bool), Vg.shape)
            Vg = np.where(eye & ~real[:, :, None], 1.0, Vg)
            D = np.stack([((li[safe][:, :, None] == li[safe][:, None, :]) & real[:, :, None] & real[:, None, :])
                          .astype(float) for li, _ in levels])
            self.groups.append({"idx": idx, "real": real, "flat": idx[real], "X": Xg, "y": yg, "V": Vg, "D": D})

    @staticmethod
    def _block_m(g, sigma2) -> np.ndarray:
        M = g["V"].copy()
        for s2, D in zip(sigma2, g["D"]):
            if s2 > 0:
                M += s2 * D
        return M

    def marginal(self, sigma2) -> np.ndarray:
        M = self.V.copy()
        for g in self.groups:
            idx, real = g["idx"], g["real"]
            pair = real[:, :, None] & real[:, None, :]
            rows = np.broadcast_to(idx[:, :, None], pair.shape)[pair]
            cols = np.broadcast_to(idx[:, None, :], pair.shape)[pair]
            M[rows, cols] = self._block_m(g, sigma2)[pair]
        return M

    def at(self, sigma2: np.ndarray) -> dict:
        p = self.p
        XWX = np.zeros((p, p))
        XWy = np.zeros(p)
        logdet_m = 0.0
        parts = []
        for g in self.groups:
            M = self._block_m(g, sigma2)
            try:
                L = np.linalg.cholesky(M)
            except np.linalg.LinAlgError:
                return {"ok": False}
            logdet_m += 2.0 * float(np.sum(np.log(np.diagonal(L, axis1=1, axis2=2))))
            W = np.linalg.inv(M)
            WX = W @ g["X"]
            XWX += g["X"].reshape(-1, p).T @ WX.reshape(-1, p)
            XWy += WX.reshape(-1, p).T @ g["y"].ravel()
            parts.append((W, WX))
        vb = np.linalg.inv(XWX)
        beta = vb @ XWy
        r = self.y - self.X @ beta
        Wr = np.empty(self.k)
        for g, (W, _) in zip(self.groups, parts):
            rg = np.zeros(g["real"].shape)
            rg[g["real"]] = r[g["flat"]]
            Wr[g["flat"]] = (W @ rg[:, :, None])[:, :, 0][g["real"]]
        rss = float(r @ Wr)
        k = self.k
        ll_ml = -0.5 * k * _LOG2PI - 0.5 * logdet_m - 0.5 * rss
        ll_reml = (-0.5 * (k - p) * _LOG2PI + 0.5 * self.logdet_xx - 0.5 * logdet_m
                   - 0.5 * float(np.linalg.slogdet(XWX)[1]) - 0.5 * rss)
        return {"ok": True, "parts": parts, "vb": vb, "beta": beta, "r": r, "Wr": Wr, "ll_ml": ll_ml,
                "ll_reml": ll_reml}

    def score_info(self, fit: dict, reml: bool, observed: bool):
        """As :meth:`_Model.score_info`, summed over blocks (P = W - WX vb X'W is not block
        diagonal, so its terms are expanded: tr(P D_a P D_b) = tr(W D_a W D_b)
        - 2 tr(vb X'W D_a W D_b WX) + tr(vb A_a vb A_b) with A_a = X'W D_a WX)."""
        q, p = self.q, self.p
        vb, u = fit["vb"], fit["Wr"]
        trWD = np.zeros(q)
        uDu = np.zeros(q)
        A = np.zeros((q, p, p))
        T = np.zeros((q, q))
        B = np.zeros((q, q, p, p))
        C = np.zeros((q, q))          # (D_a u)' W (D_b u)
        F = np.zeros((q, p))          # X'W D_a u, summed
        for g, (W, WX) in zip(self.groups, fit["parts"]):
            D = g["D"]                                            # (q, n, s, s)
            ug = np.zeros(g["real"].shape)
            ug[g["real"]] = u[g["flat"]]
            Du = (D @ ug[None, :, :, None])[..., 0]               # D_a u
            WDa = W[None] @ D                                     # W D_a
            DWX = D @ WX[None]                                    # D_a W X
            WDWX = W[None] @ DWX                                  # W D_b W X
            WDu = (W[None] @ Du[..., None])[..., 0]               # W D_b u
            trWD += np.einsum("anss->a", WDa)
            uDu += (Du * ug[None]).sum(axis=(1, 2))
            WXf = WX.reshape(-1, p)
            DWXf = DWX.reshape(q, -1, p)
            A += WXf.T[None] @ DWXf
            T += WDa.reshape(q, -1) @ WDa.transpose(0, 1, 3, 2).reshape(q, -1).T
            B += (DWXf.transpose(0, 2, 1).reshape(q * p, -1) @ WDWX.reshape(q, -1, p).transpose(1, 0, 2)
                  .reshape(-1, q * p)).reshape(q, p, q, p).transpose(0, 2, 1, 3)
            C += Du.reshape(q, -1) @ WDu.reshape(q, -1).T
            F += Du.reshape(q, -1) @ WXf
        if reml:
            tr = trWD - np.einsum("pq,aqp->a", vb, A)
        else:
            tr = trWD
        score = -0.5 * tr + 0.5 * uDu
        if reml:
            vA = np.einsum("pq,aqr->apr", vb, A)
            tr2 = T - 2.0 * np.einsum("pq,abqp->ab", vb, B) + np.einsum("apq,bqp->ab", vA, vA)
        else:
            tr2 = T
        if observed:
            quad = C - F @ vb @ F.T if reml else C
            info = quad - 0.5 * tr2
        else:
            info = 0.5 * tr2
        return score, 0.5 * (info + info.T)


#: the fixed cost of one more group of blocks, in multiply-adds of the cubic terms
_GROUP_COST = 60_000


def _buckets(blocks: list[np.ndarray]) -> dict[int, list[np.ndarray]]:
    """Blocks grouped by padded size: the split of the sorted sizes into runs that minimises
    sum(blocks x largest size³) + a fixed cost per run (dynamic programming over the sizes)."""
    sizes = sorted({b.size for b in blocks})
    count = {s: 0 for s in sizes}
    for b in blocks:
        count[b.size] += 1
    m = len(sizes)
    best = [0.0] + [math.inf] * m       # best[j]: cost of the first j sizes
    cut = [0] * (m + 1)
    for j in range(1, m + 1):
        n = 0
        for i in range(j, 0, -1):        # the run sizes[i-1 .. j-1], padded to sizes[j-1]
            n += count[sizes[i - 1]]
            cost = best[i - 1] + n * float(sizes[j - 1]) ** 3 + _GROUP_COST
            if cost < best[j]:
                best[j], cut[j] = cost, i - 1
    top, j = {}, m
    while j > 0:
        for s in sizes[cut[j]:j]:
            top[s] = sizes[j - 1]
        j = cut[j]
    buckets: dict[int, list[np.ndarray]] = {}
    for b in blocks:
        buckets.setdefault(top[b.size], []).append(b)
    return buckets


def _blocks(V: np.ndarray, levels: Sequence[tuple[np.ndarray, int]]) -> list[np.ndarray]:
    """Sets of estimates connected by a sampling covariance or a shared random-effect level
    (the diagonal blocks of M), each in increasing row order."""
    k = V.shape[0]
    rows, cols = np.nonzero(V)
    if levels:
        # the usual case: every component nested in the first, V within its levels
        first, n_first = levels[0]
        nested = all(np.unique(li.astype(np.int64) * n_first + first).size == n for li, n in levels[1:])
        if nested and np.all(first[rows] == first[cols]):
            order = np.argsort(first, kind="stable")
            cuts = np.flatnonzero(np.diff(first[order])) + 1
            return np.split(order, cuts)
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    offset = k
    r_parts, c_parts = [rows], [cols]
    for li, n in levels:
        r_parts.append(np.arange(k))
        c_parts.append(offset + li)
        offset += n
    r = np.concatenate(r_parts)
    c = np.concatenate(c_parts)
    graph = coo_matrix((np.ones(r.size), (r, c)), shape=(offset, offset))
    _, label = connected_components(graph, directed=False)
    lab = label[:k]
    order = np.argsort(lab, kind="stable")
    cuts = np.flatnonzero(np.diff(lab[order])) + 1
    return [np.sort(b) for b in np.split(order, cuts)]


def _solve(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A⁻¹b, or the minimum-norm least-squares step when A is singular (components that the
    data cannot tell apart: the step then moves them alike, as rma.mv's optimiser does)."""
    try:
        return np.linalg.solve(A, b)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(A, b, rcond=None)[0]


def _maximise(model: _Model | _BlockModel, reml: bool, fixed: np.ndarray, start: np.ndarray, tol: float,
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
        score, info = model.score_info(fit, reml, observed=it > 1)
        active = free & ~((s2 <= 0) & (score <= 0))
        step = np.zeros_like(s2)
        newton = it > 1
        if active.any():
            A = np.ix_(active, active)
            step[active] = _solve(info[A], score[active])
            if it > 1 and (np.any(np.linalg.eigvalsh(info[A]) <= 0) or float(score[active] @ step[active]) <= 0):
                _, fisher = model.score_info(fit, reml, observed=False)
                step[active] = _solve(fisher[A], score[active])
                newton = False
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
        full_newton = newton and t == 1.0 and bool(np.all(new[active] > 0))
        s2, fit = new, nfit
        scale = 1.0 + float(np.max(np.abs(s2)))
        # a full Newton step of size d leaves an error of order d² (quadratic convergence)
        if change <= tol * scale or (full_newton and change <= math.sqrt(tol) * scale):
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
    # omnibus test of the coefficients btt, as metafor's robust(clubSandwich = TRUE) reports it:
    # clubSandwich's HTZ Wald test (F with df_num, df_denom) for several coefficients, the squared
    # Satterthwaite t test (F with 1 and its df) for one
    qm: float = math.nan
    qm_df: tuple = (0, math.nan)
    qm_p: float = math.nan
    qm_test: str = "HTZ"


@dataclass(frozen=True)
class MVFit(Coefficients):
    """One fitted multilevel / multivariate model (the numbers metafor's ``rma.mv`` prints)."""

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
    for a in range(q):
        for b in range(a + 1, q):
            same = random_levels[a][2] == random_levels[b][2] and np.unique(
                random_levels[a][1].astype(np.int64) * random_levels[b][2] + random_levels[b][1]).size == \
                random_levels[a][2]
            if same and not (fixed[a] or fixed[b]) and random_levels[a][2] > 1:
                warnings.warn(f"the random effects {random_levels[a][0]!r} and {random_levels[b][0]!r} have the same "
                              "levels (e.g. one estimate per cluster): their variances cannot be told apart, only "
                              "their sum is estimated (shared as the optimiser finds it, as rma.mv)",
                              MetaReviewWarning, stacklevel=2)
    for j, (name, _, n) in enumerate(random_levels):
        if n == 1 and not fixed[j]:
            warnings.warn(f"the random effect {name!r} has a single level: its sigma² is fixed at 0 (as rma.mv)",
                          MetaReviewWarning, stacklevel=2)
            fixed[j] = True
    lv = [(idx, n) for _, idx, n in random_levels]
    # components fixed at 0 do not tie estimates together
    blocks = _blocks(V, [lv[j] for j in range(q) if not (fixed[j] and start[j] == 0)])
    model = _BlockModel(y, V, X, lv, blocks) if len(blocks) > 1 else _Model(y, V, X, lv)
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
    ddf = k - p if test == "t" else None
    if ddf is not None and ddf < 1:
        raise DataError(f"test='t' needs more estimates ({k}) than coefficients ({p})", rule="k > p")
    wt = wald_tests(beta, vb, intercept=intercept, ddf=ddf, level=level)
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
    return MVFit(names=nm, beta=beta, vb=vb, se=wt.se, statistic=wt.statistic, p=wt.p,
                 ci_low=wt.ci_low, ci_high=wt.ci_high, ddf=ddf, sigma2=s2,
                 components=tuple(n for n, _, _ in random_levels),
                 nlevels=tuple(int(n) for _, _, n in random_levels), qm=wt.qm, qm_df=wt.qm_df, qm_p=wt.qm_p,
                 qe=qe, qe_df=qe_df, qe_p=qe_p, loglik=ll, deviance=dev, aic=aic, bic=bic, aicc=aicc,
                 parms=parms, k=k, method=method, test=test, level=level, converged=bool(conv),
                 iterations=int(its), btt=wt.btt, M=model.marginal(s2), residuals=fit["r"])


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
    GG = np.stack([g @ g.T for g in G_rows], axis=2)   # p x p x J: products of G's rows within a cluster
    df = np.empty(p)
    for i in range(p):
        P = _p_matrix(H, GG, i, i)
        df[i] = float(np.trace(P)) ** 2 / float(np.sum(P * P))
    stat = fit.beta / se
    pv = 2 * special.stdtr(df, -np.abs(stat))
    crit = special.stdtrit(df, 1 - (1 - fit.level) / 2)
    btt = list(fit.btt)
    if len(btt) == 1:   # metafor: the squared t test of the one coefficient
        j = btt[0]
        qm, qm_df, qm_p, qm_test = float(stat[j] ** 2), (1, float(df[j])), float(pv[j]), "t"
    else:
        qm, qm_df, qm_p = _wald_htz(fit.beta[btt], vcr[np.ix_(btt, btt)], H[btt], GG[np.ix_(btt, btt)])
        qm_test = "HTZ"
    return RobustTest(cluster=cluster_name, n_clusters=J, vb=vcr, se=se, statistic=stat, df=df, p=pv,
                      ci_low=fit.beta - crit * se, ci_high=fit.beta + crit * se, qm=qm, qm_df=qm_df, qm_p=qm_p,
                      qm_test=qm_test)


def _p_matrix(H: np.ndarray, GG: np.ndarray, i: int, k: int) -> np.ndarray:
    """clubSandwich's P array for coefficients i and k (J x J): the covariance, up to the
    working model, of the clusters' contributions to the CR2 variance."""
    P = -(H[i].T @ H[k])
    P[np.diag_indices(H.shape[2])] += GG[i, k]
    return P


def _wald_htz(b: np.ndarray, V: np.ndarray, H: np.ndarray, GG: np.ndarray) -> tuple[float, tuple, float]:
    """Cluster-robust Wald test of ``b = 0`` (q coefficients, CR2 covariance ``V``) with the
    Hotelling's T² approximation whose degrees of freedom match the total variance of the CR2
    estimator (HTZ; Tipton & Pustejovsky 2015, J Educ Behav Stat 40:604-634; Pustejovsky & Tipton
    2018, J Bus Econ Stat 36:672-683), as clubSandwich's ``Wald_test(test = "HTZ")``.
    Returns (F, (q, df_denom), p)."""
    q = b.size
    P = np.array([[_p_matrix(H, GG, i, k) for k in range(q)] for i in range(q)])   # q x q x J x J
    omega = np.trace(P, axis1=2, axis2=3)
    on = _inv_sqrt_psd(omega)
    B = np.einsum("si,ikab,kt->stab", on, P, on)
    var = np.einsum("stab,tsab->st", B, B) + np.einsum("ssab,ttab->st", B, B)
    nu = q * (q + 1) / float(np.sum(var))
    Q = float(b @ np.linalg.solve(V, b))
    df2 = nu - q + 1
    F = max((nu - q + 1) / nu, 0.0) * Q / q
    return F, (q, df2), float(special.fdtrc(q, df2, F)) if df2 > 0 else math.nan


# ---------------------------------------------------------------------------------------
# the user-facing result
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MultilevelResult(Reportable):
    """A multilevel / multivariate meta-analysis (metafor's ``rma.mv``), with its data and settings.

    ``summary()`` is the coefficient table, ``variance_components()`` the sigma² table
    with likelihood-ratio tests, ``to_dict()`` the JSON ``multilevel`` block,
    ``print_summary()``/``str()`` the printout laid out as metafor's, ``forest()`` the
    estimates grouped by cluster.
    """

    fit: MVFit
    measure: Any                 # metareview.effectsizes.measures.Measure
    studlab: np.ndarray          # one label per estimate used
    yi: np.ndarray
    V: np.ndarray
    X: np.ndarray
    random: tuple                # the random-effects formulas
    groups: dict                 # grouping column -> values of the estimates used
    formula: str | None          # moderators, None for the intercept-only model
    cluster: str                 # outermost grouping (V's correlation, robust tests, forest groups)
    rho: float | None
    lrt_fn: Any                  # computes the likelihood-ratio tests of the components (see ``lrt``)
    robust: RobustTest | None
    prediction: tuple | None     # (low, high) for the intercept-only model
    backtransform_fn: Any = None
    covariates: dict = field(default_factory=dict)   # other columns of the estimates used (labels, plots)
    dropped: tuple = ()
    notes: tuple = field(default=())

    @property
    def k(self) -> int:
        return self.fit.k

    @property
    def lrt(self) -> tuple:
        """Per variance component: ``{"component", "lrt", "df", "p", "loglik_reduced"}`` (the model
        refitted with that sigma² fixed at 0, as metafor's ``anova(full, reduced)``), or ``None``
        for a fixed component.  Computed on first use (one refit per component)."""
        cached = self.__dict__.get("_lrt")
        if cached is None:
            cached = tuple(self.lrt_fn())
            object.__setattr__(self, "_lrt", cached)
        return cached

    @property
    def vi(self) -> np.ndarray:
        return np.diag(self.V).copy()

    def backtransform(self, x):
        """Values on the natural scale (proportions, ratios, ...) from the analysis scale."""
        if self.backtransform_fn is not None:
            return self.backtransform_fn(x)
        from ..effectsizes.measures import backtransform
        return backtransform(self.measure, x)

    # ---- tables ---------------------------------------------------------------------
    def summary(self):
        """The coefficient table as a DataFrame (estimate, se, statistic, p, ci_low, ci_high; with
        ``robust_*`` columns when cluster-robust tests were asked for)."""
        import pandas as pd
        f = self.fit
        out = pd.DataFrame({"estimate": f.beta, "se": f.se, "statistic": f.statistic, "p": f.p,
                            "ci_low": f.ci_low, "ci_high": f.ci_high}, index=list(f.names))
        if self.robust is not None:
            rb = self.robust
            out = out.assign(robust_se=rb.se, robust_statistic=rb.statistic, robust_df=rb.df, robust_p=rb.p,
                             robust_ci_low=rb.ci_low, robust_ci_high=rb.ci_high)
        return out

    coefficients = summary

    def variance_components(self):
        """sigma² of each random effect with its number of levels and likelihood-ratio test."""
        import pandas as pd
        f = self.fit
        rows = []
        for j, name in enumerate(f.components):
            t = self.lrt[j] or {}
            rows.append({"component": name, "sigma2": f.sigma2[j], "sigma": math.sqrt(f.sigma2[j]),
                         "nlevels": f.nlevels[j], "lrt": t.get("lrt", math.nan), "lrt_p": t.get("p", math.nan)})
        return pd.DataFrame(rows).set_index("component")

    # ---- JSON, printing -------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The JSON ``multilevel`` block (see docs/json-contract.md)."""
        f = self.fit
        coefs = [{"name": n, "estimate": _num(f.beta[j]), "se": _num(f.se[j]), "statistic": _num(f.statistic[j]),
                  "p": _num(f.p[j]), "ci_low": _num(f.ci_low[j]), "ci_high": _num(f.ci_high[j])}
                 for j, n in enumerate(f.names)]
        if self.robust is not None:
            rb = self.robust
            for j, c in enumerate(coefs):
                c["robust"] = {"se": _num(rb.se[j]), "statistic": _num(rb.statistic[j]), "df": _num(rb.df[j]),
                               "p": _num(rb.p[j]), "ci_low": _num(rb.ci_low[j]), "ci_high": _num(rb.ci_high[j])}
        comps = []
        for j, name in enumerate(f.components):
            t = self.lrt[j]
            comps.append({"component": name, "sigma2": _num(f.sigma2[j]), "sigma": _num(math.sqrt(f.sigma2[j])),
                          "nlevels": f.nlevels[j],
                          "lrt": None if t is None else {"statistic": _num(t["lrt"]), "df": t["df"],
                                                         "p": _num(t["p"]),
                                                         "loglik_reduced": _num(t["loglik_reduced"])}})
        out = {
            "model": "rma.mv", "k": f.k, "method": f.method, "test": f.test, "level": f.level,
            "random": list(self.random), "mods": self.formula, "cluster": self.cluster, "rho": self.rho,
            "measure": self.measure.code, "coefficients": coefs, "variance_components": comps,
            "qm": {"statistic": _num(f.qm), "df": f.qm_df[0], "df2": f.qm_df[1], "p": _num(f.qm_p),
                   "distribution": "F" if f.ddf is not None else "chi2"},
            "qe": {"q": _num(f.qe), "df": int(f.qe_df), "p": _num(f.qe_p)},
            "fit": {"loglik": _num(f.loglik), "deviance": _num(f.deviance), "aic": _num(f.aic), "bic": _num(f.bic),
                    "aicc": _num(f.aicc), "parameters": f.parms},
            "prediction": None if self.prediction is None else {"low": _num(self.prediction[0]),
                                                                 "high": _num(self.prediction[1])},
            "robust": None if self.robust is None else {"type": "CR2", "cluster": self.robust.cluster,
                                                        "n_clusters": self.robust.n_clusters,
                                                        "df": "Satterthwaite",
                                                        "qm": {"statistic": _num(self.robust.qm),
                                                               "df": self.robust.qm_df[0],
                                                               "df2": _num(self.robust.qm_df[1]),
                                                               "p": _num(self.robust.qm_p),
                                                               "test": self.robust.qm_test}},
            "backtransformed": None, "converged": f.converged, "iterations": f.iterations,
            "estimates": [{"label": str(s), "yi": _num(self.yi[i]), "vi": _num(self.V[i, i]),
                           "groups": {g: str(v[i]) for g, v in self.groups.items()}}
                          for i, s in enumerate(self.studlab)],
            "studies_dropped": list(self.dropped), "notes": list(self.notes),
        }
        if self.measure.transformed and self.formula is None:
            bt = self.backtransform
            out["backtransformed"] = {"estimate": _num(bt(f.beta[0])), "ci_low": _num(bt(f.ci_low[0])),
                                      "ci_high": _num(bt(f.ci_high[0])),
                                      "prediction": None if self.prediction is None else
                                      {"low": _num(bt(self.prediction[0])), "high": _num(bt(self.prediction[1]))}}
        return out

    def report(self):
        """The printout as a report model, in the order metafor prints an ``rma.mv`` fit."""
        from ..base.report import Paragraph, Report, Table
        f = self.fit
        rep = Report()
        rep.add(Paragraph(f"Multivariate Meta-Analysis Model (k = {f.k}; method: {f.method})"))
        rep.add(Table(["", "logLik", "Deviance", "AIC", "BIC", "AICc"],
                      [[f.method, _f(f.loglik), _f(f.deviance), _f(f.aic), _f(f.bic), _f(f.aicc)]]))
        rows = []
        for j, name in enumerate(f.components):
            t = self.lrt[j]
            rows.append([f"sigma^2.{j + 1}", _f(f.sigma2[j]), _f(math.sqrt(f.sigma2[j])), str(f.nlevels[j]), name,
                         "--" if t is None else _f(t["lrt"], 2), "--" if t is None else _p(t["p"])])
        rep.add(Paragraph("Variance components:"))
        rep.add(Table(["", "estimate", "sqrt", "levels", "factor", "LRT", "p-value"], rows,
                      notes=["LRT: likelihood-ratio test of the model without the component (sigma^2 = 0), "
                             "1 df, as metafor's anova(full, reduced)."]))
        if self.rho is not None:
            rep.add(Paragraph(f"Sampling covariances: correlation rho = {self.rho:g} between the estimates of "
                              f"a {self.cluster} (constant correlation, as metafor's vcalc)"))
        rep.add(Paragraph(f"Test for {'residual ' if self.formula else ''}heterogeneity: "
                          f"Q(df = {f.qe_df}) = {_f(f.qe)}, p {_peq(f.qe_p)}"))
        if self.formula is not None:
            rep.add(Paragraph(f"Test of moderators ({self.formula}): "
                              + (f"F({f.qm_df[0]}, {f.qm_df[1]}) = {_f(f.qm)}, p {_peq(f.qm_p)}"
                                 if f.ddf is not None else
                                 f"QM(df = {f.qm_df[0]}) = {_f(f.qm)}, p {_peq(f.qm_p)}")))
        pct = int(round(f.level * 100))
        stat = "t" if f.ddf is not None else "z"
        rows = [[n, _f(f.beta[j]), _f(f.se[j]), _f(f.statistic[j], 3), _p(f.p[j]),
                 f"[{_f(f.ci_low[j])}; {_f(f.ci_high[j])}]"] for j, n in enumerate(f.names)]
        rep.add(Paragraph("Model results:" + (f" (t tests, df = {f.ddf})" if f.ddf is not None else "")))
        rep.add(Table(["", "estimate", "se", stat, "p-value", f"{pct}%-CI"], rows))
        if self.robust is not None:
            rb = self.robust
            rows = [[n, _f(f.beta[j]), _f(rb.se[j]), _f(rb.statistic[j], 3), _f(rb.df[j], 2), _p(rb.p[j]),
                     f"[{_f(rb.ci_low[j])}; {_f(rb.ci_high[j])}]"] for j, n in enumerate(f.names)]
            rep.add(Paragraph(f"Cluster-robust tests (CR2, Satterthwaite df; {rb.n_clusters} clusters by "
                              f"{rb.cluster}):"))
            rep.add(Table(["", "estimate", "se", "t", "df", "p-value", f"{pct}%-CI"], rows))
            if self.formula is not None:
                how = "HTZ Wald test" if rb.qm_test == "HTZ" else "squared t test"
                rep.add(Paragraph(f"Cluster-robust test of moderators ({how}): F({rb.qm_df[0]}, "
                                  f"{_f(rb.qm_df[1], 2)}) = {_f(rb.qm)}, p {_peq(rb.qm_p)}"))
        if self.prediction is not None:
            line = f"Prediction interval: [{_f(self.prediction[0])}; {_f(self.prediction[1])}]"
            if self.measure.transformed:
                bt = self.backtransform
                line += (f"\nOn the natural scale: estimate {_f(float(bt(f.beta[0])))} "
                         f"[{_f(float(bt(f.ci_low[0])))}; {_f(float(bt(f.ci_high[0])))}]; prediction interval "
                         f"[{_f(float(bt(self.prediction[0])))}; {_f(float(bt(self.prediction[1])))}]")
            rep.add(Paragraph(line))
        if self.notes:
            rep.add(Paragraph("Notes:\n" + "\n".join("- " + n for n in self.notes)))
        return rep

    def forest(self, ax=None, **kwargs):
        """Forest plot of the estimates grouped by cluster, with the pooled estimate
        (see :func:`metareview.plots.forest_clusters.forest_clusters`)."""
        from ..plots.forest_clusters import forest_clusters
        return forest_clusters(self, ax=ax, **kwargs)

    plot = forest


# ---------------------------------------------------------------------------------------
# building a model from a table
# ---------------------------------------------------------------------------------------

def _column_values(data, value, name: str, k: int | None):
    if isinstance(value, str):
        return column_argument(data, value, name).ravel()
    arr = np.asarray(value).ravel()
    if k is not None and arr.size != k:
        raise DataError(f"{name} has {arr.size} values for {k} estimates", column=name, rule="one value per estimate")
    return arr


def _design(columns: dict, mods, labels: np.ndarray):
    """Design matrix, coefficient names and formula text of ``mods``, read by the
    meta-regression's parser (one seam: metareview.analyses.metareg reads every moderator formula)."""
    from types import SimpleNamespace

    from . import moderators
    holder = SimpleNamespace(data={}, covariates=columns, k_all=labels.size)
    cols, text = moderators.resolve_mods(holder, mods)
    design = moderators.design_matrix(cols, text, labels)
    moderators.check_rank(design.X, design.names, labels.size)
    return design.X, design.names, design.intercept, text, list(cols)


def metamv(yi, vi=None, *, V=None, data=None, random: str | Sequence[str] = "~ 1 | study",
           rho: float | None = None, cluster: str | None = None, mods=None, method: str = "REML",
           test: str = "z", level: float = 0.95, measure: str = "GEN", studlab=None, robust: bool = False,
           sigma2: Sequence[float | None] | None = None, backtransform=None) -> MultilevelResult:
    """Multilevel / multivariate random-effects meta-analysis, as metafor's ``rma.mv``.

    ``yi`` and ``vi`` are estimates and sampling variances (column names of ``data``, or
    arrays); ``V`` a known sampling covariance matrix instead of ``vi``; ``rho`` an assumed
    correlation between the estimates of a cluster (``V`` built as metafor's ``vcalc``).
    ``random``: random-intercept formulas over columns of ``data`` (``"~ 1 | study/outcome"``
    nests outcomes in studies).  ``cluster``: the grouping for ``rho`` and for the
    cluster-robust tests (default the outermost grouping of the first formula).  ``mods``:
    moderators, as :func:`metareview.analyses.metareg.metareg` reads them.  ``method``: REML or ML;
    ``test``: ``"z"`` or ``"t"`` (k - p df); ``robust=True`` adds CR2 tests with
    Satterthwaite df (clubSandwich).  ``sigma2`` fixes components (numbers; ``None`` = free).

    >>> import metareview as mr
    >>> r = mr.metamv([0.2, 0.3, 0.1, 0.5, 0.4, 0.6], [0.01, 0.02, 0.01, 0.02, 0.01, 0.02],
    ...               data={"study": [1, 1, 2, 2, 3, 3], "es": [1, 2, 1, 2, 1, 2]},
    ...               random="~ 1 | study/es")
    >>> r.fit.components
    ('study', 'study/es')
    """
    from ..effectsizes.measures import get_measure

    m = get_measure(measure)
    components = parse_random(random)
    y_raw = _column_values(data, yi, "yi", None)
    k = y_raw.size
    labels = (np.array([str(i + 1) for i in range(k)], dtype=object) if studlab is None
              else np.array([str(s) for s in _column_values(data, studlab, "studlab", k)], dtype=object))
    yv = _numbers(y_raw, "yi", labels)
    if (V is None) == (vi is None):
        raise SettingsError("give the sampling variances vi or the sampling covariance matrix V (one of them)")
    if V is not None:
        if rho is not None:
            raise SettingsError("rho builds V from vi: give rho with vi, not with V")
        Vm = np.asarray(V, float)
        if Vm.shape != (k, k):
            raise DataError(f"V is {Vm.shape[0]} x {Vm.shape[1] if Vm.ndim > 1 else 1} for {k} estimates",
                            column="V", rule="k x k matrix")
        if not np.allclose(Vm, Vm.T, rtol=1e-12, atol=0):
            raise DataError("V is not symmetric", column="V", rule="symmetric V")
        vv = np.diag(Vm).copy()
    else:
        v_raw = _column_values(data, vi, "vi", k)
        vv = _numbers(v_raw, "vi", labels)
    bad_y = ~np.isfinite(yv)
    if bad_y.any():
        i = int(np.argmax(bad_y))
        raise DataError("missing or non-finite estimate", study=str(labels[i]), column="yi", rule="finite yi")
    bad_v = ~(np.isfinite(vv) & (vv > 0))
    if bad_v.any():
        i = int(np.argmax(bad_v))
        raise DataError(f"sampling variance {vv[i]} is not a positive number", study=str(labels[i]),
                        column="vi", rule="vi > 0")
    group_cols = list(dict.fromkeys(c for _, cols in components for c in cols))
    cluster = cluster or components[0][1][0]
    groups = {}
    for col in dict.fromkeys(group_cols + [cluster]):
        vals = _column_values(data, col, col, k)
        miss = _missing_mask(vals)
        if miss.any():
            raise DataError("missing grouping value", study=str(labels[int(np.argmax(miss))]), column=col,
                            rule="grouping value required")
        groups[col] = np.asarray(vals, dtype=object)
    keep = np.ones(k, bool)
    notes: list[str] = []
    dropped: list[str] = []
    X = np.ones((k, 1))
    names, intercept, text = ["intrcpt"], True, None
    if mods is not None:
        mod_cols = {}
        if isinstance(mods, str) or (isinstance(mods, Sequence) and all(isinstance(c, str) for c in mods)):
            from .moderators import formula_variables
            text = mods if isinstance(mods, str) else "~ " + " + ".join(mods)
            wanted = formula_variables(text if text.strip().startswith("~") else "~ " + text)
            mod_cols = {c: np.asarray(_column_values(data, c, c, k), dtype=object) for c in wanted}
        else:
            raise SettingsError("mods must be a formula string ('~ year + factor(design)') or a list of column names")
        keep, notes, dropped = drop_missing(mod_cols, labels, keep, unit=("estimate", "estimates"))
    if V is None:
        Vm = vcalc(vv, groups[cluster], rho) if rho is not None else np.diag(vv)
    idx = np.flatnonzero(keep)
    labels, yv, Vm = labels[idx], yv[idx], Vm[np.ix_(idx, idx)]
    groups = {c: v[idx] for c, v in groups.items()}
    if mods is not None:
        X, names, intercept, text, _ = _design({c: v[idx] for c, v in mod_cols.items()}, mods, labels)
    levels = []
    for name, cols in components:
        li, n = _level_index([groups[c] for c in cols])
        levels.append((name, li, n))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = rma_mv(yv, Vm, X, levels, method=method, test=test, level=level, names=names, intercept=intercept,
                     sigma2=sigma2)
    for w in caught:
        notes.append(str(w.message))
        warnings.warn(w.message, w.category, stacklevel=2)
    def lrt() -> list:
        out: list[dict | None] = []
        fixed = list(sigma2) if sigma2 is not None else [None] * len(levels)
        for j in range(len(levels)):
            if fixed[j] is not None or levels[j][2] == 1:
                out.append(None)
                continue
            reduced = list(fixed)
            reduced[j] = 0.0
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                red = rma_mv(yv, Vm, X, levels, method=method, test=test, level=level, names=names,
                             intercept=intercept, sigma2=reduced)
            stat = 2.0 * (fit.loglik - red.loglik)
            out.append({"component": levels[j][0], "lrt": stat, "df": fit.parms - red.parms,
                        "p": float(_dist.chi2_sf(max(stat, 0.0), fit.parms - red.parms)),
                        "loglik_reduced": red.loglik})
        return out

    prediction = None
    if X.shape[1] == 1 and intercept:
        crit = (float(_dist.t_ppf(1 - (1 - level) / 2, fit.ddf)) if fit.ddf is not None
                else float(_dist.norm_ppf(1 - (1 - level) / 2)))
        half = crit * math.sqrt(fit.se[0] ** 2 + float(np.sum(fit.sigma2)))
        prediction = (float(fit.beta[0] - half), float(fit.beta[0] + half))
    rb = robust_cr2(fit, X, groups[cluster], cluster) if robust else None
    return MultilevelResult(fit=fit, measure=m, studlab=labels, yi=yv, V=Vm, X=X,
                            random=tuple([random] if isinstance(random, str) else random), groups=groups,
                            formula=text, cluster=cluster, rho=None if rho is None else float(rho), lrt_fn=lrt,
                            robust=rb, prediction=prediction, backtransform_fn=backtransform,
                            dropped=tuple(dropped), notes=tuple(notes))


def _missing_mask(values) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype.kind in "fiub":
        return np.isnan(arr.astype(float))
    return np.array([is_missing(x) for x in arr.ravel()], dtype=bool)


def _numbers(values, column: str, labels) -> np.ndarray:
    """Floats of a column (NaN where missing); a non-numeric cell is an error naming the row."""
    arr = np.asarray(values)
    if arr.dtype.kind in "fiub":
        return arr.astype(float).ravel()
    return np.array([math.nan if is_missing(x) else _as_float(x, column, labels[i]) for i, x in enumerate(arr.ravel())])


def _as_float(x, column: str, study: str) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        raise DataError(f"non-numeric value {x!r}", study=study, column=column, rule="numeric value required") from None


def multilevel(result, cluster, *, method: str = "REML", test: str = "z", rho: float | None = None,
               robust: bool = False, cluster_name: str | None = None) -> MultilevelResult:
    """The three-level model of a pooled result whose rows share clusters, as R meta's
    ``cluster`` argument: ``rma.mv(yi, vi, random = ~ 1 | cluster/estimate)``.

    ``result`` is a :class:`~metareview.api.result.MetaResult` (its estimates, sampling
    variances, measure and back-transformation are used; excluded rows stay out); each of
    its rows is one estimate.  ``cluster`` is a column of its data or covariates (``"study"``,
    when no column has that name, is the study labels: the rows of one study form a cluster),
    or one value per row (then named ``cluster_name``, default ``"cluster"``).
    """
    cols = {**{c: np.asarray(v, dtype=object) for c, v in (getattr(result, "data", {}) or {}).items()},
            **{c: np.asarray(v, dtype=object) for c, v in (getattr(result, "covariates", {}) or {}).items()}}
    if isinstance(cluster, str) and cluster == "study" and cluster not in cols:
        return multilevel(result, np.asarray(result.studlab, dtype=object), method=method, test=test, rho=rho,
                          robust=robust, cluster_name="study")
    if isinstance(cluster, str):
        if cluster not in cols:
            raise DataError(f"cluster column {cluster!r} is not in the data; columns are: "
                            f"{', '.join(cols) or '(none)'} and study (the study labels)", column=cluster,
                            rule="missing column")
        name, values = cluster, cols[cluster]
    else:
        name, values = cluster_name or "cluster", np.asarray(cluster, dtype=object).ravel()
        if values.size != result.k_all:
            raise DataError(f"cluster has {values.size} values for {result.k_all} rows", column=name,
                            rule="one value per row")
    if name == "estimate":
        raise SettingsError("the cluster column may not be called 'estimate' (the name of the estimate level)")
    inc = np.asarray(result.included, bool)
    table = {name: values[inc], "estimate": np.arange(1, int(inc.sum()) + 1)}
    res = metamv(np.asarray(result.yi, float)[inc], np.asarray(result.vi, float)[inc], data=table,
                 random=f"~ 1 | {name}/estimate", cluster=name, rho=rho, method=method, test=test,
                 level=result.settings.level, measure=result.measure.code,
                 studlab=np.asarray(result.studlab, dtype=object)[inc], robust=robust,
                 backtransform=result.backtransform)
    others = {c: v[inc] for c, v in cols.items() if c != name}
    return replace(res, covariates=others, notes=tuple(result.notes) + res.notes)
