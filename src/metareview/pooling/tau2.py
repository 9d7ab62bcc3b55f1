"""The tau² estimators: one table, one unit per estimator, for any design matrix.

:data:`ESTIMATORS` holds every between-study variance estimator of metafor 3.8-1's
``rma.uni``, keyed by metafor's code: its name as R meta prints it, its citation, its
formula for the documentation, what it supports (moderators, studies with sampling variance
0, user weights) and its two functions, the estimate and its standard error.  Everything
else reads the table: :class:`~metareview.pooling.settings.Settings` validates
``method_tau2`` against it, the printout names the estimator from it, meta-regression
accepts the estimators it marks as taking moderators, ``metareview pool --method-tau2``
lists its codes (``cli/_help.py`` holds a copy that ``tests/cli/test_help.py`` checks, so
that ``--help`` does not import numpy), and the table of estimators in ``docs/methods.md``
is generated from it (``docs/_ext/estimators_table.py``; a test fails when it is stale).

Each estimate works on :class:`Tau2Data`: outcomes ``y`` and sampling variances ``v`` of
shape (analyses, studies) with a 0/1 mask, and a design (:mod:`.projection`): the
intercept-only model, whose projection is a broadcast of row sums (the kernel
:mod:`.inverse_variance` pools a million analyses in one call), or a design matrix X
(meta-regression, subgroups with a common tau², small-study tests; ``rma_fit``).  With P the
residual projection at weights w, P = W - W X (X'WX)^-1 X'W, k studies and p columns:

* DL  DerSimonian & Laird (1986): (y'P y - (k - p))/tr(P) at w = 1/v
* HE  Hedges (1983): the same moment equation unweighted, (y'P y - tr(PV))/(k - p) at w = 1
* GENQ generalised Q with user weights a (DerSimonian & Kacker 2007): (y'P y - tr(PV))/tr(P) at w = a
* HS, HSk Hunter & Schmidt (2004), without and with metafor's k/(k - p) correction of Q
* SJ, SJIT Sidik & Jonkman (2005; 2007): one step, or the fixed point, of
  tau² <- tau² Q(tau²)/(k - p) from (k - 1)/k var(y)
* DLIT iterated DL (DerSimonian & Kacker 2007): the DL formula at w = 1/(v + tau²), from 0
* PM, PMM Paule & Mandel (1982), median-unbiased (Viechtbauer 2021): the root of the
  generalised Q(tau²) = y'P y at w = 1/(v + tau²) at k - p, or at the median of chi²(k - p)
* ML, REML, EB Fisher scoring (Harville 1977; Viechtbauer 2005) and Morris's (1983) steps
  from the HE estimate, then Newton steps

With moderators the outcomes are mean-centred first, as metafor does (y'P y is unchanged
when X spans the intercept, so the intercept-only path skips it).

Iterative estimators run on all analyses at once, each with its own convergence flag, and
gather the rows still iterating, so that a few slow analyses do not make a batch slow.
They converge to a relative change below ``tol`` (default 1e-12), tighter than metafor's
default threshold (1e-5), so that results agree with the converged value.  DLIT and SJIT
are the fixed points of metafor's steps reached by Steffensen's acceleration (their
iteration counts are rounds of it, not metafor's steps).

Adding an estimator
-------------------
1. Write its estimate as a function of :class:`Tau2Data` returning ``(tau2, iterations,
   converged)`` (arrays over analyses), from the projections of ``d.design`` and the
   solvers here (:func:`_root_of_q`, :func:`_fixed_point`, :func:`_scoring`), so that it
   takes a design matrix and a batch of analyses at once; and, if metafor reports one, the
   standard error of the intercept-only estimate as a function of ``(d, tau2)``.
2. Add one :class:`Tau2Estimator` entry to :data:`ESTIMATORS` below (code, R meta's name,
   citation, formula, what it supports).
3. Add its reference values from R: a case in ``tests/r/make_reference_toolkit.R`` (and with
   moderators in ``tests/r/make_reference_estimators.R``), the regenerated JSON fixtures,
   and the code in ``cli/_help.py``'s ``TAU2``; then ``python docs/_ext/estimators_table.py``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..base.exceptions import ConvergenceWarning, SettingsError
from .per_analysis import all_of, any_of, as_float, isfinite, maximum, pick, sqrt
from .projection import Intercept, design_of, row_sum

__all__ = ["ESTIMATORS", "TAU2_METHODS", "MODERATOR_METHODS", "ZERO_VARIANCE_METHODS", "Tau2Estimator",
           "Tau2Data", "Tau2Fit", "estimate_tau2", "kernel_estimate_tau2", "estimator", "non_convergence_message",
           "q_generalised", "q_profile", "se_tau2", "tau2_code"]


_ZERO = np.float64(0.0)  # tau² at the boundary, a numpy scalar as the estimates of one analysis


@dataclass(frozen=True)
class Tau2Fit:
    """tau² of each analysis with its iterations and convergence (and its standard error when asked)."""

    tau2: np.ndarray
    iterations: np.ndarray
    converged: np.ndarray
    se: np.ndarray | None = None  # with estimate_tau2(..., se=True)


class Tau2Data:
    """One tau² problem over a batch of analyses: outcomes, variances, mask and design.

    ``fixed`` is the projection at the common-effect weights 1/v with its Q (the kernel may
    hand over the ones it has, ``common = (w, sum w)`` or ``(w, sum w, Q)``, the Q possibly
    about another centre, the Mantel-Haenszel estimate).
    """

    def __init__(self, y, v, mask, design=None, *, weights=None, common=None, tol=1e-12, maxiter=1000,
                 counts=None):
        self.design = Intercept() if design is None else design
        self.mask = mask
        self.y = self.design.centre(y, mask)
        self.v = v
        self.k = row_sum(mask, -1) if counts is None else counts
        self.p = self.design.p
        self.weights = weights
        self.tol, self.maxiter = tol, maxiter
        self._common = common
        self._fixed = None
        self._projection = None

    def take(self, rows) -> "Tau2Data":
        """The same problem for some analyses only."""
        out = Tau2Data.__new__(Tau2Data)
        out.design, out.mask, out.y, out.v = self.design.take(rows), self.mask[rows], self.y[rows], self.v[rows]
        out.k, out.p, out.tol, out.maxiter = self.k[rows], self.p, self.tol, self.maxiter
        out._common = out._fixed = out._projection = None
        out.weights = None if self.weights is None else self.weights[rows]
        return out

    def at(self, tau2):
        """The projection at the random-effects weights 1/(v + tau²)."""
        return self.design.project(self.mask / (self.v + tau2[..., None]))

    def common_weights(self):
        """The common-effect weights 1/v (zero outside the mask) and their row sums."""
        if self._common is not None:
            return self._common[0], self._common[1]
        w = self.mask / self.v
        return w, row_sum(w, -1)

    def common_projection(self):
        """The projection at the common-effect weights 1/v (its traces computed once)."""
        if self._projection is None:
            self._projection = self.design.project(*self.common_weights())
        return self._projection

    def fixed(self):
        """The projection at the common-effect weights 1/v and Q = y'P y there."""
        if self._fixed is None:
            proj = self.common_projection()
            q = self._common[2] if self._common is not None and len(self._common) > 2 else proj.quad(self.y)
            self._fixed = (proj, q)
        return self._fixed

    def spread(self):
        """Unweighted sum of squares about the mean, sum (y_i - ybar)²."""
        ybar = row_sum(self.mask * self.y, -1) / self.k
        return row_sum(self.mask * (self.y - ybar[..., None]) ** 2, -1)

    def unweighted(self):
        """The projection at unit weights (ordinary least squares)."""
        return self.design.project(self.mask)


