"""From what papers report to means, SDs and standard errors.

Each function cites the method it implements and works elementwise on numpy arrays
(scalars in, float out; arrays in, arrays out).  Impossible input (a CI whose upper
limit is below its lower limit, n < 2, a p-value outside (0, 1), a correlation outside
[-1, 1]) raises :class:`~metareview.base.exceptions.DataError` naming the rule.

References
----------
- Higgins JPT, Li T, Deeks JJ (eds). Cochrane Handbook for Systematic Reviews of
  Interventions, version 6, chapter 6: 6.5.2.2 (SD from SE and CI of a group mean),
  6.5.2.3 (SD from CI, t or p of a difference in means), 6.5.2.8 (change-from-baseline
  SDs and correlations), Table 6.5.a (combining groups); 6.3.2 (SE of a ratio from its CI).
- Hozo SP, Djulbegovic B, Hozo I. Estimating the mean and variance from the median,
  range, and the size of a sample. BMC Med Res Methodol 2005;5:13.
- Wan X, Wang W, Liu J, Tong T. Estimating the sample mean and standard deviation from
  the sample size, median, range and/or interquartile range. BMC Med Res Methodol
  2014;14:135.
- Luo D, Wan X, Liu J, Tong T. Optimally estimating the sample mean from the sample
  size, median, mid-range, and/or mid-quartile range. Stat Methods Med Res
  2018;27:1785-1805.
- Shi J, Luo D, Weng H, et al. Optimally estimating the sample standard deviation from
  the five-number summary. Res Synth Methods 2020;11:641-654.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..base.exceptions import DataError

__all__ = [
    "critical_value",
    "sd_from_ci",
    "sd_from_se",
    "se_from_ci",
    "se_from_ratio_ci",
    "se_from_t",
    "se_from_p",
    "sd_from_t",
    "sd_from_p",
    "change_sd",
    "correlation_from_change_sd",
    "QuantileEstimate",
    "mean_sd_from_quantiles",
    "CombinedGroup",
    "combine_groups",
    "MEAN_METHODS",
    "SD_METHODS",
]


def _arr(x: Any, name: str) -> np.ndarray:
    try:
        return np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise DataError(f"{name} must be numeric, got {x!r}", column=name, rule="not_a_number") from None


def _out(x: np.ndarray) -> Any:
    return float(x) if np.ndim(x) == 0 else x


def _fail_if(mask, message: str, column: str, rule: str) -> None:
    mask = np.asarray(mask)
    if np.any(mask):
        raise DataError(message, column=column, rule=rule)


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise DataError(f"level must lie between 0 and 1 (e.g. 0.95), got {level}", column="level",
                        rule="level")


def critical_value(level: float = 0.95, df=None) -> Any:
    """Two-sided critical value: z_{1-(1-level)/2}, or Student's t with ``df`` degrees of freedom.

    The Handbook's "3.92" for a 95% CI is ``2 * critical_value(0.95)``; for n = 25 its
    t-based divisor 4.128 is ``2 * critical_value(0.95, 24)`` (6.5.2.2).
    """
    from scipy import stats

    _check_level(level)
    p = 1 - (1 - level) / 2
    if df is None:
        return float(stats.norm.ppf(p))
    df = _arr(df, "df")
    _fail_if(df <= 0, "degrees of freedom must be > 0", "df", "df")
    return _out(stats.t.ppf(p, df))


def _check_ci(lower, upper, column: str = "ci") -> None:
    _fail_if(upper < lower, "the upper confidence limit is below the lower one", column, "ci_order")


def _check_n(n, name: str = "n", minimum: float = 2) -> None:
    _fail_if(n < minimum, f"{name} must be >= {minimum:g} for this conversion", name, "n_positive")


def sd_from_ci(lower, upper, n, *, level: float = 0.95, dist: str = "t"):
    """SD of a group from the CI of its mean: SD = sqrt(n) (upper - lower) / (2 q).

    ``q`` is Student's t quantile with n - 1 degrees of freedom (``dist="t"``, the
    default, as the Cochrane Handbook 6.5.2.2 recommends for small samples and as the
    seed review did) or the normal quantile (``dist="z"``, the Handbook's 3.92 for a
    95% CI in large samples).

    >>> round(sd_from_ci(18.0, 24.0, 25), 3)   # 95% CI 18.0-24.0, n = 25: divisor 4.128
    7.268
    """
    lower, upper, n = _arr(lower, "ci_low"), _arr(upper, "ci_high"), _arr(n, "n")
    _check_ci(lower, upper)
    _check_n(n)
    if dist == "t":
        q = critical_value(level, n - 1)
    elif dist == "z":
        q = critical_value(level)
    else:
        raise DataError(f"dist must be 't' or 'z', got {dist!r}", column="dist", rule="option")
    return _out(np.sqrt(n) * (upper - lower) / (2 * np.asarray(q)))


def sd_from_se(se, n):
    """SD of a group from the standard error of its mean: SD = SE sqrt(n) (Handbook 6.5.2.2)."""
    se, n = _arr(se, "se"), _arr(n, "n")
    _fail_if(se <= 0, "a standard error must be > 0", "se", "se_positive")
    _check_n(n, minimum=1)
    return _out(se * np.sqrt(n))


def se_from_ci(lower, upper, *, level: float = 0.95, df=None):
    """SE of an estimate from its symmetric CI: (upper - lower) / (2 q), q normal or t(df)
    (Handbook 6.5.2.3: 3.92 for a 95% CI, t with n1 + n2 - 2 df for small trials)."""
    lower, upper = _arr(lower, "ci_low"), _arr(upper, "ci_high")
    _check_ci(lower, upper)
    q = np.asarray(critical_value(level, df))
    return _out((upper - lower) / (2 * q))


def se_from_ratio_ci(lower, upper, *, level: float = 0.95):
    """SE of log(ratio) from the CI of a ratio (OR, RR, HR, ROM), which is symmetric on the
    log scale: SE = (ln upper - ln lower) / (2 z) (Handbook 6.3.2).

    >>> round(se_from_ratio_ci(0.5, 0.9), 3)
    0.15
    """
    lower, upper = _arr(lower, "ci_low"), _arr(upper, "ci_high")
    _fail_if((lower <= 0) | (upper <= 0), "the limits of a ratio's CI must be > 0", "ci", "ratio_positive")
    _check_ci(lower, upper)
    return _out((np.log(upper) - np.log(lower)) / (2 * critical_value(level)))


def _pair_factor(n1, n2):
    """sqrt(1/n1 + 1/n2) for two groups; sqrt(1/n) for one group (n2 None)."""
    n1 = _arr(n1, "n1")
    _check_n(n1, "n1", minimum=1)
    if n2 is None:
        return np.sqrt(1 / n1), n1 - 1
    n2 = _arr(n2, "n2")
    _check_n(n2, "n2", minimum=1)
    return np.sqrt(1 / n1 + 1 / n2), n1 + n2 - 2


def se_from_t(mean_difference, t):
    """SE of a mean difference from its t statistic: SE = MD / t (Handbook 6.5.2.3)."""
    md, t = _arr(mean_difference, "mean_difference"), _arr(t, "t")
    _fail_if(t == 0, "t = 0 carries no information about the SE", "t", "t_nonzero")
    return _out(np.abs(md / t))


def se_from_p(mean_difference, p, df=None, *, sided: int = 2):
    """SE of a mean difference from the p-value of its test: t = quantile of t(df) (normal
    when ``df`` is None) at 1 - p/2 for a two-sided p, then SE = MD / t (Handbook 6.5.2.3).

    >>> round(se_from_p(3.8, 0.008, 45), 2)   # Handbook: t = 2.78, SE = 1.37
    1.37
    """
    from scipy import stats

    md, p = _arr(mean_difference, "mean_difference"), _arr(p, "p")
    _fail_if((p <= 0) | (p >= 1), "a p-value must lie strictly between 0 and 1", "p", "p_range")
    if sided not in (1, 2):
        raise DataError(f"sided must be 1 or 2, got {sided!r}", column="sided", rule="option")
    tail = p / 2 if sided == 2 else p
    t = stats.norm.isf(tail) if df is None else stats.t.isf(tail, _arr(df, "df"))
    return _out(np.abs(md) / t)


def sd_from_t(mean_difference, t, n1, n2=None):
    """Within-group SD from the t statistic of a mean difference (Handbook 6.5.2.3).

    Two independent groups (``n2`` given): SD = SE / sqrt(1/n1 + 1/n2), the SD assumed
    common to both groups; one group or paired differences (``n2`` None):
    SD = SE sqrt(n1), the SD of the (paired) differences.
    """
    factor, _ = _pair_factor(n1, n2)
    return _out(np.asarray(se_from_t(mean_difference, t)) / factor)


def sd_from_p(mean_difference, p, n1, n2=None, *, sided: int = 2, dist: str = "t"):
    """Within-group SD from the p-value of a t test of a mean difference (Handbook 6.5.2.3):
    t from p with n1 + n2 - 2 df (n1 - 1 for one group; ``dist="z"`` for the normal),
    then :func:`sd_from_t`.  A p printed as "p < 0.05" gives, taken at 0.05, an upper
    bound of the SD (the Handbook's conservative choice)."""
    factor, df = _pair_factor(n1, n2)
    if dist not in ("t", "z"):
        raise DataError(f"dist must be 't' or 'z', got {dist!r}", column="dist", rule="option")
    se = se_from_p(mean_difference, p, df if dist == "t" else None, sided=sided)
    return _out(np.asarray(se) / factor)


def change_sd(sd_baseline, sd_followup, r):
    """SD of the change from baseline: sqrt(SD_b² + SD_f² - 2 r SD_b SD_f)
    (Handbook 6.5.2.8; with r imputed, Follmann 1992).

    >>> round(change_sd(2.38, 2.21, 0.68) / 10 ** 0.5, 3)   # Handbook 16.4.6.4 example: SE 0.583
    0.583
    """
    a, b, r = _arr(sd_baseline, "sd_baseline"), _arr(sd_followup, "sd_followup"), _arr(r, "r")
    _fail_if((a <= 0) | (b <= 0), "SDs must be > 0", "sd", "sd_positive")
    _fail_if((r < -1) | (r > 1), "a correlation must lie in [-1, 1]", "r", "correlation_range")
    return _out(np.sqrt(np.clip(a * a + b * b - 2 * r * a * b, 0.0, None)))


def correlation_from_change_sd(sd_baseline, sd_followup, sd_change):
    """Correlation between baseline and follow-up implied by a reported change SD:
    r = (SD_b² + SD_f² - SD_change²) / (2 SD_b SD_f) (Handbook 6.5.2.8).

    A result outside [-1, 1] means the three SDs cannot belong together and raises
    :class:`~metareview.base.exceptions.DataError` (rule ``correlation_range``).
    """
    a, b, c = (_arr(sd_baseline, "sd_baseline"), _arr(sd_followup, "sd_followup"),
               _arr(sd_change, "sd_change"))
    _fail_if((a <= 0) | (b <= 0) | (c < 0), "SDs must be > 0", "sd", "sd_positive")
    r = (a * a + b * b - c * c) / (2 * a * b)
    _fail_if((r < -1 - 1e-12) | (r > 1 + 1e-12),
             "these baseline, follow-up and change SDs imply a correlation outside [-1, 1]",
             "sd_change", "correlation_range")
    return _out(np.clip(r, -1.0, 1.0))


# ----------------------------------------------------------------------------- quantiles

MEAN_METHODS = ("luo", "wan", "hozo", "hozo_by_n")
SD_METHODS = ("shi", "wan", "hozo", "hozo_by_n")


@dataclass(frozen=True)
class QuantileEstimate:
    """Mean and SD estimated from a median with IQR and/or range.

    ``scenario`` is "S1" (min, median, max), "S2" (q1, median, q3) or "S3" (all five),
    per study when arrays are given; ``mean_method``/``sd_method`` name the estimators.
    """

    mean: Any
    sd: Any
    scenario: Any
    mean_method: str
    sd_method: str

    def to_dict(self) -> dict[str, Any]:
        def plain(v):
            return v.tolist() if isinstance(v, np.ndarray) else v
        return {"mean": plain(self.mean), "sd": plain(self.sd), "scenario": plain(self.scenario),
                "mean_method": self.mean_method, "sd_method": self.sd_method}


def _xi(n):
    """Wan et al. 2014: xi(n) = 2 Phi^-1((n - 0.375) / (n + 0.25)), expected range of n normal values."""
    from scipy import stats
    return 2 * stats.norm.ppf((n - 0.375) / (n + 0.25))


def _eta(n):
    """Wan et al. 2014: eta(n) = 2 Phi^-1((0.75 n - 0.125) / (n + 0.25)), expected IQR in SD units."""
    from scipy import stats
    return 2 * stats.norm.ppf((0.75 * n - 0.125) / (n + 0.25))


def mean_sd_from_quantiles(n, median, *, q1=None, q3=None, minimum=None, maximum=None,
                           mean_method: str = "luo", sd_method: str = "shi") -> QuantileEstimate:
    """Estimate a sample's mean and SD from its median with range and/or quartiles.

    The scenario is chosen per study from what is given (NaN = not given):
    S1 = minimum, median, maximum; S2 = q1, median, q3; S3 = all five.

    Mean (``mean_method``):
      - ``"luo"`` (default; Luo et al. 2018): weighted mid-range/mid-quartile range and median,
        S1 w = 4 / (4 + n^0.75); S2 w = 0.7 + 0.39 / n; S3 w1 = 2.2 / (2.2 + n^0.75),
        w2 = 0.7 - 0.72 / n^0.55;
      - ``"wan"`` (Wan et al. 2014): S1 (a + 2m + b) / 4; S2 (q1 + m + q3) / 3;
        S3 (a + 2 q1 + 2 m + 2 q3 + b) / 8;
      - ``"hozo"`` (Hozo et al. 2005, S1 only): (a + 2m + b) / 4 + (a - 2m + b) / (4n), at every n;
      - ``"hozo_by_n"`` (Hozo et al. 2005, S1 only): the paper's recommendation by sample size,
        (a + 2m + b) / 4 for n <= 25 and the median for n > 25 (as metafor's ``conv.fivenum``,
        method "hozo2005").

    SD (``sd_method``):
      - ``"shi"`` (default; Shi et al. 2020): S1 (b - a) / xi(n); S2 (q3 - q1) / eta(n) (both
        as Wan 2014); S3 w (b - a) / xi(n) + (1 - w) (q3 - q1) / eta(n), w = 1 / (1 + 0.07 n^0.6);
      - ``"wan"`` (Wan et al. 2014): S1 and S2 as above; S3 the plain average of both;
      - ``"hozo"`` (Hozo et al. 2005, S1 only): sqrt(((a - 2m + b)² / 4 + (b - a)²) / 12), at every n;
      - ``"hozo_by_n"`` (Hozo et al. 2005, S1 only): the paper's recommendation by sample size,
        the formula above for n <= 15, (b - a) / 4 for 15 < n <= 70 and (b - a) / 6 for n > 70
        (as metafor's ``conv.fivenum``, method "hozo2005").

    with xi(n) = 2 Phi^-1((n - 0.375) / (n + 0.25)) and eta(n) = 2 Phi^-1((0.75 n - 0.125) / (n + 0.25)).
    Hozo et al. give the formulas and, from their simulations, rules by n that switch to the
    median and to range / 4 or range / 6; ``"hozo"`` applies the formulas at every n,
    ``"hozo_by_n"`` the rules.  The defaults are ``"luo"`` and ``"shi"``.  These estimators
    assume roughly normal data; a median reported with an IQR often signals skew, which they
    do not correct.

    >>> e = mean_sd_from_quantiles(50, 10.0, q1=8.0, q3=12.0)
    >>> e.scenario, round(e.mean, 4), round(e.sd, 4)
    ('S2', 10.0, 3.0532)
    """
    if mean_method not in MEAN_METHODS:
        raise DataError(f"unknown mean_method {mean_method!r}; valid: {', '.join(MEAN_METHODS)}",
                        column="mean_method", rule="option")
    if sd_method not in SD_METHODS:
        raise DataError(f"unknown sd_method {sd_method!r}; valid: {', '.join(SD_METHODS)}",
                        column="sd_method", rule="option")
    n = _arr(n, "n")
    m = _arr(median, "median")
    shape = np.broadcast_shapes(n.shape, m.shape, *(np.shape(x) for x in (q1, q3, minimum, maximum)
                                                     if x is not None))
    nan = np.full(shape, np.nan)

    def opt(x, name):
        return nan if x is None else np.broadcast_to(_arr(x, name), shape).astype(float)

    a, b = opt(minimum, "min"), opt(maximum, "max")
    lo, hi = opt(q1, "q1"), opt(q3, "q3")
    n, m = np.broadcast_to(n, shape).astype(float), np.broadcast_to(m, shape).astype(float)
    _check_n(n[~np.isnan(n)], minimum=2)
    has_range = ~np.isnan(a) & ~np.isnan(b)
    has_iqr = ~np.isnan(lo) & ~np.isnan(hi)
    _fail_if(np.isnan(m), "a median is required", "median", "missing")
    _fail_if(np.isnan(n), "a sample size is required", "n", "missing")
    _fail_if(~has_range & ~has_iqr,
             "give the minimum and maximum, or q1 and q3, or all four (only one end of a range or IQR "
             "is not enough)", "quantiles", "scenario")
    with np.errstate(invalid="ignore"):
        _fail_if(has_range & ((a > m) | (m > b)), "min <= median <= max is required", "median", "order")
        _fail_if(has_iqr & ((lo > m) | (m > hi)), "q1 <= median <= q3 is required", "median", "order")
        _fail_if(has_range & has_iqr & ((a > lo) | (hi > b)), "min <= q1 and q3 <= max are required",
                 "q1", "order")
    s1 = has_range & ~has_iqr
    s2 = has_iqr & ~has_range
    s3 = has_range & has_iqr
    if (mean_method.startswith("hozo") or sd_method.startswith("hozo")) and np.any(~s1):
        raise DataError("Hozo et al. (2005) estimate from the median and range only (scenario S1); "
                        "use mean_method='luo' or 'wan' and sd_method='shi' or 'wan' with quartiles",
                        column="quantiles", rule="scenario")
    scenario = np.where(s3, "S3", np.where(s2, "S2", "S1"))

    with np.errstate(invalid="ignore", divide="ignore"):
        if mean_method == "luo":
            w1 = 4 / (4 + n ** 0.75)
            w2 = 0.7 + 0.39 / n
            w3a = 2.2 / (2.2 + n ** 0.75)
            w3b = 0.7 - 0.72 / n ** 0.55
            mean = np.where(s1, w1 * (a + b) / 2 + (1 - w1) * m,
                            np.where(s2, w2 * (lo + hi) / 2 + (1 - w2) * m,
                                     w3a * (a + b) / 2 + w3b * (lo + hi) / 2 + (1 - w3a - w3b) * m))
        elif mean_method == "wan":
            mean = np.where(s1, (a + 2 * m + b) / 4,
                            np.where(s2, (lo + m + hi) / 3, (a + 2 * lo + 2 * m + 2 * hi + b) / 8))
        elif mean_method == "hozo":
            mean = (a + 2 * m + b) / 4 + (a - 2 * m + b) / (4 * n)
        else:
            mean = np.where(n <= 25, (a + 2 * m + b) / 4, m)

        if sd_method in ("hozo", "hozo_by_n"):
            sd = np.sqrt(((a - 2 * m + b) ** 2 / 4 + (b - a) ** 2) / 12)
            if sd_method == "hozo_by_n":
                sd = np.where(n <= 15, sd, np.where(n <= 70, (b - a) / 4, (b - a) / 6))
        else:
            by_range = (b - a) / _xi(n)
            by_iqr = (hi - lo) / _eta(n)
            w = 1 / (1 + 0.07 * n ** 0.6) if sd_method == "shi" else np.full(shape, 0.5)
            sd = np.where(s1, by_range, np.where(s2, by_iqr, w * by_range + (1 - w) * by_iqr))
    return QuantileEstimate(mean=_out(mean), sd=_out(sd),
                            scenario=str(scenario) if scenario.ndim == 0 else scenario,
                            mean_method=mean_method, sd_method=sd_method)


# ----------------------------------------------------------------------------- groups

@dataclass(frozen=True)
class CombinedGroup:
    """Two subgroups combined into one: sample size, mean and SD."""

    n: Any
    mean: Any
    sd: Any

    def to_dict(self) -> dict[str, Any]:
        def plain(v):
            return v.tolist() if isinstance(v, np.ndarray) else v
        return {"n": plain(self.n), "mean": plain(self.mean), "sd": plain(self.sd)}


def combine_groups(n1, mean1, sd1, n2, mean2, sd2) -> CombinedGroup:
    """Combine two subgroups into one group (Cochrane Handbook Table 6.5.a):

    N = N1 + N2;  M = (N1 M1 + N2 M2) / N;
    SD = sqrt(((N1 - 1) SD1² + (N2 - 1) SD2² + N1 N2 / N (M1² + M2² - 2 M1 M2)) / (N - 1)).

    The result equals the mean and SD (n - 1 denominator) of the pooled raw data.  For
    more than two subgroups, combine the first two and then add the next one.
    """
    n1, m1, s1 = _arr(n1, "n1"), _arr(mean1, "mean1"), _arr(sd1, "sd1")
    n2, m2, s2 = _arr(n2, "n2"), _arr(mean2, "mean2"), _arr(sd2, "sd2")
    _check_n(n1, "n1", minimum=1)
    _check_n(n2, "n2", minimum=1)
    _fail_if((s1 < 0) | (s2 < 0), "SDs must be >= 0", "sd", "sd_positive")
    n = n1 + n2
    mean = (n1 * m1 + n2 * m2) / n
    var = ((n1 - 1) * s1 ** 2 + (n2 - 1) * s2 ** 2 + n1 * n2 / n * (m1 - m2) ** 2) / (n - 1)
    return CombinedGroup(n=_out(n), mean=_out(mean), sd=_out(np.sqrt(var)))
