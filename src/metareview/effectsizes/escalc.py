"""Study effect sizes: ``(yi, vi)`` from what studies report, as metafor's ``escalc``.

Every function works on numpy arrays of any shape (studies, or analyses x studies), so
the batch engine and a single analysis share this code.  Formulas:

* single proportions (PR, PLO, PLN, PAS, PFT): Freeman & Tukey (1950), Miller (1978);
  continuity correction as R meta (0.5 added only to studies with 0 or n events, for
  PR keeping the uncorrected estimate, and never for PAS/PFT) or as metafor's ``escalc``
  (``incr_style="metafor"``: corrected counts for estimate and variance of every measure);
  PLN's variance as Hartung & Knapp (2001, Stat Med 20:3875, eq. 18);
* means (MN, MNLN) and pre/post designs (MC, SMCC, SMCR: Becker 1988; Gibbons et al. 1993);
* two independent groups: MD, SMD (Hedges 1981, exact small-sample correction, or
  R meta's approximation J = 1 - 3/(4N - 9) with variance N/(n1 n2) + g^2/(2(N - 3.94))),
  ROM (Hedges, Gurevitch & Curtis 1999), OR, RR, RD (Cooper & Hedges 1994); SMDH, the
  SMD with heteroscedastic SDs (Bonett 2008, Psychol Methods 13:99); the variability
  ratios VR and CVR (Nakagawa et al. 2015, Methods Ecol Evol 6:143);
* paired designs: ROMC (Lajeunesse 2011, Ecology 92:2049) and SMCRH (Bonett 2008);
* two-group incidence rates: IRR, IRD and IRSD (Rothman, Greenland & Lash 2008);
* correlations: COR, UCOR (Olkin & Pratt 1958, Ann Math Stat 29:201, exact
  hypergeometric correction), ZCOR (Fisher 1921); partial and semi-partial correlations
  from a regression's t statistic: PCOR, ZPCOR, SPCOR (Aloe & Becker 2012, J Educ Behav
  Stat 37:278; Aloe & Thompson 2013).

Every formula is metafor 3.8-1's ``escalc`` with its default ``vtype = "LS"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
from scipy import special

from ..base.exceptions import DataError, SettingsError
from .measures import Measure, design_of, get_measure

__all__ = ["EffectSizes", "escalc", "hedges_j", "INCR_METHODS"]

INCR_METHODS = ("only0", "if0all", "all", "none")


@dataclass(frozen=True)
class EffectSizes:
    """Effect sizes on the analysis scale with what is needed to back-transform them."""

    measure: Measure
    yi: np.ndarray
    vi: np.ndarray
    incr: np.ndarray  # continuity correction added to each study's cells (0 where none)
    n: np.ndarray | None = None  # total sample size per study (Freeman-Tukey, weights)
    extra: dict = field(default_factory=dict)


def hedges_j(df, exact: bool = True):
    """Small-sample correction of Hedges (1981): exact gamma form, or 1 - 3/(4 df - 1)."""
    df = np.asarray(df, dtype=float)
    if exact:
        with np.errstate(invalid="ignore"):
            return np.exp(special.gammaln(df / 2) - 0.5 * np.log(df / 2) - special.gammaln((df - 1) / 2))
    return 1 - 3 / (4 * df - 1)


def _incr_for(sel: np.ndarray, incr: float, method_incr: str) -> np.ndarray:
    """Per-study increment: R meta's ``method.incr`` rules, applied row-wise in a batch."""
    if method_incr not in INCR_METHODS:
        raise SettingsError(f"unknown continuity-correction rule {method_incr!r}; "
                            f"valid rules are: {', '.join(INCR_METHODS)}")
    if method_incr == "none" or incr == 0:
        return np.zeros(sel.shape)
    if method_incr == "all":
        return np.full(sel.shape, float(incr))
    if method_incr == "if0all":
        any_sel = sel.any(axis=-1, keepdims=True)
        return np.where(np.broadcast_to(any_sel, sel.shape), float(incr), 0.0)
    return np.where(sel, float(incr), 0.0)


