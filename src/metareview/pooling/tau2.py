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
  estimate, then Newton steps, with step halving at the boundary and a check of the
  likelihood at zero
* EB  Morris (1983) empirical Bayes, by metafor's scoring steps and then Newton steps
  (without moderators its root is the Paule-Mandel estimate; it is solved as metafor
  does so that studies with zero sampling variance remain legal)
* PMM median-unbiased Paule-Mandel (Viechtbauer 2021, in metafor): root of the generalised
  Q statistic at the median of the chi² distribution with k - 1 df
* HSk Hunter-Schmidt with the small-sample correction k/(k - 1) of Q (Viechtbauer 2021)
* DLIT iterated DerSimonian-Laird (DerSimonian & Kacker 2007, Contemp Clin Trials 28:105):
  the DL formula with weights 1/(v + tau²) from the previous step, from tau² = 0, each
  step truncated at 0
* SJIT iterated Sidik-Jonkman (Sidik & Jonkman 2007): tau² <- tau² Q_gen(tau²)/(k - 1) from
  the SJ start, until the change is below ``tol``
* GENQ generalised Q with user weights a_i (DerSimonian & Kacker 2007):
  (Q_a - tr(P V))/tr(P), P = A - a a'/sum(a); the weights are required

DLIT and SJIT are the fixed points of metafor's steps, reached by Steffensen's acceleration
of those steps (their iteration counts are rounds of it, not metafor's steps).

Iterative estimators run on all analyses at once, each with its own convergence flag.
They converge to a relative change below ``tol`` (default 1e-12), tighter than metafor's
default threshold (1e-5), so that results agree with the converged value.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..base.exceptions import ConvergenceWarning, SettingsError

__all__ = ["TAU2_METHODS", "Tau2Fit", "estimate_tau2", "q_generalised", "q_profile", "tau2_code"]

TAU2_METHODS = ("DL", "PM", "REML", "ML", "HS", "SJ", "HE", "EB", "PMM", "HSk", "DLIT", "SJIT", "GENQ")
_CODES = {code.upper(): code for code in TAU2_METHODS}


def tau2_code(method: str) -> str:
    """metafor's spelling of a tau² estimator code given in any case (``hsk`` -> ``HSk``)."""
    code = _CODES.get(str(method).strip().upper())
    if code is None:
        raise SettingsError(f"unknown tau² estimator {method!r}; valid estimators are: {', '.join(TAU2_METHODS)}")
    return code


@dataclass(frozen=True)
class Tau2Fit:
    tau2: np.ndarray
    iterations: np.ndarray
    converged: np.ndarray


row_sum = np.add.reduce  # row sums without the method-call overhead of ndarray.sum


def _mu_w(y, v, mask, tau2):
    w = mask / (v + tau2[:, None])
    sw = row_sum(w, -1)
    mu = row_sum(w * y, -1) / sw
    return w, sw, mu


def q_generalised(y, v, mask, tau2, derivative: bool = True):
    """Generalised Q: sum of w_i (y_i - mu_w)² with w_i = 1/(v_i + tau²), and its derivative
    (None when ``derivative`` is False)."""
    w, sw, mu = _mu_w(y, v, mask, tau2)
    r = y - mu[:, None]
    wrr = w * r * r
    q = row_sum(wrr, -1)
    dq = -row_sum(w * wrr, -1) if derivative else None
    return q, dq


def _solve_q(y, v, mask, target, tol=1e-12, maxiter=500):
    """tau² >= 0 with Q_gen(tau²) = target (Q_gen decreases in tau²); 0 where Q_gen(0) <= target.

    Newton's method on 1/Q_gen from tau² = 0 (Q_gen is decreasing in tau²; 1/Q_gen is
    nearly linear in it, so few steps are needed; DerSimonian & Kacker 2007, Contemp Clin
    Trials 28:105, for the monotone Newton iteration on Q_gen itself).  A bracket is kept,
    and a step that leaves it is replaced by bisection, so every analysis of a batch
    converges.  Each iteration works only on the analyses still iterating (their rows
    are gathered), so a few slow analyses do not make a large batch slow.
    """
    m = y.shape[0]
    target = np.broadcast_to(np.asarray(target, float), (m,))
    q0, _ = q_generalised(y, v, mask, np.zeros(m), derivative=False)
    tau2 = np.zeros(m)
    it = np.zeros(m, dtype=int)
    conv = np.ones(m, dtype=bool)
    rows = np.flatnonzero(q0 > target)
    if rows.size == 0:
        return tau2, it, conv
    conv[rows] = False
    y, v, mask, target = y[rows], v[rows], mask[rows], target[rows]
    x = np.zeros(rows.size)
    lo = np.zeros(rows.size)
    hi = np.full(rows.size, np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        for n_it in range(1, maxiter + 1):
            q, dq = q_generalised(y, v, mask, x)
            f = q - target
            lo = np.where(f > 0, x, lo)
            hi = np.where(f < 0, x, hi)
            # Newton on 1/Q_gen, which is close to linear in tau² (exactly so for one
            # study): the plain Newton step on Q_gen, lengthened by Q_gen/target
            new = x - (q / target) * f / dq
            bad = ~np.isfinite(new) | (new <= lo) | (new >= hi)
            if bad.any():
                new = np.where(bad, np.where(np.isfinite(hi), 0.5 * (lo + hi), 2 * lo + 1), new)
            done = np.abs(new - x) <= tol * (1 + np.abs(x))
            x = new
            if done.any():
                # finished analyses leave; the others go on with their rows gathered
                fin = rows[done]
                tau2[fin], it[fin], conv[fin] = x[done], n_it, True
                if done.all():
                    break
                keep = ~done
                rows, x, lo, hi = rows[keep], x[keep], lo[keep], hi[keep]
                y, v, mask, target = y[keep], v[keep], mask[keep], target[keep]
        else:
            tau2[rows], it[rows] = x, maxiter
    return tau2, it, conv


def _loglik(y, v, mask, tau2, reml):
    w, sw, mu = _mu_w(y, v, mask, tau2)
    r = y - mu[:, None]
    k = mask.sum(-1)
    ll = -0.5 * (mask * np.log(np.where(mask > 0, v + tau2[:, None], 1.0))).sum(-1) - 0.5 * (w * r * r).sum(-1)
    if reml:
        return ll - 0.5 * (k - 1) * np.log(2 * np.pi) - 0.5 * np.log(sw)
    return ll - 0.5 * k * np.log(2 * np.pi)


def _fisher_scoring(y, v, mask, method, start, tol, maxiter, fisher_steps=2):
    """Fisher scoring for ML, REML (and Morris' scoring for EB) on the analyses still iterating (rows gathered as
    they converge), as metafor; after ``fisher_steps`` steps, Newton steps with the
    observed information where it is positive, which converge quadratically to the same
    root (Fisher scoring alone needs dozens of steps to reach a tolerance of 1e-12).

    With w = 1/(v + tau²) and r = P y = w (y - mu): the REML score is
    (r'r - tr P)/2 with expected information tr(PP)/2 and observed information
    r'P r - tr(PP)/2; the ML score is (r'r - sum w)/2 with expected information
    sum(w²)/2 and observed information r'P r - sum(w²)/2 (Harville 1977).
    """
    k = mask.sum(-1)
    tau2 = start.copy()
    it = np.zeros(tau2.shape, dtype=int)
    conv = np.zeros(tau2.shape, dtype=bool)
    rows = np.arange(tau2.shape[0])
    for step in range(maxiter):
        if rows.size == 0:
            break
        t = tau2[rows]
        w, sw, mu = _mu_w(y, v, mask, t)
        r = w * (y - mu[:, None])  # P y for an intercept-only model
        rr = (r * r).sum(-1)
        s2 = (w * w).sum(-1)
        if method == "EB":
            # Morris: (Q k/(k-1) - k)/sum(w); Newton on the same equation, dQ/dtau² = -r'r
            q = (r * (y - mu[:, None])).sum(-1)
            adj = (q * k / (k - 1) - k) / sw
            if step >= fisher_steps:
                with np.errstate(divide="ignore", invalid="ignore"):
                    newton = (q - (k - 1)) / rr
                adj = np.where(rr > 0, newton, adj)
        elif method == "ML":
            score, expected = rr - sw, s2
        else:
            s3 = (w ** 3).sum(-1)
            tr_p = sw - s2 / sw
            score, expected = rr - tr_p, s2 - 2 * s3 / sw + s2 ** 2 / sw ** 2
        if method != "EB":
            adj = score / expected
        if method != "EB" and step >= fisher_steps:
            r_p_r = (w * r * r).sum(-1) - (w * r).sum(-1) ** 2 / sw  # r' P r
            observed = 2 * r_p_r - expected
            with np.errstate(divide="ignore", invalid="ignore"):
                adj = np.where(observed > 0, score / observed, adj)
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


def _fixed_point(y, v, mask, method, start, tol, maxiter):
    """The iterated estimators DLIT and SJIT: the fixed point of metafor's step
    tau² <- f(tau²), on every analysis still iterating.

    metafor takes plain steps until the change is below its threshold; they converge
    linearly, slowly when tau² is large against the sampling variances (hundreds of steps,
    more than metafor's default of 100).  Here each round takes two plain steps and
    Aitken's delta-squared extrapolation of them (Steffensen's method), which reaches the
    same fixed point in a few rounds; a round ends the iteration when a plain step moves
    tau² by at most ``tol`` (absolute, as metafor's threshold).
    """
    k = mask.sum(-1)
    tau2 = start.copy()
    it = np.zeros(tau2.shape, dtype=int)
    conv = np.zeros(tau2.shape, dtype=bool)
    rows = np.flatnonzero(k > 1)
    conv[k <= 1] = True
    yy, vv, mm, kk = y[rows], v[rows], mask[rows], k[rows]

    def step(t):
        q, _ = q_generalised(yy, vv, mm, t, derivative=False)
        if method == "DLIT":
            w = mm / (vv + t[:, None])
            sw = row_sum(w, -1)
            new = np.maximum(0.0, (q - (kk - 1)) / (sw - row_sum(w * w, -1) / sw))
        else:
            new = t * q / (kk - 1)
        return np.where(np.isfinite(new), new, 0.0)

    with np.errstate(divide="ignore", invalid="ignore"):
        for _ in range(maxiter):
            if rows.size == 0:
                break
            t0 = tau2[rows]
            t1 = step(t0)
            done = np.abs(t1 - t0) <= tol
            t2 = step(t1)
            denom = t2 - 2 * t1 + t0
            acc = t0 - (t1 - t0) ** 2 / denom
            ok = np.isfinite(acc) & (acc >= 0) & (np.abs(denom) > 0)
            tau2[rows] = np.where(done, t1, np.where(ok, acc, t2))
            it[rows] += 1
            conv[rows] = done
            keep = ~done
            rows, yy, vv, mm, kk = rows[keep], yy[keep], vv[keep], mm[keep], kk[keep]
    return tau2, it, conv


def _genq(y, v, mask, a):
    """Generalised Q estimator with weights ``a``: (Q_a - tr(PV))/tr(P)."""
    a = mask * a
    sa = row_sum(a, -1)
    mu = row_sum(a * y, -1) / sa
    q_a = row_sum(a * (y - mu[:, None]) ** 2, -1)
    tr_p = sa - row_sum(a * a, -1) / sa
    tr_pv = row_sum(a * v, -1) - row_sum(a * a * v, -1) / sa
    return (q_a - tr_pv) / tr_p


def estimate_tau2(y, v, mask, method: str = "DL", *, tol: float = 1e-12,
                  maxiter: int = 1000, warn: bool = True, common=None, weights=None) -> Tau2Fit:
    """Estimate tau² for each analysis (row) of ``y``/``v`` by ``method`` (metafor's code).

    Analyses with one study get tau² = 0, as metafor.  Non-convergence leaves the last
    iterate with ``converged = False`` and a :class:`ConvergenceWarning`.  ``common`` may
    pass the common-effect weights, their sums and Cochran's Q ``(w, sum w, Q)`` that the
    caller already has, so that DL and HS do not compute them again.  ``weights`` are the
    user weights of the GENQ estimator (same shape as ``y``), required by it and refused
    by every other estimator.
    """
    method = tau2_code(method)
    if (weights is None) == (method == "GENQ"):
        raise SettingsError("the GENQ estimator of tau² needs weights (genq_weights)" if weights is None else
                            f"weights for tau² apply only to the GENQ estimator, not to {method}")
    y = np.asarray(y, float)
    v = np.asarray(v, float)
    mask = np.asarray(mask, float)
    m = y.shape[0]
    k = mask.sum(-1)
    it = np.zeros(m, dtype=int)
    conv = np.ones(m, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        if method not in ("DL", "HS", "HSk", "PM", "PMM", "DLIT", "GENQ"):
            # the unweighted spread: HE, SJ and the start of the others
            ybar = (mask * y).sum(-1) / k
            ss_unw = (mask * (y - ybar[:, None]) ** 2).sum(-1)
        if method in ("DL", "HS", "HSk"):
            if common is None:
                w = mask / v
                sw = row_sum(w, -1)
                q, _ = q_generalised(y, v, mask, np.zeros(m), derivative=False)
            else:
                w, sw, q = common
            if method == "DL":
                tau2 = (q - (k - 1)) / (sw - row_sum(w * w, -1) / sw)
            elif method == "HS":
                tau2 = (q - k) / sw
            else:
                tau2 = (k / (k - 1) * q - k) / sw
        elif method == "HE":
            tau2 = ss_unw / (k - 1) - (mask * v).sum(-1) / k
        elif method == "SJ":
            tau0 = ss_unw / k
            q, _ = q_generalised(y, v, mask, tau0, derivative=False)
            tau2 = tau0 * q / (k - 1)
        elif method == "PM":
            tau2, it, conv = _solve_q(y, v, mask, k - 1, tol=tol, maxiter=maxiter)
        elif method == "PMM":
            from ..base import dist as _dist
            target = _dist.chi2_ppf(0.5, np.maximum(k - 1, 1))
            tau2, it, conv = _solve_q(y, v, mask, target, tol=tol, maxiter=maxiter)
        elif method == "DLIT":
            tau2, it, conv = _fixed_point(y, v, mask, method, np.zeros(m), tol, maxiter)
        elif method == "SJIT":
            start = np.where(np.isfinite(ss_unw / k), ss_unw / k, 0.0)
            tau2, it, conv = _fixed_point(y, v, mask, method, start, tol, maxiter)
        elif method == "GENQ":
            tau2 = _genq(y, v, mask, np.broadcast_to(np.asarray(weights, float), y.shape))
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
    # an iterate within the solver's tolerance of zero (relative to the largest sampling
    # variance) is zero: rounding should not turn a boundary estimate into 1e-15
    vmax = np.where(mask > 0, np.abs(v), 0.0).max(-1) if v.size else np.zeros(m)
    tau2 = np.where(tau2 <= tol * vmax, 0.0, tau2)
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
    from ..base import dist as _dist

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


def _p_traces(d, v, s, full: bool):
    """Traces with P = D - d d'/s (D = diag(d), d zero outside the mask, s = sum d) and
    V = diag(v): tr(P) and tr(PP), and with ``full`` also tr(PVP) and tr(PVPV), the pieces
    of metafor's standard errors of tau²."""
    d2 = d * d
    s2, s3 = row_sum(d2, -1), row_sum(d2 * d, -1)
    tr_p = s - s2 / s
    tr_pp = s2 - 2 * s3 / s + s2 ** 2 / s ** 2
    if not full:
        return tr_p, tr_pp, None, None
    vd2 = v * d2
    sv2 = row_sum(vd2, -1)
    tr_pvp = sv2 - 2 * row_sum(vd2 * d, -1) / s + sv2 * s2 / s ** 2
    tr_pvpv = row_sum(vd2 * v * (1 - 2 * d / s[:, None]), -1) + sv2 ** 2 / s ** 2
    return tr_p, tr_pp, tr_pvp, tr_pvpv


def se_tau2(y, v, mask, tau2, method: str, *, weights=None):
    """Standard error of the estimate of tau², as metafor 3.8-1's ``rma.uni`` reports it
    (``se.tau2``) for an intercept-only model, vectorised over analyses.

    ML and REML: the inverse expected information, sqrt(2/sum w²) and sqrt(2/tr(PP));
    DL, DLIT, HS, HSk, HE, SJ and GENQ: the variance of the quadratic form each estimator
    is built from, at the estimate (Viechtbauer 2005, JEBS 30:261; DerSimonian & Kacker
    2007); PM, PMM, EB and SJIT: metafor's approximation sqrt(2 k²/((k - 1) (sum w)²)).
    With w = 1/(v + tau²) (1/v for the moment estimators), and NaN for one study.
    """
    method = tau2_code(method)
    y = np.asarray(y, float)
    v = np.asarray(v, float)
    mask = np.asarray(mask, float)
    t = np.maximum(np.asarray(tau2, float), 0.0)
    k = row_sum(mask, -1)
    with np.errstate(divide="ignore", invalid="ignore"):
        if method in ("ML", "REML", "PM", "PMM", "EB", "SJIT", "DLIT"):
            w = mask / (v + t[:, None])
        elif method == "SJ":
            ybar = row_sum(mask * y, -1) / k
            t0 = row_sum(mask * (y - ybar[:, None]) ** 2, -1) / k
            w = mask / (v + t0[:, None])
        elif method == "HE":
            w = mask
        elif method == "GENQ":
            w = mask * np.broadcast_to(np.asarray(weights, float), y.shape)
        else:
            w = mask / v
        sw = row_sum(w, -1)
        if method == "ML":
            se = np.sqrt(2 / row_sum(w * w, -1))
        elif method in ("PM", "PMM", "EB", "SJIT"):
            se = np.sqrt(2 * k ** 2 / (k - 1) / sw ** 2)
        else:
            tr_p, tr_pp, tr_pvp, tr_pvpv = _p_traces(w, v, sw, full=method in ("HE", "SJ", "GENQ"))
            if method == "REML":
                se = np.sqrt(2 / tr_pp)
            elif method in ("HS", "HSk"):
                se = np.sqrt((2 * (k - 1) + 4 * t * tr_p + 2 * t ** 2 * tr_pp) / sw ** 2)
                if method == "HSk":
                    se = k / (k - 1) * se
            elif method in ("DL", "DLIT"):
                se = np.sqrt(2 * (k - 1) + 4 * t * tr_p + 2 * t ** 2 * tr_pp) / tr_p
            elif method == "HE":
                se = np.sqrt(2 * tr_pvpv + 4 * t * tr_pvp + 2 * t ** 2 * (k - 1)) / (k - 1)
            elif method == "SJ":
                se = t0 / (k - 1) * np.sqrt(2 * tr_pvpv + 4 * t * tr_pvp + 2 * t ** 2 * tr_pp)
            else:  # GENQ
                se = np.sqrt(2 * tr_pvpv + 4 * t * tr_pvp + 2 * t ** 2 * tr_pp) / tr_p
    return np.where(k > 1, se, np.nan)
