"""Generalised linear mixed models for single proportions and single incidence rates.

Two random-intercept models are fitted by maximum likelihood, vectorised over studies:

* **binomial-normal** (measure ``PLO``): ``x_i ~ Binomial(n_i, expit(theta_i))``,
  ``theta_i ~ N(mu, tau²)`` (Stijnen, Hamza & Özdemir 2010, Stat Med 29:3046-3067);
* **Poisson-normal** (measure ``IRLN``): ``x_i ~ Poisson(t_i exp(theta_i))``, same
  random intercept, log link with offset ``log t_i``.

The random effect of each study is integrated out by adaptive Gauss-Hermite quadrature
(Pinheiro & Bates 1995, J Comput Graph Stat 4:12-35): the rule is centred at the
conditional mode of ``theta_i`` and scaled by the curvature there.  ``n_agq = 7`` (the
default) is the rule lme4's ``glmer(nAGQ = 7)`` uses inside metafor's ``rma.glmm`` and
meta's ``metaprop(method = "GLMM")``; ``n_agq = 1`` is the Laplace approximation; any
number of points can be asked for.  ``mu`` and ``log tau`` are found by Newton's method
with the analytic gradient of the quadrature approximation (conditional modes
differentiated implicitly) and a Hessian from central differences of that gradient;
the standard error of ``mu`` is taken from the inverse of the full Hessian, as lme4's
``vcov`` does.  No continuity correction is used: studies with zero or all events are
legal.

The common-effect (fixed-intercept) model and the saturated model behind the
heterogeneity tests are ordinary GLMs, fitted by iteratively reweighted least squares
with R ``glm``'s starting values and stopping rule, so that the Wald-type (``QE.Wld``)
and likelihood-ratio (``QE.LRT``) tests agree with metafor's even for studies whose
saturated estimate diverges (zero or all events).  I² and H² follow ``rma.glmm``: the
typical within-study variance comes from the continuity-corrected ``escalc`` variances
of the study estimates (0.5 added to studies with zero cells), and meta reports these
same values for GLMMs.

All results are on the analysis scale (logit or log rate).
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import special

from ..base.deferred import Deferred
from ..base.exceptions import ConvergenceWarning, DataError, SettingsError, SmallSampleWarning
from .heterogeneity import i2_h2_from_tau2, i2_h_test_based
from .tau2 import estimate_tau2
from .values import Estimate, Heterogeneity, Interval, Pooled

__all__ = ["GLMMResult", "glmm_proportion", "glmm_rate", "glmm_or", "fit_glmm", "gauss_hermite",
           "pooled_for_analysis", "GLMM_OR_MODELS", "non_informative_tables"]

_EPS = np.finfo(float).eps
# log tau below which tau² (< 1e-13) is on the boundary for every practical purpose
_PSI_MIN = -15.0


# ---------------------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GLMMResult:
    """One fitted GLMM (random-effects) or GLM (common-effect) meta-analysis.

    ``estimate`` ... ``p`` describe the pooled intercept on the analysis scale
    (``statistic`` is the Wald z against ``null``); ``tau2`` is the ML estimate (0 for
    the common-effect model); ``q``/``q_df``/``q_p`` is the Wald-type test for
    heterogeneity and ``q_lrt``/``q_lrt_p`` the likelihood-ratio test (both on
    ``q_df = k - 1`` degrees of freedom, ``nan`` when k = 1); ``i2`` is in percent.
    ``pred_low``/``pred_high`` is the z-based prediction interval ``mu ± z sqrt(se² + tau²)``.
    Diagnostics: ``iterations``, ``gradient_norm`` (largest absolute score at the
    solution, on the (mu, log tau) scale), ``converged``, ``boundary`` (tau² = 0 is the
    maximum), ``n_agq``.  ``model_glmm`` names the two-group model of an odds ratio
    (``"UM.FS"``, ``"UM.RS"``, ``"CM.AL"``, ``"CM.EL"``; ``None`` for single proportions and rates);
    ``sigma2`` is UM.RS's variance of the studies' baseline log odds (rma.glmm's ``sigma2``; ``None``
    for the other models).
    """

    measure: str
    model: str
    k: int
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    statistic: float
    p: float
    tau2: float
    tau: float
    q: float
    q_df: int
    q_p: float
    q_lrt: float
    q_lrt_p: float
    i2: float
    h2: float
    pred_low: float
    pred_high: float
    loglik: float
    level: float
    null: float
    n_agq: int
    iterations: int
    gradient_norm: float
    converged: bool
    boundary: bool
    method: str = field(default="ML")
    model_glmm: str | None = field(default=None)
    sigma2: float | None = field(default=None)

    def to_dict(self) -> dict:
        """Plain-Python dictionary of every field."""
        return asdict(self)


# ---------------------------------------------------------------------------------------
# families (canonical links: observed and expected curvature coincide)
# ---------------------------------------------------------------------------------------
#
# A family gives, at linear predictors laid out over studies (..., k): ``mean_var`` (the mean and
# variance of the count, what the conditional modes are solved with) and ``moments`` (mean,
# variance and third cumulant); at the quadrature nodes laid out (..., k, q): ``at_nodes`` (the
# log-likelihood without its constant, and the mean).  ``at_nodes`` may take a shortcut that is
# exact wherever its values are finite; ``robust_at_nodes`` is used where they are not.

class _Binomial:
    name = "binomial"

    def __init__(self, y: np.ndarray, n: np.ndarray, offset: np.ndarray | None = None):
        self.y, self.size = y, n
        off = None if offset is None else np.asarray(offset, float)
        self.off = None if off is None or not off.any() else off   # (a zero offset adds nothing)
        self.const = special.gammaln(n + 1) - special.gammaln(y + 1) - special.gammaln(n - y + 1)
        self._y_nodes, self._n_nodes = y[:, None], n[:, None]
        self._off_nodes = None if self.off is None else self.off[:, None]
        self.scale = n              # the mean at the nodes is given per trial

    def _p(self, eta):
        return special.expit(eta if self.off is None else eta + self.off)

    def mean_var(self, eta):
        p = self._p(eta)
        m = self.size * p
        return m, m * (1.0 - p)

    def moments(self, eta):
        p = self._p(eta)
        m = self.size * p
        v = m * (1.0 - p)
        return m, v, v * (1.0 - 2.0 * p)

    def at_nodes(self, E):
        # y*eta - n*log(1 + exp(eta)) and expit(eta) from one exponential (not finite beyond eta = 709)
        if self._off_nodes is not None:
            E = E + self._off_nodes
        e = np.exp(E)
        t = 1.0 + e
        return self._y_nodes * E - self._n_nodes * np.log(t), e / t

    def robust_at_nodes(self, E):
        if self._off_nodes is not None:
            E = E + self._off_nodes
        return self._y_nodes * E - self._n_nodes * np.logaddexp(0.0, E), special.expit(E)

    def mode_bracket(self, mu, tau2):
        return mu + tau2 * (self.y - self.size), mu + tau2 * self.y


class _Poisson:
    name = "poisson"

    def __init__(self, y: np.ndarray, t: np.ndarray):
        self.y, self.size = y, t
        self.const = special.xlogy(y, t) - special.gammaln(y + 1)
        self._y_nodes, self._t_nodes = y[:, None], t[:, None]
        self.scale = t              # the mean at the nodes is given per unit of time

    def mean_var(self, eta):
        m = self.size * np.exp(eta)
        return m, m

    def moments(self, eta):
        m = self.size * np.exp(eta)
        return m, m, m

    def at_nodes(self, E):
        e = np.exp(E)
        return self._y_nodes * E - self._t_nodes * e, e

    robust_at_nodes = at_nodes

    def mode_bracket(self, mu, tau2):
        return mu - tau2 * self.size * np.exp(mu) - 1.0, mu + tau2 * self.y


def gauss_hermite(n_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights (summing to 1) of the Gauss-Hermite rule for a standard normal
    (read-only arrays, computed once per number of points)."""
    return _gauss_hermite(int(n_points))


@functools.lru_cache(maxsize=32)
def _gauss_hermite(n_points: int) -> tuple[np.ndarray, np.ndarray]:
    z, w = np.polynomial.hermite_e.hermegauss(n_points)
    w = w / w.sum()
    z.flags.writeable = w.flags.writeable = False
    return z, w


# ---------------------------------------------------------------------------------------
# the marginal log-likelihood by adaptive quadrature, with its analytic gradient
# ---------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=32)
def _adaptive_rule(n_agq: int) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """What every evaluation of :class:`_Marginal` reads of the rule: the nodes, log weight + z²/2,
    the node of the largest weight (the middle one for an odd rule, at the conditional mode: the
    adaptive rule puts the integrand's peak there, and its term keeps the exponentials in range) and
    the table of 1, z, z² by which the weighted sums are taken (read-only arrays)."""
    z, w = gauss_hermite(n_agq)
    logw_z = np.log(w) + 0.5 * z**2
    powers = np.stack([np.ones_like(z), z, z * z], axis=1)
    logw_z.flags.writeable = powers.flags.writeable = False
    return z, logw_z, int(np.argmax(w)), powers


#: a Newton step of the conditional modes below this ends their iteration: the error left after it is
#: at most half its square (|third / second derivative| <= 1 for the binomial and Poisson families)
_MODE_STEP = 1e-8