def _proportion(m: Measure, x, n, incr, method_incr, incr_style):
    sel = (x == 0) | (x == n)
    if incr_style == "meta" and m.code in ("PAS", "PFT"):
        a = np.zeros(x.shape)
    else:
        a = _incr_for(sel, incr, method_incr)
    with np.errstate(divide="ignore", invalid="ignore"):
        if incr_style == "metafor":
            xc, nc = x + a, n + 2 * a
            p = xc / nc
            if m.code == "PR":
                return p, p * (1 - p) / nc, a
            if m.code == "PLN":
                return np.log(p), 1 / xc - 1 / nc, a
            if m.code == "PLO":
                return np.log(xc / (nc - xc)), 1 / xc + 1 / (nc - xc), a
            if m.code == "PAS":
                return np.arcsin(np.sqrt(p)), 1 / (4 * nc), a
            return (0.5 * (np.arcsin(np.sqrt(xc / (nc + 1))) + np.arcsin(np.sqrt((xc + 1) / (nc + 1)))),
                    1 / (4 * nc + 2), a)
        if m.code == "PR":
            return x / n, (x + a) * (n - x + a) / (n + 2 * a) ** 3, a
        if m.code == "PLO":
            return np.log((x + a) / (n - x + a)), 1 / (x + a) + 1 / (n - x + a), a
        if m.code == "PLN":
            vi = np.where(x == n, 1 / x - 1 / (n + a), 1 / (x + a) - 1 / (n + a))
            return np.log((x + a) / (n + a)), vi, a
        if m.code == "PAS":
            return np.arcsin(np.sqrt(x / n)), 1 / (4 * n), a
        return (0.5 * (np.arcsin(np.sqrt(x / (n + 1))) + np.arcsin(np.sqrt((x + 1) / (n + 1)))),
                1 / (4 * n + 2), a)


def _binary(m: Measure, a1, n1, c1, n2, incr, method_incr, incr_style, rr_cochrane=False):
    b1, d1 = n1 - a1, n2 - c1
    sel = (a1 == 0) | (b1 == 0) | (c1 == 0) | (d1 == 0)
    a = _incr_for(sel, incr, method_incr)
    with np.errstate(divide="ignore", invalid="ignore"):
        if m.code == "OR":
            yi = np.log((a1 + a) * (d1 + a) / ((b1 + a) * (c1 + a)))
            vi = 1 / (a1 + a) + 1 / (b1 + a) + 1 / (c1 + a) + 1 / (d1 + a)
        elif m.code == "RR":
            if incr_style == "meta" and not rr_cochrane:
                allev = (a1 == n1) & (c1 == n2)
                yi = np.log((a1 + a) / (n1 + a)) - np.log((c1 + a) / (n2 + a))
                vi = (1 / (a1 + a * ~allev) - 1 / (n1 + a) + 1 / (c1 + a * ~allev) - 1 / (n2 + a))
            else:  # metafor, and R meta's RR.Cochrane = TRUE (RevMan): n + 2 incr
                yi = np.log((a1 + a) / (n1 + 2 * a)) - np.log((c1 + a) / (n2 + 2 * a))
                vi = 1 / (a1 + a) - 1 / (n1 + 2 * a) + 1 / (c1 + a) - 1 / (n2 + 2 * a)
        else:  # RD
            p1c, p2c = (a1 + a) / (n1 + 2 * a), (c1 + a) / (n2 + 2 * a)
            yi = a1 / n1 - c1 / n2 if incr_style == "meta" else p1c - p2c
            vi = p1c * (1 - p1c) / (n1 + 2 * a) + p2c * (1 - p2c) / (n2 + 2 * a)
    return yi, vi, a


def _needs_r(m: Measure, r):
    if r is None:
        raise DataError(f"measure {m.code} needs the pre/post correlation: add a column 'r'",
                        column="r", rule="missing column")
    return r


