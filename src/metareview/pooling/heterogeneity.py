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

import math

import numpy as np

from ..base import dist as _dist
from ..base.exceptions import SettingsError
from .per_analysis import as_float, maximum, pick
from .projection import row_sum
from .values import Interval

__all__ = ["I2_METHODS", "typical_variance", "h_test_based", "heterogeneity", "kernel_heterogeneity",
           "kernel_from_q"]

I2_METHODS = ("q", "tau2")


def typical_variance(v, mask):
    """Typical within-study variance s² = (k-1) sum(w) / ((sum w)² - sum(w²)), per analysis
    (rows) or of one analysis (1-D arrays)."""
    w = mask / v
    sw = row_sum(w, -1)
    k = row_sum(mask, -1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (k - 1) * sw / (sw * sw - row_sum(w * w, -1))


def h_test_based(q, k, level):
    """H and its test-based confidence interval (Higgins & Thompson 2002), for arrays over
    analyses or the scalars of one analysis."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return _h_test_based(q, k, level)


def _h_test_based(q, k, level, intervals: bool = True, out=None):
    """:func:`h_test_based` under the caller's ``np.errstate``; ``intervals=False`` gives H
    alone (its bounds NaN), what a result that defers its intervals needs at once.  ``out``:
    arrays for ``h``, ``h_ci_low`` and ``h_ci_high`` (used where every analysis has one k)."""
    q, k = as_float(q), as_float(k)
    if q.ndim == 1 and q.size > 1 and k.shape == q.shape and k[0] > 2 and (k == k[0]).all():
        return _h_test_based_one_k(q, k[:1], _dist.two_sided(level)[1], out or {})
    h = pick(k > 1, np.sqrt(q / (k - 1)), np.nan)
    log_h = np.log(maximum(h, 1.0))
    if not intervals:
        return np.exp(log_h), np.nan, np.nan
    z = _dist.two_sided(level)[1]
    se_big = 0.5 * (np.log(q) - np.log(k - 1)) / (np.sqrt(2 * q) - np.sqrt(2 * k - 3))
    se_small = np.sqrt(1 / (2 * (k - 2)) * (1 - 1 / (3 * ((k - 2) * (k - 2)))))
    se = pick(q > k, pick(k >= 2, se_big, np.nan), pick(k > 2, se_small, np.nan))
    low = maximum(np.exp(log_h - z * se), 1.0)
    high = maximum(np.exp(log_h + z * se), 1.0)
    return np.exp(log_h), low, high


def _h_test_based_one_k(q, k, z, out):
    """:func:`h_test_based` for many analyses of one number of studies k > 2 (a simulation's
    usual case), ``k`` as a one-element array: the terms in k computed once, every value as
    the general formulas give it (H and its bounds in the arrays of ``out`` it has)."""
    h = np.sqrt(q / (k - 1))
    se = np.where(q > k, 0.5 * (np.log(q) - np.log(k - 1)) / (np.sqrt(2 * q) - np.sqrt(2 * k - 3)),
                  np.sqrt(1 / (2 * (k - 2)) * (1 - 1 / (3 * (k - 2) ** 2))))
    log_h = np.log(np.maximum(h, 1.0, out=h), out=h)
    zse = z * se
    low = np.maximum(np.exp(log_h - zse), 1.0, out=out.get("h_ci_low"))
    high = np.maximum(np.exp(np.add(log_h, zse, out=zse), out=zse), 1.0, out=out.get("h_ci_high", zse))
    return np.exp(log_h, out=out.get("h", log_h)), low, high


def i2_from_h(h, out=None):
    """I² in percent from H: (H² - 1)/H² (Higgins & Thompson 2002, eq. 10), into the array
    ``out`` when given."""
    h2 = h * h
    if out is None:
        return 100 * (h2 - 1) / h2
    return np.divide(np.multiply(100, h2 - 1, out=out), h2, out=out)


def i2_from_q(q, df):
    """I² in percent from Q and its degrees of freedom: max(0, (Q - df)/Q) (Higgins &
    Thompson 2002, eq. 10; 0 for Q = 0), for one Q or an array."""
    q = np.asarray(q, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        i2 = np.where(q > 0, np.maximum(0.0, 100.0 * (q - df) / q), 0.0)
    return float(i2) if i2.ndim == 0 else i2


def i2_h2_from_tau2(tau2, s2):
    """I² in percent and H² from tau² and the typical within-study variance s²:
    tau²/(tau² + s²) and (tau² + s²)/s² (Higgins & Thompson 2002, eq. 9; metafor)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return 100 * tau2 / (tau2 + s2), (tau2 + s2) / s2


def from_q(q, k, level) -> dict:
    """I², H and their test-based intervals from Q and the number of studies ``k``, as R meta
    reports them whatever the model (arrays over analyses; floats for a single Q)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return kernel_from_q(q, k, level)


def kernel_from_q(q, k, level, intervals: bool = True, into=None) -> dict:
    """:func:`from_q` under the caller's ``np.errstate`` (``intervals=False``: I² and H alone,
    their bounds NaN); ``into``: arrays over the analyses to form the fields in (by name)."""
    if not intervals and type(q) is np.float64 and type(k) is np.float64:
        # one analysis whose intervals come later: H and I² by the same operations on its scalars,
        # without the bounds' NaN arithmetic (a NaN bound is a NaN)
        h = np.exp(np.log(maximum(pick(k > 1, np.sqrt(q / (k - 1)), np.nan), 1.0)))
        return {"i2": float(i2_from_h(h)), "i2_ci_low": math.nan, "i2_ci_high": math.nan, "h": float(h),
                "h_ci_low": math.nan, "h_ci_high": math.nan}
    o = {} if into is None else into
    h, h_lo, h_hi = _h_test_based(q, k, level, intervals, o)
    out = {"i2": i2_from_h(h, o.get("i2")), "i2_ci_low": i2_from_h(h_lo, o.get("i2_ci_low")),
           "i2_ci_high": i2_from_h(h_hi, o.get("i2_ci_high")), "h": h, "h_ci_low": h_lo, "h_ci_high": h_hi}
    if not isinstance(q, np.ndarray) or q.ndim == 0:
        return {key: float(val) for key, val in out.items()}
    return out


def i2_h_test_based(q: float, k: int, level: float) -> tuple[float, Interval, float, Interval]:
    """I² (percent) with its interval and H with its interval, of one analysis whose Q has
    ``k - 1`` degrees of freedom, by the test-based method (Higgins & Thompson 2002): what
    the GLMM and Mantel-Haenszel methods report with ``i2_method="q"``."""
    out = from_q(float(q), k, level)
    return (out["i2"], Interval(out["i2_ci_low"], out["i2_ci_high"], level), out["h"],
            Interval(out["h_ci_low"], out["h_ci_high"], level))


def heterogeneity(q, k, tau2, v, mask, level, method="q", tau2_ci=None):
    """I² (percent), H and their intervals by ``method`` (``"q"`` as meta, ``"tau2"`` as metafor)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return kernel_heterogeneity(q, k, tau2, v, mask, level, method, tau2_ci)


def kernel_heterogeneity(q, k, tau2, v, mask, level, method="q", tau2_ci=None, intervals: bool = True,
                         into=None):
    """:func:`heterogeneity` under the caller's ``np.errstate`` (the pooling kernel's);
    ``intervals=False`` leaves the bounds of I² and H NaN (a result that computes them on
    first use); ``into``: arrays over the analyses the fields may be formed in (by name)."""
    if method not in I2_METHODS:
        raise SettingsError(f"unknown I² method {method!r}; valid: {', '.join(I2_METHODS)}")
    if method == "q":
        return kernel_from_q(q, k, level, intervals, into)
    s2 = typical_variance(v, mask)

    def conv(t):
        i2, h2 = i2_h2_from_tau2(t, s2)
        return i2, np.sqrt(h2)
    i2, h = conv(tau2)
    lo, hi = tau2_ci if tau2_ci is not None else (np.full_like(i2, np.nan),) * 2
    i2_lo, h_lo = conv(lo)
    i2_hi, h_hi = conv(hi)
    return {"i2": i2, "i2_ci_low": i2_lo, "i2_ci_high": i2_hi, "h": h, "h_ci_low": h_lo, "h_ci_high": h_hi}
