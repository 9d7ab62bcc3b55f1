"""The likelihood of the random-effects model: fit statistics and intervals for tau².

For an intercept-only model y_i ~ N(mu, v_i + tau²), with w_i = 1/(v_i + tau²) and mu the
weighted mean at tau², the log likelihood is (metafor 3.8-1's ``rma.uni``)

* ML:   -k/2 log(2 pi) - 1/2 sum log(v_i + tau²) - 1/2 sum w_i (y_i - mu)²
* REML: -(k - 1)/2 log(2 pi) + 1/2 log k - 1/2 sum log(v_i + tau²) - 1/2 log sum w_i
        - 1/2 sum w_i (y_i - mu)²

(Viechtbauer 2005, J Educ Behav Stat 30:261; the 1/2 log det(X'X) term of the REML
likelihood is metafor's default ``REMLf = TRUE``).  :func:`fitstats` gives metafor's
``fitstats()``: log likelihood, deviance (ML: against the saturated model with tau² = 0
and mu_i = y_i; REML: -2 ll), AIC, BIC and AICc with one parameter more than the fixed
effects for tau² (none for a common-effect model).

Intervals for tau²: the profile-likelihood interval (Hardy & Thompson 1996, Stat Med
15:619; metafor's ``confint(type = "PL")``), the values of tau² whose (restricted) log
likelihood lies within chi²_{1, level}/2 of the maximum, and the Wald-type interval
tau² ± z se(tau²) with metafor's ``se.tau2``, truncated at 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..base import dist as _dist
from ..base.exceptions import SettingsError
from ..base.format import Reportable, fmt as _f, num as _num

__all__ = ["loglik", "fitstats", "FitStats", "tau2_interval", "Tau2Interval", "TAU2_CI_TYPES"]

TAU2_CI_TYPES = ("QP", "PL", "Wald")


def loglik(y, v, mask, tau2, reml: bool):
    """Log likelihood (``reml``: restricted) at ``tau2``, vectorised over analyses (rows)."""
    y, v, mask = (np.atleast_2d(np.asarray(a, float)) for a in (y, v, mask))
    t = np.atleast_1d(np.asarray(tau2, float))[:, None]
    k = mask.sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = mask / np.where(mask > 0, v + t, 1.0)
        sw = w.sum(-1)
        mu = (w * y).sum(-1) / sw
        rss = (w * (y - mu[:, None]) ** 2).sum(-1)
        logdet = (mask * np.log(np.where(mask > 0, v + t, 1.0))).sum(-1)
        if reml:
            return -0.5 * (k - 1) * np.log(2 * np.pi) + 0.5 * np.log(k) - 0.5 * logdet - 0.5 * np.log(sw) - 0.5 * rss
        return -0.5 * k * np.log(2 * np.pi) - 0.5 * logdet - 0.5 * rss


def _arrays(result):
    inc = result.included
    return result.yi[inc][None], result.vi[inc][None], np.ones((1, int(inc.sum())))


@dataclass(frozen=True)
class FitStats(Reportable):
    """metafor's ``fitstats()``: log likelihood, deviance, AIC, BIC, AICc."""

    method: str     # "ML" | "REML": which likelihood
    model: str      # "random" | "common"
    k: int
    parameters: int
    loglik: float
    deviance: float
    aic: float
    bic: float
    aicc: float

    def to_dict(self) -> dict:
        return {"likelihood": self.method, "model": self.model, "k": self.k, "parameters": self.parameters,
                "loglik": _num(self.loglik), "deviance": _num(self.deviance), "aic": _num(self.aic),
                "bic": _num(self.bic), "aicc": _num(self.aicc)}

    def report(self):
        from ..base.report import Report, Table
        rows = [[name, _f(getattr(self, key))] for name, key in
                (("logLik", "loglik"), ("deviance", "deviance"), ("AIC", "aic"), ("BIC", "bic"), ("AICc", "aicc"))]
        return Report().add(Table([f"Fit statistics ({self.model} effects, {self.method})", ""], rows))


def fitstats(result, *, model: str = "random", reml: bool | None = None) -> FitStats:
    """Fit statistics of ``result`` (a pooled analysis), as metafor's ``fitstats(fit)``.

    ``model="random"`` evaluates the likelihood at the result's tau²; ``"common"`` at 0
    with no variance parameter.  ``reml`` defaults to the result's estimator being REML
    (metafor's default); otherwise the ML likelihood is used.
    """
    if model not in ("random", "common"):
        raise SettingsError(f"unknown model {model!r}; valid: random, common")
    if reml is None:
        reml = model == "random" and result.settings.method_tau2 == "REML"
    y, v, mask = _arrays(result)
    k = int(mask.sum())
    tau2 = result.pooled["tau2"] if model == "random" else 0.0
    parms = 1 + (model == "random")
    ll = float(loglik(y, v, mask, np.array([tau2]), reml)[0])
    if reml:
        dev, n_eff = -2 * ll, k - 1
    else:
        saturated = float(np.sum(-0.5 * np.log(2 * np.pi * v)))
        dev, n_eff = -2 * (ll - saturated), k
    big = max(n_eff, parms + 2)
    return FitStats(method="REML" if reml else "ML", model=model, k=k, parameters=parms, loglik=ll, deviance=dev,
                    aic=-2 * ll + 2 * parms, bic=-2 * ll + parms * np.log(n_eff),
                    aicc=-2 * ll + 2 * parms * big / (big - parms - 1))