class _Marginal:
    """Marginal log-likelihood of (mu, psi = log tau) and its analytic gradient.

    Evaluated for a batch of P parameter points at once (arrays of shape P x k x q
    for P points, k studies and q quadrature nodes), so that a Newton step, its
    finite-difference Hessian and the line search cost one vectorised pass.  The sums over
    the nodes that the gradient needs reduce to four weighted moments of each study's nodes
    (of 1, z, z², the mean and the mean times z), taken by two matrix products.
    """

    def __init__(self, fam, n_agq: int):
        self.fam = fam
        self.z, self.logw_z, self.top, self.powers = _adaptive_rule(int(n_agq))
        self.y = fam.y
        self.eta = None  # conditional modes at the last accepted point (warm start)
        self.pred: tuple | None = None  # (mu, psi, modes, their derivatives) at the last evaluation
        self.const = float(np.sum(fam.const))
        self.k = fam.y.size
        self.evaluations = 0
        self.mode_iterations = 0

    def modes(self, mu: np.ndarray, tau2: np.ndarray, psi: np.ndarray | None = None) -> np.ndarray:
        """Conditional modes of the study effects, shape (P, k).  Newton's method starts from the
        modes at the last point, moved to first order (by their implicit derivatives) when known;
        the caller holds the ``np.errstate``."""
        fam, y = self.fam, self.y
        if self.pred is not None and psi is not None:
            mu0, psi0, eta0, de_mu0, de_psi0 = self.pred
            start = eta0 + de_mu0 * (mu - mu0)[:, None] + de_psi0 * (psi - psi0)[:, None]
        else:
            start = np.broadcast_to(mu[:, None] if self.eta is None else self.eta[None, :], (mu.size, self.k))
        mu, it2 = mu[:, None], 1.0 / tau2[:, None]
        # plain Newton from the warm start (G' is strictly decreasing and smooth) ...
        eta = start
        c = y + mu * it2                # G'(eta) = c - m(eta) - eta / tau²
        for it in range(8):
            m, v = fam.mean_var(eta)
            step = (c - m - eta * it2) / (v + it2)
            eta = eta + step
            if np.abs(step).max() <= _MODE_STEP:
                self.mode_iterations = max(self.mode_iterations, it + 1)
                return eta
        # ... and, if that has not converged, Newton safeguarded by bisection
        lo, hi = fam.mode_bracket(mu, tau2[:, None])
        eta = np.minimum(np.maximum(start, lo), hi)
        for it in range(200):
            m, v = fam.mean_var(eta)
            g = y - m - (eta - mu) * it2
            new = eta + g / (v + it2)
            pos = g > 0
            lo = np.where(pos, eta, lo)
            hi = np.where(pos, hi, eta)
            out = (new < lo) | (new > hi) | ~np.isfinite(new)
            if out.any():
                new = np.where(out, 0.5 * (lo + hi), new)
            change = np.abs(new - eta)
            eta = new
            if (change <= 1e-11 * (1.0 + np.abs(eta))).all():
                break
        self.mode_iterations = max(self.mode_iterations, 8 + it + 1)
        return eta

    def __call__(self, mu, psi, grad: bool = True):
        """Log-likelihoods (P,) and scores (P, 2) at the points (mu[i], psi[i])."""
        self.evaluations += 1
        if not (type(mu) is np.ndarray and mu.ndim == 1 and mu.dtype == float):
            mu = np.atleast_1d(np.asarray(mu, dtype=float))
        if not (type(psi) is np.ndarray and psi.ndim == 1 and psi.dtype == float):
            psi = np.atleast_1d(np.asarray(psi, dtype=float))
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            tau2 = np.exp(2.0 * psi)
            eta = self.modes(mu, tau2, psi)
            out = self._at(mu, psi, tau2, eta, grad, robust=False)
            if not (np.isfinite(out[0]).all() and (not grad or np.isfinite(out[1]).all())):
                out = self._at(mu, psi, tau2, eta, grad, robust=True)
        return out

    def _at(self, mu, psi, tau2, eta, grad: bool, robust: bool):
        """The log-likelihoods and scores given the conditional modes ``eta``; ``robust``: the
        family's robust node values and the largest term of each study as its reference."""
        fam, k = self.fam, self.k
        it2 = 1.0 / tau2
        it2k = it2[:, None]
        _, v, dv = fam.moments(eta)
        ih = 1.0 / (v + it2k)                               # 1 / curvature at the mode
        s = np.sqrt(ih)                                     # scale of the adaptive rule
        d = eta - mu[:, None]                               # mode - mu
        sz = s[..., None] * self.z                          # nodes - mode, (P, k, q)
        R = d[..., None] + sz                               # nodes - mu
        node_ll, mean_nodes = (fam.robust_at_nodes if robust else fam.at_nodes)(eta[..., None] + sz)
        A = node_ll - (0.5 * it2)[:, None, None] * (R * R) + self.logw_z
        ref = A.max(axis=2) if robust else A[..., self.top]
        W = np.exp(A - ref[..., None])
        moments = W @ self.powers                           # sums of the weights times 1, z, z²
        S = moments[..., 0]
        ll = (ref + np.log(S * s)).sum(axis=1) - k * psi + self.const
        if not grad:
            return ll, None
        iS = 1.0 / S
        ez, ezz = moments[..., 1] * iS, moments[..., 2] * iS
        mean = (W * mean_nodes) @ self.powers[:, :2]        # the count's mean at the nodes, in units of scale
        iS *= fam.scale
        em, emz = mean[..., 0] * iS, mean[..., 1] * iS
        # expectations under the quadrature weights: of R, R z, R², of the score in eta (Gp), of Gp z
        er = d + s * ez
        erz = d * ez + s * ezz
        er2 = d * er + s * erz
        eg = self.y - em - it2k * er
        egz1 = 1.0 + s * (self.y * ez - emz - it2k * erz)
        de_mu = it2k * ih                                   # implicit derivative of the mode in mu
        # with that in psi, 2 d de_mu, and those of log(scale), -dv de_mu / 2h in mu and
        # 2 d (that in mu) + de_mu in psi, the scores of each study are
        c = (-0.5 * dv * ih * egz1 + eg) * de_mu
        scores = np.empty((mu.size, 2, k))
        np.add(c, it2k * er, out=scores[:, 0])
        np.add(2.0 * d * c + de_mu * egz1, it2k * er2, out=scores[:, 1])
        g = scores.sum(axis=2)
        g[:, 1] -= k
        self.pred = (mu[0], psi[0], eta[0], de_mu[0], 2.0 * d[0] * de_mu[0])
        return ll, g, eta

    def newton_batch(self, x: np.ndarray, central: bool = False):
        """ll, score and Hessian at x (Hessian from differences of the analytic score:
        forward differences for the Newton steps, central ones for the covariance)."""
        m, p = float(x[0]), float(x[1])
        if central:
            d0, d1 = 1e-4 * max(1.0, abs(m)), 1e-4
            ll, g, eta = self(np.array([m, m + d0, m - d0, m, m]), np.array([p, p, p, p + d1, p - d1]))
            H = np.array([(g[1] - g[2]) / (2 * d0), (g[3] - g[4]) / (2 * d1)]).T
        else:
            d0, d1 = 1e-6 * max(1.0, abs(m)), 1e-6
            ll, g, eta = self(np.array([m, m + d0, m]), np.array([p, p, p + d1]))
            H = np.array([(g[1] - g[0]) / d0, (g[2] - g[0]) / d1]).T
        return float(ll[0]), g[0], 0.5 * (H + H.T), eta[0]


# ---------------------------------------------------------------------------------------
# the common-effect and saturated GLMs
# ---------------------------------------------------------------------------------------

def _glm_irls(family: str, x: np.ndarray, s: np.ndarray, saturated: bool, maxit: int = 25,
              epsilon: float = 1e-8, offset=0.0):
    """Intercept-only or saturated GLM by iteratively reweighted least squares, as R's
    ``glm.fit`` computes it.

    Same starting values ((x + 0.5)/(n + 1), resp. x + 0.1), the same stopping rule
    (relative change of the deviance below 1e-8), R's bounds on the fitted means, and
    variances from the weights of the last least-squares step, so that the common-effect
    fit and the saturated model behind the heterogeneity tests agree with ``glm`` (and
    ``rma.glmm``) to rounding.  In the saturated model a study with zero (or all) events
    has no finite estimate; like ``glm`` the iteration stops where its contribution has
    become negligible, and the same small contribution enters the Wald statistic.
    ``offset`` (binomial) enters the linear predictor as in ``glm(offset = )``.
    Returns (coefficients, weights, fitted means, converged, iterations).
    """
    if family == "binomial":
        yy, wt, off = x / s, s, np.asarray(offset, dtype=float)
        mu = (wt * yy + 0.5) / (wt + 1.0)
        eta = np.log(mu / (1.0 - mu))
        fitted = _binomial_fitted
        nyy = 1 - yy

        def deviance_terms(mu, omu):
            return wt * (special.xlogy(yy, yy / mu) + special.xlogy(nyy, nyy / omu))
    else:
        yy, wt, off = x, None, np.log(s)
        eta = np.log(x + 0.1)
        fitted = _poisson_fitted
        ypos = np.where(yy > 0, yy, 1.0)

        def deviance_terms(mu, _):
            return special.xlogy(yy, ypos / mu) - (yy - mu)
    # the studies without a finite saturated estimate (no or only events), stepped one by one once the
    # others have settled (each study has its own IRLS in the saturated model)
    alone = None
    if saturated:
        alone = np.flatnonzero((yy == 0) | (yy == 1) if family == "binomial" else yy == 0)
        if not 0 < alone.size <= _TAIL_STUDIES:
            alone = None

    shift = bool(off.any())   # (x - 0 and x + 0 are x: a zero offset is left out)
    mu, me, var, omu = fitted(eta)
    devold = 2.0 * float(deviance_terms(mu, omu).sum())
    conv = False
    for it in range(1, maxit + 1):
        step = (yy - mu) / me
        z = ((eta - off) if shift else eta) + step
        w2 = var if me is var else me * me / var        # (the same array within R's bounds)
        if wt is not None:
            w2 = wt * w2
        beta = z if saturated else np.full_like(z, (w2 * z).sum() / w2.sum())
        eta = beta + off if shift else beta
        mu, me, var, omu = fitted(eta)
        terms = deviance_terms(mu, omu)
        dev = 2.0 * float(terms.sum())
        if abs(dev - devold) / (abs(dev) + 0.1) < epsilon:
            conv = True
            break
        devold = dev
        if alone is not None and it >= 3:
            settled = np.abs(step) <= 1e-10 * (1.0 + np.abs(eta))
            settled[alone] = True
            if settled.all():
                return _saturated_tail(family, alone, it, maxit, epsilon, devold, terms, beta, w2, mu, eta,
                                       yy, wt, off if shift else None)
    return beta, w2, mu, conv, it


#: at most this many studies without a saturated estimate are stepped one by one (:func:`_saturated_tail`)
_TAIL_STUDIES = 8


def _saturated_tail(family: str, alone: np.ndarray, it: int, maxit: int, epsilon: float, devold: float,
                    terms: np.ndarray, beta, w2, mu, eta, yy, wt, off):
    """The rest of :func:`_glm_irls` for the saturated model once only the studies ``alone`` (no or
    only events: their estimate runs off to infinity) still move: the others' deviance terms, estimates
    and weights stay as they are, and those few studies take their IRLS steps (the same steps, R's bounds
    on the linear predictor included) as floats, so that the iteration stops where R's does."""
    beta, w2, mu = beta.copy(), w2.copy(), mu.copy()
    rest = terms.sum() - terms[alone].sum()
    cells = [(int(j), float(eta[j]), float(yy[j]), 1.0 if wt is None else float(wt[j]),
              0.0 if off is None else float(off[j])) for j in alone]
    state = [_fitted_one(family, e) for _, e, _, _, _ in cells]
    conv = False
    while it < maxit:
        it += 1
        total = rest
        for i, (j, e, y, n, o) in enumerate(cells):
            m, me, v, om = state[i]
            b = (e - o) + (y - m) / me
            e = b + o
            cells[i] = (j, e, y, n, o)
            beta[j], w2[j] = b, n * (v if me == v else me * me / v)
            state[i] = m, me, v, om = _fitted_one(family, e)
            mu[j] = m
            if family == "binomial":
                total += n * math.log(1.0 / m if y == 1.0 else 1.0 / om)
            else:
                total += m
        dev = 2.0 * float(total)
        if abs(dev - devold) / (abs(dev) + 0.1) < epsilon:
            conv = True
            break
        devold = dev
    return beta, w2, mu, conv, it


def _fitted_one(family: str, eta: float) -> tuple[float, float, float, float]:
    """:func:`_binomial_fitted` / :func:`_poisson_fitted` of one linear predictor, as floats."""
    if family == "binomial":
        e = math.exp(min(max(eta, -30.0), 30.0))
        mu = e / (1.0 + e)
        omu = 1.0 - mu
        v = mu * omu
        return mu, (_EPS if abs(eta) > 30.0 else v), v, omu
    mu = max(math.exp(eta), _EPS)
    return mu, mu, mu, 0.0


def _binomial_fitted(eta):
    """R's ``binomial()`` at ``eta``: mean, d mean / d eta, variance (within R's bounds on the
    linear predictor) and 1 - mean."""
    if np.abs(eta).max() <= 30.0:   # R's bounds not reached (the usual case)
        e = np.exp(eta)
        mu = e / (1.0 + e)
        omu = 1.0 - mu
        v = mu * omu
        return mu, v, v, omu
    e = np.exp(np.clip(eta, -30.0, 30.0))
    mu = e / (1.0 + e)
    omu = 1.0 - mu
    v = mu * omu
    return mu, np.where(np.abs(eta) > 30.0, _EPS, v), v, omu


def _poisson_fitted(eta):
    """R's ``poisson()`` at ``eta``: mean, d mean / d eta and variance (all the mean)."""
    mu = np.maximum(np.exp(eta), _EPS)
    return mu, mu, mu, None


def _glm_tests(family: str, x: np.ndarray, s: np.ndarray, offset=0.0):
    """Common-effect fit, its log-likelihood, and the saturated model's Wald statistic
    and log-likelihood.

    The Wald statistic of the saturated model's study contrasts equals the weighted sum
    of squares of its study estimates around their weighted mean.
    """
    b_fe, w_fe, mu_fe, conv, it = _glm_irls(family, x, s, saturated=False, offset=offset)
    est, se = float(b_fe[0]), 1.0 / math.sqrt(float(np.sum(w_fe)))
    ll_fe = _loglik_at_mean(family, x, s, mu_fe)
    if x.size < 2:
        return est, se, conv, it, ll_fe, math.nan, math.nan
    b, w, mu, _, _ = _glm_irls(family, x, s, saturated=True, offset=offset)
    q_wald = max(0.0, float(np.sum(w * (b - np.sum(w * b) / np.sum(w)) ** 2)))
    return est, se, conv, it, ll_fe, _loglik_at_mean(family, x, s, mu), q_wald


