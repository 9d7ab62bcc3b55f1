"""Study effect sizes: ``(yi, vi)`` from what studies report, as metafor's ``escalc``.

:func:`escalc` checks the input against the rules of the measure's design
(:mod:`metareview.effectsizes.validate`) and calls the measure's own formula: every measure and
its formula, with the papers they come from, is one entry of the table in
:mod:`metareview.effectsizes.measures`.  Every formula works on numpy arrays of any shape
(studies, or analyses x studies), so the batch engine and a single analysis share this code,
and is metafor 3.8-1's ``escalc`` with its default ``vtype = "LS"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Mapping

import numpy as np

from ..base.exceptions import SettingsError
from .measures import INCR_METHODS, EffectOptions, Measure, design_of, get_measure, hedges_j, study_size
from .validate import validate_design

__all__ = ["EffectSizes", "escalc", "check_continuity", "hedges_j", "INCR_METHODS"]


@dataclass(frozen=True)
class EffectSizes:
    """Effect sizes on the analysis scale with what is needed to back-transform them."""

    measure: Measure
    yi: np.ndarray
    vi: np.ndarray
    incr: np.ndarray  # continuity correction added to each study's cells (0 where none)
    n: np.ndarray | None = None  # total sample size per study (Freeman-Tukey, weights)
    extra: dict = field(default_factory=dict)


def check_continuity(incr, incr_style: str) -> None:
    """The continuity settings :func:`escalc` refuses (also for measures that add no increment):
    an unknown ``incr_style``, an increment that is not a non-negative number."""
    if incr_style not in ("meta", "metafor"):
        raise SettingsError(f"unknown incr_style {incr_style!r}; valid: meta, metafor")
    if isinstance(incr, bool) or not math.isfinite(float(incr)) or float(incr) < 0:
        raise SettingsError(f"the continuity correction must be a non-negative number, not {incr!r}")


def escalc(measure: str | Measure, data: Mapping[str, object], *, incr: float = 0.5,
           method_incr: str = "only0", incr_style: str = "meta", exact_smd: bool = True,
           studlab=None, validate: bool = True, rr_cochrane: bool = False,
           extremes: Mapping[str, tuple[float, float]] | None = None) -> EffectSizes:
    """Compute study effect sizes ``yi`` and sampling variances ``vi``.

    ``measure`` is a code (case-insensitive) or a :class:`~metareview.effectsizes.measures.Measure`,
    whose formula computes them.  ``data`` maps metareview's column roles (see
    :data:`metareview.effectsizes.measures.DESIGNS`) to arrays.  ``incr``/``method_incr`` are R
    meta's ``incr``/``method.incr``; ``incr_style`` chooses meta's (default) or metafor's way of
    applying it; ``exact_smd`` chooses the exact Hedges correction (metafor) or meta's
    approximation; ``rr_cochrane`` adds twice the increment to the group sizes of a zero-cell
    study's risk ratio under meta's convention (R meta's ``RR.Cochrane = TRUE``, RevMan 5).
    ``extremes``: the least and largest value of each column the measure needs, when the caller
    has them (:func:`~metareview.effectsizes.validate.column_extremes` of these arrays), so that
    the input rules do not compute them again.

    >>> es = escalc("PLO", {"events": [8, 26], "n": [10, 31]})
    >>> [round(v, 4) for v in es.yi]
    [1.3863, 1.6487]
    """
    m = get_measure(measure)
    check_continuity(incr, incr_style)
    arr = {k: np.asarray(v, dtype=float) for k, v in data.items() if v is not None}
    if validate:
        validate_design(m, arr, studlab, extremes)
    d = design_of(m, arr)
    try:
        options = _options(incr, method_incr, incr_style, exact_smd, rr_cochrane)
    except TypeError:  # an argument that cannot be a key (an array of one increment): made for this call
        options = EffectOptions(incr=incr, method_incr=method_incr, incr_style=incr_style, exact_smd=exact_smd,
                                rr_cochrane=rr_cochrane)
    yi, vi, a = m.formula(m, d, arr, options)
    yi = np.asarray(yi, float)
    n_tot = study_size(d, arr)
    return EffectSizes(m, yi, np.asarray(vi, float), np.zeros(yi.shape) if a is None else np.asarray(a, float),
                       None if n_tot is None else np.asarray(n_tot, float), {})


@lru_cache(maxsize=64, typed=True)
def _options(incr, method_incr: str, incr_style: str, exact_smd: bool, rr_cochrane: bool) -> EffectOptions:
    """The options of a computation, made once per combination (an immutable value: analyses share it)."""
    return EffectOptions(incr=incr, method_incr=method_incr, incr_style=incr_style, exact_smd=exact_smd,
                         rr_cochrane=rr_cochrane)
