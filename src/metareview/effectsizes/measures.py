"""Effect measures: codes, designs, scales and back-transformations.

Measure codes are metafor's (``escalc``, version 3.8-1), case-insensitive, with R meta's aliases
(``PLOGIT`` for ``PLO``, ``PRAW`` for ``PR``, ``MRAW`` for ``MN``, ``MLN`` for ``MNLN``).
Each measure knows the study design it needs, the scale it is analysed on, its null
value on that scale (None where there is no natural null, as for single proportions
and means: R meta then reports no test of the pooled estimate) and how to return to
the natural scale.  The Freeman-Tukey back-transformation is the inverse of Miller
(1978, The American Statistician 32:138), with the harmonic mean of the sample sizes
for pooled values as in R meta and metafor's ``transf.ipft.hm``; Fisher's z goes back to a
correlation by tanh (metafor's ``transf.ztor``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..base.exceptions import SettingsError

__all__ = ["Measure", "get_measure", "MEASURES", "DESIGNS", "backtransform", "design_of", "required_columns"]

#: Study designs and the data columns each needs (optional columns in brackets are
#: listed in ``Measure.optional``).
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


@dataclass(frozen=True)
class Measure:
    """An effect measure: what a study contributes, on which scale it is pooled."""

    code: str
    design: str
    label: str
    scale: str  # identity | logit | log | arcsine | freeman-tukey | sqrt
    null: float | None
    aliases: tuple[str, ...] = field(default=())

    @property
    def transformed(self) -> bool:
        """Whether results are back-transformed for display."""
        return self.scale != "identity"

    @property
    def ratio(self) -> bool:
        """Whether the natural scale is a ratio (drawn on a log axis)."""
        return self.code in {"OR", "RR", "ROM", "IRR", "ROMC", "CVR", "VR"}

    @property
    def natural_null(self) -> float | None:
        if self.null is None:
            return None
        return float(backtransform(self, np.asarray(self.null)))


def _m(code, design, label, scale, null, *aliases):
    return Measure(code, design, label, scale, null, tuple(aliases))


MEASURES: dict[str, Measure] = {m.code: m for m in (
    _m("PR", "proportion", "Proportion", "identity", None, "PRAW"),
    _m("PLO", "proportion", "Proportion (logit)", "logit", None, "PLOGIT"),
    _m("PLN", "proportion", "Proportion (log)", "log", None),
    _m("PAS", "proportion", "Proportion (arcsine)", "arcsine", None),
    _m("PFT", "proportion", "Proportion (Freeman-Tukey)", "freeman-tukey", None),
    _m("MN", "mean", "Mean", "identity", None, "MRAW"),
    _m("MNLN", "mean", "Mean (log)", "log", None, "MLN"),
    _m("MD", "cont2", "Mean difference", "identity", 0.0),
    _m("SMD", "cont2", "Standardised mean difference (Hedges' g)", "identity", 0.0),
    _m("ROM", "cont2", "Ratio of means", "log", 0.0),
    _m("MC", "prepost", "Mean change", "identity", 0.0),
    _m("SMCC", "prepost", "Standardised mean change (change-score SD)", "identity", 0.0),
    _m("SMCR", "prepost", "Standardised mean change (baseline SD)", "identity", 0.0),
    _m("OR", "bin2", "Odds ratio", "log", 0.0),
    _m("RR", "bin2", "Risk ratio", "log", 0.0),
    _m("RD", "bin2", "Risk difference", "identity", 0.0),
    _m("IR", "rate", "Incidence rate", "identity", None),
    _m("IRLN", "rate", "Incidence rate (log)", "log", None),
    _m("IRS", "rate", "Incidence rate (square root)", "sqrt", None),
    _m("IRFT", "rate", "Incidence rate (Freeman-Tukey)", "freeman-tukey-rate", None),
    _m("SMDH", "cont2", "Standardised mean difference (heteroscedastic SDs)", "identity", 0.0),
    _m("CVR", "cont2", "Coefficient of variation ratio", "log", 0.0),
    _m("VR", "cont2", "Variability ratio (ratio of SDs)", "log", 0.0),
    _m("ROMC", "prepost", "Ratio of means (paired)", "log", 0.0),
    _m("SMCRH", "prepost", "Standardised mean change (baseline SD, heteroscedastic)", "identity", 0.0),
    _m("IRR", "rate2", "Incidence rate ratio", "log", 0.0),
    _m("IRD", "rate2", "Incidence rate difference", "identity", 0.0),
    _m("IRSD", "rate2", "Incidence rate difference (square root)", "identity", 0.0),
    _m("COR", "cor", "Correlation", "identity", 0.0),
    _m("UCOR", "cor", "Correlation (bias-corrected)", "identity", 0.0),
    _m("ZCOR", "cor", "Correlation (Fisher's z)", "fisher-z", 0.0),
    _m("PCOR", "pcor", "Partial correlation", "identity", 0.0),
    _m("ZPCOR", "pcor", "Partial correlation (Fisher's z)", "fisher-z", 0.0),
    _m("SPCOR", "pcor", "Semi-partial correlation", "identity", 0.0),
    _m("GEN", "generic", "Estimate", "identity", 0.0),
)}

_ALIASES = {alias: m.code for m in MEASURES.values() for alias in (m.code, *m.aliases)}


def get_measure(code: str | Measure) -> Measure:
    """Look a measure up by its code or alias, case-insensitively."""
    if isinstance(code, Measure):
        return code
    key = str(code).strip().upper()
    if key not in _ALIASES:
        valid = ", ".join(sorted(_ALIASES))
        raise SettingsError(f"unknown measure {code!r}; valid measures are: {valid}")
    return MEASURES[_ALIASES[key]]


def register(measure: Measure, backtransform_fn: Callable | None = None) -> None:
    """Add a measure (used by modules that bring their own, such as incidence rates)."""
    MEASURES[measure.code] = measure
    for alias in (measure.code, *measure.aliases):
        _ALIASES[alias] = measure.code
    if backtransform_fn is not None:
        _CUSTOM_BACK[measure.code] = backtransform_fn


_CUSTOM_BACK: dict[str, Callable] = {}


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


def backtransform(measure: Measure | str, x, n=None):
    """Return ``x`` (analysis scale) on the natural scale of ``measure``.

    ``n`` is needed for the Freeman-Tukey measures: a study's own sample size (person-time
    for IRFT), or for pooled values their harmonic mean (pass it already averaged).
    Infinite bounds (e.g. a Clopper-Pearson limit of 0 on the logit scale) map to 0 or 1.
    """
    m = get_measure(measure)
    x = np.asarray(x, dtype=float)
    if m.code in _CUSTOM_BACK:
        return _CUSTOM_BACK[m.code](x, n)
    if m.design == "rate":
        from .rates import backtransform_rate
        return backtransform_rate(m.code, x, n)
    if m.scale == "identity":
        return x
    if m.scale == "logit":
        with np.errstate(over="ignore"):
            return 1.0 / (1.0 + np.exp(-x))
    if m.scale == "log":
        with np.errstate(over="ignore"):
            return np.exp(x)
    if m.scale == "fisher-z":
        return np.tanh(x)
    if m.scale == "arcsine":
        return np.where(x < 0, 0.0, np.where(x > np.pi / 2, 1.0, np.sin(np.clip(x, 0, np.pi / 2)) ** 2))
    if m.scale == "freeman-tukey":
        if n is None:
            raise SettingsError("the Freeman-Tukey back-transformation needs the sample size n")
        return ipft(x, n)
    raise SettingsError(f"no back-transformation for scale {m.scale!r}")


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
    if m.code == "SPCOR":
        cols = cols + ("r2",)
    if d == "generic":
        cols = cols + (("sei",) if "sei" in columns and "vi" not in columns else ("vi",))
    return cols