# ---------------------------------------------------------------------------------------
# the solvers the estimators share
# ---------------------------------------------------------------------------------------

def _moments(proj, d):
    """The method-of-moments equation y'P y = tr(PV) + tau² tr(P) for weights fixed in
    advance, solved for tau² (DerSimonian & Kacker 2007, Contemp Clin Trials 28:105)."""
    return (proj.quad(d.y) - proj.trace_v(d.v)) / proj.trace()


def _at_zero(d: Tau2Data):
    """The generalised Q at tau² = 0 and its derivative there, per analysis: where
    :func:`_root_of_q` starts."""
    r, q = d.at(np.zeros(d.y.shape[0])).residuals(d.y)
    return q, -row_sum(r * r, -1)


def _root_of_q(d: Tau2Data, target, index=None):
    """tau² >= 0 with the generalised Q(tau²) = y'P y at w = 1/(v + tau²) equal to ``target``
    (Q decreases in tau²); 0 where Q(0) <= target.  ``index`` gives the analysis of ``d`` that
    each target is for, when there are several per analysis (the two bounds of a Q-profile
    interval: their Q at 0 is computed once, and no copy of the data is made for them).

    Newton's method on 1/Q from tau² = 0 (1/Q is nearly linear in tau², exactly so for one
    study, so few steps are needed; DerSimonian & Kacker 2007 for the monotone Newton
    iteration on Q itself).  A bracket is kept, and a step that leaves it is replaced by
    bisection, so every analysis of a batch converges.  Each iteration works only on the
    analyses still iterating (their rows are gathered).
    """
    tol, maxiter = d.tol, d.maxiter
    m = d.y.shape[0] if index is None else index.size
    target = np.broadcast_to(np.asarray(target, float), (m,))
    q0, dq0 = _at_zero(d)
    if index is not None:
        q0, dq0 = q0[index], dq0[index]
    tau2 = np.zeros(m)
    it = np.zeros(m, dtype=int)
    conv = np.ones(m, dtype=bool)
    rows = np.flatnonzero(q0 > target)
    if rows.size == 0:
        return tau2, it, conv
    conv[rows] = False
    sub, target = d.take(rows if index is None else index[rows]), target[rows]
    q0, dq0 = q0[rows], dq0[rows]
    x = np.zeros(rows.size)
    lo = np.zeros(rows.size)
    hi = np.full(rows.size, np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        for n_it in range(1, maxiter + 1):
            if n_it == 1:  # every analysis starts at tau² = 0, where Q is known
                q, dq = q0, dq0
            else:
                r, q = sub.at(x).residuals(sub.y)
                dq = -row_sum(r * r, -1)
            f = q - target
            lo = np.where(f > 0, x, lo)
            hi = np.where(f < 0, x, hi)
            # Newton on 1/Q: the plain Newton step on Q, lengthened by Q/target
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
                rows, x, lo, hi, target = rows[keep], x[keep], lo[keep], hi[keep], target[keep]
                sub = sub.take(keep)
        else:
            tau2[rows], it[rows] = x, maxiter
    return tau2, it, conv


def _loglik(d: Tau2Data, tau2, reml: bool):
    """The (restricted) log-likelihood up to a constant that does not depend on tau²."""
    proj = d.at(tau2)
    ll = -0.5 * row_sum(d.mask * np.log(np.where(d.mask > 0, d.v + tau2[:, None], 1.0)), -1) - 0.5 * proj.quad(d.y)
    return ll - 0.5 * proj.logdet() if reml else ll


def _scoring(d: Tau2Data, method: str, fisher_steps: int = 2):
    """ML, REML (Fisher scoring) and EB (Morris's scoring) from the HE estimate, as metafor,
    on the analyses still iterating; after ``fisher_steps`` steps, Newton steps with the
    observed information where it is positive, which converge quadratically to the same
    root (Fisher scoring alone needs dozens of steps to reach a tolerance of 1e-12).  The
    step is halved at the boundary, as metafor.

    With w = 1/(v + tau²) and r = P y: the REML score is (r'r - tr P)/2 with expected
    information tr(PP)/2 and observed information r'P r - tr(PP)/2; the ML score is
    (r'r - sum w)/2 with expected information sum(w²)/2 and observed information
    r'P r - sum(w²)/2 (Harville 1977); EB solves y'P y k/(k - p) = k (Morris 1983),
    whose derivative in tau² is -r'r.  ML and REML are set to 0 where the likelihood is
    higher there.
    """
    tol, maxiter = d.tol, d.maxiter
    with np.errstate(divide="ignore", invalid="ignore"):
        start = np.maximum(0.0, _he(d)[0])
    tau2 = np.where(np.isfinite(start), start, 0.0)
    m = tau2.shape[0]
    it = np.zeros(m, dtype=int)
    conv = np.zeros(m, dtype=bool)
    rows = np.arange(m)
    sub = d
    for step in range(maxiter):
        if rows.size == 0:
            break
        t = tau2[rows]
        proj = sub.at(t)
        k, p = sub.k, sub.p
        if method == "EB":
            r, q = proj.residuals(sub.y)
        else:
            r = proj.apply(sub.y)
        rr = row_sum(r * r, -1)
        if method == "EB":
            adj = (q * k / (k - p) - k) / proj.sw
            if step >= fisher_steps:
                with np.errstate(divide="ignore", invalid="ignore"):
                    newton = (q - (k - p)) / rr
                adj = np.where(rr > 0, newton, adj)
        else:
            if method == "ML":
                score, expected = rr - proj.sw, row_sum(proj.w * proj.w, -1)
            else:
                tr_p, expected = proj.traces()
                score = rr - tr_p
            adj = score / expected
            if step >= fisher_steps:
                observed = 2 * proj.rpr(r) - expected
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
            sub = sub.take(keep)
    if method in ("ML", "REML"):
        reml = method == "REML"
        with np.errstate(divide="ignore", invalid="ignore"):
            better0 = _loglik(d, np.zeros(m), reml) > _loglik(d, tau2, reml)
        tau2 = np.where(conv & better0, 0.0, tau2)
    return tau2, it, conv


def _fixed_point(d: Tau2Data, step, start):
    """The fixed point of metafor's step tau² <- f(tau²) (DLIT, SJIT), on every analysis
    still iterating.

    metafor takes plain steps until the change is below its threshold; they converge
    linearly, slowly when tau² is large against the sampling variances (hundreds of steps,
    more than metafor's default of 100).  Here each round takes two plain steps and
    Aitken's delta-squared extrapolation of them (Steffensen's method), which reaches the
    same fixed point in a few rounds; a round ends the iteration when a plain step moves
    tau² by at most ``tol`` (absolute, as metafor's threshold).
    """
    tau2 = start.copy()
    it = np.zeros(tau2.shape, dtype=int)
    conv = np.zeros(tau2.shape, dtype=bool)
    rows = np.flatnonzero(d.k > d.p)
    conv[d.k <= d.p] = True
    sub = d.take(rows)

    def plain(t):
        new = step(sub, t)
        return np.where(np.isfinite(new), new, 0.0)

    with np.errstate(divide="ignore", invalid="ignore"):
        for _ in range(d.maxiter):
            if rows.size == 0:
                break
            t0 = tau2[rows]
            t1 = plain(t0)
            done = np.abs(t1 - t0) <= d.tol
            t2 = plain(t1)
            denom = t2 - 2 * t1 + t0
            acc = t0 - (t1 - t0) ** 2 / denom
            ok = np.isfinite(acc) & (acc >= 0) & (np.abs(denom) > 0)
            tau2[rows] = np.where(done, t1, np.where(ok, acc, t2))
            it[rows] += 1
            conv[rows] = done
            keep = ~done
            rows = rows[keep]
            sub = sub.take(keep)
    return tau2, it, conv


def _closed(tau2):
    """A closed-form estimate: no iterations, converged (per analysis, or for one)."""
    if not isinstance(tau2, np.ndarray):
        return tau2, 0, True
    return tau2, np.zeros(tau2.shape, dtype=int), np.ones(tau2.shape, dtype=bool)


def _sj_start(d: Tau2Data):
    """Sidik and Jonkman's start (k - 1)/k var(y), metafor's ``var(ymci) * (k - 1)/k``."""
    return d.spread() / d.k


# ---------------------------------------------------------------------------------------
# the estimators: one unit each
# ---------------------------------------------------------------------------------------

def _dl(d):
    proj, q = d.fixed()
    return _closed((q - (d.k - d.p)) / proj.trace())


def _he(d):
    proj = d.unweighted()
    return _closed((proj.quad(d.y) - proj.trace_v(d.v)) / (d.k - d.p))


def _genq(d):
    return _closed(_moments(d.design.project(d.mask * d.weights), d))


def _hs(d):
    proj, q = d.fixed()
    return _closed((q - d.k) / proj.sw)


def _hsk(d):
    proj, q = d.fixed()
    return _closed((d.k / (d.k - d.p) * q - d.k) / proj.sw)


def _sj(d):
    t0 = _sj_start(d)
    return _closed(t0 * d.at(t0).quad(d.y) / (d.k - d.p))


def _sjit(d):
    start = _sj_start(d)
    return _fixed_point(d, lambda s, t: t * s.at(t).quad(s.y) / (s.k - s.p), np.where(np.isfinite(start), start, 0.0))


def _dlit(d):
    def step(s, t):
        proj = s.at(t)
        return np.maximum(0.0, (proj.quad(s.y) - (s.k - s.p)) / proj.trace())
    return _fixed_point(d, step, np.zeros(d.k.shape))


def _pm(d):
    return _root_of_q(d, d.k - d.p)


def _pmm(d):
    from ..base import dist as _dist
    return _root_of_q(d, _dist.chi2_ppf(0.5, np.maximum(d.k - d.p, 1)))


def _ml(d):
    return _scoring(d, "ML")


def _reml(d):
    return _scoring(d, "REML")


def _eb(d):
    return _scoring(d, "EB")


# ---------------------------------------------------------------------------------------
# standard errors of the intercept-only estimates, as metafor 3.8-1's se.tau2
# ---------------------------------------------------------------------------------------

def _p_traces(d, v, s, full: bool):
    """Traces with P = D - d d'/s (D = diag(d), d zero outside the mask, s = sum d) and
    V = diag(v): tr(P) and tr(PP), and with ``full`` also tr(PVP) and tr(PVPV), the pieces
    of metafor's standard errors of tau²."""
    d2 = d * d
    s2, s3 = row_sum(d2, -1), row_sum(d2 * d, -1)
    tr_p = s - s2 / s
    tr_pp = s2 - 2 * s3 / s + s2 * s2 / (s * s)
    if not full:
        return tr_p, tr_pp, None, None
    vd2 = v * d2
    sv2 = row_sum(vd2, -1)
    tr_pvp = sv2 - 2 * row_sum(vd2 * d, -1) / s + sv2 * s2 / (s * s)
    tr_pvpv = row_sum(vd2 * v * (1 - 2 * d / s[..., None]), -1) + sv2 * sv2 / (s * s)
    return tr_p, tr_pp, tr_pvp, tr_pvpv


def _se_quadratic(d, t, w, divisor=None):
    """The standard deviation of a quadratic form y'P y at weights ``w`` fixed in advance,
    at tau² = t (Viechtbauer 2005; DerSimonian & Kacker 2007), divided by ``divisor``
    (tr P by default): sqrt(2 tr(PVPV) + 4 t tr(PVP) + 2 t² tr(PP))."""
    tr_p, tr_pp, tr_pvp, tr_pvpv = _p_traces(w, d.v, row_sum(w, -1), full=True)
    return np.sqrt(2 * tr_pvpv + 4 * t * tr_pvp + 2 * (t * t) * tr_pp) / (tr_p if divisor is None else divisor)


def _se_q(d, t, w, sw=None):
    """sqrt(Var Q) for Q at the inverse-variance weights ``w`` (tr(PV) = k - 1); ``sw``, their
    row sums, when known."""
    tr_p, tr_pp, _, _ = _p_traces(w, d.v, row_sum(w, -1) if sw is None else sw, full=False)
    return np.sqrt(2 * (d.k - 1) + 4 * t * tr_p + 2 * (t * t) * tr_pp), tr_p


def _se_dl(d, t):
    # the traces of the projection the estimate was computed with (sum w² is shared)
    tr_p, tr_pp = d.common_projection().traces()
    return sqrt(2 * (d.k - 1) + 4 * t * tr_p + 2 * t ** 2 * tr_pp) / tr_p


def _se_dlit(d, t):
    se, tr_p = _se_q(d, t, d.mask / (d.v + t[:, None]))
    return se / tr_p


def _se_hs(d, t):
    w = d.mask / d.v
    return _se_q(d, t, w)[0] / row_sum(w, -1)


def _se_hsk(d, t):
    return d.k / (d.k - 1) * _se_hs(d, t)


def _se_he(d, t):
    return _se_quadratic(d, t, d.mask, d.k - 1)


def _se_sj(d, t):
    t0 = _sj_start(d)
    return t0 * _se_quadratic(d, t, d.mask / (d.v + t0[..., None]), 1.0) / (d.k - 1)


def _se_genq(d, t):
    return _se_quadratic(d, t, d.mask * d.weights)


def _se_ml(d, t):
    w = d.mask / (d.v + t[:, None])
    return np.sqrt(2 / row_sum(w * w, -1))


def _se_reml(d, t):
    w = d.mask / (d.v + t[:, None])
    return np.sqrt(2 / _p_traces(w, d.v, row_sum(w, -1), full=False)[1])


def _se_approximate(d, t):
    """metafor's approximation for the root-finding estimators: sqrt(2 k²/((k - 1) (sum w)²))."""
    sw = row_sum(d.mask / (d.v + t[:, None]), -1)
    return np.sqrt(2 * d.k ** 2 / (d.k - 1) / sw ** 2)


# ---------------------------------------------------------------------------------------
# the table
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Tau2Estimator:
    """One tau² estimator: what the table says about it, and its two functions."""

    code: str                 # metafor's ``method``
    name: str                 # as R meta prints it ("... estimator for tau^2")
    citation: str
    formula: str              # Markdown with TeX, for docs/methods.md (the model without moderators)
    estimate: Callable        # Tau2Data -> (tau2, iterations, converged), any design
    se: Callable              # (Tau2Data, tau2) -> se of the intercept-only estimate
    iterative: bool = False
    zero_variances: bool = False  # metafor allows studies with v_i = 0
    moderators: bool = True       # metafor's rma.uni takes it with mods
    needs_weights: bool = False   # user weights a_i (GENQ)


ESTIMATORS: dict[str, Tau2Estimator] = {e.code: e for e in (
    Tau2Estimator(
        "DL", "DerSimonian-Laird",
        "DerSimonian & Laird (1986, *Control Clin Trials* 7:177)",
        r"$\hat\tau^2 = \dfrac{Q - (k-1)}{\sum w_i - \sum w_i^2/\sum w_i}$",
        _dl, _se_dl),
    Tau2Estimator(
        "PM", "Paule-Mandel",
        "Paule & Mandel (1982, *J Res Natl Bur Stand* 87:377)",
        r"the root of $\sum_i \frac{(y_i - \hat\mu_R(\tau^2))^2}{v_i + \tau^2} = k - 1$",
        _pm, _se_approximate, iterative=True),
    Tau2Estimator(
        "REML", "Restricted maximum-likelihood",
        "Harville (1977); Viechtbauer (2005)",
        r"fixed point of $\tau^2 = \dfrac{\sum w_i^{*2}\left[(y_i - \hat\mu_R)^2 - v_i\right]}{\sum w_i^{*2}}"
        r" + \dfrac{1}{\sum w_i^*}$",
        _reml, _se_reml, iterative=True, zero_variances=True),
    Tau2Estimator(
        "ML", "Maximum-likelihood",
        "Hardy & Thompson (1996); Viechtbauer (2005, *J Educ Behav Stat* 30:261)",
        r"fixed point of $\tau^2 = \dfrac{\sum w_i^{*2}\left[(y_i - \hat\mu_R)^2 - v_i\right]}{\sum w_i^{*2}}$",
        _ml, _se_ml, iterative=True, zero_variances=True),
    Tau2Estimator(
        "HS", "Hunter-Schmidt",
        "Hunter & Schmidt (2004)",
        r"$\hat\tau^2 = \dfrac{Q - k}{\sum w_i}$",
        _hs, _se_hs),
    Tau2Estimator(
        "SJ", "Sidik-Jonkman",
        "Sidik & Jonkman (2005, *J Biopharm Stat* 15:823; 2007, *Stat Med* 26:1964)",
        r"$\hat\tau^2 = \tau_0^2\,\dfrac{\sum_i \omega_i (y_i - \hat\mu_\omega)^2}{k-1}$, "
        r"$\omega_i = \frac{1}{v_i + \tau_0^2}$, $\tau_0^2 = \frac{k-1}{k}\operatorname{var}(y)$",
        _sj, _se_sj, zero_variances=True),
    Tau2Estimator(
        "HE", "Hedges",
        "Hedges (1983, *Psychol Bull* 93:388)",
        r"$\hat\tau^2 = \dfrac{\sum (y_i - \bar y)^2}{k-1} - \dfrac{\sum v_i}{k}$",
        _he, _se_he, zero_variances=True),
    Tau2Estimator(
        "EB", "Empirical Bayes",
        "Morris (1983, *JASA* 78:47)",
        r"root of $\sum_i w_i^*\left[\frac{k}{k-1}(y_i - \hat\mu_R)^2 - v_i - \tau^2\right] = 0$",
        _eb, _se_approximate, iterative=True, zero_variances=True),
    Tau2Estimator(
        "PMM", "Median-unbiased Paule-Mandel",
        "Viechtbauer (metafor 3.0; 2021)",
        r"the root of $Q(\tau^2) = \chi^2_{k-1}(0.5)$, the median of its distribution",
        _pmm, _se_approximate, iterative=True),
    Tau2Estimator(
        "HSk", "Hunter-Schmidt (small-sample corrected)",
        "Viechtbauer (metafor)",
        r"$\hat\tau^2 = \dfrac{\frac{k}{k-1}Q - k}{\sum w_i}$",
        _hsk, _se_hsk),
    Tau2Estimator(
        "DLIT", "Iterated DerSimonian-Laird",
        "DerSimonian & Kacker (2007, *Contemp Clin Trials* 28:105)",
        r"fixed point of the DL formula with weights $1/(v_i + \tau^2)$, from $\tau^2 = 0$, each step truncated at 0",
        _dlit, _se_dlit, iterative=True),
    Tau2Estimator(
        "SJIT", "Iterated Sidik-Jonkman",
        "Sidik & Jonkman (2007, *Stat Med* 26:1964)",
        r"fixed point of $\tau^2 \leftarrow \tau^2\, Q(\tau^2)/(k-1)$ from the `SJ` start",
        _sjit, _se_approximate, iterative=True, zero_variances=True),
    Tau2Estimator(
        "GENQ", "Generalised Q (user weights genq_weights)",
        "DerSimonian & Kacker (2007)",
        r"$\hat\tau^2 = \dfrac{Q_a - \operatorname{tr}(PV)}{\operatorname{tr}(P)}$ with user weights $a_i$, "
        r"$P = A - aa'/\sum a_i$, $Q_a = \sum a_i(y_i - \hat\mu_a)^2$",
        _genq, _se_genq, zero_variances=True, needs_weights=True),
)}

#: Every estimator code, in the order of the table.
TAU2_METHODS = tuple(ESTIMATORS)
#: The estimators metafor's ``rma.uni`` takes with moderators.
MODERATOR_METHODS = tuple(c for c, e in ESTIMATORS.items() if e.moderators)
#: The estimators metafor allows with sampling variances of 0 (the others divide by them).
ZERO_VARIANCE_METHODS = tuple(c for c, e in ESTIMATORS.items() if e.zero_variances)
_CODES = {code.upper(): code for code in TAU2_METHODS}


def tau2_code(method: str, valid=TAU2_METHODS, what: str = "tau² estimator") -> str:
    """metafor's spelling of a tau² estimator code given in any case (``hsk`` -> ``HSk``);
    a :class:`SettingsError` naming the ``valid`` ones when it is not one of them."""
    code = _CODES.get(str(method).strip().upper(), str(method).strip().upper())
    if code not in valid:
        raise SettingsError(f"unknown {what} {method!r}; valid estimators are: {', '.join(valid)}")
    return code


def estimator(method: str) -> Tau2Estimator:
    """The table's entry for ``method`` (any case)."""
    entry = ESTIMATORS.get(method) if type(method) is str else None  # (metafor's spelling: no folding)
    return entry if entry is not None else ESTIMATORS[tau2_code(method)]


def estimate_tau2(y, v, mask, method: str = "DL", *, X=None, tol: float = 1e-12,
                  maxiter: int = 1000, warn: bool = True, common=None, weights=None, counts=None,
                  se: bool = False) -> Tau2Fit:
    """Estimate tau² for each analysis (row) of ``y``/``v`` by ``method`` (metafor's code).

    ``X`` is the design matrix, (studies, p) or (analyses, studies, p); None (the default)
    is the intercept-only model.  Analyses with no more studies than columns get tau² = 0,
    as metafor with one study.  Non-convergence leaves the last iterate with ``converged =
    False`` and a :class:`ConvergenceWarning`.  ``common`` may pass the common-effect
    weights, their sums and Cochran's Q ``(w, sum w, Q)`` that the caller already has
    (intercept-only), so that DL and HS do not compute them again.  ``weights`` are the
    user weights of the GENQ estimator (same shape as ``y``), required by it and refused
    by every other estimator.  ``counts``, the row sums of ``mask`` (studies per analysis),
    when the caller has them.  ``se=True`` (intercept-only) also gives the standard error of
    the estimate, as :func:`se_tau2`, from the quantities the estimate was computed with.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return kernel_estimate_tau2(y, v, mask, method, X=X, tol=tol, maxiter=maxiter, warn=warn, common=common,
                                    weights=weights, counts=counts, se=se, stacklevel=4)


def kernel_estimate_tau2(y, v, mask, method: str = "DL", *, X=None, tol: float = 1e-12,
                         maxiter: int = 1000, warn: bool = True, common=None, weights=None, counts=None,
                         se: bool = False, stacklevel: int = 3) -> Tau2Fit:
    """:func:`estimate_tau2` under the caller's ``np.errstate`` (the pooling kernel's: one
    block per call, not one per step); a warning names the frame ``stacklevel`` up."""
    entry = estimator(method)
    if (weights is None) == entry.needs_weights:
        raise SettingsError(f"the {entry.code} estimator of tau² needs weights (genq_weights)" if weights is None
                            else f"weights for tau² apply only to the GENQ estimator, not to {entry.code}")
    y = np.asarray(y, float)
    v = np.asarray(v, float)
    mask = np.asarray(mask, float)
    if y.ndim == 1 and (entry.iterative or X is not None):
        # one analysis: the solvers gather the rows still iterating, so it is a batch of one
        fit = kernel_estimate_tau2(y[None], v[None], mask[None], method,
                                   X=None if X is None else np.asarray(X, float)[None], tol=tol, maxiter=maxiter,
                                   warn=warn, common=_batch_of_one(common), weights=_batch_of_one(weights),
                                   counts=_batch_of_one(counts), se=se, stacklevel=stacklevel)
        return Tau2Fit(fit.tau2[0], fit.iterations[0], fit.converged[0], None if fit.se is None else fit.se[0])
    if weights is not None:
        weights = np.broadcast_to(np.asarray(weights, float), y.shape)
    design = design_of(X)
    if X is not None and (common is not None or se):
        raise SettingsError("common-effect quantities and the standard error of tau² are for the intercept-only "
                            "model only")
    d = Tau2Data(y, v, mask, design, weights=weights, common=common, tol=tol, maxiter=maxiter, counts=counts)
    tau2, it, conv = entry.estimate(d)
    k = d.k
    tau2 = _at_boundary(tau2, k, d.p)
    # an iterate within the solver's tolerance of zero (relative to the largest sampling
    # variance) is zero: rounding should not turn a boundary estimate into 1e-15
    # (only analyses with 0 < tau² <= tol times the largest variance of all cells can be
    # concerned: their rows are looked at only when there are such analyses)
    if v.ndim == 1:  # one analysis: the same test on its scalar (no array of one bool to build)
        if tau2 > 0 and v.size and not tau2 > tol * _largest_magnitude(v):
            vmax = np.where(mask > 0, np.abs(v), 0.0).max(-1)
            tau2 = pick(tau2 <= tol * vmax, _ZERO, tau2)
    elif v.size and any_of((tau2 > 0) & ~(tau2 > tol * _largest_magnitude(v))):
        vmax = np.where(mask > 0, np.abs(v), 0.0).max(-1)
        tau2 = pick(tau2 <= tol * vmax, _ZERO, tau2)
    if warn and not all_of(conv):
        warnings.warn(non_convergence_message(entry.code, maxiter, int(np.sum(~np.asarray(conv)))),
                      ConvergenceWarning, stacklevel=stacklevel)
    return Tau2Fit(tau2, it, conv, _se(entry, d, tau2, bounded=True) if se else None)


def non_convergence_message(code: str, maxiter: int, analyses: int) -> str:
    """The warning of an estimator that did not converge in ``maxiter`` iterations for ``analyses``
    analyses."""
    return (f"the {code} estimator of tau² did not converge in {maxiter} iterations "
            f"for {analyses} analysis(es); the last iterate is reported")


def _at_boundary(tau2, k, p: int):
    """The estimates ``tau2`` with 0.0 where there are no more studies ``k`` than coefficients
    ``p`` or the estimate is not a positive finite number (a zero of either sign is 0.0).

    Over analyses, ``np.maximum`` with 0 and the addition of 0.0 (which turns -0.0 into 0.0
    and leaves every other finite value as it is) give the values of that rule wherever every
    estimate is finite, without a choice per analysis: ``np.where`` on a condition that
    differs from analysis to analysis (some estimates zero, some not) costs about twenty times
    a pass of arithmetic."""
    if not isinstance(tau2, np.ndarray):  # one analysis
        return tau2 if k > p and tau2 > 0 and isfinite(tau2) else _ZERO
    out = np.maximum(tau2, 0.0)
    with np.errstate(over="ignore"):
        total = np.add.reduce(out, axis=None)
    if math.isfinite(total):  # no NaN or infinity (an infinite sum may also be an overflow)
        out += 0.0
    else:
        out = np.where(np.isfinite(tau2) & (tau2 > 0), tau2, _ZERO)
    if np.minimum.reduce(k, axis=None, initial=np.inf) <= p:  # some analysis with too few studies
        out = np.where(k <= p, _ZERO, out)
    return out


def _se(entry: Tau2Estimator, d: Tau2Data, tau2, bounded: bool = False) -> np.ndarray:
    """The standard error of the estimate ``tau2`` (under the caller's ``np.errstate``);
    ``bounded``: :func:`_at_boundary` has made every estimate 0.0 or positive, so that it is
    its own maximum with 0."""
    t = as_float(tau2) if bounded else maximum(as_float(tau2), _ZERO)  # (a numpy scalar for one analysis)
    se = entry.se(d, t)
    if bounded and isinstance(se, np.ndarray) and isinstance(d.k, np.ndarray) \
            and np.minimum.reduce(d.k, axis=None, initial=np.inf) > 1:
        return se  # every analysis has two studies or more: nothing to blank
    return pick(d.k > 1, se, np.nan)


def _largest_magnitude(v: np.ndarray) -> float:
    """max |v| (NaN when v holds one): for a batch from the extremes, without an array of
    magnitudes; for the few studies of one analysis by one reduction of their magnitudes."""
    if v.ndim == 1:
        return np.maximum.reduce(np.abs(v), axis=None)
    high, low = np.maximum.reduce(v, axis=None), np.minimum.reduce(v, axis=None)
    return high if high >= -low else -low


def _batch_of_one(value):
    """An argument of one analysis (an array over its studies, or a value) as a batch of one."""
    return None if value is None else tuple(map(_batch_of_one, value)) if isinstance(value, tuple) else \
        np.asarray(value)[None]


def se_tau2(y, v, mask, tau2, method: str, *, weights=None, common=None, counts=None):
    """Standard error of the estimate of tau², as metafor 3.8-1's ``rma.uni`` reports it
    (``se.tau2``) for an intercept-only model, vectorised over analyses: each estimator's
    ``se`` in :data:`ESTIMATORS`.

    ML and REML: the inverse expected information, sqrt(2/sum w²) and sqrt(2/tr(PP));
    DL, DLIT, HS, HSk, HE, SJ and GENQ: the variance of the quadratic form each estimator
    is built from, at the estimate (Viechtbauer 2005, JEBS 30:261; DerSimonian & Kacker
    2007); PM, PMM, EB and SJIT: metafor's approximation sqrt(2 k²/((k - 1) (sum w)²)).
    With w = 1/(v + tau²) (1/v for the moment estimators), and NaN for one study.
    ``common`` may pass the common-effect weights 1/v and their sums ``(w, sum w)``, and
    ``counts`` the studies per analysis, that the caller already has.
    """
    entry = estimator(method)
    y = np.asarray(y, float)
    mask = np.asarray(mask, float)
    if y.ndim == 1 and entry.iterative:  # one analysis, as estimate_tau2 takes it: a batch of one
        return se_tau2(y[None], np.asarray(v, float)[None], mask[None], _batch_of_one(tau2), method,
                       weights=_batch_of_one(weights), common=_batch_of_one(common), counts=_batch_of_one(counts))[0]
    if weights is not None:
        weights = np.broadcast_to(np.asarray(weights, float), y.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _se(entry, Tau2Data(y, np.asarray(v, float), mask, weights=weights, common=common, counts=counts),
                   tau2)


def q_generalised(y, v, mask, tau2, derivative: bool = True):
    """Generalised Q of the intercept-only model: sum of w_i (y_i - mu_w)² with
    w_i = 1/(v_i + tau²), and its derivative -sum w_i² (y_i - mu_w)² (None when
    ``derivative`` is False); for analyses (rows) or one analysis (1-D arrays, scalar tau²)."""
    r, q = Intercept().project(mask / (v + tau2[..., None])).residuals(y)
    return q, (-row_sum(r * r, -1) if derivative else None)


def q_profile(y, v, mask, level: float = 0.95, tol: float = 1e-12):
    """Q-profile confidence interval for tau² (Viechtbauer 2007, Stat Med 26:37).

    Bounds solve Q_gen(tau²) = the chi² quantiles with k - 1 df; a bound below zero is 0.
    Both bounds of every analysis are found in one vectorised solve.
    """
    from ..base import dist as _dist

    y = np.asarray(y, float)
    v = np.asarray(v, float)
    mask = np.asarray(mask, float)
    if y.ndim == 1:  # one analysis: a batch of one, its bounds as scalars
        low, high = q_profile(y[None], v[None], mask[None], level, tol)
        return low[0], high[0]
    k = mask.sum(-1)
    alpha = 1 - level
    df = np.maximum(k - 1, 1)
    targets = np.concatenate([_dist.chi2_ppf(1 - alpha / 2, df), _dist.chi2_ppf(alpha / 2, df)])
    m = y.shape[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        # two roots per analysis (lower and upper bound), found together
        both, _, _ = _root_of_q(Tau2Data(y, v, mask, tol=tol, maxiter=500, counts=k), targets,
                                index=np.tile(np.arange(m), 2))
    low, high = both[:m], both[m:]
    low = np.where(k < 2, np.nan, low)
    high = np.where(k < 2, np.nan, high)
    return low, high
