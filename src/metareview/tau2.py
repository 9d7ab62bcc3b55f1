"""Between-study variance (tau²) estimators, vectorised over analyses.

Every function takes ``y`` and ``v`` of shape (analyses, studies) and a 0/1 ``mask`` of
the same shape (ragged analyses are padded and masked), and returns one tau² per
analysis.  The definitions are metafor's ``rma.uni`` for an intercept-only model:

* DL  DerSimonian & Laird (1986), Control Clin Trials 7:177
* HE  Hedges (1983): unweighted method of moments
* HS  Hunter & Schmidt (2004)
* SJ  Sidik & Jonkman (2005), Stat Med 26:1964 (one step from the HE-type start var(y)(k-1)/k)
* PM  Paule & Mandel (1982): root of the generalised Q statistic at k - 1
* ML, REML  Fisher scoring (Harville 1977; Viechtbauer 2005, JEBS 30:261) from the HE
  estimate, with step halving at the boundary and a check of the likelihood at zero
* EB  Morris (1983) empirical Bayes

Iterative estimators run on all analyses at once, each with its own convergence flag.
They converge to a relative change below ``tol`` (default 1e-12), tighter than metafor's
default threshold (1e-5), so that results agree with the converged value.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .exceptions import ConvergenceWarning, SettingsError

__all__ = ["TAU2_METHODS", "Tau2Fit", "estimate_tau2", "q_generalised", "q_profile"]

TAU2_METHODS = ("DL", "PM", "REML", "ML", "HS", "SJ", "HE", "EB")


@dataclass(frozen=True)
class Tau2Fit:
    tau2: np.ndarray
    iterations: np.ndarray
    converged: np.ndarray


def _mu_w(y, v, mask, tau2):
    w = mask / (v + tau2[:, None])
    sw = w.sum(-1)
    mu = (w * y).sum(-1) / sw
    return w, sw, mu


def q_generalised(y, v, mask, tau2, derivative: bool = True):
    """Generalised Q: sum of w_i (y_i - mu_w)² with w_i = 1/(v_i + tau²), and its derivative
    (None when ``derivative`` is False)."""
    w, sw, mu = _mu_w(y, v, mask, tau2)
    r = y - mu[:, None]
    q = (w * r * r).sum(-1)
    dq = -(w * w * r * r).sum(-1) if derivative else None
    return q, dq


def _solve_q(y, v, mask, target, tol=1e-12, maxiter=500):
    """tau² >= 0 with Q_gen(tau²) = target (Q_gen decreases in tau²); 0 where Q_gen(0) <= target.

    Newton's method from tau² = 0: Q_gen is decreasing and convex in tau², so the iterates
    increase monotonically to the root (DerSimonian & Kacker 2007, Contemp Clin Trials
    28:105).  A bracket is kept all the same, and a step that leaves it is replaced by
    bisection, so every analysis of a batch converges.
    """
    m = y.shape[0]
    target = np.broadcast_to(np.asarray(target, float), (m,))
    x = np.zeros(m)
    q, dq = q_generalised(y, v, mask, x)
    active = q > target
    it = np.zeros(m, dtype=int)
    conv = ~active
    lo = np.zeros(m)
    hi = np.full(m, np.inf)
    for _ in range(maxiter):
        if conv.all():
            break
        f = q - target
        lo = np.where(f > 0, x, lo)
        hi = np.where(f < 0, x, hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            new = x - f / dq
        bad = ~np.isfinite(new) | (new <= lo) | (new >= hi)
        new = np.where(bad, np.where(np.isfinite(hi), 0.5 * (lo + hi), 2 * lo + 1), new)
        new = np.where(conv, x, new)
        step = np.abs(new - x)
        it = np.where(conv, it, it + 1)
        conv = conv | (step <= tol * (1 + np.abs(x)))
        x = new
        q, dq = q_generalised(y, v, mask, x)
    return np.where(active, x, 0.0), it, conv


def _loglik(y, v, mask, tau2, reml):
    w, sw, mu = _mu_w(y, v, mask, tau2)
    r = y - mu[:, None]
    k = mask.sum(-1)
    ll = -0.5 * (mask * np.log(np.where(mask > 0, v + tau2[:, None], 1.0))).sum(-1) - 0.5 * (w * r * r).sum(-1)
    if reml:
        return ll - 0.5 * (k - 1) * np.log(2 * np.pi) - 0.5 * np.log(sw)
    return ll - 0.5 * k * np.log(2 * np.pi)


def _fisher_scoring(y, v, mask, method, start, tol, maxiter):
    """Fisher scoring on the analyses still iterating (rows gathered as they converge)."""
    k = mask.sum(-1)
    tau2 = start.copy()
    it = np.zeros(tau2.shape, dtype=int)
    conv = np.zeros(tau2.shape, dtype=bool)
    rows = np.arange(tau2.shape[0])
    for _ in range(maxiter):
        if rows.size == 0:
            break
        t = tau2[rows]
        w, sw, mu = _mu_w(y, v, mask, t)
        r = w * (y - mu[:, None])  # P y for an intercept-only model
        if method == "ML":
            adj = ((r * r).sum(-1) - sw) / (w * w).sum(-1)
        elif method == "REML":
            s2, s3 = (w * w).sum(-1), (w ** 3).sum(-1)
            tr_p = sw - s2 / sw
            tr_pp = s2 - 2 * s3 / sw + s2 ** 2 / sw ** 2
            adj = ((r * r).sum(-1) - tr_p) / tr_pp
        else:  # EB
            q = (r * (y - mu[:, None])).sum(-1)
            adj = (q * k / (k - 1) - k) / sw
        adj = np.where(np.isfinite(adj), adj, 0.0)
        for _ in range(60):  # step halving at the boundary, as metafor
            neg = t + adj < 0
            if not neg.any():
                break
            adj = np.where(neg, adj / 2, adj)
        adj = np.where(t + adj < 0, -t, adj)
        done = np.abs(adj) <= tol * (1 + np.abs(t))
        tau2[rows] = t + adj
        it[rows] += 1
        conv[rows] = done
        if done.any():
            keep = ~done
            rows = rows[keep]
            y, v, mask, k = y[keep], v[keep], mask[keep], k[keep]
    return tau2, it, conv


def estimate_tau2(y, v, mask, method: str = "DL", *, tol: float = 1e-12,
                  maxiter: int = 1000, warn: bool = True) -> Tau2Fit:
    """Estimate tau² for each analysis (row) of ``y``/``v`` by ``method`` (metafor's code).

    Analyses with one study get tau² = 0, as metafor.  Non-convergence leaves the last
    iterate with ``converged = False`` and a :class:`ConvergenceWarning`.
    """
    method = str(method).upper()
    if method not in TAU2_METHODS:
        raise SettingsError(f"unknown tau² estimator {method!r}; valid estimators are: "
                            f"{', '.join(TAU2_METHODS)}")
    y = np.asarray(y, float)
    v = np.asarray(v, float)
    mask = np.asarray(mask, float)
    m = y.shape[0]
    k = mask.sum(-1)
    it = np.zeros(m, dtype=int)
    conv = np.ones(m, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        if method not in ("DL", "HS", "PM"):  # the unweighted spread: HE, SJ and the start of the others
            ybar = (mask * y).sum(-1) / k
            ss_unw = (mask * (y - ybar[:, None]) ** 2).sum(-1)
        if method in ("DL", "HS"):
            w = mask / v
            sw = w.sum(-1)
            q, _ = q_generalised(y, v, mask, np.zeros(m), derivative=False)
            if method == "DL":
                tau2 = (q - (k - 1)) / (sw - (w * w).sum(-1) / sw)
            else:
                tau2 = (q - k) / sw
        elif method == "HE":
            tau2 = ss_unw / (k - 1) - (mask * v).sum(-1) / k
        elif method == "SJ":
            tau0 = ss_unw / k
            q, _ = q_generalised(y, v, mask, tau0, derivative=False)
            tau2 = tau0 * q / (k - 1)
        elif method == "PM":
            tau2, it, conv = _solve_q(y, v, mask, k - 1, tol=tol, maxiter=maxiter)
        else:
            start = np.maximum(0.0, ss_unw / (k - 1) - (mask * v).sum(-1) / k)
            start = np.where(np.isfinite(start), start, 0.0)
            tau2, it, conv = _fisher_scoring(y, v, mask, method, start, tol, maxiter)
            if method in ("ML", "REML"):
                reml = method == "REML"
                zero = np.zeros(m)
                better0 = _loglik(y, v, mask, zero, reml) > _loglik(y, v, mask, tau2, reml)
                tau2 = np.where(conv & better0, 0.0, tau2)
    tau2 = np.where(k <= 1, 0.0, tau2)
    tau2 = np.where(np.isfinite(tau2), np.maximum(tau2, 0.0), 0.0)
    if warn and not conv.all():
        warnings.warn(f"the {method} estimator of tau² did not converge in {maxiter} iterations "
                      f"for {int((~conv).sum())} analysis(es); the last iterate is reported",
                      ConvergenceWarning, stacklevel=3)
    return Tau2Fit(tau2, it, conv)


def q_profile(y, v, mask, level: float = 0.95, tol: float = 1e-12):
    """Q-profile confidence interval for tau² (Viechtbauer 2007, Stat Med 26:37).

    Bounds solve Q_gen(tau²) = the chi² quantiles with k - 1 df; a bound below zero is 0.
    Both bounds of every analysis are found in one vectorised solve.
    """
    from . import _dist

    y = np.asarray(y, float)
    k = np.asarray(mask, float).sum(-1)
    alpha = 1 - level
    df = np.maximum(k - 1, 1)
    targets = np.concatenate([_dist.chi2_ppf(1 - alpha / 2, df), _dist.chi2_ppf(alpha / 2, df)])
    both, _, _ = _solve_q(np.concatenate([y, y]), np.concatenate([v, v]), np.concatenate([mask, mask]),
                          targets, tol=tol)
    m = y.shape[0]
    low, high = both[:m], both[m:]
    low = np.where(k < 2, np.nan, low)
    high = np.where(k < 2, np.nan, high)
    return low, high
