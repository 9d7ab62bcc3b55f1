"""Mantel-Haenszel common-effect meta-analysis of two-group binary outcomes.

Pooled odds ratio (Mantel & Haenszel 1959, J Natl Cancer Inst 22:719-748) with the
Robins-Breslow-Greenland variance (Robins, Breslow & Greenland 1986, Biometrics
42:311-323), pooled risk ratio and risk difference with the Greenland-Robins variances
(Greenland & Robins 1985, Biometrics 41:55-68); for the risk difference metafor uses
the variance of Sato, Greenland & Robins (1989, Biometrics 45:1323-1324), offered with
``convention="metafor"``.  Inputs are arrays over studies (events and sample sizes in
the experimental and control groups); every computation is vectorised over studies.

Two conventions are offered, because R's meta and metafor differ for tables with a
zero cell (every table without zero cells gives the same numbers under both):

``convention="meta"`` (default; meta 4.9-6's ``metabin(method = "MH")``)
    Non-informative tables are left out (no events in either group for OR and RR, all
    events in both groups for OR).  ``correction`` (default 0.5) is added to every cell
    of the remaining tables with a zero cell before the MH estimate is formed (for the
    RD only its variance changes).  RD variance: Greenland & Robins (1985).
``convention="metafor"`` (``rma.mh``)
    Every table enters the MH estimate, without a correction (``correction`` defaults
    to 0; a positive value is added to all cells of tables with a zero cell, as
    ``rma.mh(add = c(., .), to = c(., "only0"))``).  RD variance: Sato et al. (1989).

Heterogeneity is Cochran's Q of the inverse-variance study estimates around the MH
estimate, as both packages print it: the study log OR / log RR / RD and their variances
use ``study_correction`` (0.5) in tables with a zero cell; tables without events in
either group (or with events only) are left out of Q (meta keeps them for the RD, and
the all-events ones for the RR), and ``q_df`` is the number of remaining tables minus
one.  The study estimates follow each package's formulas (they
differ for RR and RD with zero cells).  I² = max(0, (Q - df)/Q) in percent.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import replace
from typing import Any

import numpy as np
from scipy import special

from ..base.exceptions import DataError, MetaReviewWarning, SettingsError
from .fixed_cell import FixedCellResult, two_by_two, z_quantile
from .heterogeneity import i2_from_q, i2_h_test_based
from .values import Estimate, Interval, Pooled

__all__ = ["FixedCellResult", "mantel_haenszel", "two_by_two", "pooled_for_analysis"]

_MEASURES = ("OR", "RR", "RD")
_CONVENTIONS = ("meta", "metafor")


def _heterogeneity(yi: np.ndarray, vi: np.ndarray, est: float):
    """Q, df, p, I² (%) and H of the study estimates around ``est`` (as metafor: a single
    table, or none, gives Q = 0 with p = 1)."""
    ok = np.isfinite(yi) & np.isfinite(vi)
    k = int(ok.sum())
    if k <= 1:  # no informative table either: metafor's rma.mh reports Q = 0, p = 1
        return 0.0, 0, 1.0, 0.0, 1.0
    q = max(0.0, float(np.sum((yi[ok] - est) ** 2 / vi[ok])))
    df = k - 1
    return q, df, float(special.chdtrc(df, q)), i2_from_q(q, df), math.sqrt(q / df)


def _study_values(measure, convention, a, b, c, d, incr, informative, rr_cochrane=False):
    """Study estimates and variances entering Q (nan for tables left out)."""
    n1, n2 = a + b, c + d
    zero = (a == 0) | (b == 0) | (c == 0) | (d == 0)
    i = np.where(zero, incr, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "OR":
            yi = np.log((a + i) * (d + i) / ((b + i) * (c + i)))
            vi = 1 / (a + i) + 1 / (b + i) + 1 / (c + i) + 1 / (d + i)
        elif measure == "RR" and convention == "meta" and not rr_cochrane:
            # meta 4.9-6 (RR.cochrane = FALSE): n + incr; Hartung & Knapp (2001) variance
            allev = (a == n1) & (c == n2)
            yi = np.log((a + i) / (n1 + i)) - np.log((c + i) / (n2 + i))
            vi = (1 / (a + i * ~allev) - 1 / (n1 + i) + 1 / (c + i * ~allev) - 1 / (n2 + i))
        elif measure == "RR":  # metafor; R meta with RR.Cochrane = TRUE
            yi = np.log((a + i) / (n1 + 2 * i)) - np.log((c + i) / (n2 + 2 * i))
            vi = 1 / (a + i) - 1 / (n1 + 2 * i) + 1 / (c + i) - 1 / (n2 + 2 * i)
        elif convention == "meta":  # RD
            yi = a / n1 - c / n2
            vi = ((a + i) * (b + i) / (n1 + 2 * i) ** 3 + (c + i) * (d + i) / (n2 + 2 * i) ** 3)
        else:
            p1, p2 = (a + i) / (n1 + 2 * i), (c + i) / (n2 + 2 * i)
            yi = p1 - p2
            vi = p1 * (1 - p1) / (n1 + 2 * i) + p2 * (1 - p2) / (n2 + 2 * i)
    yi = np.where(informative, yi, np.nan)
    vi = np.where(informative, vi, np.nan)
    return yi, vi


def _check_ratio(name: str, num: float, den: float, undefined: str) -> None:
    """A Mantel-Haenszel ratio sum(R)/sum(S) that is 0/0, 0 or infinite is an error."""
    rule = f"MH {name} finite"
    if num == 0 and den == 0:
        raise DataError(f"the Mantel-Haenszel {name} is undefined (0/0): {undefined}; pool "
                        "the risk difference or add a continuity correction", column="events_e",
                        rule=rule)
    if num == 0 or den == 0:
        raise DataError(f"the Mantel-Haenszel {name} is 0 or infinite (no events in one group of "
                        "every table): pool with a continuity correction or another measure",
                        column="events_e" if num == 0 else "events_c", rule=rule)


def mantel_haenszel(events_e, n_e, events_c, n_c, *, measure: str = "OR",
                    convention: str = "meta", correction: float | None = None,
                    study_correction: float = 0.5, level: float = 0.95,
                    rr_cochrane: bool = False) -> FixedCellResult:
    """Mantel-Haenszel pooled OR, RR or RD (common-effect model).

    Mantel & Haenszel (1959); variances: Robins, Breslow & Greenland (1986) for the OR,
    Greenland & Robins (1985) for the RR and (``convention="meta"``) the RD, Sato,
    Greenland & Robins (1989) for the RD with ``convention="metafor"``.  See the module
    documentation for the two conventions and the role of ``correction`` (increment for
    tables with a zero cell in the pooled estimate; default 0.5 for meta, 0 for
    metafor) and ``study_correction`` (increment for the study estimates in Q);
    ``rr_cochrane`` computes a zero-cell study's risk ratio with n + 2 increments (R meta's
    ``RR.Cochrane = TRUE``, RevMan 5).

    >>> r = mantel_haenszel([4, 6], [100, 90], [10, 12], [100, 95])
    >>> round(math.exp(r.estimate), 4)
    0.4383
    """
    code = str(measure).upper()
    if code not in _MEASURES:
        raise SettingsError(f"unknown measure {measure!r} for Mantel-Haenszel; valid: "
                            f"{', '.join(_MEASURES)}")
    if convention not in _CONVENTIONS:
        raise SettingsError(f"unknown convention {convention!r}; valid: meta, metafor")
    if correction is None:
        correction = 0.5 if convention == "meta" else 0.0
    if correction < 0 or study_correction < 0:
        raise SettingsError("continuity corrections must be >= 0")
    zcrit = z_quantile(level)
    a, b, c, d = two_by_two(events_e, n_e, events_c, n_c)
    n1, n2 = a + b, c + d

    double0 = (a == 0) & (c == 0)
    double1 = (b == 0) & (d == 0)
    # tables entering Q: metafor's escalc(drop00 = TRUE) drops double-zero and
    # double-all tables; meta drops them for the OR, only double zeros for the RR and
    # none for the RD
    if convention == "metafor" or code == "OR":
        informative = ~(double0 | double1)
    elif code == "RR":
        informative = ~double0
    else:
        informative = np.ones(a.shape, bool)
    if convention == "meta":
        pooled = np.ones(a.shape, bool) if code == "RD" else (
            ~(double0 | double1) if code == "OR" else ~double0)
    else:
        pooled = np.ones(a.shape, bool)
    zero = ((a == 0) | (b == 0) | (c == 0) | (d == 0)) & pooled
    inc = np.where(zero, float(correction), 0.0)
    A, B, C, D = (np.where(pooled, x + inc, 0.0) for x in (a, b, c, d))
    N1, N2 = A + B, C + D
    N = np.where(pooled, N1 + N2, 1.0)

    if code == "OR":
        R, S = A * D / N, B * C / N
        P, Q = (A + D) / N, (B + C) / N
        sR, sS = R.sum(), S.sum()
        _check_ratio("odds ratio", sR, sS, "no table has events in one group and non-events "
                     "in the other (metafor's rma.mh returns NA)")
        est = math.log(sR / sS)
        var = (np.sum(P * R) / (2 * sR**2) + np.sum(P * S + Q * R) / (2 * sR * sS)
               + np.sum(Q * S) / (2 * sS**2))
        w = S
    elif code == "RR":
        R, S = A * N2 / N, C * N1 / N
        sR, sS = R.sum(), S.sum()
        _check_ratio("risk ratio", sR, sS, "no table has events (metafor's rma.mh returns NA)")
        est = math.log(sR / sS)
        var = float(np.sum(N1 * N2 * (A + C) / N**2 - A * C / N)) / (sR * sS)
        w = S
    else:  # RD
        if convention == "meta":
            # weights and study differences without the correction (meta 4.9-6)
            w = np.where(pooled, n1 * n2 / (n1 + n2), 0.0)
            diff = np.where(pooled, a / n1 - c / n2, 0.0)
            est = float(np.sum(w * diff) / w.sum())
        else:
            w = N1 * N2 / N
            est = float(np.sum(A * N2 / N - C * N1 / N) / w.sum())
        sw = float(w.sum())
        if convention == "meta":
            # Greenland & Robins (1985), cells with the correction (meta 4.9-6)
            Rv = (A * B * N2**3 + C * D * N1**3) / (N1 * N2 * N**2)
            Rv = np.where(pooled, Rv, 0.0)
            var = float(Rv.sum()) / sw**2
        else:
            # Sato, Greenland & Robins (1989)
            Pi = (N1**2 * C - N2**2 * A + N1 * N2 * (N2 - N1) / 2) / N**2
            Qi = (A * (N2 - C) + C * (N1 - A)) / (2 * N)
            var = (est * float(Pi.sum()) + float(Qi.sum())) / sw**2
    se = math.sqrt(max(var, 0.0))
    if se > 0:
        z = est / se
        p = float(2 * special.ndtr(-abs(z)))
    else:
        # no events in any table (or events only): rma.mh's result, the estimate with a
        # zero standard error, an interval of zero width and no finite z statistic
        warnings.warn("the Mantel-Haenszel variance is zero (no events, or only events, in "
                      "every table): the estimate has a confidence interval of zero width and "
                      "no test, as metafor's rma.mh reports it", MetaReviewWarning, stacklevel=2)
        z = math.copysign(math.inf, est) if est != 0 else math.nan
        p = 0.0 if est != 0 else math.nan
    yi, vi = _study_values(code, convention, a, b, c, d, float(study_correction), informative,
                           rr_cochrane)
    q, q_df, q_p, i2, h = _heterogeneity(yi, vi, est)
    w = np.where(pooled, w, np.nan)
    return FixedCellResult(
        method="MH", measure=code, convention=convention, k=int(pooled.sum()),
        estimate=est, se=se, ci_low=est - zcrit * se, ci_high=est + zcrit * se,
        statistic=z, p=p, q=q, q_df=q_df, q_p=q_p, i2=i2,
        h=h, level=level, correction=float(correction), yi=yi, vi=vi,
        weights=100 * w / np.nansum(w))


# ---------------------------------------------------------------------------------------
# adapter for metareview.api.meta (metabin(..., method="MH" | "Peto"), pool --method MH | Peto)
# ---------------------------------------------------------------------------------------

def pooled_for_analysis(settings, measure, arrays: dict, excluded: np.ndarray,
                        pooled: Pooled, effects: tuple) -> tuple[Pooled, list[str]]:
    """Mantel-Haenszel or Peto pooled values in place of the inverse-variance kernel's
    ``pooled`` (:class:`~metareview.pooling.values.Pooled`: results, printouts and the JSON
    contract are shared).

    ``MH``: the common-effect model is Mantel-Haenszel (``settings.incr_style`` chooses
    meta's or metafor's convention, ``settings.incr`` the increment for tables with a
    zero cell), Q is taken about the MH estimate (as meta and metafor print it) and I²
    and H follow from it as ``settings.i2_method`` says; the random-effects model is
    the inverse-variance model of the study estimates ``effects`` (``yi``, ``vi`` and the
    kernel's 0/1 mask) whose DerSimonian-Laird tau² comes from that Q about the MH
    estimate, as RevMan 5 and R meta (``Q.Cochrane = TRUE``, its default) compute it;
    the other tau² estimators use the study estimates alone (meta only moves the centre
    of Q for DL).  ``Peto``: every pooled quantity
    comes from Peto's study log odds ratios ``(O - E)/V`` with variances ``1/V`` (their
    inverse-variance common effect is Peto's estimate), as meta pools them.
    """
    roles = ("events_e", "n_e", "events_c", "n_c")
    method = settings.method
    if measure.design != "bin2" or not all(r in arrays for r in roles):
        raise SettingsError(f"method {method} pools two-group binary data (events_e, n_e, "
                            f"events_c, n_c), not a {measure.design} design")
    if method == "Peto" and measure.code != "OR":
        raise SettingsError(f"Peto's method estimates odds ratios (measure OR), not {measure.code}")
    if method == "MH" and measure.code not in _MEASURES:
        raise SettingsError(f"Mantel-Haenszel pools OR, RR or RD, not {measure.code}")
    if method == "MH" and settings.method_incr != "only0":
        raise SettingsError("Mantel-Haenszel adds the continuity correction only to tables with a "
                            "zero cell (continuity rule only0: --method-incr only0); for no "
                            "correction set the increment to 0 (--incr 0)")
    inc = ~np.asarray(excluded, bool)
    a, n1, c, n2 = (np.asarray(arrays[r], float)[inc] for r in roles)
    if method == "Peto":
        from .inverse_variance import pool_one
        from .peto import peto
        r = peto(a, n1, c, n2, convention=settings.incr_style, level=settings.level)
        yi, vi = _peto_study(a, n1, c, n2, inc)
        # Peto's study log odds ratios pooled with the analysis's settings (as meta does);
        # the caller has already reported the kernel's warnings for these data
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p = pool_one(yi, vi, np.isfinite(yi).astype(float),
                         method_tau2=settings.method_tau2, level=settings.level,
                         random_ci=settings.random_ci, adhoc_hakn=settings.adhoc_hakn,
                         prediction=settings.prediction, i2_method=settings.i2_method, null=measure.null)
        details = {"method": "Peto", "k": r.k,
                   "study_estimates": "(O - E)/V with variance 1/V"}
        return p.replace(common=_common(r, True), heterogeneity=replace(p.heterogeneity, q=r.q, df=r.q_df, p=r.q_p),
                         method_details=details), []
    r = mantel_haenszel(a, n1, c, n2, measure=measure.code, convention=settings.incr_style,
                        correction=settings.incr if settings.incr_style == "meta" else 0.0,
                        study_correction=settings.incr, level=settings.level,
                        rr_cochrane=settings.rr_cochrane)
    out = pooled.replace(common=_common(r, measure.null is not None), weight_common=_expand(r.weights, inc))
    if settings.method_tau2 == "DL" and settings.random:
        out = _random_about_mh(settings, measure, effects, r.estimate, out)
    out = _about_common(out, r, settings)
    details = {"method": "MH", "convention": r.convention, "correction": r.correction, "k": r.k,
               "variance": {"OR": "Robins-Breslow-Greenland", "RR": "Greenland-Robins",
                            "RD": "Greenland-Robins" if r.convention == "meta"
                            else "Sato-Greenland-Robins"}[r.measure],
               "random_effects": "inverse variance, study estimates with continuity correction"
               + ("; DerSimonian-Laird tau² from Q about the Mantel-Haenszel estimate (RevMan 5, R meta)"
                  if settings.method_tau2 == "DL" else "")}
    return out.replace(method_details=details), []


def _common(r: FixedCellResult, test: bool) -> Estimate:
    """The common-effect estimate of a fixed-cell method (no test where the measure has no null)."""
    return Estimate(r.estimate, r.se, Interval(r.ci_low, r.ci_high, r.level),
                    r.statistic if test else math.nan, r.p if test else math.nan)


def _about_common(pooled: Pooled, r: FixedCellResult, settings) -> Pooled:
    """Q about the Mantel-Haenszel estimate in place of the kernel's, and (``i2_method="q"``)
    I² and H from it with their test-based intervals."""
    het = replace(pooled.heterogeneity, q=r.q, df=r.q_df, p=r.q_p)
    if settings.i2_method == "q":
        i2, i2_ci, h, h_ci = i2_h_test_based(r.q, r.q_df + 1, settings.level)
        het = replace(het, i2=i2, i2_interval=i2_ci, h=h, h_interval=h_ci)
    return pooled.replace(heterogeneity=het)


def _random_about_mh(settings, measure, effects: tuple, estimate: float, pooled: Pooled) -> Pooled:
    """``pooled`` with the inverse-variance random-effects model whose DerSimonian-Laird tau²
    is taken from Q about the Mantel-Haenszel estimate (Deeks, Higgins & Altman, Cochrane
    Handbook ch. 10; RevMan 5; R meta 4.9-6 ``metabin(method = "MH")``): its estimate,
    prediction interval, tau² (point value) and random-effects weights, and under
    ``i2_method="tau2"`` the I² and H that follow from that tau²."""
    from .inverse_variance import pool_one
    yi, vi, mask = effects
    with warnings.catch_warnings():
        # the caller has already reported the kernel's warnings for these data
        warnings.simplefilter("ignore")
        p = pool_one(yi, vi, mask, method_tau2="DL", level=settings.level,
                     random_ci=settings.random_ci, adhoc_hakn=settings.adhoc_hakn,
                     prediction=settings.prediction, i2_method=settings.i2_method,
                     null=measure.null, tau2_ci=False, tau2_center=estimate)
    about = p.heterogeneity
    het = replace(pooled.heterogeneity, tau2=about.tau2, tau=about.tau, iterations=about.iterations,
                  converged=about.converged)
    if settings.i2_method == "tau2":
        het = replace(het, i2=about.i2, h=about.h)
    return pooled.replace(random=p.random, prediction=p.prediction, heterogeneity=het,
                          weight_random=p.weight_random)


def _expand(values: np.ndarray, inc: np.ndarray) -> np.ndarray:
    full = np.full(inc.shape, np.nan)
    full[inc] = values
    return full


def _peto_study(a, n1, c, n2, inc):
    """Peto's study log odds ratios (O - E)/V and variances 1/V over all studies."""
    from .peto import o_e_v
    oe, V = o_e_v(a, n1 - a, c, n2 - c)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (_expand(np.where(V > 0, oe / V, np.nan), inc),
                _expand(np.where(V > 0, 1.0 / V, np.nan), inc))


# ---------------------------------------------------------------------------------------
# Incidence rates and the tests rma.mh prints (metafor 3.8-1)
# ---------------------------------------------------------------------------------------

_RATE_MEASURES = ("IRR", "IRD")


def _rate_arrays(events_e, time_e, events_c, time_c):
    names = ("events_e", "time_e", "events_c", "time_c")
    arrs = [np.asarray(v, dtype=float).ravel() for v in (events_e, time_e, events_c, time_c)]
    if len({a.size for a in arrs}) != 1 or arrs[0].size == 0:
        raise DataError("events_e, time_e, events_c and time_c must be non-empty and of the same length",
                        rule="shape")
    for name, a in zip(names, arrs):
        bad = np.flatnonzero(~np.isfinite(a) | (a < 0) | ((a <= 0) if name.startswith("time") else False))
        if bad.size:
            raise DataError("must be a finite number, >= 0 for counts and > 0 for person-time",
                            study=str(bad[0]), column=name, rule="finite, events >= 0, time > 0")
    return arrs


def mantel_haenszel_rates(events_e, time_e, events_c, time_c, *, measure: str = "IRR",
                          study_correction: float = 0.5, level: float = 0.95,
                          correct: bool = True) -> FixedCellResult:
    """Mantel-Haenszel pooled incidence rate ratio or difference (common-effect model), as
    metafor's ``rma.mh(x1i, x2i, t1i, t2i, measure = "IRR" | "IRD")``.

    IRR: sum(x1 t2/T)/sum(x2 t1/T) with the variance of Greenland & Robins (1985, Biometrics
    41:55) sum(t1 t2 (x1 + x2)/T²)/(R S); IRD: the weighted difference with weights t1 t2/T
    and its Poisson variance (Rothman, Greenland & Lash 2008).  No increment enters the
    estimate; Q uses the study estimates with ``study_correction`` added to both groups of a
    study with a zero count, and leaves out studies without events.  For the IRR, the
    Mantel-Haenszel test of no effect (with continuity correction when ``correct``) is in
    :func:`mh_rate_test`.
    """
    code = str(measure).upper()
    if code not in _RATE_MEASURES:
        raise SettingsError(f"unknown measure {measure!r} for Mantel-Haenszel rates; valid: IRR, IRD")
    zcrit = z_quantile(level)
    x1, t1, x2, t2 = _rate_arrays(events_e, time_e, events_c, time_c)
    T = t1 + t2
    if code == "IRR":
        R, S = float(np.sum(x1 * t2 / T)), float(np.sum(x2 * t1 / T))
        if x1.sum() == 0 or x2.sum() == 0:
            raise DataError("the Mantel-Haenszel rate ratio is 0 or infinite (no events in one group of every "
                            "study): pool the rate difference or use a continuity correction",
                            column="events_e" if x1.sum() == 0 else "events_c", rule="MH rate ratio finite")
        est = math.log(R / S)
        se = math.sqrt(float(np.sum(t1 / T * t2 / T * (x1 + x2))) / (R * S))
        w = x2 * t1 / T
    else:
        w = t1 / T * t2
        est = float(np.sum((x1 * t2 - x2 * t1) / T) / np.sum(w))
        se = math.sqrt(float(np.sum(w ** 2 * (x1 / t1 ** 2 + x2 / t2 ** 2)))) / float(np.sum(w))
    informative = ~((x1 == 0) & (x2 == 0))
    zero = (x1 == 0) | (x2 == 0)
    a1, a2 = x1 + np.where(zero, study_correction, 0.0), x2 + np.where(zero, study_correction, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        if code == "IRR":
            yi, vi = np.log(a1 / t1) - np.log(a2 / t2), 1 / a1 + 1 / a2
        else:
            yi, vi = a1 / t1 - a2 / t2, a1 / t1 ** 2 + a2 / t2 ** 2
    yi, vi = np.where(informative, yi, np.nan), np.where(informative, vi, np.nan)
    q, q_df, q_p, i2, h = _heterogeneity(yi, vi, est)
    z = est / se
    return FixedCellResult(
        method="MH", measure=code, convention="metafor", k=int(x1.size), estimate=est, se=se,
        ci_low=est - zcrit * se, ci_high=est + zcrit * se, statistic=z, p=float(2 * special.ndtr(-abs(z))),
        q=q, q_df=q_df, q_p=q_p, i2=i2, h=h, level=level, correction=0.0, yi=yi, vi=vi,
        weights=100 * w / np.sum(w))


def mh_rate_test(events_e, time_e, events_c, time_c, *, correct: bool = True) -> dict:
    """Mantel-Haenszel test of a common rate ratio of 1 (chi² with 1 df), as ``rma.mh``
    prints it for the IRR: (|sum(x1 - (x1 + x2) t1/T)| - 0.5)² / sum((x1 + x2) t1 t2/T²)."""
    x1, t1, x2, t2 = _rate_arrays(events_e, time_e, events_c, time_c)
    T, xt = t1 + t2, x1 + x2
    if xt.sum() == 0:
        return {"mh": None, "mh_df": 1, "mh_p": None}
    mh = (abs(float(np.sum(x1 - xt * t1 / T))) - (0.5 if correct else 0.0)) ** 2 / float(np.sum(xt * t1 / T * t2 / T))
    return {"mh": mh, "mh_df": 1, "mh_p": float(special.chdtrc(1, mh))}


def cmh_tarone(events_e, n_e, events_c, n_c, *, correct: bool = True) -> dict:
    """The Cochran-Mantel-Haenszel test of a common odds ratio of 1 (Mantel & Haenszel 1959;
    continuity correction when ``correct``) and Tarone's (1985, Biometrika 72:91) test of
    homogeneity of the odds ratios, from the raw 2x2 tables, as ``rma.mh`` prints them.

    Tarone's statistic is the Breslow-Day statistic at the Mantel-Haenszel odds ratio
    minus its correction; tables whose expected cell is not positive, or without events or
    non-events, are left out (df = their number - 1).
    """
    a, b, c, d = two_by_two(events_e, n_e, events_c, n_c)
    n1, n2 = a + b, c + d
    N = n1 + n2
    xt, yt = a + c, b + d
    out: dict[str, Any] = {"cmh": None, "cmh_df": 1, "cmh_p": None, "tarone": None, "tarone_df": None,
                           "tarone_p": None}
    if xt.sum() > 0 and yt.sum() > 0:
        cmh = ((abs(float(np.sum(a - n1 / N * xt))) - (0.5 if correct else 0.0)) ** 2
               / float(np.sum(n1 / N * (n2 / N) * (xt * (yt / (N - 1))))))
        out.update(cmh=cmh, cmh_p=float(special.chdtrc(1, cmh)))
    R, S = float(np.sum(a / N * d)), float(np.sum(b / N * c))
    if R == 0 or S == 0:
        return out
    psi = R / S
    if psi == 1:
        n11 = n1 / N * xt
    else:
        big_a = psi * (n1 + xt) + (n2 - xt)
        n11 = (big_a - np.sqrt(big_a ** 2 - 4 * n1 * xt * psi * (psi - 1))) / (2 * (psi - 1))
    pos = (n11 > 0) & (xt > 0) & (yt > 0)
    e11 = n11[pos]
    e12, e21 = n1[pos] - e11, xt[pos] - e11
    e22 = e11 - n1[pos] - xt[pos] + N[pos]
    inv = 1 / (1 / e11 + 1 / e12 + 1 / e21 + 1 / e22)
    bd = max(0.0, float(np.sum((a[pos] - e11) ** 2 / inv)))
    ta = max(0.0, bd - float(np.sum(a[pos] - e11)) ** 2 / float(np.sum(inv)))
    k_pos = int(pos.sum())
    out.update(tarone=ta, tarone_df=k_pos - 1, tarone_p=float(special.chdtrc(k_pos - 1, ta)) if k_pos > 1 else None)
    return out


def pooled_rates_for_analysis(settings, measure, arrays: dict, excluded: np.ndarray,
                              pooled: Pooled) -> tuple[Pooled, list[str]]:
    """``method="MH"`` for two-group incidence rates: the Mantel-Haenszel common effect
    (:func:`mantel_haenszel_rates`), Q about it, and the inverse-variance random-effects
    model of the study estimates, in place of the kernel's values."""
    roles = ("events_e", "time_e", "events_c", "time_c")
    if measure.code not in _RATE_MEASURES:
        raise SettingsError(f"Mantel-Haenszel pools incidence rates as IRR or IRD, not {measure.code}")
    if settings.method_incr != "only0":
        raise SettingsError("the Mantel-Haenszel study estimates for Q take the increment only in studies with a "
                            "zero count (method_incr='only0'); use incr=0 for none")
    inc = ~np.asarray(excluded, bool)
    x1, t1, x2, t2 = (np.asarray(arrays[r], float)[inc] for r in roles)
    r = mantel_haenszel_rates(x1, t1, x2, t2, measure=measure.code, study_correction=settings.incr,
                              level=settings.level)
    out = _about_common(pooled.replace(common=_common(r, True), weight_common=_expand(r.weights, inc)), r, settings)
    details = {"method": "MH", "convention": "metafor", "correction": 0.0, "k": r.k,
               "variance": "Greenland-Robins" if measure.code == "IRR" else "Poisson",
               "random_effects": "inverse variance, study estimates with continuity correction"}
    if measure.code == "IRR":
        details.update(mh_rate_test(x1, t1, x2, t2))
    return out.replace(method_details=details), []