def _loglik_at_mean(family: str, x: np.ndarray, s: np.ndarray, mu: np.ndarray) -> float:
    if family == "binomial":
        return float(np.sum(special.gammaln(s + 1) - special.gammaln(x + 1)
                            - special.gammaln(s - x + 1) + special.xlogy(x, mu)
                            + special.xlog1py(s - x, -mu)))
    return float(np.sum(special.xlogy(x, mu) - mu - special.gammaln(x + 1)))


# ---------------------------------------------------------------------------------------
# fitting
# ---------------------------------------------------------------------------------------

def _check_counts(events, size, family: str):
    x = np.asarray(events, dtype=float)
    s = np.asarray(size, dtype=float)
    other = "n" if family == "binomial" else "time"
    if x.ndim != 1 or x.shape != s.shape:
        raise DataError(f"events and {other} must be one-dimensional arrays of the same length",
                        rule="shape")
    if x.size == 0:
        raise DataError("no studies to pool", rule="k >= 1")
    for name, arr in (("events", x), (other, s)):
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise DataError("value is missing or not finite", study=str(bad[0]), column=name,
                            rule="finite")
    bad = np.flatnonzero((x < 0) | (x != np.round(x)))
    if bad.size:
        raise DataError("event count must be a non-negative whole number", study=str(bad[0]),
                        column="events", rule="events integer >= 0")
    if family == "binomial":
        bad = np.flatnonzero((s <= 0) | (s != np.round(s)))
        if bad.size:
            raise DataError("sample size must be a positive whole number", study=str(bad[0]),
                            column="n", rule="n integer > 0")
        bad = np.flatnonzero(x > s)
        if bad.size:
            raise DataError("more events than participants", study=str(bad[0]),
                            column="events", rule="events <= n")
        if np.all(x == 0):
            raise DataError("no study has an event: the pooled logit is -infinity "
                            "(report the counts instead of a pooled proportion)",
                            column="events", rule="some events")
        if np.all(x == s):
            raise DataError("every participant of every study had the event: the pooled "
                            "logit is +infinity", column="events", rule="some non-events")
    else:
        bad = np.flatnonzero(s <= 0)
        if bad.size:
            raise DataError("person-time must be positive", study=str(bad[0]), column="time",
                            rule="time > 0")
        if np.all(x == 0):
            raise DataError("no study has an event: the pooled log rate is -infinity",
                            column="events", rule="some events")
    return x, s


