"""Effect measures: one table, one entry per measure, each owning its formula.

A :class:`Measure` is everything metareview knows about an effect measure: its code (metafor's
``escalc`` codes, version 3.8-1, case-insensitive, with R meta's aliases ``PLOGIT``, ``PRAW``,
``MRAW``, ``MLN``), the study design and columns it is computed from, the function that computes
``(yi, vi)`` from those columns, the scale it is pooled on and the back-transformation to the
natural scale, its null value on the analysis scale (None where there is no natural null, as for
single proportions and means: R meta then reports no test of the pooled estimate), its
continuity-correction behaviour and the labels that printouts and figures use.  The table
:data:`MEASURES` is built by :func:`register`-ing each measure below its formula; escalc, the
input rules, the analysis functions' messages and the measures table of the documentation
(``docs/_ext/measures_table.py``) are read from it, and the command line's ``--measure`` values are
checked against it.

The formulas are metafor's ``escalc`` with its default ``vtype = "LS"``; their sources are cited
at each family: single proportions, Freeman & Tukey (1950, Ann Math Stat 21:607), Miller (1978,
Am Stat 32:138), Hartung & Knapp (2001, Stat Med 20:3875, eq. 18, PLN's variance); means and
pre/post designs, Becker (1988, Br J Math Stat Psychol 41:257), Gibbons et al. (1993);
two independent groups, Hedges (1981, J Educ Stat 6:107), Hedges, Gurevitch & Curtis (1999,
Ecology 80:1150), Cooper & Hedges (1994), Bonett (2008, Psychol Methods 13:99), Nakagawa et al.
(2015, Methods Ecol Evol 6:143); paired designs, Lajeunesse (2011, Ecology 92:2049); incidence
rates, Rothman, Greenland & Lash (2008, Modern Epidemiology); correlations, Fisher (1921),
Olkin & Pratt (1958, Ann Math Stat 29:201), Aloe & Becker (2012, J Educ Behav Stat 37:278).
The Freeman-Tukey back-transformation is the inverse of Miller (1978), with the harmonic mean of
the sample sizes for pooled values as R meta and metafor's ``transf.ipft.hm``; Fisher's z goes
back to a correlation by tanh (metafor's ``transf.ztor``).

**Adding a measure** is one unit in this file plus its reference test:

1. In this file, write its formula: a function ``formula(m, design, x, options)`` taking the
   :class:`Measure`, the design the columns give, the columns (role -> float array, any shape:
   studies, or analyses x studies) and the :class:`EffectOptions`, and returning
   ``(yi, vi, incr)`` (``incr``: the continuity correction added to each study, or None for
   none).  A measure of an existing family adds a branch to that family's function instead.
2. Below it, ``register(Measure(code, design, label, scale, null, formula, ...))``: the design
   (a key of :data:`DESIGNS`) and any further required column (``requires``), the labels, the
   continuity-correction behaviour (a key of :data:`CONTINUITY`), the input rules it adds
   (``positive_means``, ``min_n``) and, for a scale not in :data:`BACKTRANSFORMS`, its own
   back-transformation (``back``).
3. Add its reference test: R's ``escalc``/``rma`` values from a script in ``tests/r/`` as a JSON
   fixture, compared at 1e-8 (``tests/toolkit/test_measures_reference.py`` shows the pattern),
   then regenerate the documentation's table (``python docs/_ext/measures_table.py``) and add
   the code to the command line's value list (``metareview.cli._help.MEASURES``; a test fails
   until both agree with this table).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np
from scipy import special

from ..base.exceptions import DataError, SettingsError

__all__ = ["Measure", "EffectOptions", "get_measure", "register", "MEASURES", "DESIGNS", "CONTINUITY",
           "BACKTRANSFORMS", "INCR_METHODS", "DEFAULT_MEASURE", "backtransform", "design_of",
           "required_columns", "design_columns", "measures_for", "study_size", "hedges_j", "pft", "ipft"]

#: Study designs and the data columns each needs (further columns a measure needs are its
#: ``Measure.requires``).
DESIGNS: dict[str, tuple[str, ...]] = {
    "proportion": ("events", "n"),
    "mean": ("mean", "sd", "n"),
    "prepost": ("mean_pre", "sd_pre", "mean_post", "sd_post", "n"),
    "cont2": ("mean_e", "sd_e", "n_e", "mean_c", "sd_c", "n_c"),
    "bin2": ("events_e", "n_e", "events_c", "n_c"),
    "generic": ("yi",),
    "rate": ("events", "time"),
    "rate2": ("events_e", "time_e", "events_c", "time_c"),
    "cor": ("cor", "n"),
    "pcor": ("tstat", "n", "predictors"),
}

#: The columns whose sum is a study's size (weights of the Freeman-Tukey back-transformation,
#: sample sizes in reports): persons, or person-time for rates.
_SIZE_COLUMNS: dict[str, tuple[str, ...]] = {
    "proportion": ("n",), "mean": ("n",), "prepost": ("n",), "cont2": ("n_e", "n_c"), "bin2": ("n_e", "n_c"),
    "generic": (), "rate": ("time",), "rate2": ("time_e", "time_c"), "cor": ("n",), "pcor": ("n",),
}

#: Continuity-correction behaviours: which studies receive the increment ``incr`` (spread over
#: them by ``method_incr``, R meta's ``method.incr``): those with a zero count (no events or, for
#: proportions and two groups, no non-events), the same only with ``incr_style="metafor"``, or none.
CONTINUITY: dict[str, str] = {
    "zero cell": "zero counts",
    "metafor only": "zero counts, metafor style only",
    "none": "none",
}

#: R meta's ``method.incr`` rules.
INCR_METHODS = ("only0", "if0all", "all", "none")


@dataclass(frozen=True)
class EffectOptions:
    """How effect sizes are computed where R meta and metafor leave a choice (see :func:`escalc`)."""

    incr: float = 0.5
    method_incr: str = "only0"
    incr_style: str = "meta"
    exact_smd: bool = True
    rr_cochrane: bool = False


Formula = Callable[["Measure", str, Mapping[str, np.ndarray], EffectOptions], tuple]


@dataclass(frozen=True)
class Measure:
    """An effect measure: what a study contributes, how, and on which scale it is pooled.

    ``label`` is the long name (printouts, reports); ``short_label`` heads the forest plot's
    estimate column; ``axis_label`` names the forest plot's axis (default: the long name, without
    its parenthesis for back-transformed measures); ``result_label`` heads the estimates in a
    printed result (default: the code).  ``also`` lists further designs the measure is computed
    for, chosen when the columns of that design's first role are present (MD on pre/post
    columns).  ``requires`` are columns needed beyond the design's.  ``ratio``: the natural
    scale is a ratio (drawn on a log axis, relative effects in GRADE).
    """

    code: str
    design: str
    label: str
    scale: str  # a key of BACKTRANSFORMS
    null: float | None
    formula: Formula = field(repr=False)
    aliases: tuple[str, ...] = ()
    short_label: str = ""
    axis_label: str = ""
    result_label: str = ""
    requires: tuple[str, ...] = ()
    also: tuple[str, ...] = ()
    continuity: str = "none"  # a key of CONTINUITY
    ratio: bool = False
    positive_means: bool = False  # computed on the log scale of means
    min_n: int = 0  # least number of observations per study
    default_for: tuple[str, ...] = ()  # designs whose default measure this is
    back: Callable | None = field(default=None, repr=False)

    def __post_init__(self):
        if self.design not in DESIGNS or not set(self.also) <= set(DESIGNS):
            raise SettingsError(f"measure {self.code}: unknown design {self.design!r}; designs: {', '.join(DESIGNS)}")
        if self.back is None and self.scale not in BACKTRANSFORMS:
            raise SettingsError(f"measure {self.code}: no back-transformation for scale {self.scale!r}; give back= or "
                                f"a scale of {', '.join(BACKTRANSFORMS)}")
        if self.continuity not in CONTINUITY:
            raise SettingsError(f"measure {self.code}: unknown continuity correction {self.continuity!r}; "
                                f"valid: {', '.join(CONTINUITY)}")
        if self.back is None:
            object.__setattr__(self, "back", BACKTRANSFORMS[self.scale])
        if not self.short_label:
            object.__setattr__(self, "short_label", self.code)
        if not self.axis_label:
            object.__setattr__(self, "axis_label", self.label.split(" (")[0] if self.transformed else self.label)
        if not self.result_label:
            object.__setattr__(self, "result_label", self.code)

    @property
    def analysis_label(self) -> str:
        """What the values on the analysis scale are called, for an axis that shows them
        untransformed: "Log risk ratio" for a measure pooled on the log scale (R meta's and
        metafor's "Log Risk Ratio"), else the long name, which names its transformation."""
        if self.scale == "log":
            return "Log " + self.axis_label[:1].lower() + self.axis_label[1:]
        return self.label

    @property
    def transformed(self) -> bool:
        """Whether results are back-transformed for display."""
        return self.scale != "identity"

    @property
    def designs(self) -> tuple[str, ...]:
        """Every design the measure is computed for."""
        return (self.design, *self.also)

    @property
    def natural_null(self) -> float | None:
        if self.null is None:
            return None
        return float(backtransform(self, np.asarray(self.null)))


#: The measures by code, in the order of the documentation's table.
MEASURES: dict[str, Measure] = {}
_ALIASES: dict[str, str] = {}


def register(measure: Measure) -> Measure:
    """Add ``measure`` to :data:`MEASURES` (its code and aliases become valid everywhere).

    A code or alias that is already taken is refused: a measure is never replaced silently.
    """
    taken = [name for name in (measure.code, *measure.aliases) if name.upper() in _ALIASES]
    if taken:
        raise SettingsError(f"measure code or alias {taken[0]!r} is already registered")
    MEASURES[measure.code] = measure
    for name in (measure.code, *measure.aliases):
        _ALIASES[name.upper()] = measure.code
    return measure


def get_measure(code: str | Measure) -> Measure:
    """Look a measure up by its code or alias, case-insensitively."""
    if isinstance(code, Measure):
        return code
    exact = MEASURES.get(code) if type(code) is str else None  # a code as registered (what results keep)
    if exact is not None:
        return exact
    key = str(code).strip().upper()
    if key not in _ALIASES:
        valid = ", ".join(sorted(_ALIASES))
        raise SettingsError(f"unknown measure {code!r}; valid measures are: {valid}")
    return MEASURES[_ALIASES[key]]


def measures_for(design: str) -> tuple[Measure, ...]:
    """The measures computed for ``design``, in table order."""
    return tuple(m for m in MEASURES.values() if design in m.designs)


def design_columns(design: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The columns of ``design``: those every measure needs, and those some of its measures need
    (``r`` for the pre/post correlation, ``r2`` for SPCOR; ``vi`` or ``sei`` for generic data)."""
    if design == "generic":
        return DESIGNS[design], ("vi", "sei")
    further = tuple(dict.fromkeys(c for m in measures_for(design) for c in m.requires))
    return DESIGNS[design], further


def design_of(measure: Measure, columns) -> str:
    """The design ``measure`` is computed for with these columns: its own, or one of ``also``
    whose first column is present (MD on pre/post columns is the paper's follow-up minus
    baseline difference treated as two independent groups)."""
    for other in measure.also:
        if DESIGNS[other][0] in columns:
            return other
    return measure.design


def required_columns(measure: Measure, columns=()) -> tuple[str, ...]:
    """The data columns ``measure`` needs with these columns (``vi``, or ``sei`` when only it is
    given, for generic data)."""
    d = design_of(measure, columns)
    if d == "generic":
        return DESIGNS[d] + (("sei",) if "sei" in columns and "vi" not in columns else ("vi",))
    return DESIGNS[d] + (measure.requires if d == measure.design else ())


def study_size(design: str, x: Mapping[str, np.ndarray]) -> np.ndarray | None:
    """Each study's size for ``design``: persons, or person-time for rates (None for generic data)."""
    cols = _SIZE_COLUMNS[design]
    if not cols:
        return None
    # a copy of a single column: the sizes are the result's own, not a view of its data
    return x[cols[0]] + x[cols[1]] if len(cols) == 2 else x[cols[0]].copy()


# ----- back-transformations ----------------------------------------------------------------------

def pft(events, n):
    """Freeman-Tukey double arcsine of ``events`` out of ``n`` (Freeman & Tukey 1950)."""
    events = np.asarray(events, dtype=float)
    n = np.asarray(n, dtype=float)
    return 0.5 * (np.arcsin(np.sqrt(events / (n + 1))) + np.arcsin(np.sqrt((events + 1) / (n + 1))))


def ipft(x, n):
    """Inverse Freeman-Tukey transformation (Miller 1978), clipped to [0, 1] at its range."""
    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    s = np.sin(2 * x)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 0.5 * (1 - np.sign(np.cos(2 * x)) * np.sqrt(1 - (s + (s - 1 / s) / n) ** 2))
    p = np.where(x < pft(0, n), 0.0, p)
    p = np.where(x > pft(n, n), 1.0, p)
    return p


def _identity(x, n=None):
    return x


def _expit(x, n=None):
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def _exp(x, n=None):
    with np.errstate(over="ignore"):
        return np.exp(x)


def _tanh(x, n=None):
    return np.tanh(x)


def _sin_squared(x, n=None):
    return np.where(x < 0, 0.0, np.where(x > np.pi / 2, 1.0, np.sin(np.clip(x, 0, np.pi / 2)) ** 2))


def _ipft(x, n=None):
    if n is None:
        raise SettingsError("the Freeman-Tukey back-transformation needs the sample size n")
    return ipft(x, n)


# the rate functions are imported when a rate measure is used, so that pooling other measures
# loads no more than it needs (tests/cli/test_startup.py)
def _square(x, n=None):
    from .rates import backtransform_rate
    return backtransform_rate("IRS", x)


def _ipft_rate(x, n=None):
    from .rates import backtransform_rate
    return backtransform_rate("IRFT", x, n)


#: Analysis scales and their back-transformations ``(x, n) -> natural scale``; ``n`` is the
#: sample size (person-time for rates) the Freeman-Tukey inverses need.
BACKTRANSFORMS: dict[str, Callable] = {
    "identity": _identity, "logit": _expit, "log": _exp, "fisher-z": _tanh, "arcsine": _sin_squared,
    "freeman-tukey": _ipft, "sqrt": _square, "freeman-tukey-rate": _ipft_rate,
}


def backtransform(measure: Measure | str, x, n=None):
    """Return ``x`` (analysis scale) on the natural scale of ``measure``.

    ``n`` is needed for the Freeman-Tukey measures: a study's own sample size (person-time
    for IRFT), or for pooled values their harmonic mean (pass it already averaged).
    Infinite bounds (e.g. a Clopper-Pearson limit of 0 on the logit scale) map to 0 or 1.
    """
    back = get_measure(measure).back
    assert back is not None  # Measure.__post_init__ sets it
    return back(np.asarray(x, dtype=float), n)


# ----- shared pieces of the formulas -------------------------------------------------------------

def hedges_j(df, exact: bool = True):
    """Small-sample correction of Hedges (1981): exact gamma form, or 1 - 3/(4 df - 1)."""
    df = np.asarray(df, dtype=float)
    if exact:
        with np.errstate(invalid="ignore"):
            return np.exp(special.gammaln(df / 2) - 0.5 * np.log(df / 2) - special.gammaln((df - 1) / 2))
    return 1 - 3 / (4 * df - 1)


def _incr_for(sel: np.ndarray, incr: float, method_incr: str) -> np.ndarray:
    """Per-study increment for the studies ``sel`` that need one: R meta's ``method.incr`` rules,
    applied row-wise in a batch."""
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


def _needs(m: Measure, x: Mapping[str, np.ndarray], column: str, what: str):
    if x.get(column) is None:
        raise DataError(f"measure {m.code} needs {what}: add a column '{column}'", column=column,
                        rule="missing column")
    return x[column]


# ----- single proportions ------------------------------------------------------------------------

def _proportion(m: Measure, design, x, o: EffectOptions):
    """Single proportions.  With R meta's convention (default) the increment goes only to studies
    with 0 or n events, PR keeps the uncorrected estimate and PAS/PFT take none; with metafor's,
    the corrected counts enter the estimate and variance of every measure.  PLN's variance is
    Hartung & Knapp's (2001)."""
    ev, n = x["events"], x["n"]
    sel = (ev == 0) | (ev == n)
    if o.incr_style == "meta" and m.continuity == "metafor only":
        a = np.zeros(ev.shape)
    else:
        a = _incr_for(sel, o.incr, o.method_incr)
    with np.errstate(divide="ignore", invalid="ignore"):
        if o.incr_style == "metafor":
            xc, nc = ev + a, n + 2 * a
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
            return ev / n, (ev + a) * (n - ev + a) / (n + 2 * a) ** 3, a
        if m.code == "PLO":
            events, non_events = ev + a, n - ev + a
            return np.log(events / non_events), 1 / events + 1 / non_events, a
        if m.code == "PLN":
            vi = np.where(ev == n, 1 / ev - 1 / (n + a), 1 / (ev + a) - 1 / (n + a))
            return np.log((ev + a) / (n + a)), vi, a
        if m.code == "PAS":
            return np.arcsin(np.sqrt(ev / n)), 1 / (4 * n), a
        return (0.5 * (np.arcsin(np.sqrt(ev / (n + 1))) + np.arcsin(np.sqrt((ev + 1) / (n + 1)))),
                1 / (4 * n + 2), a)


register(Measure("PR", "proportion", "Proportion", "identity", None, _proportion, aliases=("PRAW",),
                 short_label="Proportion", result_label="Proportion", continuity="zero cell"))
register(Measure("PLO", "proportion", "Proportion (logit)", "logit", None, _proportion, aliases=("PLOGIT",),
                 short_label="Proportion", result_label="Proportion", continuity="zero cell",
                 default_for=("proportion",)))
register(Measure("PLN", "proportion", "Proportion (log)", "log", None, _proportion,
                 short_label="Proportion", result_label="Proportion", continuity="zero cell"))
register(Measure("PAS", "proportion", "Proportion (arcsine)", "arcsine", None, _proportion,
                 short_label="Proportion", result_label="Proportion", continuity="metafor only"))
register(Measure("PFT", "proportion", "Proportion (Freeman-Tukey)", "freeman-tukey", None, _proportion,
                 short_label="Proportion", result_label="Proportion", continuity="metafor only"))


# ----- single means ------------------------------------------------------------------------------

def _mean(m: Measure, design, x, o):
    """Single means: raw (MN), or log (MNLN) with the delta-method variance."""
    mean, sd, n = x["mean"], x["sd"], x["n"]
    if m.code == "MN":
        return mean, sd ** 2 / n, None
    return np.log(mean), sd ** 2 / (n * mean ** 2), None


register(Measure("MN", "mean", "Mean", "identity", None, _mean, aliases=("MRAW",), short_label="Mean",
                 result_label="Mean", default_for=("mean",)))
register(Measure("MNLN", "mean", "Mean (log)", "log", None, _mean, aliases=("MLN",), short_label="Mean",
                 result_label="Mean", positive_means=True))


# ----- two independent groups, continuous outcomes -----------------------------------------------

def _cont2(m: Measure, design, x, o: EffectOptions):
    """Two independent groups: MD (also follow-up against baseline treated as two independent
    groups, the seed paper's analysis), SMD (Hedges' g: the exact correction, or R meta's
    approximation J = 1 - 3/(4N - 9) with variance N/(n1 n2) + g²/(2(N - 3.94))) and ROM, the log
    ratio of means (Hedges, Gurevitch & Curtis 1999)."""
    if design == "prepost":
        m1, s1, m0, s0, n = x["mean_post"], x["sd_post"], x["mean_pre"], x["sd_pre"], x["n"]
        return m1 - m0, s1 ** 2 / n + s0 ** 2 / n, None
    m1, s1, n1, m2, s2, n2 = (x[c] for c in ("mean_e", "sd_e", "n_e", "mean_c", "sd_c", "n_c"))
    if m.code == "MD":
        return m1 - m2, s1 ** 2 / n1 + s2 ** 2 / n2, None
    if m.code == "ROM":
        return np.log(m1 / m2), s1 ** 2 / (n1 * m1 ** 2) + s2 ** 2 / (n2 * m2 ** 2), None
    big_n = n1 + n2
    sdp = np.sqrt(((n1 - 1) * s1 ** 2 + (n2 - 1) * s2 ** 2) / (big_n - 2))
    if o.exact_smd:
        yi = hedges_j(big_n - 2, True) * (m1 - m2) / sdp
        return yi, 1 / n1 + 1 / n2 + yi ** 2 / (2 * big_n), None
    yi = (1 - 3 / (4 * big_n - 9)) * (m1 - m2) / sdp
    return yi, big_n / (n1 * n2) + yi ** 2 / (2 * (big_n - 3.94)), None


register(Measure("MD", "cont2", "Mean difference", "identity", 0.0, _cont2, also=("prepost",),
                 default_for=("cont2", "prepost")))
register(Measure("SMD", "cont2", "Standardised mean difference (Hedges' g)", "identity", 0.0, _cont2))


def _cont2_spread(m: Measure, design, x, o):
    """SMDH (Bonett 2008: the mean difference over the root mean of the two variances, with
    the exact Hedges correction for N - 2 df), CVR and VR (log ratios of coefficients of
    variation and of SDs with their small-sample terms 1/(2(n - 1)); Nakagawa et al. 2015)."""
    m1, s1, n1, m2, s2, n2 = (x[c] for c in ("mean_e", "sd_e", "n_e", "mean_c", "sd_c", "n_c"))
    with np.errstate(divide="ignore", invalid="ignore"):
        if m.code == "SMDH":
            j = hedges_j(n1 + n2 - 2, True)
            v1, v2 = s1 ** 2, s2 ** 2
            yi = j * (m1 - m2) / np.sqrt((v1 + v2) / 2)
            vi = j ** 2 * (yi ** 2 * (v1 ** 2 / (n1 - 1) + v2 ** 2 / (n2 - 1)) / (2 * (v1 + v2) ** 2)
                           + (v1 / (n1 - 1) + v2 / (n2 - 1)) / ((v1 + v2) / 2))
            return yi, vi, None
        c1, c2 = 1 / (2 * (n1 - 1)), 1 / (2 * (n2 - 1))
        if m.code == "VR":
            return np.log(s1 / s2) + c1 - c2, c1 + c2, None
        yi = np.log(s1 / m1) + c1 - np.log(s2 / m2) - c2
        return yi, c1 + s1 ** 2 / (n1 * m1 ** 2) + c2 + s2 ** 2 / (n2 * m2 ** 2), None


register(Measure("SMDH", "cont2", "Standardised mean difference (heteroscedastic SDs)", "identity", 0.0,
                 _cont2_spread, short_label="SMD"))
register(Measure("ROM", "cont2", "Ratio of means", "log", 0.0, _cont2, ratio=True, positive_means=True))


# ----- one group measured twice ------------------------------------------------------------------

def _prepost(m: Measure, design, x, o: EffectOptions):
    """Follow-up (post) against baseline (pre) in one group, with the pre/post correlation r:
    MC, the mean change; SMCC, standardised by the SD of the change; SMCR, by the baseline SD
    (Becker 1988; Gibbons et al. 1993); ROMC, the log ratio of means with its covariance term
    (Lajeunesse 2011); SMCRH, the change over the baseline SD with Bonett's (2008) variance,
    which does not assume equal SDs."""
    m1, s1, m0, s0, n = x["mean_post"], x["sd_post"], x["mean_pre"], x["sd_pre"], x["n"]
    r = _needs(m, x, "r", "the pre/post correlation")
    if m.code in ("ROMC", "SMCRH"):
        with np.errstate(divide="ignore", invalid="ignore"):
            if m.code == "ROMC":
                return (np.log(m1 / m0),
                        s1 ** 2 / (n * m1 ** 2) + s0 ** 2 / (n * m0 ** 2) - 2 * r * s1 * s0 / (m1 * m0 * n), None)
            j = hedges_j(n - 1, True)
            var_change = s0 ** 2 + s1 ** 2 - 2 * r * s0 * s1
            yi = j * (m1 - m0) / s0
            return yi, j ** 2 * (var_change / (s0 ** 2 * (n - 1)) + yi ** 2 / (2 * (n - 1))), None
    sd_change = np.sqrt(s1 ** 2 + s0 ** 2 - 2 * r * s1 * s0)
    if m.code == "MC":
        return m1 - m0, sd_change ** 2 / n, None
    if m.code == "SMCC":
        yi = hedges_j(n - 1, o.exact_smd) * (m1 - m0) / sd_change
        return yi, 1 / n + yi ** 2 / (2 * n), None
    yi = hedges_j(n - 1, o.exact_smd) * (m1 - m0) / s0  # SMCR, standardised by the baseline SD
    return yi, 2 * (1 - r) / n + yi ** 2 / (2 * n), None


register(Measure("MC", "prepost", "Mean change", "identity", 0.0, _prepost, requires=("r",)))
register(Measure("SMCC", "prepost", "Standardised mean change (change-score SD)", "identity", 0.0, _prepost,
                 requires=("r",), short_label="SMC"))
register(Measure("SMCR", "prepost", "Standardised mean change (baseline SD)", "identity", 0.0, _prepost,
                 requires=("r",), short_label="SMC"))
register(Measure("SMCRH", "prepost", "Standardised mean change (baseline SD, heteroscedastic)", "identity", 0.0,
                 _prepost, requires=("r",), short_label="SMC"))
register(Measure("ROMC", "prepost", "Ratio of means (paired)", "log", 0.0, _prepost, requires=("r",),
                 short_label="ROM", ratio=True, positive_means=True))
register(Measure("CVR", "cont2", "Coefficient of variation ratio", "log", 0.0, _cont2_spread, ratio=True,
                 positive_means=True))
register(Measure("VR", "cont2", "Variability ratio (ratio of SDs)", "log", 0.0, _cont2_spread, ratio=True))


# ----- two independent groups, binary outcomes ---------------------------------------------------

def _binary(m: Measure, design, x, o: EffectOptions):
    """Odds ratio, risk ratio and risk difference of two groups (Cooper & Hedges 1994), with the
    increment in every cell of a study with a zero cell.  R meta's risk ratio adds it to the
    events only (and nothing to a study with all events in both groups) unless ``rr_cochrane``
    (RevMan 5: n + 2 incr, as metafor); meta's risk difference keeps the uncorrected estimate."""
    a1, n1, c1, n2 = x["events_e"], x["n_e"], x["events_c"], x["n_c"]
    b1, d1 = n1 - a1, n2 - c1
    sel = (a1 == 0) | (b1 == 0) | (c1 == 0) | (d1 == 0)
    a = _incr_for(sel, o.incr, o.method_incr)
    with np.errstate(divide="ignore", invalid="ignore"):
        if m.code == "OR":
            yi = np.log((a1 + a) * (d1 + a) / ((b1 + a) * (c1 + a)))
            vi = 1 / (a1 + a) + 1 / (b1 + a) + 1 / (c1 + a) + 1 / (d1 + a)
        elif m.code == "RR":
            if o.incr_style == "meta" and not o.rr_cochrane:
                allev = (a1 == n1) & (c1 == n2)
                yi = np.log((a1 + a) / (n1 + a)) - np.log((c1 + a) / (n2 + a))
                vi = (1 / (a1 + a * ~allev) - 1 / (n1 + a) + 1 / (c1 + a * ~allev) - 1 / (n2 + a))
            else:
                yi = np.log((a1 + a) / (n1 + 2 * a)) - np.log((c1 + a) / (n2 + 2 * a))
                vi = 1 / (a1 + a) - 1 / (n1 + 2 * a) + 1 / (c1 + a) - 1 / (n2 + 2 * a)
        else:
            p1c, p2c = (a1 + a) / (n1 + 2 * a), (c1 + a) / (n2 + 2 * a)
            yi = a1 / n1 - c1 / n2 if o.incr_style == "meta" else p1c - p2c
            vi = p1c * (1 - p1c) / (n1 + 2 * a) + p2c * (1 - p2c) / (n2 + 2 * a)
    return yi, vi, a


register(Measure("OR", "bin2", "Odds ratio", "log", 0.0, _binary, continuity="zero cell", ratio=True,
                 default_for=("bin2",)))
register(Measure("RR", "bin2", "Risk ratio", "log", 0.0, _binary, continuity="zero cell", ratio=True))
register(Measure("RD", "bin2", "Risk difference", "identity", 0.0, _binary, continuity="zero cell"))


# ----- single incidence rates --------------------------------------------------------------------

def _rate(m: Measure, design, x, o: EffectOptions):
    """Events over person-time (:mod:`metareview.effectsizes.rates`); as R meta's metarate and
    metafor's escalc, the increment goes to zero-event studies for IR and IRLN, while IRS and
    IRFT are defined at zero events."""
    from .rates import rate_yi_vi
    add = o.incr if m.continuity == "zero cell" else 0.0
    events = x["events"]
    yi, vi = rate_yi_vi(m.code, events, x["time"], add=add, to=o.method_incr)
    return yi, vi, _incr_for(events == 0, add, o.method_incr) if add > 0 else None


register(Measure("IR", "rate", "Incidence rate", "identity", None, _rate, short_label="Rate", result_label="Rate",
                 continuity="zero cell"))
register(Measure("IRLN", "rate", "Incidence rate (log)", "log", None, _rate, short_label="Rate", result_label="Rate",
                 continuity="zero cell", default_for=("rate",)))
register(Measure("IRS", "rate", "Incidence rate (square root)", "sqrt", None, _rate, short_label="Rate",
                 result_label="Rate"))
register(Measure("IRFT", "rate", "Incidence rate (Freeman-Tukey)", "freeman-tukey-rate", None, _rate,
                 short_label="Rate", result_label="Rate"))


# ----- two-group incidence rates -----------------------------------------------------------------

def _rate2(m: Measure, design, x, o: EffectOptions):
    """Log rate ratio (IRR), rate difference (IRD) with Poisson variances, and the difference of
    square-root rates (IRSD, variance-stabilised, no increment as in ``escalc``).  The increment
    goes to both groups of a study with a zero count (``only0``), as metafor's ``add``/``to``."""
    x1, t1, x2, t2 = x["events_e"], x["time_e"], x["events_c"], x["time_c"]
    sel = (x1 == 0) | (x2 == 0)
    a = _incr_for(sel, o.incr, o.method_incr) if m.continuity == "zero cell" else np.zeros(np.shape(x1))
    x1a, x2a = x1 + a, x2 + a
    with np.errstate(divide="ignore", invalid="ignore"):
        if m.code == "IRR":
            return np.log(x1a / t1) - np.log(x2a / t2), 1 / x1a + 1 / x2a, a
        if m.code == "IRD":
            return x1a / t1 - x2a / t2, x1a / t1 ** 2 + x2a / t2 ** 2, a
        return np.sqrt(x1 / t1) - np.sqrt(x2 / t2), 1 / (4 * t1) + 1 / (4 * t2), a


register(Measure("IRR", "rate2", "Incidence rate ratio", "log", 0.0, _rate2, continuity="zero cell", ratio=True,
                 default_for=("rate2",)))
register(Measure("IRD", "rate2", "Incidence rate difference", "identity", 0.0, _rate2, continuity="zero cell"))
register(Measure("IRSD", "rate2", "Incidence rate difference (square root)", "identity", 0.0, _rate2))


# ----- correlations ------------------------------------------------------------------------------

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


def _correlation(m: Measure, design, x, o):
    """COR (raw r), UCOR (Olkin & Pratt's unbiased r, by the Gauss hypergeometric function)
    with variance (1 - r²)²/(n - 1) of the (corrected) estimate, and ZCOR (Fisher's z,
    variance 1/(n - 3)).  As ``escalc``, no variance for n <= 3 and no UCOR for n <= 4."""
    r, n = x["cor"], x["n"]
    with np.errstate(divide="ignore", invalid="ignore"):
        if m.code == "ZCOR":
            yi, vi = np.arctanh(r), 1 / (n - 3)
        else:
            if m.code == "UCOR":
                g = (n - 2) / 2
                yi = np.where(g > 1, r * _hyp2f1_halves(np.where(g > 1, g, 2.0), 1 - r ** 2), np.nan)
            else:
                yi = r.astype(float)
            vi = (1 - yi ** 2) ** 2 / (n - 1)
    return yi, np.where(n <= 3, np.nan, vi), None


register(Measure("COR", "cor", "Correlation", "identity", 0.0, _correlation, short_label="COR", min_n=4))
register(Measure("UCOR", "cor", "Correlation (bias-corrected)", "identity", 0.0, _correlation, short_label="COR",
                 min_n=5))
register(Measure("ZCOR", "cor", "Correlation (Fisher's z)", "fisher-z", 0.0, _correlation, short_label="COR",
                 result_label="COR", min_n=4, default_for=("cor",)))


def _partial_correlation(m: Measure, design, x, o):
    """Partial correlations from the t statistic of a coefficient in a regression with
    ``predictors`` predictors on n observations (df = n - predictors - 1): PCOR
    t / sqrt(t² + df) with variance (1 - r²)²/df, ZPCOR its Fisher z with variance 1/df,
    and SPCOR, the semi-partial correlation t sqrt(1 - R²)/sqrt(df) with the variance of
    Aloe & Becker (2012), which needs the model's R² (column ``r2``)."""
    t, n = x["tstat"], x["n"]
    df = n - x["predictors"] - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        if m.code == "SPCOR":
            r2 = _needs(m, x, "r2", "the regression's R²")
            yi = t * np.sqrt(1 - r2) / np.sqrt(df)
            return yi, (r2 ** 2 - 2 * r2 + (r2 - yi ** 2) + 1 - (r2 - yi ** 2) ** 2) / n, None
        yi = t / np.sqrt(t ** 2 + df)
        if m.code == "ZPCOR":
            return np.arctanh(yi), 1 / df, None
        return yi, (1 - yi ** 2) ** 2 / df, None


register(Measure("PCOR", "pcor", "Partial correlation", "identity", 0.0, _partial_correlation))
register(Measure("ZPCOR", "pcor", "Partial correlation (Fisher's z)", "fisher-z", 0.0, _partial_correlation,
                 short_label="PCOR", result_label="PCOR", default_for=("pcor",)))
register(Measure("SPCOR", "pcor", "Semi-partial correlation", "identity", 0.0, _partial_correlation,
                 requires=("r2",)))


# ----- estimates given directly ------------------------------------------------------------------

def _generic(m: Measure, design, x, o):
    """Estimates with their sampling variances (``vi``) or standard errors (``sei``), as given."""
    vi = x["vi"] if x.get("vi") is not None else x["sei"] ** 2
    return x["yi"], vi, None


register(Measure("GEN", "generic", "Estimate", "identity", 0.0, _generic, short_label="Estimate",
                 default_for=("generic",)))

#: The default measure of each design (R meta's default ``sm`` for its function).
DEFAULT_MEASURE: dict[str, str] = {d: m.code for m in MEASURES.values() for d in m.default_for}