def _cont2_spread(code, m1, s1, n1, m2, s2, n2):
    """SMDH (Bonett 2008: the mean difference over the root mean of the two variances, with
    the exact Hedges correction for N - 2 df), CVR and VR (log ratios of coefficients of
    variation and of SDs with their small-sample terms 1/(2(n - 1)); Nakagawa et al. 2015)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if code == "SMDH":
            j = hedges_j(n1 + n2 - 2, True)
            v1, v2 = s1 ** 2, s2 ** 2
            yi = j * (m1 - m2) / np.sqrt((v1 + v2) / 2)
            vi = j ** 2 * (yi ** 2 * (v1 ** 2 / (n1 - 1) + v2 ** 2 / (n2 - 1)) / (2 * (v1 + v2) ** 2)
                           + (v1 / (n1 - 1) + v2 / (n2 - 1)) / ((v1 + v2) / 2))
            return yi, vi
        c1, c2 = 1 / (2 * (n1 - 1)), 1 / (2 * (n2 - 1))
        if code == "VR":
            return np.log(s1 / s2) + c1 - c2, c1 + c2
        yi = np.log(s1 / m1) + c1 - np.log(s2 / m2) - c2
        return yi, c1 + s1 ** 2 / (n1 * m1 ** 2) + c2 + s2 ** 2 / (n2 * m2 ** 2)


def _paired(code, m1, s1, m0, s0, n, r):
    """Paired means, follow-up (m1, s1) against baseline (m0, s0): ROMC, the log ratio of
    means with the covariance term (Lajeunesse 2011), or SMCRH, the change standardised by
    the baseline SD with the variance of Bonett (2008) that does not assume equal SDs."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if code == "ROMC":
            return (np.log(m1 / m0),
                    s1 ** 2 / (n * m1 ** 2) + s0 ** 2 / (n * m0 ** 2) - 2 * r * s1 * s0 / (m1 * m0 * n))
        j = hedges_j(n - 1, True)
        var_change = s0 ** 2 + s1 ** 2 - 2 * r * s0 * s1
        yi = j * (m1 - m0) / s0
        return yi, j ** 2 * (var_change / (s0 ** 2 * (n - 1)) + yi ** 2 / (2 * (n - 1)))


def _rate2(code, x1, t1, x2, t2, incr, method_incr):
    """Two-group incidence rates: log rate ratio (IRR), rate difference (IRD) with Poisson
    variances, and the difference of square-root rates (IRSD, variance-stabilised, no
    increment as in ``escalc``).  The increment goes to both groups of a study with a zero
    count (``only0``), as metafor's ``add``/``to``."""
    sel = (x1 == 0) | (x2 == 0)
    a = _incr_for(sel, incr, method_incr) if code != "IRSD" else np.zeros(np.shape(x1))
    x1a, x2a = x1 + a, x2 + a
    with np.errstate(divide="ignore", invalid="ignore"):
        if code == "IRR":
            return np.log(x1a / t1) - np.log(x2a / t2), 1 / x1a + 1 / x2a, a
        if code == "IRD":
            return x1a / t1 - x2a / t2, x1a / t1 ** 2 + x2a / t2 ** 2, a
        return np.sqrt(x1 / t1) - np.sqrt(x2 / t2), 1 / (4 * t1) + 1 / (4 * t2), a