@dataclass(frozen=True)
class Tau2Interval(Reportable):
    """A confidence interval for tau² (and tau) of one type."""

    type: str
    level: float
    estimate: float
    low: float
    high: float

    def to_dict(self) -> dict:
        return {"type": self.type, "level": self.level, "tau2": _num(self.estimate), "tau2_ci_low": _num(self.low),
                "tau2_ci_high": _num(self.high), "tau_ci_low": _num(np.sqrt(self.low)),
                "tau_ci_high": _num(np.sqrt(self.high))}

    def report(self):
        from ..base.report import Paragraph, Report
        name = {"QP": "Q-profile", "PL": "profile-likelihood", "Wald": "Wald-type"}[self.type]
        return Report().add(Paragraph(
            f"{int(round(self.level * 100))}% {name} confidence interval for τ²: {_f(self.estimate)} "
            f"[{_f(self.low)}; {_f(self.high)}]; τ: {_f(np.sqrt(self.estimate))} "
            f"[{_f(np.sqrt(self.low))}; {_f(np.sqrt(self.high))}]"))


def _bisect(f, inside, outside, tol, maxiter):
    """The point between ``inside`` (f >= 0) and ``outside`` (f < 0) where f changes sign,
    by bisection of every analysis at once."""
    for _ in range(maxiter):
        mid = 0.5 * (inside + outside)
        ok = f(mid) >= 0
        inside, outside = np.where(ok, mid, inside), np.where(ok, outside, mid)
        if np.all(np.abs(outside - inside) <= tol * (1 + np.abs(outside))):
            break
    return 0.5 * (inside + outside)


def _profile_bounds(y, v, mask, tau2, reml, level, tol=1e-12, maxiter=400):
    """Both profile-likelihood bounds, vectorised over analyses."""
    crit = _dist.chi2_ppf(level, 1) / 2
    target = loglik(y, v, mask, tau2, reml) - crit

    def f(t):
        return loglik(y, v, mask, t, reml) - target   # >= 0 inside the interval

    # lower bound in [0, tau2]; 0 when the likelihood at 0 is inside
    zero = np.zeros_like(tau2)
    lower = np.where(f(zero) >= 0, 0.0, _bisect(f, tau2, zero, tol, maxiter))
    # upper bound: bracket by doubling above tau2, then bisect
    b = np.maximum(2 * tau2, np.max(v * mask, -1))
    for _ in range(200):
        out = f(b) < 0
        if out.all():
            break
        b = np.where(out, b, 2 * b)
    return lower, _bisect(f, tau2, b, tol, maxiter)


def tau2_interval(result, type: str = "PL", *, level: float | None = None) -> Tau2Interval:
    """A confidence interval for tau² of ``result``: ``"PL"`` profile likelihood (for ML
    and REML fits, with their likelihood, as metafor's ``confint(fit, type = "PL")``),
    ``"Wald"`` (tau² ± z se(tau²), truncated at 0, metafor's ``type = "Wald"``) or
    ``"QP"`` (the Q-profile interval the result already reports)."""
    code = {t.lower(): t for t in TAU2_CI_TYPES}.get(str(type).lower())
    if code is None:
        raise SettingsError(f"unknown interval type {type!r} for tau²; valid types are: {', '.join(TAU2_CI_TYPES)}")
    level = result.settings.level if level is None else float(level)
    if not 0 < level < 1:
        raise SettingsError(f"the confidence level must lie between 0 and 1, not {level!r}")
    p = result.pooled
    tau2 = float(p["tau2"])
    if result.k < 2:
        raise SettingsError("a confidence interval for tau² needs at least two studies")
    if result.settings.method == "GLMM":
        raise SettingsError("intervals for tau² here are for the inverse-variance model, not method GLMM")
    if code == "QP":
        if level != result.settings.level:
            result = result.update(level=level)
            p = result.pooled
        return Tau2Interval("QP", level, tau2, p["tau2_ci_low"], p["tau2_ci_high"])
    if code == "Wald":
        z = _dist.norm_ppf(1 - (1 - level) / 2)
        se = p["se_tau2"]
        return Tau2Interval("Wald", level, tau2, max(0.0, tau2 - z * se), tau2 + z * se)
    if result.settings.method_tau2 not in ("ML", "REML"):
        raise SettingsError("the profile-likelihood interval of tau² needs a maximum-likelihood fit "
                            f"(method_tau2 ML or REML), not {result.settings.method_tau2}")
    y, v, mask = _arrays(result)
    reml = result.settings.method_tau2 == "REML"
    lo, hi = _profile_bounds(y, v, mask, np.array([tau2]), reml, level)
    return Tau2Interval("PL", level, tau2, float(lo[0]), float(hi[0]))