def _escalc_vi(family: str, x: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Within-study variances of the PLO / IRLN estimates (0.5 added to zero cells)."""
    if family == "binomial":
        m = s - x
        zero = (x == 0) | (m == 0)
        xa, ma = np.where(zero, x + 0.5, x), np.where(zero, m + 0.5, m)
        return 1.0 / xa + 1.0 / ma
    return 1.0 / np.where(x == 0, x + 0.5, x)


def _dl_start(family: str, x: np.ndarray, s: np.ndarray, vi: np.ndarray, offset=0.0) -> tuple[float, float, np.ndarray]:
    """DerSimonian-Laird estimate on the logit / log-rate scale (starting values), from the study
    estimates (returned with it) and their variances ``vi`` (:func:`_escalc_vi`)."""
    if family == "binomial":
        m = s - x
        zero = (x == 0) | (m == 0)
        yi = np.log(np.where(zero, x + 0.5, x) / np.where(zero, m + 0.5, m)) - offset
    else:
        yi = np.log(np.where(x == 0, 0.5, x) / s)
    tau2 = float(estimate_tau2(yi, vi, np.ones(yi.size), "DL", warn=False).tau2)
    wr = 1.0 / (vi + tau2)
    return float(np.sum(wr * yi) / np.sum(wr)), tau2, yi


def _summary(measure, model, k, est, se, tau2, level, null, het, extra) -> GLMMResult:
    zcrit = float(special.ndtri(0.5 + level / 2))
    zval = (est - null) / se
    half = zcrit * math.sqrt(se * se + tau2)
    return GLMMResult(
        measure=measure, model=model, k=k, estimate=est, se=se,
        ci_low=est - zcrit * se, ci_high=est + zcrit * se, statistic=zval,
        p=float(2 * special.ndtr(-abs(zval))), tau2=tau2, tau=math.sqrt(tau2),
        pred_low=est - half, pred_high=est + half, level=level, null=null, **het, **extra)


def fit_glmm(events, size, *, family: str = "binomial", model: str = "random",
             n_agq: int = 7, level: float = 0.95, null: float = 0.0,
             tol: float = 1e-10, maxiter: int = 100, offset=None, i2_vi=None,
             measure: str | None = None) -> GLMMResult:
    """Fit the binomial-normal (``family="binomial"``, ``size`` = sample sizes) or
    Poisson-normal (``family="poisson"``, ``size`` = person-times) meta-analysis model.

    ``model="random"`` fits the random-intercept GLMM by ML (Stijnen et al. 2010) with
    ``n_agq``-point adaptive Gauss-Hermite quadrature (Pinheiro & Bates 1995);
    ``model="common"`` the fixed-intercept GLM.  With k = 1 the random-effects model
    falls back to the common-effect model with a :class:`SmallSampleWarning` (as meta
    does); heterogeneity statistics are then ``nan``.  Non-convergence
    within ``maxiter`` Newton steps gives a :class:`ConvergenceWarning` and
    ``converged=False``.  ``tol`` bounds the Newton decrement sqrt(g' (-H)^-1 g) of the
    score g and Hessian H in (mu, log tau) at the solution.

    ``offset`` (binomial only) is added to every study's linear predictor (``glm(offset = )``);
    ``i2_vi`` replaces the within-study variances behind I² and H² (default: those of the
    study estimates on the model's own scale); ``measure`` labels the result.
    """
    return _fit_glmm(events, size, family=family, models=(model,), n_agq=n_agq, level=level, null=null, tol=tol,
                     maxiter=maxiter, offset=offset, i2_vi=i2_vi, measure=measure)[model]


def _fit_glmm(events, size, *, family: str, models: tuple[str, ...], n_agq: int = 7, level: float = 0.95,
              null: float = 0.0, tol: float = 1e-10, maxiter: int = 100, offset=None, i2_vi=None,
              measure: str | None = None) -> dict[str, GLMMResult]:
    """:func:`fit_glmm` for each of ``models`` (``"common"``, ``"random"``), from one fit of the GLMs
    they share (the common-effect and saturated models), as a dict by model."""
    if family not in ("binomial", "poisson"):
        raise SettingsError(f"unknown family {family!r}; valid: binomial, poisson")
    for m in models:
        if m not in ("random", "common"):
            raise SettingsError(f"unknown model {m!r}; valid: random, common")
    if not isinstance(n_agq, (int, np.integer)) or isinstance(n_agq, bool) or n_agq < 1:
        raise SettingsError("n_agq must be a whole number >= 1 (1 = Laplace approximation)")
    if not 0 < level < 1:
        raise SettingsError("level must be between 0 and 1 (e.g. 0.95)")
    if offset is not None and family != "binomial":
        raise SettingsError("an offset is offered for the binomial family only")
    measure = measure or ("PLO" if family == "binomial" else "IRLN")
    x, s = _check_counts(events, size, family)
    k = x.size
    off = np.zeros(k) if offset is None else np.asarray(offset, float).ravel()

    # common-effect GLM and the heterogeneity tests (saturated GLM)
    mu_glm, se_glm, conv_glm, it_glm, ll_fe, ll_sat, q_wald = _glm_tests(family, x, s, offset=off)
    if k > 1:
        q_lrt = max(0.0, -2.0 * (ll_fe - ll_sat))
        het = dict(q=q_wald, q_df=k - 1, q_p=float(special.chdtrc(k - 1, q_wald)),
                   q_lrt=q_lrt, q_lrt_p=float(special.chdtrc(k - 1, q_lrt)))
    else:
        het = dict(q=math.nan, q_df=0, q_p=math.nan, q_lrt=math.nan, q_lrt_p=math.nan)
    vi_own = _escalc_vi(family, x, s)
    vi = vi_own if i2_vi is None else np.asarray(i2_vi, float)
    wi = 1.0 / vi
    vt = (k - 1) / (np.sum(wi) - np.sum(wi * wi) / np.sum(wi)) if k > 1 else float(vi[0])

    def fitted(model: str, het: dict) -> GLMMResult:
        if model == "common" or k == 1:
            if model == "random":
                warnings.warn("k = 1: tau² cannot be estimated; the common-effect model is "
                              "reported for the random-effects model", SmallSampleWarning,
                              stacklevel=4)
            if not conv_glm:
                warnings.warn(f"the common-effect GLM did not converge in {it_glm} iterations",
                              ConvergenceWarning, stacklevel=4)
            het.update(i2=0.0, h2=1.0)
            extra = dict(loglik=ll_fe, n_agq=n_agq, iterations=it_glm, gradient_norm=0.0,
                         converged=conv_glm, boundary=False,
                         method="CE" if model == "common" else "ML")
            return _summary(measure, model, k, mu_glm, se_glm, 0.0, level, null, het, extra)

        if family == "binomial" and np.all((x == 0) | (x == s)):
            # each study's marginal likelihood tends to 1/2 as tau² grows (Stijnen et al. 2010)
            raise DataError("every study has either no events or only events: the likelihood "
                            "grows without bound with tau², so the random-effects model has "
                            "no ML estimate (use the common-effect model or report the counts)",
                            column="events", rule="some study with 0 < events < n")
        fam = _Binomial(x, s, off) if family == "binomial" else _Poisson(x, s)
        lik = _Marginal(fam, int(n_agq))

        # score for tau² at 0 (exact, since the integral is then trivial): if it is not
        # positive the maximum is on the boundary tau² = 0 (Stijnen et al. 2010, section 3)
        m0, v0, _ = fam.moments(np.full(k, mu_glm))
        score0 = 0.5 * float(np.sum((x - m0) ** 2 - v0))
        if score0 <= 0:
            het.update(i2=0.0, h2=1.0)
            extra = dict(loglik=ll_fe, n_agq=n_agq, iterations=0, gradient_norm=0.0,
                         converged=True, boundary=True)
            return _summary(measure, model, k, mu_glm, se_glm, 0.0, level, null, het, extra)

        mu_dl, tau2_dl, yi = _dl_start(family, x, s, vi_own, off)
        if tau2_dl <= 0:
            tau2_dl = max(2.0 * score0 / float(np.sum(v0 * v0)), 1e-4)
        # the conditional modes first sought from the normal approximation's (the weighted mean of a
        # study's estimate and mu_dl)
        lik.eta = (yi / vi_own + mu_dl / tau2_dl) / (1.0 / vi_own + 1.0 / tau2_dl)

        # close to the maximum (scores below 1e-5) the Hessian is taken by central differences at once, so
        # that the point where Newton's method stops needs no further evaluation for the standard error
        small = [False]                   # the score at the last point was small
        central_at: list[np.ndarray] = []  # the last point, when its Hessian was central

        def newton_step_values(x):
            f, g, H, eta = lik.newton_batch(x, central=small[0])
            lik.eta = eta          # warm start of the conditional modes
            central_at[:] = [np.array(x)] if small[0] else []
            small[0] = float(np.max(np.abs(g))) < 1e-5
            return f, g, H

        xk, f, g, H, it, converged, _ = _newton_max(newton_step_values, np.array([mu_dl, 0.5 * math.log(tau2_dl)]),
                                                    tol=tol, maxiter=maxiter)
        if converged and not (central_at and np.array_equal(central_at[0], xk)):
            f, g, H, _ = lik.newton_batch(xk, central=True)
        if not converged:
            # the iteration ran into tau² = 0: the maximum is on the boundary
            if xk[1] <= _PSI_MIN:
                het.update(i2=0.0, h2=1.0)
                extra = dict(loglik=ll_fe, n_agq=n_agq, iterations=it,
                             gradient_norm=float(np.max(np.abs(g))), converged=True, boundary=True)
                return _summary(measure, model, k, mu_glm, se_glm, 0.0, level, null, het, extra)
            warnings.warn(
                f"GLMM did not converge after {it} Newton steps (largest score "
                f"{float(np.max(np.abs(g))):.3g}, mu = {xk[0]:.6g}, tau² = {math.exp(2 * xk[1]):.6g})",
                ConvergenceWarning, stacklevel=4)
        cov = np.linalg.inv(-H)
        mu, tau2 = float(xk[0]), float(math.exp(2 * xk[1]))
        se = math.sqrt(cov[0, 0]) if cov[0, 0] > 0 else math.nan
        i2, h2 = i2_h2_from_tau2(tau2, vt)
        het.update(i2=float(i2), h2=float(h2))
        extra = dict(loglik=f, n_agq=n_agq, iterations=it, gradient_norm=float(np.max(np.abs(g))),
                     converged=converged, boundary=False)
        return _summary(measure, model, k, mu, se, tau2, level, null, het, extra)

    return {m: fitted(m, dict(het)) for m in models}


def glmm_proportion(events, n, *, model: str = "random", n_agq: int = 7,
                    level: float = 0.95, null: float = 0.0) -> GLMMResult:
    """Random-intercept logistic meta-analysis of single proportions (measure PLO).

    Binomial-normal model of Stijnen, Hamza & Özdemir (2010), ML by adaptive
    Gauss-Hermite quadrature (Pinheiro & Bates 1995) with ``n_agq`` points (7, as
    ``rma.glmm``; 1 = Laplace).  ``model="common"`` gives the fixed-intercept logistic
    model.  Estimates are logits; back-transform with the inverse logit.

    >>> r = glmm_proportion([2, 26, 26, 6], [10, 31, 30, 19])
    >>> round(r.estimate, 4), round(r.tau2, 4), r.converged
    (0.4017, 1.8876, True)
    """
    return fit_glmm(events, n, family="binomial", model=model, n_agq=n_agq, level=level,
                    null=null)


def glmm_rate(events, time, *, model: str = "random", n_agq: int = 7,
              level: float = 0.95, null: float = 0.0) -> GLMMResult:
    """Random-intercept Poisson meta-analysis of single incidence rates (measure IRLN).

    Poisson-normal model with log link and offset log(person-time) (Stijnen et al.
    2010), ML by adaptive Gauss-Hermite quadrature (Pinheiro & Bates 1995).  Estimates
    are log rates; back-transform with exp.
    """
    return fit_glmm(events, time, family="poisson", model=model, n_agq=n_agq, level=level,
                    null=null)


# ---------------------------------------------------------------------------------------
# two-group odds ratios: the unconditional model with fixed study effects (UM.FS)
# ---------------------------------------------------------------------------------------

class _ArmsMarginal:
    """Marginal log-likelihood of studies whose binomial arms share one normal random effect.

    Study ``s`` has arms ``j`` with ``y[s, j] ~ Binomial(size[s, j], expit(o[s, j] + z[s, j] b_s))``
    and ``b_s ~ N(0, tau²)``; the fixed part ``o`` is any linear function of the model's
    coefficients.  Each study's integral is approximated by adaptive Gauss-Hermite quadrature at
    the conditional mode of ``b_s`` (Pinheiro & Bates 1995), as lme4's ``glmer(nAGQ = )`` does for
    one scalar random effect per study.  A call returns, per study, the log-likelihood and its
    analytic derivatives with respect to the study's own fixed parts ``o[s, :]`` and to
    ``psi = log tau`` (modes differentiated implicitly), for P parameter points at once.
    """

    def __init__(self, y: np.ndarray, size: np.ndarray, z: np.ndarray, n_agq: int):
        self.y, self.size, self.z = y, size, z
        self.zq, w = gauss_hermite(n_agq)
        self.logw_z = np.log(w) + 0.5 * self.zq**2
        self.const = (special.gammaln(size + 1) - special.gammaln(y + 1)
                      - special.gammaln(size - y + 1)).sum(axis=1)
        # sum_j z_j (y_j - m_j) lies between these bounds, so the mode lies between tau² times them
        self.smin = np.minimum(z * (y - size), z * y).sum(axis=1)
        self.smax = np.maximum(z * (y - size), z * y).sum(axis=1)

    def modes(self, o: np.ndarray, tau2: np.ndarray) -> np.ndarray:
        """Conditional modes of the study effects, shape (P, k): Newton safeguarded by bisection."""
        y, size, z = self.y, self.size, self.z
        t2 = tau2[:, None]
        lo, hi = t2 * self.smin, t2 * self.smax
        b = np.clip(np.zeros_like(lo), lo, hi)
        for _ in range(200):
            p = special.expit(o + z * b[..., None])
            m = size * p
            g = (z * (y - m)).sum(axis=2) - b / t2
            h = (z * z * m * (1.0 - p)).sum(axis=2) + 1.0 / t2
            new = b + g / h
            pos = g > 0
            lo, hi = np.where(pos, b, lo), np.where(pos, hi, b)
            out = (new < lo) | (new > hi) | ~np.isfinite(new)
            new = np.where(out, 0.5 * (lo + hi), new)
            change = np.abs(new - b)
            b = new
            if (change <= 4 * _EPS * (1.0 + np.abs(b))).all():
                break
        return b

    def __call__(self, o: np.ndarray, psi: np.ndarray):
        """Per-study log-likelihoods (P, k) and their derivatives in o (P, k, m) and psi (P, k)."""
        y, size, z, zq = self.y, self.size, self.z, self.zq
        tau2 = np.exp(2.0 * psi)
        it2 = (1.0 / tau2)[:, None]
        b = self.modes(o, tau2)
        p = special.expit(o + z * b[..., None])
        v = size * p * (1.0 - p)
        dv = v * (1.0 - 2.0 * p)
        h = (z * z * v).sum(axis=2) + it2
        s = 1.0 / np.sqrt(h)
        B = b[..., None] + s[..., None] * zq                       # nodes (P, k, q)
        E = o[..., None] + z[..., None] * B[:, :, None, :]          # (P, k, m, q)
        L = (y[..., None] * E - size[..., None] * np.logaddexp(0.0, E)).sum(axis=2)
        A = self.logw_z + L - 0.5 * it2[..., None] * B * B
        amax = A.max(axis=2)
        P = np.exp(A - amax[..., None])
        S = P.sum(axis=2)
        ll = np.log(s) + amax + np.log(S) - psi[:, None] + self.const
        pi = P / S[..., None]
        resid = y[..., None] - size[..., None] * special.expit(E)   # (P, k, m, q)
        Gq = (z[..., None] * resid).sum(axis=2) - it2[..., None] * B
        z3dv = (z**3 * dv).sum(axis=2)
        # fixed parts
        db_o = -z * v / h[..., None]
        dh_o = z * z * dv + z3dv[..., None] * db_o
        dls_o = -0.5 * dh_o / h[..., None]
        dB_o = db_o[..., None] + zq * (s[..., None] * dls_o)[..., None]
        g_o = dls_o + (pi[:, :, None, :] * (resid + Gq[:, :, None, :] * dB_o)).sum(axis=3)
        # log tau
        db_psi = 2.0 * b * it2 / h
        dls_psi = -0.5 * (z3dv * db_psi - 2.0 * it2) / h
        dB_psi = db_psi[..., None] + zq * (s * dls_psi)[..., None]
        g_psi = dls_psi + (pi * (Gq * dB_psi + it2[..., None] * B * B)).sum(axis=2) - 1.0
        return ll, g_o, g_psi


class _Arrow:
    """A symmetric matrix whose rows and columns ``local`` (one per study) meet only themselves and
    the few ``glob`` ones: the Hessian of a model with a nuisance coefficient per study (UM.FS's
    intercepts).  Held as the diagonal ``d`` of the local block, the border ``B`` (local x global)
    and the global block ``C``; solved in O(k) by eliminating the local unknowns (the Schur
    complement ``C - B' diag(1/d) B`` of the global ones)."""

    def __init__(self, d, B, C, local, glob):
        self.d, self.B, self.C, self.local, self.glob = d, B, C, local, glob
        self.n = d.size + C.shape[0]

    def __neg__(self) -> "_Arrow":
        return _Arrow(-self.d, -self.B, -self.C, self.local, self.glob)

    def diagonal(self) -> np.ndarray:
        out = np.empty(self.n)
        out[self.local], out[self.glob] = self.d, np.diag(self.C)
        return out

    def _schur(self, lam: float):
        d = self.d + lam
        if not np.all(d > 0):
            raise np.linalg.LinAlgError("not positive definite")
        S = self.C + lam * np.eye(self.C.shape[0]) - self.B.T @ (self.B / d[:, None])
        return d, np.linalg.cholesky(S)

    def solve(self, rhs: np.ndarray, lam: float = 0.0) -> np.ndarray:
        """``(M + lam I)^-1 rhs`` for positive definite ``M + lam I`` (else LinAlgError)."""
        d, L = self._schur(lam)
        r_loc, r_glob = rhs[self.local], rhs[self.glob]
        x_glob = np.linalg.solve(L.T, np.linalg.solve(L, r_glob - self.B.T @ (r_loc / d)))
        out = np.empty(self.n)
        out[self.glob], out[self.local] = x_glob, (r_loc - self.B @ x_glob) / d
        return out

    def inverse_global(self) -> np.ndarray:
        """The global block of ``M^-1`` (the covariance of the global coefficients, M = -Hessian)."""
        _, L = self._schur(0.0)
        Li = np.linalg.inv(L)
        return Li.T @ Li


def _pd_solve(M, rhs: np.ndarray, lam: float) -> np.ndarray:
    """``(M + lam I)^-1 rhs`` by Cholesky (dense) or block elimination (:class:`_Arrow`)."""
    if isinstance(M, _Arrow):
        return M.solve(rhs, lam)
    if M.shape == (2, 2):   # (mu, log tau): in closed form (LAPACK's call costs more than the arithmetic)
        a, b, c = float(M[0, 0]) + lam, float(M[0, 1]), float(M[1, 1]) + lam
        det = a * c - b * b
        if not (a > 0 and det > 0):
            raise np.linalg.LinAlgError("not positive definite")
        return np.array([(c * rhs[0] - b * rhs[1]) / det, (a * rhs[1] - b * rhs[0]) / det])
    L = np.linalg.cholesky(M + lam * np.eye(M.shape[0]))
    return np.linalg.solve(L.T, np.linalg.solve(L, rhs))


class _ArmsModel:
    """Log-likelihood, score and Hessian of (coefficients, log sd's) for :class:`_ArmsMarginal`
    (one log tau) or :class:`_LaplaceArms` (a log sd per random effect).

    ``X`` (k, m, p) maps the coefficients to the fixed parts of each arm.  Since a study's
    likelihood depends on the coefficients only through its own fixed parts, the Hessian is
    assembled from each study's (m + r) x (m + r) Hessian in (fixed parts, log sd's), found by
    central differences of the analytic derivatives, all studies perturbed at once.
    """

    def __init__(self, marginal, X: np.ndarray, intercepts: int | None = None):
        self.lik, self.X = marginal, X
        self.r = getattr(marginal, "n_psi", 1)
        # columns intercepts .. intercepts + k - 1 of X: one intercept per study (an arrow-shaped Hessian)
        self.intercepts = intercepts

    def __call__(self, theta: np.ndarray, hessian: bool = True):
        X, r = self.X, self.r
        k, m, p = X.shape
        o = np.einsum("kmp,p->km", X, theta[:p])
        psi = np.asarray(theta[p:], dtype=float)
        d = 1e-5
        pts_o = [o]
        pts_psi = [psi]
        if hessian:
            for j in range(m):
                for sign in (1.0, -1.0):
                    e = np.zeros((k, m))
                    e[:, j] = sign * d
                    pts_o.append(o + e)
                    pts_psi.append(psi)
            for j in range(r):
                for sign in (1.0, -1.0):
                    pts_o.append(o)
                    pts_psi.append(psi + sign * d * (np.arange(r) == j))
        psis = np.array(pts_psi)
        ll, g_o, g_psi = self.lik(np.array(pts_o), psis[:, 0] if r == 1 else psis)
        g_psi = g_psi.reshape(g_psi.shape[0], k, r)
        grad = np.concatenate([np.einsum("km,kmp->p", g_o[0], X), g_psi[0].sum(axis=0)])
        if not hessian:
            return float(ll[0].sum()), grad, None
        loc = np.concatenate([g_o, g_psi], axis=2)        # (P, k, m + r)
        Hs = np.empty((k, m + r, m + r))
        for j in range(m + r):
            Hs[:, :, j] = (loc[1 + 2 * j] - loc[2 + 2 * j]) / (2 * d)
        Hs = 0.5 * (Hs + np.swapaxes(Hs, 1, 2))
        if self.intercepts is not None:
            return float(ll[0].sum()), grad, self._arrow(Hs)
        H = np.empty((p + r, p + r))
        Y = np.einsum("kmn,knq->kmq", Hs[:, :m, :m], X)      # each study's block, then one product
        H[:p, :p] = X.reshape(k * m, p).T @ Y.reshape(k * m, p)
        H[:p, p:] = np.einsum("kmp,kmr->pr", X, Hs[:, :m, m:])
        H[p:, :p] = H[:p, p:].T
        H[p:, p:] = Hs[:, m:, m:].sum(axis=0)
        return float(ll[0].sum()), grad, H

    def _arrow(self, Hs: np.ndarray) -> _Arrow:
        assert self.intercepts is not None
        return _arrow_hessian(self.X, self.intercepts, Hs, self.r)


def _arrow_hessian(X: np.ndarray, c0: int, Hs: np.ndarray, r: int) -> _Arrow:
    """The Hessian in the coefficients of ``X`` (k, m, p; columns ``c0 .. c0 + k - 1`` one intercept per
    study) and ``r`` log sd's, from each study's Hessian ``Hs`` (k, m + r, m + r) in (its fixed parts, log
    sd's), as an :class:`_Arrow`: O(k) to assemble and to solve."""
    k, m, p = X.shape
    G = np.concatenate([X[:, :, :c0], X[:, :, c0 + k:]], axis=2)      # the global coefficients
    oo, op, pp = Hs[:, :m, :m], Hs[:, :m, m:], Hs[:, m:, m:]
    d = oo.sum(axis=(1, 2))
    B = np.concatenate([np.einsum("kjl,klg->kg", oo, G), op.sum(axis=1)], axis=1)
    q = G.shape[2]
    C = np.empty((q + r, q + r))
    C[:q, :q] = np.einsum("kjg,kjl,klh->gh", G, oo, G)
    C[:q, q:] = np.einsum("kjg,kjr->gr", G, op)
    C[q:, :q] = C[:q, q:].T
    C[q:, q:] = pp.sum(axis=0)
    n = p + r
    return _Arrow(d, B, C, np.arange(c0, c0 + k), np.concatenate([np.arange(c0), np.arange(c0 + k, n)]))


class _LaplaceArms:
    """Laplace approximation of the marginal log-likelihood of studies whose binomial arms share
    several independent normal random effects.

    Study ``s`` has arms ``j`` with ``y[s, j] ~ Binomial(size[s, j], expit(o[s, j] + Z[s, j] . b_s))``
    and ``b_s ~ N(0, diag(exp(2 psi)))``.  Each study's integral is replaced by its Laplace
    approximation at the conditional mode of ``b_s`` (Tierney & Kadane 1986, J Am Stat Assoc
    81:82-86), which is what lme4's ``glmer(nAGQ = 1)`` evaluates (with the canonical logit link
    the observed and expected curvature coincide).  A call returns, per study, the approximate
    log-likelihood and its analytic derivatives with respect to the study's fixed parts
    ``o[s, :]`` and to ``psi`` (modes differentiated implicitly), for P parameter points at once
    (``o``: (P, k, m), ``psi``: (P, r)).
    """

    def __init__(self, y: np.ndarray, size: np.ndarray, Z: np.ndarray):
        self.y, self.size, self.Z = y, size, Z            # (k, m), (k, m), (k, m, r)
        self.n_psi = Z.shape[2]
        self.const = (special.gammaln(size + 1) - special.gammaln(y + 1)
                      - special.gammaln(size - y + 1)).sum(axis=1)
        self.b: np.ndarray | None = None                  # modes at the last call (warm start)

    def _objective(self, o, b, dinv):
        eta = o + np.einsum("kmr,pkr->pkm", self.Z, b)
        return ((self.y * eta - self.size * np.logaddexp(0.0, eta)).sum(axis=2)
                - 0.5 * (dinv[:, None, :] * b * b).sum(axis=2))

    def modes(self, o: np.ndarray, dinv: np.ndarray) -> np.ndarray:
        """Conditional modes (P, k, r): Newton's method on each study's concave objective, steps
        halved where they do not increase it."""
        Z, y, size = self.Z, self.y, self.size
        P, k, _ = o.shape
        b = np.zeros((P, k, self.n_psi)) if self.b is None or self.b.shape[1] != k else \
            np.broadcast_to(self.b[:1], (P, k, self.n_psi)).copy()
        f = self._objective(o, b, dinv)
        for _ in range(100):
            p = special.expit(o + np.einsum("kmr,pkr->pkm", Z, b))
            grad = np.einsum("kmr,pkm->pkr", Z, y - size * p) - dinv[:, None, :] * b
            w = size * p * (1.0 - p)
            H = np.einsum("kmr,pkm,kms->pkrs", Z, w, Z) + dinv[:, None, :, None] * np.eye(self.n_psi)
            step = np.linalg.solve(H, grad[..., None])[..., 0]
            t = np.ones((P, k))
            for _ in range(30):
                new = b + t[..., None] * step
                fn = self._objective(o, new, dinv)
                worse = ~(fn >= f - 1e-12 * np.abs(f))
                if not worse.any():
                    break
                t = np.where(worse, 0.5 * t, t)
            b, f = new, fn
            if (np.abs(t[..., None] * step) <= 1e-12 * (1.0 + np.abs(b))).all():
                break
        return b

    def __call__(self, o: np.ndarray, psi: np.ndarray):
        """Per-study log-likelihoods (P, k) and their derivatives in o (P, k, m) and psi (P, k, r)."""
        Z, y, size = self.Z, self.y, self.size
        psi = np.atleast_2d(psi)
        dinv = np.exp(-2.0 * psi)                                        # (P, r)
        b = self.modes(o, dinv)
        self.b = b
        eta = o + np.einsum("kmr,pkr->pkm", Z, b)
        p = special.expit(eta)
        w = size * p * (1.0 - p)
        dw = w * (1.0 - 2.0 * p)
        H = np.einsum("kmr,pkm,kms->pkrs", Z, w, Z) + dinv[:, None, :, None] * np.eye(self.n_psi)
        Hinv = np.linalg.inv(H)
        _, logdet = np.linalg.slogdet(H)
        ll = ((y * eta - size * np.logaddexp(0.0, eta)).sum(axis=2) - 0.5 * (dinv[:, None, :] * b * b).sum(axis=2)
              - psi.sum(axis=1)[:, None] - 0.5 * logdet + self.const)
        Hz = np.einsum("pkrs,kms->pkmr", Hinv, Z)                        # H^-1 z_j
        cross = np.einsum("kmr,pknr->pkmn", Z, Hz)                       # z_l' H^-1 z_j
        lev = np.einsum("pkmm->pkm", cross)
        a = lev * dw                                                     # d log|H| / d eta_l, per unit
        # d log|H| / d o_j = a_j - sum_l a_l cross_lj w_j  (the mode moves by -H^-1 z_j w_j)
        g_o = (y - size * p) - 0.5 * (a - np.einsum("pkl,pklj->pkj", a, cross) * w)
        # d b / d psi_r = H^-1[:, r] 2 b_r / D_r
        db = Hinv * (2.0 * b * dinv[:, None, :])[:, :, None, :]          # (P, k, r', r)
        zdb = np.einsum("kmq,pkqr->pkmr", Z, db)
        g_psi = (b * b * dinv[:, None, :] - 1.0
                 - 0.5 * (np.einsum("pkm,pkmr->pkr", a, zdb)
                          - 2.0 * np.einsum("pkrr->pkr", Hinv) * dinv[:, None, :]))
        return ll, g_o, g_psi


def _newton_max(fun, x0: np.ndarray, *, tol: float = 1e-10, maxiter: int = 100, psi_index=-1):
    """Maximise ``fun`` (returning value, score, Hessian) by Newton's method with a
    Levenberg-type shift when the Hessian is not negative definite and a backtracking line
    search; log tau (``psi_index``, one index or several) is kept above the boundary ``_PSI_MIN``.  Returns
    (x, value, score, Hessian, iterations, converged, at_boundary)."""
    x = np.array(x0, dtype=float)
    f, g, H = fun(x)
    one = isinstance(psi_index, int)     # one log tau: kept in range by plain float comparisons

    def at_boundary(x, g) -> bool:
        if one:
            return x[psi_index] <= _PSI_MIN and g[psi_index] < 0
        return bool(np.any((x[psi_index] <= _PSI_MIN) & (g[psi_index] < 0)))

    for it in range(1, maxiter + 1):
        negH = -H
        lam = 0.0
        while True:
            try:
                step = _pd_solve(negH, g, lam)
                break
            except np.linalg.LinAlgError:
                lam = max(2 * lam, 1e-3 * (float(np.mean(np.abs(negH.diagonal()))) + 1e-8))
        decrement = float(g @ step)
        if lam == 0.0 and decrement < tol * tol:
            return x, f, g, H, it, True, False
        t = 1.0
        while True:
            xn = x + t * step
            if one:
                if xn[psi_index] < _PSI_MIN:
                    xn[psi_index] = _PSI_MIN
            else:
                xn[psi_index] = np.maximum(xn[psi_index], _PSI_MIN)
            fn, gn, Hn = fun(xn)
            if np.isfinite(fn) and fn >= f + 1e-4 * t * decrement - 1e-13 * abs(f):
                break
            t *= 0.5
            if t < 1e-10:
                break
        if t < 1e-10:
            return x, f, g, H, it, lam == 0.0 and decrement < 1e-14, False
        x, f, g, H = xn, fn, gn, Hn
        if at_boundary(x, g):
            return x, f, g, H, it, False, True
    return x, f, g, H, maxiter, False, False


def _logistic_irls(y: np.ndarray, n: np.ndarray, X: np.ndarray, maxit: int = 25, epsilon: float = 1e-8,
                   intercepts: int | None = None):
    """Logistic regression of grouped binomial data on the design ``X`` (N x p) by iteratively
    reweighted least squares as R's ``glm.fit`` runs it (starting values (y + 0.5)/(n + 1), the
    relative change of the deviance below 1e-8 as the stopping rule, the covariance from the
    weights of the last step).  Returns (coefficients, covariance, fitted probabilities,
    converged, iterations).  With ``intercepts`` (UM.FS's study intercepts), ``X`` is laid out by
    study (k, m, p) with one intercept per study in columns ``intercepts .. intercepts + k - 1``: the
    normal equations are then solved in O(k) (:class:`_Arrow`), and the covariance returned is that
    of the other coefficients."""
    if intercepts is not None:
        X3 = X
        k, m, _ = X3.shape
        eye = np.eye(m)

        def normal_solve(w, wz):
            A = _arrow_hessian(X3, intercepts, w.reshape(k, m)[:, :, None] * eye, 0)
            return A.solve(np.einsum("km,kmp->p", wz.reshape(k, m), X3)), A

        def predict(beta):
            return np.einsum("kmp,p->km", X3, beta).ravel()
    else:
        def normal_solve(w, wz):
            xtwx = (X.T * w) @ X
            return np.linalg.solve(xtwx, X.T @ wz), xtwx

        def predict(beta):
            return X @ beta
    yy = y / n
    mu = (n * yy + 0.5) / (n + 1.0)
    eta = np.log(mu / (1.0 - mu))

    def deviance(mu):
        return 2.0 * float(np.sum(n * (special.xlogy(yy, yy / mu) + special.xlogy(1 - yy, (1 - yy) / (1 - mu)))))

    devold = deviance(mu)
    conv = False
    for it in range(1, maxit + 1):
        e = np.exp(np.clip(eta, -30.0, 30.0))
        mu = e / (1.0 + e)
        me = np.where(np.abs(eta) > 30.0, _EPS, mu * (1.0 - mu))
        zw = eta + (yy - mu) / me
        w = n * me * me / (mu * (1.0 - mu))
        beta, xtwx = normal_solve(w, w * zw)
        eta = predict(beta)
        e = np.exp(np.clip(eta, -30.0, 30.0))
        dev = deviance(e / (1.0 + e))
        if abs(dev - devold) / (abs(dev) + 0.1) < epsilon:
            conv = True
            break
        devold = dev
    e = np.exp(np.clip(eta, -30.0, 30.0))
    cov = xtwx.inverse_global() if intercepts is not None else np.linalg.inv(xtwx)
    return beta, cov, e / (1.0 + e), conv, it


def _um_fs(a, n1, c, n2, *, random: bool, n_agq: int):
    """Unconditional logistic model with fixed study effects (rma.glmm model UM.FS).

    ``logit p_i1 = alpha_i + beta + b_i / 2`` and ``logit p_i2 = alpha_i - b_i / 2`` with
    ``b_i ~ N(0, tau²)`` (the random effect coded +-1/2, as metafor's default ``coding``), so
    that ``beta`` is the pooled log odds ratio and ``tau²`` the variance of the study log odds
    ratios (Turner et al. 2000, Stat Med 19:3417-3432; Jackson et al. 2018, Stat Med
    37:1059-1085, model 4).  The common-effect model is the logistic regression with study
    intercepts.  Returns the pieces :func:`_or_result` puts together.
    """
    k = a.size
    y = np.column_stack([a, c])
    size = np.column_stack([n1, n2])
    p = k + 1
    X = np.zeros((k, 2, p))
    X[:, 0, 0] = 1.0
    X[np.arange(k), 0, 1 + np.arange(k)] = 1.0
    X[np.arange(k), 1, 1 + np.arange(k)] = 1.0
    beta, cov, mu_fe, conv_fe, it_fe = _logistic_irls(y.ravel(), size.ravel(), X, intercepts=1)
    ll_fe = _loglik_at_mean("binomial", y.ravel(), size.ravel(), mu_fe)
    # saturated model: each arm its own logit (glm's path, arm by arm)
    if k > 1:
        eta_sat, w_sat, mu_sat, _, _ = _glm_irls("binomial", y.ravel(), size.ravel(), saturated=True)
        eta_sat, w_sat = eta_sat.reshape(k, 2), w_sat.reshape(k, 2)
        lor, wt = eta_sat[:, 0] - eta_sat[:, 1], 1.0 / (1.0 / w_sat[:, 0] + 1.0 / w_sat[:, 1])
        q_wald = max(0.0, float(np.sum(wt * (lor - np.sum(wt * lor) / np.sum(wt)) ** 2)))
        ll_sat = _loglik_at_mean("binomial", y.ravel(), size.ravel(), mu_sat)
    else:
        q_wald = ll_sat = math.nan
    common = dict(estimate=float(beta[0]), se=math.sqrt(cov[0, 0]), loglik=ll_fe, converged=conv_fe,
                  iterations=it_fe, gradient_norm=0.0, boundary=False, tau2=0.0)
    out = dict(common=common, q_wald=q_wald, ll_fe=ll_fe, ll_sat=ll_sat)
    if not random or k == 1:
        return out
    z = np.tile([0.5, -0.5], (k, 1))
    model = _ArmsModel(_ArmsMarginal(y, size, z, n_agq), X, intercepts=1)
    # score of tau² at 0 at the common-effect fit: not positive means the maximum is at tau² = 0
    mfe = mu_fe.reshape(k, 2)
    vfe = size * mfe * (1 - mfe)
    score0 = 0.5 * float(np.sum((z * (y - size * mfe)).sum(axis=1) ** 2 - (z * z * vfe).sum(axis=1)))
    if score0 <= 0:
        out["random"] = dict(common, boundary=True, iterations=0)
        return out
    tau2_start = max(2.0 * score0 / float(np.sum(((z * z * vfe).sum(axis=1)) ** 2)), 1e-2)
    x0 = np.concatenate([beta, [0.5 * math.log(tau2_start)]])
    x, f, g, H, it, converged, boundary = _newton_max(model, x0)
    if boundary:
        out["random"] = dict(common, boundary=True, iterations=it, gradient_norm=float(np.max(np.abs(g))))
        return out
    if converged:
        f, g, H = model(x)
    else:
        warnings.warn(f"GLMM (UM.FS) did not converge after {it} Newton steps (largest score "
                      f"{float(np.max(np.abs(g))):.3g})", ConvergenceWarning, stacklevel=3)
    try:
        cov = (-H).inverse_global()      # (mu, log tau): the study intercepts eliminated
    except np.linalg.LinAlgError:        # not a maximum (non-convergence, warned above)
        cov = np.full((2, 2), np.nan)
    out["random"] = dict(estimate=float(x[0]), se=math.sqrt(cov[0, 0]) if cov[0, 0] > 0 else math.nan,
                         loglik=f, converged=converged, iterations=it,
                         gradient_norm=float(np.max(np.abs(g))), boundary=False, tau2=math.exp(2 * x[-1]))
    return out


# ---------------------------------------------------------------------------------------
# two-group odds ratios: the unconditional model with random study effects (UM.RS)
# ---------------------------------------------------------------------------------------

def _fit_arms(model: _ArmsModel, x0: np.ndarray, what: str) -> tuple:
    """Newton's method on an arms model from ``x0``; the fitted coefficients, log sd's, value,
    score, covariance of the coefficients (inverse of the full negative Hessian, as lme4's
    ``vcov``), iterations, converged and at_boundary."""
    r = model.r
    n = x0.size
    x, f, g, H, it, converged, boundary = _newton_max(model, x0, psi_index=list(range(n - r, n)))
    if converged:
        f, g, H = model(x)
    elif not boundary:
        warnings.warn(f"GLMM (UM.RS, {what}) did not converge after {it} Newton steps (largest score "
                      f"{float(np.max(np.abs(g))):.3g})", ConvergenceWarning, stacklevel=4)
    try:
        cov = np.linalg.inv(-H)
    except np.linalg.LinAlgError:
        cov = np.full_like(H, np.nan)
    return x, f, g, cov, it, converged, boundary


def _um_rs(a, n1, c, n2, *, random: bool, n_agq: int):
    """Unconditional logistic model with random study effects (rma.glmm model UM.RS).

    ``logit p_i1 = mu0 + beta + u_i + b_i / 2`` and ``logit p_i2 = mu0 + u_i - b_i / 2`` with
    independent ``u_i ~ N(0, sigma²)`` (the studies' baseline log odds) and ``b_i ~ N(0, tau²)``
    (the study log odds ratios around ``beta``): Turner et al. (2000, Stat Med 19:3417-3432),
    Jackson et al. (2018, Stat Med 37:1059-1085, model 3), fitted as ``rma.glmm``'s ``glmer(...
    (group || study))`` with ``cor = FALSE``.  lme4 integrates two random effects per study by the
    Laplace approximation only, so the random-effects model, and with it the common-effect and
    saturated models behind its heterogeneity tests, are fitted with ``nAGQ = 1`` (rma.glmm sets
    it so, with a warning); the common-effect model alone (``random=False``, rma.glmm's ``method =
    "FE"``) keeps ``n_agq`` points for its random intercept.  The common-effect model has the
    random intercept ``u_i`` and one log odds ratio; the saturated model a log odds ratio per
    study and the random intercept, whose Wald-type test is that of the study contrasts.
    Returns the pieces :func:`_or_result` puts together, with ``sigma2``.
    """
    k = a.size
    y = np.column_stack([a, c])
    size = np.column_stack([n1, n2])
    nq = 1 if random else n_agq
    ones = np.ones((k, 2))
    X = np.zeros((k, 2, 2))
    X[:, 0, 0] = 1.0
    X[:, :, 1] = 1.0
    beta, cov_glm, mu_glm, _, _ = _logistic_irls(y.ravel(), size.ravel(), X.reshape(2 * k, 2))
    # common effect: random intercept, one log odds ratio
    m = mu_glm.reshape(k, 2)
    score0 = 0.5 * float(np.sum((y - size * m).sum(axis=1) ** 2 - (size * m * (1 - m)).sum(axis=1)))
    fe = _ArmsModel(_ArmsMarginal(y, size, ones, nq), X)
    x0 = np.concatenate([beta, [0.5 * math.log(max(2.0 * score0 / float(np.sum((size * m * (1 - m)).sum(axis=1)
                                                                              ** 2)), 1e-2))]])
    x_fe, ll_fe, g, cov, it, conv, boundary = _fit_arms(fe, x0, "common-effect model")
    if boundary or score0 <= 0:   # sigma² = 0: logistic regression with one intercept
        ll_fe = _loglik_at_mean("binomial", y.ravel(), size.ravel(), mu_glm)
        x_fe = np.concatenate([beta, [-np.inf]])
        cov, conv, g = cov_glm, True, np.zeros(3)
    sigma2_fe = math.exp(2 * x_fe[2])
    common = dict(estimate=float(x_fe[0]), se=math.sqrt(cov[0, 0]) if cov[0, 0] > 0 else math.nan, loglik=ll_fe,
                  converged=conv, iterations=it, gradient_norm=float(np.max(np.abs(g))), boundary=False, tau2=0.0,
                  sigma2=sigma2_fe)
    # saturated model: a log odds ratio per study (study k's is the reference), the random intercept
    if k > 1:
        Xq = np.zeros((k, 2, k + 1))
        Xq[:, :, :2] = X
        Xq[np.arange(k - 1), 0, 2 + np.arange(k - 1)] = 1.0
        x0 = np.concatenate([x_fe[:2], np.zeros(k - 1), [max(x_fe[2], math.log(0.1))]])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # separated studies: estimates run off
            xq, ll_sat, _, covq, _, _, _ = _fit_arms(_ArmsModel(_ArmsMarginal(y, size, ones, nq), Xq), x0,
                                                     "saturated model")
        b2, v22 = xq[2:k + 1], covq[2:k + 1, 2:k + 1]
        try:
            q_wald = max(0.0, float(b2 @ np.linalg.solve(v22, b2)))
        except np.linalg.LinAlgError:
            q_wald = math.nan
    else:
        q_wald = ll_sat = math.nan
    out = dict(common=common, q_wald=q_wald, ll_fe=ll_fe, ll_sat=ll_sat)
    if not random or k == 1:
        return out
    # random effects: u_i and b_i, by the Laplace approximation
    Z = np.stack([ones, np.tile([0.5, -0.5], (k, 1))], axis=2)
    psi_u = x_fe[2] if np.isfinite(x_fe[2]) else math.log(0.1)
    x0 = np.concatenate([x_fe[:2], [psi_u, 0.5 * math.log(0.1)]])
    x, f, g, cov, it, converged, boundary = _fit_arms(_ArmsModel(_LaplaceArms(y, size, Z), X), x0,
                                                      "random-effects model")
    if boundary and x[3] <= _PSI_MIN:      # tau² = 0: the common-effect model (with nAGQ = 1)
        out["random"] = dict(common, boundary=True, iterations=it, gradient_norm=float(np.max(np.abs(g))))
        return out
    if boundary:                           # sigma² = 0: one intercept, the random log odds ratio alone
        z = np.tile([0.5, -0.5], (k, 1))
        x, f, g, cov, it, converged, boundary = _fit_arms(_ArmsModel(_ArmsMarginal(y, size, z, 1), X),
                                                          np.concatenate([x[:2], [x[3]]]), "random-effects model")
        if boundary:                       # and tau² = 0: logistic regression with one intercept
            out["random"] = dict(common, boundary=True, iterations=it, gradient_norm=float(np.max(np.abs(g))))
            return out
        x = np.concatenate([x[:2], [-np.inf], x[2:]])
    out["random"] = dict(estimate=float(x[0]), se=math.sqrt(cov[0, 0]) if cov[0, 0] > 0 else math.nan,
                         loglik=f, converged=converged, iterations=it, gradient_norm=float(np.max(np.abs(g))),
                         boundary=False, tau2=math.exp(2 * x[3]), sigma2=math.exp(2 * x[2]))
    return out


# ---------------------------------------------------------------------------------------
# two-group odds ratios: the conditional model with the exact likelihood (CM.EL)
# ---------------------------------------------------------------------------------------

class _NoncentralHypergeometric:
    """Fisher's non-central hypergeometric distribution of the experimental group's events
    ``a_i`` given the margins of the table, as a family of :class:`_Marginal` in the log odds
    ratio.

    It is an exponential family with natural parameter ``theta`` (the log odds ratio) and
    sufficient statistic ``a``: ``log f(a | theta) = log C(n1, a) + log C(n2, t - a) + a theta -
    log Z(theta)`` with ``t = a + c``, so its mean, variance and third central moment are those of
    ``u`` under the weights ``C(n1, u) C(n2, t - u) exp(u theta)`` over the support of ``u`` (the
    derivatives of ``log Z``), computed exactly.  The supports are laid out padded, so that every
    study is evaluated at once.
    """

    name = "noncentral hypergeometric"

    def __init__(self, a: np.ndarray, n1: np.ndarray, c: np.ndarray, n2: np.ndarray):
        t = a + c
        self.y = a
        self.lo, self.hi = np.maximum(0.0, t - n2), np.minimum(n1, t)
        # the supports one after the other (a large trial does not widen every study's)
        width = (self.hi - self.lo).astype(int) + 1
        self.starts = np.concatenate([[0], np.cumsum(width)[:-1]])
        self.study = np.repeat(np.arange(a.size), width)
        u = self.lo[self.study] + np.arange(width.sum()) - self.starts[self.study]

        def log_weight(u, i=slice(None)):
            return (special.gammaln(n1[i] + 1) - special.gammaln(u + 1) - special.gammaln(n1[i] - u + 1)
                    + special.gammaln(n2[i] + 1) - special.gammaln(t[i] - u + 1)
                    - special.gammaln(n2[i] - t[i] + u + 1))

        self.u, self.lw = u, log_weight(u, self.study)
        self.const = log_weight(a)
        self._y_nodes = a[:, None]
        self.scale = np.ones_like(a)

    def _cumulants(self, eta, nodes: bool = False):
        """log Z, mean, variance and third central moment at eta, laid out over studies (..., k) or,
        with ``nodes``, over studies and quadrature nodes (..., k, q)."""
        axis = -2 if nodes else -1
        e = np.moveaxis(eta, axis, -1)
        L = self.lw + self.u * e[..., self.study]
        top = np.maximum.reduceat(L, self.starts, axis=-1)
        p = np.exp(L - top[..., self.study])
        z = np.add.reduceat(p, self.starts, axis=-1)
        p /= z[..., self.study]
        m = np.add.reduceat(p * self.u, self.starts, axis=-1)
        d = self.u - m[..., self.study]
        pd2 = p * d * d
        v = np.add.reduceat(pd2, self.starts, axis=-1)
        third = np.add.reduceat(pd2 * d, self.starts, axis=-1)

        def back(x):
            return np.moveaxis(x, -1, axis)

        return back(top + np.log(z)), back(m), back(v), back(third)

    def mean_var(self, eta):
        return self._cumulants(eta)[1:3]

    def moments(self, eta):
        return self._cumulants(eta)[1:]

    def at_nodes(self, E):
        logz, m, _, _ = self._cumulants(E, nodes=True)
        return self._y_nodes * E - logz, m

    robust_at_nodes = at_nodes

    def mode_bracket(self, mu, tau2):
        return mu + tau2 * (self.y - self.hi), mu + tau2 * (self.y - self.lo)


#: quadrature points of CM.EL, whose integrals rma.glmm takes with integrate() to full precision:
#: 21 adaptive points reproduce 81 to rounding on dat.bcg, dat.nielweise2007 and dat.li2007
CM_EL_POINTS = 21


def _cm_el(a, n1, c, n2, *, random: bool):
    """Conditional logistic-normal model with the exact likelihood (rma.glmm model CM.EL).

    Given its margins, a table's ``a_i`` follows Fisher's non-central hypergeometric distribution
    with log odds ratio ``theta_i ~ N(mu, tau²)`` (Van Houwelingen, Zwinderman & Stijnen 1993, Stat
    Med 12:2273-2284; Stijnen, Hamza & Özdemir 2010, section 2.3; Jackson et al. 2018, model 7).
    Each study's integral is taken by adaptive Gauss-Hermite quadrature with ``CM_EL_POINTS``
    points, where the value no longer changes in the digits the reference keeps.  The
    common-effect model is the conditional ML estimate of a common log odds ratio; the saturated
    model gives each table its own (tables with ``a_i`` at an end of its support have none: their
    conditional likelihood tends to 1, and they drop out of the Wald-type test, as in rma.glmm
    where their Hessian vanishes).  Returns the pieces :func:`_or_result` puts together.
    """
    fam = _NoncentralHypergeometric(a, n1, c, n2)
    k = a.size
    # common effect: Newton on the concave conditional log-likelihood
    mu = float(np.log(np.sum((a + 0.5) * (n2 - c + 0.5) / (n1 + n2 + 1)) / np.sum((c + 0.5) * (n1 - a + 0.5)
                                                                                  / (n1 + n2 + 1))))
    conv = False
    for it in range(1, 101):
        _, m, v, _ = fam._cumulants(np.full(k, mu))
        step = float(np.sum(a - m) / np.sum(v))
        mu += step
        if abs(step) < 1e-13 * (1.0 + abs(mu)):
            conv = True
            break
    logz, m, v, _ = fam._cumulants(np.full(k, mu))
    ll_fe = float(np.sum(fam.const + a * mu - logz))
    common = dict(estimate=mu, se=1.0 / math.sqrt(float(np.sum(v))), loglik=ll_fe, converged=conv,
                  iterations=it, gradient_norm=abs(float(np.sum(a - m))), boundary=False, tau2=0.0)
    # saturated model: each table's own conditional ML estimate
    inner = (a > fam.lo) & (a < fam.hi)
    theta = np.zeros(k)
    for _ in range(200):
        _, m, v, _ = fam._cumulants(theta)
        steps = np.where(inner, (a - m) / v, 0.0)
        theta += np.clip(steps, -2.0, 2.0)
        if np.all(np.abs(steps) < 1e-13 * (1.0 + np.abs(theta))):
            break
    logz, m, v, _ = fam._cumulants(theta)
    ll_sat = float(np.sum(np.where(inner, fam.const + a * theta - logz, 0.0)))
    if k > 1 and inner.any():
        w, th = v[inner], theta[inner]
        q_wald = max(0.0, float(np.sum(w * (th - np.sum(w * th) / np.sum(w)) ** 2)))
    else:
        q_wald = 0.0 if k > 1 else math.nan
    out = dict(common=common, q_wald=q_wald, ll_fe=ll_fe, ll_sat=ll_sat if k > 1 else math.nan)
    if not random or k == 1:
        return out
    if np.all(~inner):
        raise DataError("every table has its events at an end of what its margins allow: the exact "
                        "conditional likelihood grows without bound with tau², so the random-effects model "
                        "has no ML estimate", column="events_e", rule="some table inside its support")
    lik = _Marginal(fam, CM_EL_POINTS)
    _, m0, v0, _ = fam._cumulants(np.full(k, mu))
    score0 = 0.5 * float(np.sum((a - m0) ** 2 - v0))
    if score0 <= 0:
        out["random"] = dict(common, boundary=True, iterations=0)
        return out

    def fun(x):
        f, g, H, eta = lik.newton_batch(x, central=True)
        lik.eta = eta
        return f, g, H

    tau2_start = max(2.0 * score0 / float(np.sum(v0 * v0)), 1e-2)
    x, f, g, H, it, converged, boundary = _newton_max(fun, np.array([mu, 0.5 * math.log(tau2_start)]))
    if boundary:
        out["random"] = dict(common, boundary=True, iterations=it, gradient_norm=float(np.max(np.abs(g))))
        return out
    if not converged:
        warnings.warn(f"GLMM (CM.EL) did not converge after {it} Newton steps (largest score "
                      f"{float(np.max(np.abs(g))):.3g})", ConvergenceWarning, stacklevel=3)
    cov = np.linalg.inv(-H)
    out["random"] = dict(estimate=float(x[0]), se=math.sqrt(cov[0, 0]) if cov[0, 0] > 0 else math.nan,
                         loglik=f, converged=converged, iterations=it,
                         gradient_norm=float(np.max(np.abs(g))), boundary=False, tau2=math.exp(2 * x[1]))
    return out


GLMM_OR_MODELS = ("UM.FS", "UM.RS", "CM.AL", "CM.EL")
GLMM_OR_MODEL_NAMES = {
    "UM.FS": "unconditional logistic model with fixed study effects (rma.glmm model UM.FS)",
    "UM.RS": "unconditional logistic model with random study effects (rma.glmm model UM.RS)",
    "CM.AL": "conditional logistic-normal model, approximate likelihood (rma.glmm model CM.AL)",
    "CM.EL": "conditional logistic-normal model, exact likelihood (rma.glmm model CM.EL)",
}


def glmm_or(event_e, n_e, event_c, n_c, *, model: str = "UM.FS", random: bool = True, n_agq: int = 7,
            level: float = 0.95) -> GLMMResult:
    """Log odds ratio of two-group binary data by a GLMM, as metafor's
    ``rma.glmm(measure = "OR", model = ...)`` and R meta's ``metabin(method = "GLMM", model.glmm = ...)``.

    ``model="UM.FS"`` (the default of both): the unconditional logistic model with fixed study
    effects, ``logit p_i1 = alpha_i + mu + b_i / 2`` and ``logit p_i2 = alpha_i - b_i / 2`` with
    ``b_i ~ N(0, tau²)`` (Turner et al. 2000, Stat Med 19:3417-3432; Jackson et al. 2018, Stat Med
    37:1059-1085, model 4); the study intercepts ``alpha_i`` are estimated with ``mu`` and ``tau²``
    by ML, the random effect integrated by adaptive Gauss-Hermite quadrature with ``n_agq`` points
    (lme4's ``glmer(nAGQ = 7)`` in rma.glmm).  The heterogeneity tests compare the model with
    study intercepts and one log odds ratio to the saturated model (a log odds ratio per study).

    ``model="UM.RS"``: the unconditional logistic model with random study effects, ``logit p_i1 = mu0 +
    mu + u_i + b_i / 2`` and ``logit p_i2 = mu0 + u_i - b_i / 2`` with independent ``u_i ~ N(0, sigma²)``
    and ``b_i ~ N(0, tau²)`` (Turner et al. 2000; Jackson et al. 2018, model 3; see :func:`_um_rs`).
    As in rma.glmm (through lme4), the random-effects model is fitted by the Laplace approximation
    (its result says ``n_agq = 1``), and ``n_agq`` is the number of quadrature points of the
    common-effect model (``random=False``), which has the random intercept only.

    ``model="CM.AL"``: the conditional logistic-normal model with the approximate likelihood.
    Given the total events ``t_i = a_i + c_i`` of a study, ``a_i ~ Binomial(t_i, expit(log(n1_i/n2_i)
    + theta_i))`` with ``theta_i ~ N(mu, tau²)``: the binomial approximation of the non-central
    hypergeometric conditional likelihood, exact when events are rare (Stijnen, Hamza & Özdemir
    2010, Stat Med 29:3046-3067, section 2.3; Jackson et al. 2018, model 6); the binomial-normal
    GLMM of :func:`fit_glmm` with offset ``log(n1_i/n2_i)``.

    ``model="CM.EL"``: the conditional model with the exact likelihood, ``a_i`` given the table's
    margins following Fisher's non-central hypergeometric distribution with log odds ratio
    ``theta_i ~ N(mu, tau²)`` (Van Houwelingen, Zwinderman & Stijnen 1993, Stat Med 12:2273-2284;
    Jackson et al. 2018, model 7).  rma.glmm integrates it with ``integrate()``; here adaptive
    Gauss-Hermite quadrature with ``CM_EL_POINTS`` (21) points does so to rounding, and ``n_agq``
    does not apply.

    Tables without events in either group, or with events only, carry no information on the odds
    ratio and are left out, as ``rma.glmm``'s ``drop00 = TRUE`` does (a :class:`SmallSampleWarning`
    says how many).  I² and H² use the ``escalc`` variances of the log odds ratios (0.5 added to
    the cells of tables with a zero), as ``rma.glmm``.  ``random=False`` fits the common-effect
    model (UM.FS: logistic regression with study intercepts; CM.AL: fixed intercept; CM.EL: the
    conditional ML estimate of a common odds ratio).

    >>> r = glmm_or([4, 6, 3, 12], [50, 60, 40, 100], [9, 12, 8, 20], [50, 60, 40, 100])
    >>> r.measure, r.model, r.k
    ('OR', 'UM.FS', 4)
    """
    code = str(model).upper()
    if code not in GLMM_OR_MODELS:
        raise SettingsError(f"unknown GLMM model {model!r} for odds ratios; offered: {', '.join(GLMM_OR_MODELS)}")
    if not isinstance(n_agq, (int, np.integer)) or isinstance(n_agq, bool) or n_agq < 1:
        raise SettingsError("n_agq must be a whole number >= 1 (1 = Laplace approximation)")
    if not 0 < level < 1:
        raise SettingsError("level must be between 0 and 1 (e.g. 0.95)")
    a, n1, c, n2 = (np.asarray(v, dtype=float).ravel() for v in (event_e, n_e, event_c, n_c))
    if not (a.shape == n1.shape == c.shape == n2.shape):
        raise DataError("event_e, n_e, event_c and n_c must have one value per study", rule="shape")
    for name, n in (("n_e", n1), ("n_c", n2)):
        bad = np.flatnonzero(~np.isfinite(n) | (n <= 0) | (n != np.round(n)))
        if bad.size:
            raise DataError("group size must be a positive whole number", study=str(bad[0]), column=name,
                            rule="n integer > 0")
    for name, arr, n in (("events_e", a, n1), ("events_c", c, n2)):
        bad = np.flatnonzero(~np.isfinite(arr) | (arr < 0) | (arr != np.round(arr)) | (arr > n))
        if bad.size:
            raise DataError("events must be whole numbers between 0 and the group size", study=str(bad[0]),
                            column=name, rule="0 <= events <= n")
    keep = ~non_informative_tables(a, n1, c, n2)
    if not keep.any():
        raise DataError("no study has an event in one group and a non-event in either: the odds ratio "
                        "cannot be estimated", column="events_e", rule="some table with events and non-events")
    if not keep.all():
        left = int((~keep).sum())
        warnings.warn(f"{left} {'table' if left == 1 else 'tables'} without events in either group or with "
                      "events only left out of the GLMM (as rma.glmm's drop00)", SmallSampleWarning, stacklevel=2)
    a, n1, c, n2 = a[keep], n1[keep], c[keep], n2[keep]
    b, d = n1 - a, n2 - c
    # one empty cell in every table: the likelihood increases without bound as the log odds
    # ratio goes to +-infinity (separation), in every model
    for cells, column, what, sign in ((a, "events_e", "no events in the experimental group", "-"),
                                      (b, "events_e", "only events in the experimental group", "+"),
                                      (c, "events_c", "no events in the control group", "+"),
                                      (d, "events_c", "only events in the control group", "-")):
        if np.all(cells == 0):
            raise DataError(f"{what} of any study: the pooled log odds ratio is {sign}infinity and has no "
                            "maximum-likelihood estimate (report the counts)", column=column,
                            rule="a table with events and non-events in this group")
    zero = (a == 0) | (b == 0) | (c == 0) | (d == 0)
    add = np.where(zero, 0.5, 0.0)
    vi = 1 / (a + add) + 1 / (b + add) + 1 / (c + add) + 1 / (d + add)
    if code == "CM.AL":
        r = fit_glmm(a, a + c, family="binomial", model="random" if random else "common", n_agq=n_agq,
                     level=level, offset=np.log(n1 / n2), i2_vi=vi, measure="OR")
        return GLMMResult(**{**r.to_dict(), "model_glmm": "CM.AL"})
    if code == "CM.EL":
        if n_agq != 7:
            raise SettingsError(f"n_agq does not apply to model CM.EL, whose integrals are taken to full precision "
                                f"({CM_EL_POINTS} adaptive points), as rma.glmm's integrate()")
        return _or_result(_cm_el(a, n1, c, n2, random=random), vi, random=random, n_agq=CM_EL_POINTS,
                          level=level, model_glmm=code)
    if code == "UM.RS":
        return _or_result(_um_rs(a, n1, c, n2, random=random, n_agq=int(n_agq)), vi, random=random,
                          n_agq=1 if random else int(n_agq), level=level, model_glmm=code)
    return _or_result(_um_fs(a, n1, c, n2, random=random, n_agq=int(n_agq)), vi, random=random,
                      n_agq=int(n_agq), level=level, model_glmm=code)


def non_informative_tables(a, n1, c, n2) -> np.ndarray:
    """Tables without events in either group or with events only (rma.glmm's ``drop00``)."""
    a, n1, c, n2 = (np.asarray(v, dtype=float) for v in (a, n1, c, n2))
    return ((a == 0) & (c == 0)) | ((a == n1) & (c == n2))


def _or_result(fit: dict, vi: np.ndarray, *, random: bool, n_agq: int, level: float,
               model_glmm: str) -> GLMMResult:
    """A :class:`GLMMResult` from the common-effect, saturated and random-effects fits of a
    two-group model (tests of heterogeneity and I² as ``rma.glmm`` computes them)."""
    k = vi.size
    if k > 1:
        q_lrt = max(0.0, -2.0 * (fit["ll_fe"] - fit["ll_sat"]))
        het = dict(q=fit["q_wald"], q_df=k - 1, q_p=float(special.chdtrc(k - 1, fit["q_wald"])),
                   q_lrt=q_lrt, q_lrt_p=float(special.chdtrc(k - 1, q_lrt)))
    else:
        het = dict(q=math.nan, q_df=0, q_p=math.nan, q_lrt=math.nan, q_lrt_p=math.nan)
    if random and k == 1:
        warnings.warn("k = 1: tau² cannot be estimated; the common-effect model is reported for the "
                      "random-effects model", SmallSampleWarning, stacklevel=3)
    r = fit["random"] if random and k > 1 else fit["common"]
    if not r["converged"] and not random:
        warnings.warn(f"the common-effect GLM did not converge in {r['iterations']} iterations",
                      ConvergenceWarning, stacklevel=3)
    wi = 1.0 / vi
    vt = (k - 1) / (np.sum(wi) - np.sum(wi * wi) / np.sum(wi)) if k > 1 else float(vi[0])
    tau2 = r["tau2"]
    i2, h2 = i2_h2_from_tau2(tau2, vt)
    het.update(i2=float(i2), h2=float(h2))
    extra = dict(loglik=r["loglik"], n_agq=n_agq, iterations=r["iterations"], gradient_norm=r["gradient_norm"],
                 converged=r["converged"], boundary=r["boundary"], method="ML" if random else "CE",
                 model_glmm=model_glmm, sigma2=r.get("sigma2"))
    return _summary("OR", "random" if random else "common", k, r["estimate"], r["se"], tau2, level, 0.0,
                    het, extra)


# ---------------------------------------------------------------------------------------
# adapter for metareview.api.meta (metaprop(..., method="GLMM"), metareview pool --method GLMM)
# ---------------------------------------------------------------------------------------

def _prediction_interval(prediction: str, re: GLMMResult, level: float) -> Interval:
    """The prediction interval of a GLMM analysis: ``prediction`` as the kernel's quantile, the
    random-effects model's estimate, standard error and tau²."""
    from .inverse_variance import prediction_quantile
    half = float(prediction_quantile(prediction, re.k, level)[0]) * math.sqrt(re.se**2 + re.tau2)
    return Interval(re.estimate - half, re.estimate + half, level)


def pooled_for_analysis(settings, measure, arrays: dict, excluded: np.ndarray,
                        pooled: Pooled | None, labels=None) -> tuple[Pooled, list[str]]:
    """The pooled values of a GLMM analysis in place of the inverse-variance kernel's
    ``pooled`` (:class:`~metareview.pooling.values.Pooled`: results, printouts and the JSON
    contract are shared), or, with ``pooled=None``, without it (every value is the GLMM's; ``k``
    counts the studies not ``excluded``, as the kernel's).

    Common effect: fixed-intercept logistic regression; random effects: the
    binomial-normal GLMM by ML (``settings.n_agq`` quadrature points); Q is the
    Wald-type test, the likelihood-ratio test is in ``method_details``; I² and H as
    meta reports them for GLMMs (``i2_method="tau2"``, the default with GLMM) or from
    the Wald-type Q (``i2_method="q"``).  No study weights (as meta).  The prediction
    interval follows ``settings.prediction`` (``"z"`` is meta 4.9-6's and metafor's
    ``predict`` for GLMMs; ``"t"`` uses k - 2 df).  Odds ratios are pooled with the two-group
    model ``settings.model_glmm``; tables it leaves out are named in a note (``labels``: the
    study labels of all rows).
    """
    two_group = measure.code == "OR" and "events_e" in arrays
    if measure.code == "PLO" and "n" in arrays:
        family, size = "binomial", "n"
    elif measure.code == "IRLN" and "time" in arrays:
        family, size = "poisson", "time"
    elif not two_group:
        raise SettingsError(f"method GLMM pools single proportions on the logit scale (measure PLO), "
                            f"single incidence rates on the log scale (IRLN) or odds ratios of two groups "
                            f"(OR), not {measure.code}; valid methods for {measure.code}: Inverse")
    inc = ~np.asarray(excluded, bool)
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if two_group:
            tables = [arrays[c][inc] for c in ("events_e", "n_e", "events_c", "n_c")]
            left = non_informative_tables(*tables)
            if left.any() and labels is not None:
                names = ", ".join(str(v) for v in np.asarray(labels)[inc][left])
                notes.append(f"left out of the GLMM, no events in either group or events only "
                             f"(as rma.glmm's drop00): {names}")
            with warnings.catch_warnings():
                if labels is not None:  # the note above names them
                    warnings.filterwarnings("ignore", message=".*rma.glmm's drop00", category=SmallSampleWarning)
                ce = glmm_or(*tables, model=settings.model_glmm, random=False, n_agq=settings.n_agq,
                             level=settings.level)
                re = glmm_or(*tables, model=settings.model_glmm, random=True, n_agq=settings.n_agq,
                             level=settings.level)
        else:
            x, n = arrays["events"][inc], arrays[size][inc]
            fits = _fit_glmm(x, n, family=family, models=("common", "random"), n_agq=settings.n_agq,
                            level=settings.level)
            ce, re = fits["common"], fits["random"]
    for w in caught:
        notes.append(str(w.message))
        warnings.warn(w.message, w.category, stacklevel=3)
    test = measure.null is not None
    level = settings.level

    def estimate(r: GLMMResult, df) -> Estimate:
        return Estimate(r.estimate, r.se, Interval(r.ci_low, r.ci_high, level),
                        r.statistic if test else math.nan, r.p if test else math.nan, df)
    k = re.k
    none = Interval(math.nan, math.nan, level)
    if settings.i2_method == "tau2" or k < 2:
        i2, i2_ci, h, h_ci = re.i2, none, math.sqrt(re.h2), none
    else:
        i2, i2_ci, h, h_ci = i2_h_test_based(re.q, k, level)
    # no Q-profile interval and no standard error of tau² (the kernel's are the inverse-variance model's)
    het = Heterogeneity(q=re.q, df=re.q_df, p=re.q_p, tau2=re.tau2, tau2_interval=none, tau=re.tau,
                        i2=i2, i2_interval=i2_ci, h=h, h_interval=h_ci, converged=re.converged,
                        iterations=re.iterations, se_tau2=None)
    nan_w = np.full(np.asarray(excluded).shape, np.nan)
    details = {
        "method": "GLMM",
        "model": (GLMM_OR_MODEL_NAMES[str(re.model_glmm)] if two_group
                  else "binomial-normal (random-intercept logistic regression)"),
        "model_glmm": re.model_glmm,
        "n_agq": re.n_agq, "q_wald": re.q, "q_lrt": re.q_lrt, "q_lrt_df": re.q_df,
        "q_lrt_p": re.q_lrt_p, "loglik": re.loglik, "iterations": re.iterations,
        "gradient_norm": re.gradient_norm, "converged": re.converged, "boundary": re.boundary}
    if re.sigma2 is not None:
        details["sigma2"] = re.sigma2       # UM.RS: variance of the baseline log odds
    # the prediction interval is computed on first read (rma.glmm leaves it to predict())
    common, random = estimate(ce, None), estimate(re, math.nan)
    prediction = Deferred(_prediction_interval, settings.prediction, re, level)
    if pooled is None:
        return Pooled(int(np.count_nonzero(inc)), common, random, prediction, het, nan_w, nan_w.copy(),
                      details), notes
    return pooled.replace(common=common, random=random, prediction=prediction, heterogeneity=het,
                          weight_common=nan_w, weight_random=nan_w.copy(), method_details=details), notes