def _correlation(code, r, n):
    """COR (raw r), UCOR (Olkin & Pratt's unbiased r, by the Gauss hypergeometric function)
    with variance (1 - r²)²/(n - 1) of the (corrected) estimate, and ZCOR (Fisher's z,
    variance 1/(n - 3)).  As ``escalc``, no variance for n <= 3 and no UCOR for n <= 4."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if code == "ZCOR":
            yi, vi = np.arctanh(r), 1 / (n - 3)
        else:
            if code == "UCOR":
                g = (n - 2) / 2
                yi = np.where(g > 1, r * _hyp2f1_halves(np.where(g > 1, g, 2.0), 1 - r ** 2), np.nan)
            else:
                yi = r.astype(float)
            vi = (1 - yi ** 2) ** 2 / (n - 1)
    return yi, np.where(n <= 3, np.nan, vi)


def _hyp2f1_halves(c, x):
    """Gauss' hypergeometric function 2F1(1/2, 1/2; c; x) for 0 <= x <= 1 and c > 1.

    scipy's general routine returns NaN for some large c with x near 1 (large samples with
    small correlations); there the power series is summed directly, which converges fast
    because its term ratio (k + 1/2)² x / ((c + k)(k + 1)) is small when c is large.
    """
    c, x = np.broadcast_arrays(np.asarray(c, float), np.asarray(x, float))
    out = np.array(special.hyp2f1(0.5, 0.5, c, x), dtype=float)
    bad = ~np.isfinite(out)
    if bad.any():
        cb, xb = c[bad], x[bad]
        term = np.ones(cb.shape)
        total = np.ones(cb.shape)
        for k in range(100000):
            term = term * (k + 0.5) ** 2 / ((cb + k) * (k + 1)) * xb
            total = total + term
            if np.all(np.abs(term) <= 1e-17 * total):
                break
        out[bad] = total
    return out


def _partial_correlation(code, t, n, predictors, r2):
    """Partial correlations from the t statistic of a coefficient in a regression with
    ``predictors`` predictors on n observations (df = n - predictors - 1): PCOR
    t / sqrt(t² + df) with variance (1 - r²)²/df, ZPCOR its Fisher z with variance 1/df,
    and SPCOR, the semi-partial correlation t sqrt(1 - R²)/sqrt(df) with the variance of
    Aloe & Becker (2012), which needs the model's R² (column ``r2``)."""
    df = n - predictors - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        if code == "SPCOR":
            if r2 is None:
                raise DataError("measure SPCOR needs the regression's R²: add a column 'r2'", column="r2",
                                rule="missing column")
            yi = t * np.sqrt(1 - r2) / np.sqrt(df)
            return yi, (r2 ** 2 - 2 * r2 + (r2 - yi ** 2) + 1 - (r2 - yi ** 2) ** 2) / n
        yi = t / np.sqrt(t ** 2 + df)
        if code == "ZPCOR":
            return np.arctanh(yi), 1 / df
        return yi, (1 - yi ** 2) ** 2 / df


