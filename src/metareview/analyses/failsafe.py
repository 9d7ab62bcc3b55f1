"""Fail-safe N: how many unpublished null studies would overturn a result (metafor's ``fsn``).

Three approaches, on the pooled studies' estimates y_i and variances v_i (analysis scale),
as metafor 3.8-1 computes them:

* Rosenthal (1979, Psychol Bull 86:638): with Stouffer's z_bar = |sum y_i/sqrt(v_i)|/sqrt(k),
  N = k (z_bar / z_{1-alpha})² - k, the number of studies averaging z = 0 that bring the
  combined one-sided p-value to ``alpha``;
* Orwin (1983, J Educ Stat 8:157): N = k (ybar - target)/target, the number of null studies
  that bring the (unweighted, or inverse-variance weighted) mean effect down to ``target``
  (default half the mean);
* Rosenberg (2005, Evolution 59:464): with weights w_i = 1/v_i,
  N = k ((sum w_i y_i / z_{1-alpha/2})² - sum w_i) / sum w_i, the number of studies with the
  average weight and a null effect that make the common-effect estimate non-significant
  at two-sided level ``alpha``.

N is rounded up to a whole number of studies (and is 0 when the result is not
significant to begin with).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..base import dist as _dist
from ..base.exceptions import SettingsError
from ..base.format import Reportable, fmt as _f, fmt_p as _p, num as _num

__all__ = ["fsn", "FailSafeN", "FSN_TYPES"]

FSN_TYPES = ("Rosenthal", "Orwin", "Rosenberg")


@dataclass(frozen=True)
class FailSafeN(Reportable):
    """A fail-safe N with the quantities it was computed from."""

    type: str
    fsnum: float
    alpha: float
    pval: float | None       # observed significance (Rosenthal: one-sided Stouffer; Rosenberg: two-sided)
    meanes: float | None     # average effect (Orwin, Rosenberg)
    target: float | None     # target effect (Orwin)
    k: int

    def to_dict(self) -> dict:
        return {"type": self.type, "fsnum": _num(self.fsnum), "alpha": self.alpha, "p": _num(self.pval),
                "average": _num(self.meanes), "target": _num(self.target), "k": self.k}

    def report(self):
        from ..base.report import Paragraph, Report
        lines = [f"Fail-safe N calculation using the {self.type} approach"]
        if self.meanes is not None:
            lines.append(f" Average effect size: {_f(self.meanes)}")
        if self.target is not None:
            lines.append(f" Target effect size: {_f(self.target)}")
        if self.pval is not None:
            lines.append(f" Observed significance level: {_p(self.pval)}")
            lines.append(f" Target significance level: {self.alpha:g}")
        lines.append(f" Fail-safe N: {_f(self.fsnum, 0) if np.isfinite(self.fsnum) else 'Inf'}")
        return Report().add(Paragraph("\n".join(lines)))


def _round_up(n: float) -> float:
    if np.isfinite(n) and abs(n - round(n)) >= np.sqrt(np.finfo(float).eps):
        return float(np.ceil(n))
    return float(n)


def fsn(result=None, *, yi=None, vi=None, type: str = "Rosenthal", alpha: float = 0.05, target: float | None = None,
        weighted: bool = False) -> FailSafeN:
    """Fail-safe N of a pooled ``result`` (its pooled studies), or of ``yi``/``vi`` given directly.

    ``type``: Rosenthal (default), Orwin or Rosenberg; ``alpha``: the significance level
    (Rosenthal, Rosenberg); ``target``: the effect Orwin's N brings the mean down to (default
    half of it); ``weighted``: Orwin with the inverse-variance weighted mean.
    """
    code = {t.lower(): t for t in FSN_TYPES}.get(str(type).lower())
    if code is None:
        raise SettingsError(f"unknown fail-safe N type {type!r}; valid types are: {', '.join(FSN_TYPES)}")
    if not 0 < alpha < 1:
        raise SettingsError(f"alpha must lie between 0 and 1, not {alpha!r}")
    if target is not None and code != "Orwin":
        raise SettingsError("a target effect applies only to Orwin's fail-safe N")
    if weighted and code != "Orwin":
        raise SettingsError("weighted applies only to Orwin's fail-safe N")
    if result is not None:
        if yi is not None or vi is not None:
            raise SettingsError("give a result or yi and vi, not both")
        inc = result.included
        y, v = np.asarray(result.yi, float)[inc], np.asarray(result.vi, float)[inc]
    else:
        if yi is None or vi is None:
            raise SettingsError("fsn needs a result, or yi and vi")
        y, v = np.asarray(yi, float).ravel(), np.asarray(vi, float).ravel()
    k = int(y.size)
    if code == "Rosenthal":
        z_bar = abs(np.sum(y / np.sqrt(v)) / np.sqrt(k))
        n = max(0.0, k * (z_bar / _dist.norm_ppf(1 - alpha)) ** 2 - k)
        return FailSafeN(code, _round_up(n), alpha, float(_dist.norm_sf(z_bar)), None, None, k)
    if code == "Rosenberg":
        w = 1 / v
        mean = float(np.sum(w * y) / np.sum(w))
        z = mean * np.sqrt(np.sum(w))
        wp = (np.sum(w * y) / _dist.norm_ppf(1 - alpha / 2)) ** 2 - np.sum(w)
        n = max(0.0, k * wp / np.sum(w))
        return FailSafeN(code, _round_up(n), alpha, float(2 * _dist.norm_sf(abs(z))), mean, None, k)
    mean = float(np.sum(y / v) / np.sum(1 / v)) if weighted else float(np.mean(y))
    tgt = mean / 2 if target is None else float(target)
    if tgt == 0:
        return FailSafeN(code, float("inf"), alpha, None, mean, tgt, k)
    if np.sign(tgt) != np.sign(mean):
        tgt = -tgt
    return FailSafeN(code, _round_up(max(0.0, k * (mean - tgt) / tgt)), alpha, None, mean, tgt, k)
