"""Confidence intervals for single studies.

For single proportions, R meta's ``method.ci`` choices: Clopper-Pearson (``CP``, exact;
Clopper & Pearson 1934, meta's default), Wilson score (``WS``; Wilson 1927), Wilson with
continuity correction (``WSCC``, as R's ``prop.test(correct = TRUE)``; Newcombe 1998),
Agresti-Coull (``AC``; Agresti & Coull 1998), simple asymptotic / Wald (``SA``, ``SACC``)
and the normal interval on the analysis scale (``NAsm``).  Proportion intervals are
mapped to the analysis scale as meta does; every other design uses the normal interval.
"""

from __future__ import annotations

import numpy as np

from ..base import dist as _dist
from ..base.exceptions import SettingsError
from .measures import Measure, pft

__all__ = ["PROPORTION_CI", "proportion_ci", "to_scale", "study_ci"]

PROPORTION_CI = ("CP", "WS", "WSCC", "AC", "SA", "SACC", "NAsm")


def proportion_ci(x, n, level=0.95, method="CP"):
    """Interval for the proportion x/n on the natural scale (0-1)."""
    x = np.asarray(x, float)
    n = np.asarray(n, float)
    a = 1 - level
    z = _dist.norm_ppf(1 - a / 2)
    p = x / n
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "CP":
            lo = np.where(x > 0, _dist.beta_ppf(a / 2, x, n - x + 1), 0.0)
            hi = np.where(x < n, _dist.beta_ppf(1 - a / 2, x + 1, n - x), 1.0)
        elif method == "WS":
            c = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
            lo = (p + z * z / (2 * n) - c) / (1 + z * z / n)
            hi = (p + z * z / (2 * n) + c) / (1 + z * z / n)
        elif method == "WSCC":
            # R's prop.test(correct = TRUE): the correction never exceeds |x - n/2|
            z22n = z * z / (2 * n)
            cc = np.minimum(0.5, np.abs(x - n / 2))
            pl, pu = p - cc / n, p + cc / n
            lo = np.where(pl <= 0, 0.0, (pl + z22n - z * np.sqrt(pl * (1 - pl) / n + z22n / (2 * n))) / (1 + 2 * z22n))
            hi = np.where(pu >= 1, 1.0, (pu + z22n + z * np.sqrt(pu * (1 - pu) / n + z22n / (2 * n))) / (1 + 2 * z22n))
        elif method == "AC":
            nt = n + z * z
            pt = (x + z * z / 2) / nt
            c = z * np.sqrt(pt * (1 - pt) / nt)
            lo, hi = pt - c, pt + c
        elif method in ("SA", "SACC"):
            c = z * np.sqrt(p * (1 - p) / n) + (0.5 / n if method == "SACC" else 0.0)
            lo, hi = p - c, p + c
        else:
            raise SettingsError(f"unknown study CI method {method!r}; valid: {', '.join(PROPORTION_CI)}")
    return np.clip(lo, 0.0, 1.0), np.clip(hi, 0.0, 1.0)


def to_scale(measure: Measure, p, n):
    """Map a proportion to ``measure``'s analysis scale (meta's rule for study intervals)."""
    p = np.asarray(p, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure.scale == "logit":
            return np.log(p / (1 - p))
        if measure.scale == "log":
            return np.log(p)
        if measure.scale == "arcsine":
            return np.arcsin(np.sqrt(p))
        if measure.scale == "freeman-tukey":
            return pft(np.asarray(n, float) * p, n)
    return p


def study_ci(measure: Measure, yi, vi, level=0.95, method="CP", data=None):
    """Study intervals on the analysis scale, and on the natural scale where one applies.

    Returns ``(low, high, natural_low, natural_high)``; the natural bounds are None for
    untransformed measures.
    """
    if measure.design == "proportion" and method != "NAsm" and data is not None and "events" in data:
        if method not in PROPORTION_CI:
            raise SettingsError(f"unknown study CI method {method!r}; valid: {', '.join(PROPORTION_CI)}")
        x, n = np.asarray(data["events"], float), np.asarray(data["n"], float)
        plo, phi = proportion_ci(x, n, level, method)
        return to_scale(measure, plo, n), to_scale(measure, phi, n), plo, phi
    if method not in PROPORTION_CI:
        raise SettingsError(f"unknown study CI method {method!r}; valid: {', '.join(PROPORTION_CI)}")
    z = _dist.norm_ppf(1 - (1 - level) / 2)
    se = np.sqrt(vi)
    return yi - z * se, yi + z * se, None, None