def escalc(measure: str | Measure, data: Mapping[str, object], *, incr: float = 0.5,
           method_incr: str = "only0", incr_style: str = "meta", exact_smd: bool = True,
           studlab=None, validate: bool = True, rr_cochrane: bool = False) -> EffectSizes:
    """Compute study effect sizes ``yi`` and sampling variances ``vi``.

    ``data`` maps metareview's column roles (see :data:`metareview.effectsizes.measures.DESIGNS`) to
    arrays.  ``incr``/``method_incr`` are R meta's ``incr``/``method.incr``;
    ``incr_style`` chooses meta's (default) or metafor's way of applying it;
    ``exact_smd`` chooses the exact Hedges correction (metafor) or meta's approximation;
    ``rr_cochrane`` adds twice the increment to the group sizes of a zero-cell study's
    risk ratio under meta's convention (R meta's ``RR.Cochrane = TRUE``, RevMan 5).

    >>> es = escalc("PLO", {"events": [8, 26], "n": [10, 31]})
    >>> [round(v, 4) for v in es.yi]
    [1.3863, 1.6487]
    """
    m = get_measure(measure)
    if incr_style not in ("meta", "metafor"):
        raise SettingsError(f"unknown incr_style {incr_style!r}; valid: meta, metafor")
    if isinstance(incr, bool) or not np.isfinite(float(incr)) or float(incr) < 0:
        raise SettingsError(f"the continuity correction must be a non-negative number, not {incr!r}")
    arr = {k: np.asarray(v, dtype=float) for k, v in data.items() if v is not None}
    if validate:
        from .validate import validate_design
        validate_design(m, arr, studlab)
    d = design_of(m, arr)
    g: Callable[[str], Any] = arr.get   # a column, None where the measure does not use it
    n_tot = None
    extra: dict = {}
    if d == "proportion":
        yi, vi, a = _proportion(m, g("events"), g("n"), incr, method_incr, incr_style)
        n_tot = g("n")
    elif d == "mean":
        mean, sd, n = g("mean"), g("sd"), g("n")
        a = np.zeros(mean.shape)
        if m.code == "MN":
            yi, vi = mean, sd ** 2 / n
        else:
            yi, vi = np.log(mean), sd ** 2 / (n * mean ** 2)
        n_tot = n
    elif d == "prepost":
        m1, s1, m0, s0, n = g("mean_post"), g("sd_post"), g("mean_pre"), g("sd_pre"), g("n")
        a = np.zeros(m1.shape)
        n_tot = n
        if m.code == "MD":
            yi, vi = m1 - m0, s1 ** 2 / n + s0 ** 2 / n
        elif m.code in ("ROMC", "SMCRH"):
            yi, vi = _paired(m.code, m1, s1, m0, s0, n, _needs_r(m, g("r")))
        else:
            r = _needs_r(m, g("r"))
            sd_change = np.sqrt(s1 ** 2 + s0 ** 2 - 2 * r * s1 * s0)
            if m.code == "MC":
                yi, vi = m1 - m0, sd_change ** 2 / n
            elif m.code == "SMCC":
                yi = hedges_j(n - 1, exact_smd) * (m1 - m0) / sd_change
                vi = 1 / n + yi ** 2 / (2 * n)
            else:  # SMCR, standardised by the baseline SD (Becker 1988)
                yi = hedges_j(n - 1, exact_smd) * (m1 - m0) / s0
                vi = 2 * (1 - r) / n + yi ** 2 / (2 * n)
    elif d == "cont2":
        m1, s1, n1 = g("mean_e"), g("sd_e"), g("n_e")
        m2, s2, n2 = g("mean_c"), g("sd_c"), g("n_c")
        a = np.zeros(m1.shape)
        n_tot = n1 + n2
        if m.code == "MD":
            yi, vi = m1 - m2, s1 ** 2 / n1 + s2 ** 2 / n2
        elif m.code in ("SMDH", "CVR", "VR"):
            yi, vi = _cont2_spread(m.code, m1, s1, n1, m2, s2, n2)
        elif m.code == "ROM":
            yi = np.log(m1 / m2)
            vi = s1 ** 2 / (n1 * m1 ** 2) + s2 ** 2 / (n2 * m2 ** 2)
        else:
            big_n = n1 + n2
            sdp = np.sqrt(((n1 - 1) * s1 ** 2 + (n2 - 1) * s2 ** 2) / (big_n - 2))
            if exact_smd:
                yi = hedges_j(big_n - 2, True) * (m1 - m2) / sdp
                vi = 1 / n1 + 1 / n2 + yi ** 2 / (2 * big_n)
            else:
                yi = (1 - 3 / (4 * big_n - 9)) * (m1 - m2) / sdp
                vi = big_n / (n1 * n2) + yi ** 2 / (2 * (big_n - 3.94))
    elif d == "bin2":
        yi, vi, a = _binary(m, g("events_e"), g("n_e"), g("events_c"), g("n_c"),
                            incr, method_incr, incr_style, rr_cochrane)
        n_tot = g("n_e") + g("n_c")
    elif d == "rate":
        from .rates import rate_yi_vi
        # as R meta's metarate and metafor's escalc: the increment goes to zero-event
        # studies for IR and IRLN; IRS and IRFT are defined at zero events
        add = incr if m.code in ("IR", "IRLN") else 0.0
        to = "none" if method_incr == "none" else method_incr
        events = g("events")
        yi, vi = rate_yi_vi(m.code, events, g("time"), add=add, to=to)
        a = _incr_for(events == 0, add, method_incr) if add > 0 else np.zeros(events.shape)
        n_tot = g("time")
    elif d == "rate2":
        yi, vi, a = _rate2(m.code, g("events_e"), g("time_e"), g("events_c"), g("time_c"), incr, method_incr)
        n_tot = g("time_e") + g("time_c")
    elif d == "cor":
        yi, vi = _correlation(m.code, g("cor"), g("n"))
        a = np.zeros(yi.shape)
        n_tot = g("n")
    elif d == "pcor":
        yi, vi = _partial_correlation(m.code, g("tstat"), g("n"), g("predictors"), g("r2"))
        a = np.zeros(yi.shape)
        n_tot = g("n")
    elif d == "generic":
        yi = g("yi")
        vi = g("vi") if g("vi") is not None else g("sei") ** 2
        a = np.zeros(yi.shape)
    else:  # pragma: no cover - designs are closed over MEASURES
        raise SettingsError(f"design {d!r} has no effect-size formula")
    return EffectSizes(m, np.asarray(yi, float), np.asarray(vi, float), np.asarray(a, float),
                       None if n_tot is None else np.asarray(n_tot, float), extra)


