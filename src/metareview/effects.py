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
  ROM (Hedges, Gurevitch & Curtis 1999), OR, RR, RD (Cooper & Hedges 1994).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
from scipy import special

from .exceptions import DataError, SettingsError
from .measures import DESIGNS, Measure, get_measure

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


def escalc(measure: str | Measure, data: Mapping[str, object], *, incr: float = 0.5,
           method_incr: str = "only0", incr_style: str = "meta", exact_smd: bool = True,
           studlab=None, validate: bool = True, rr_cochrane: bool = False) -> EffectSizes:
    """Compute study effect sizes ``yi`` and sampling variances ``vi``.

    ``data`` maps metareview's column roles (see :data:`metareview.measures.DESIGNS`) to
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
    g = arr.get
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
        else:
            r = g("r")
            if r is None:
                raise DataError(f"measure {m.code} needs the pre/post correlation: add a column 'r'",
                                column="r", rule="missing column")
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
    elif d == "generic":
        yi = g("yi")
        vi = g("vi") if g("vi") is not None else g("sei") ** 2
        a = np.zeros(yi.shape)
    else:  # pragma: no cover - designs are closed over MEASURES
        raise SettingsError(f"design {d!r} has no effect-size formula")
    return EffectSizes(m, np.asarray(yi, float), np.asarray(vi, float), np.asarray(a, float),
                       None if n_tot is None else np.asarray(n_tot, float), extra)


def design_of(measure: str | Measure, columns) -> str:
    """The design a measure is computed for: MD on pre/post columns is the paper's
    follow-up minus baseline difference treated as two independent groups."""
    m = get_measure(measure)
    if m.code == "MD" and "mean_pre" in columns:
        return "prepost"
    return m.design


def required_columns(measure: str | Measure, columns=()) -> tuple[str, ...]:
    """The data columns a measure needs (``r`` for MC/SMCC/SMCR; ``vi`` or ``sei`` for GEN)."""
    m = get_measure(measure)
    d = design_of(m, columns)
    cols = DESIGNS[d]
    if d == "prepost" and m.code != "MD":
        cols = cols + ("r",)
    if d == "generic":
        cols = cols + (("sei",) if "sei" in columns and "vi" not in columns else ("vi",))
    return cols
