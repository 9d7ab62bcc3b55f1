"""Heterogeneity statistics: Cochran's Q, H and I² with confidence intervals.

Two conventions, vectorised over analyses:

* ``"q"`` (R meta, the default): H = sqrt(Q / df) (at least 1) and I² = (H² - 1)/H²
  whatever the tau² estimator, with the test-based intervals of Higgins & Thompson
  (2002, Stat Med 21:1539, appendix) on log H;
* ``"tau2"`` (metafor): I² = tau² / (tau² + s²) and H² = (tau² + s²)/s² from the
  estimated tau² and the typical within-study variance s² (Higgins & Thompson 2002,
  eq. 9), with intervals from the Q-profile interval of tau².
"""

from __future__ import annotations

import numpy as np
from ..base import dist as _dist

from ..base.exceptions import SettingsError
from .values import Interval

I2_METHODS = ("q", "tau2")


def typical_variance(v, mask):
    """Typical within-study variance s² = (k-1) sum(w) / ((sum w)² - sum(w²))."""
    w = mask / v
    sw = w.sum(-1)
    k = mask.sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (k - 1) * sw / (sw ** 2 - (w * w).sum(-1))


def h_test_based(q, k, level):
    """H and its test-based confidence interval (Higgins & Thompson 2002)."""
    q = np.asarray(q, float)
    k = np.asarray(k, float)
    z = _dist.norm_ppf(1 - (1 - level) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.where(k > 1, np.sqrt(q / (k - 1)), np.nan)
        se_big = 0.5 * (np.log(q) - np.log(k - 1)) / (np.sqrt(2 * q) - np.sqrt(2 * k - 3))
        se_small = np.sqrt(1 / (2 * (k - 2)) * (1 - 1 / (3 * (k - 2) ** 2)))
        se = np.where(q > k, np.where(k >= 2, se_big, np.nan), np.where(k > 2, se_small, np.nan))
        log_h = np.log(np.maximum(h, 1.0))
        low = np.maximum(np.exp(log_h - z * se), 1.0)
        high = np.maximum(np.exp(log_h + z * se), 1.0)
    return np.exp(log_h), low, high


def _i2_from_h(h):
    return 100 * (h ** 2 - 1) / h ** 2


def i2_h_test_based(q: float, k: int, level: float) -> tuple[float, Interval, float, Interval]:
    """I² (percent) with its interval and H with its interval, of one analysis whose Q has
    ``k - 1`` degrees of freedom, by the test-based method (Higgins & Thompson 2002): what
    the GLMM and Mantel-Haenszel methods report with ``i2_method="q"``."""
    h, low, high = (float(np.ravel(v)[0]) for v in h_test_based(np.array([q]), np.array([k]), level))
    return _i2_from_h(h), Interval(_i2_from_h(low), _i2_from_h(high), level), h, Interval(low, high, level)


def heterogeneity(q, k, tau2, v, mask, level, method="q", tau2_ci=None):
    """I² (percent), H and their intervals by ``method`` (``"q"`` as meta, ``"tau2"`` as metafor)."""
    if method not in I2_METHODS:
        raise SettingsError(f"unknown I² method {method!r}; valid: {', '.join(I2_METHODS)}")
    if method == "q":
        h, h_lo, h_hi = h_test_based(q, k, level)
        return {"i2": _i2_from_h(h), "i2_ci_low": _i2_from_h(h_lo), "i2_ci_high": _i2_from_h(h_hi),
                "h": h, "h_ci_low": h_lo, "h_ci_high": h_hi}
    s2 = typical_variance(v, mask)

    def conv(t):
        with np.errstate(divide="ignore", invalid="ignore"):
            return 100 * t / (t + s2), np.sqrt((t + s2) / s2)
    i2, h = conv(tau2)
    lo, hi = tau2_ci if tau2_ci is not None else (np.full_like(i2, np.nan),) * 2
    i2_lo, h_lo = conv(lo)
    i2_hi, h_hi = conv(hi)
    return {"i2": i2, "i2_ci_low": i2_lo, "i2_ci_high": i2_hi, "h": h, "h_ci_low": h_lo, "h_ci_high": h_hi}
