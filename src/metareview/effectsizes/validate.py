"""Input rules for study data: each broken rule is an error naming study, column and rule.

R meta silently gives such studies no weight (with a warning); metafor stops on some and
drops others.  A review tool should not do either quietly, so every rule here stops the
analysis with a message that says which study, which column and which rule.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping

import numpy as np

from ..base.exceptions import DataError
from .measures import Measure, required_columns

__all__ = ["validate_design", "column_extremes"]


def _label_at(studlab, flat: int) -> str:
    """The label of the study at flat position ``flat``: built only for the study an error
    names, so that checking a million cells of a batch costs no million strings."""
    if studlab is None:
        return f"#{flat + 1}"
    return str(np.ravel(np.asarray(studlab, dtype=object))[flat])


def _fail(mask, studlab, column, message, rule, values=None):
    mask = np.atleast_1d(mask)
    idx = np.argwhere(mask)[0]
    flat = int(np.ravel_multi_index(tuple(idx), mask.shape))
    lab = _label_at(studlab, flat)
    more = int(np.count_nonzero(mask)) - 1
    value = "" if values is None else f" (value {np.ravel(values)[flat]:g})"
    extra = f"; {more} more stud{'y' if more == 1 else 'ies'} break the same rule" if more > 0 else ""
    raise DataError(f"{message}{value}{extra}", study=lab, column=column, rule=rule)


_least, _largest, _fmax = np.minimum.reduce, np.maximum.reduce, np.fmax.reduce
_INF = float("inf")


def column_extremes(arr: Mapping[str, np.ndarray], columns) -> dict[str, tuple[float, float]]:
    """The least and largest value of each of ``columns`` of ``arr``, one reduction each: a
    batch chunk's screen, shared by its missing-cell check (a NaN makes both NaN), the rules
    of :func:`validate_design` and the all-finite fast path of the pooling kernel, so that
    each column is read twice however many checks use it.  (The ufuncs' reduce over every
    axis: the values of ``.min()``/``.max()``, without their wrappers; unlike a sum, they
    cannot overflow.)"""
    return {c: (_least(arr[c], axis=None), _largest(arr[c], axis=None)) for c in columns}


def validate_design(measure: Measure, arr: dict, studlab=None,
                    extremes: Mapping[str, tuple[float, float]] | None = None) -> None:
    """Check ``arr`` (column role -> float array) against the rules of ``measure``'s design and
    those the measure adds (positive means for log ratios of means, a least sample size).
    ``extremes`` are the columns' least and largest values when the caller has them
    (:func:`column_extremes` of these arrays), so that they are not computed again."""
    needed = required_columns(measure, arr)
    missing = [c for c in needed if c not in arr]
    if missing:
        raise DataError(f"measure {measure.code} needs column(s) {', '.join(needed)}; "
                        f"missing: {', '.join(missing)}", column=missing[0], rule="missing column")
    shape = np.shape(arr[needed[0]])
    if math.prod(shape) == 0:
        raise DataError("no studies to analyse", rule="no studies")
    labels = studlab
    least: dict[str, float] = {}
    for c in needed:
        v = arr[c]
        if (v.shape if type(v) is np.ndarray else np.shape(v)) != shape:
            raise DataError(f"has {np.size(v)} values where {np.prod(shape)} were expected",
                            column=c, rule="column lengths differ")
        # the extremes of a column are finite exactly when its cells are (a NaN makes both NaN;
        # a batch's million cells in two passes, which cannot overflow as a sum can); the cell
        # by cell mask only for a column that has one
        low, high = (_least(v, axis=None), _largest(v, axis=None)) if extremes is None else extremes[c]
        least[c] = low
        if not (-_INF < low and high < _INF):
            _fail(~np.isfinite(v), labels, c, "missing or non-numeric value", "value required")
    # every cell is finite from here: a rule holds for every study when it holds for the
    # column's extreme (the cell masks are built only to name a study breaking it)
    g: Callable[[str], Any] = arr.get
    for c in ("n", "n_e", "n_c", "time", "time_e", "time_c"):
        if c in needed and least[c] <= 0:
            _fail(g(c) <= 0, labels, c, "must be greater than 0", f"{c} > 0", g(c))
    for ev in ("events_e", "events_c"):
        if ev in needed and measure.design == "rate2" and least[ev] < 0:
            _fail(g(ev) < 0, labels, ev, "must not be negative", f"{ev} >= 0", g(ev))
    for ev, n in (("events", "n"), ("events_e", "n_e"), ("events_c", "n_c")):
        if ev in needed:
            if least[ev] < 0:
                _fail(g(ev) < 0, labels, ev, "must not be negative", f"{ev} >= 0", g(ev))
            # the difference is positive exactly where ev > n (fmax passes over a NaN, as ">" does)
            if n in arr and _fmax(g(ev) - g(n), axis=None) > 0:
                _fail(g(ev) > g(n), labels, ev, f"is larger than {n}", f"{ev} <= {n}", g(ev))
    for c in ("sd", "sd_pre", "sd_post", "sd_e", "sd_c"):
        if c in needed and least[c] <= 0:
            _fail(g(c) <= 0, labels, c, "standard deviation must be greater than 0", "SD > 0", g(c))
    if measure.positive_means:
        for c in ("mean", "mean_e", "mean_c", "mean_pre", "mean_post"):
            if c in needed and least[c] <= 0:
                _fail(g(c) <= 0, labels, c, f"{measure.code} needs positive means", "mean > 0", g(c))
    if "cor" in needed:
        if np.count_nonzero(np.abs(g("cor")) > 1):
            _fail(np.abs(g("cor")) > 1, labels, "cor", "a correlation must lie in [-1, 1]", "-1 <= cor <= 1",
                  g("cor"))
    min_n = measure.min_n
    if min_n and "n" in needed and least["n"] < min_n:
        # e.g. escalc gives no sampling variance of r for n <= 3, and no bias-corrected r for n <= 4
        _fail(g("n") < min_n, labels, "n", f"{measure.code} needs at least {min_n} observations",
              f"n >= {min_n}", g("n"))
    if "predictors" in needed:
        if np.count_nonzero(g("predictors") < 0):
            _fail(g("predictors") < 0, labels, "predictors", "the number of predictors must not be negative",
                  "predictors >= 0", g("predictors"))
        df = g("n") - g("predictors") - 1
        if np.count_nonzero(df <= 0):
            _fail(df <= 0, labels, "n", "the regression has no residual degrees of freedom",
                  "n - predictors - 1 > 0", g("n"))
    if "r2" in needed and np.count_nonzero((g("r2") < 0) | (g("r2") > 1)):
        _fail((g("r2") < 0) | (g("r2") > 1), labels, "r2", "an R² must lie in [0, 1]", "0 <= r2 <= 1", g("r2"))
    if "r" in needed and np.count_nonzero(np.abs(g("r")) > 1):
        _fail(np.abs(g("r")) > 1, labels, "r", "a correlation must lie in [-1, 1]", "-1 <= r <= 1", g("r"))
    for c in ("vi", "sei"):
        # 0 is legal for some tau² estimators (as metafor); the analysis decides
        if c in needed and least[c] < 0:  # the cells are finite here: the least one tells
            _fail(g(c) < 0, labels, c, "a sampling variance or standard error must not be negative",
                  f"{c} >= 0", g(c))
