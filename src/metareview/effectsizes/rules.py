"""What a study table must satisfy on its way to pooling: the rules one analysis and a batch share.

:func:`metareview.api.meta.metaanalysis` (and every ``meta*`` function) and the batch
engine (:mod:`metareview.api.batch`) apply the same rules through this module, so a study
that one pools the other pools, and a study that one refuses the other refuses.  Arrays
have the studies on their last axis: one analysis is ``(k,)``, a padded batch
``(analyses, k)``.  Each rule returns a mask of the cells it concerns; the caller says what
a hit means where it is (a note naming the studies of one analysis; an error naming the
analysis and study of a batch).

- **Missing values**: a study with an empty cell in a column its measure needs is kept in
  the study table and not pooled, as metafor's ``na.action = "na.omit"`` and R meta do
  (:func:`missing_cells`).
- **Uninformative tables**: for odds and risk ratios, R meta's ``allstudies = FALSE``
  leaves out studies without events in both groups, and for the odds ratio also those with
  only events (:func:`uninformative`).
- **Effect sizes that cannot be computed**: a non-finite effect or sampling variance, or a
  negative variance, stops the analysis (:func:`not_computable`), as do effects and
  variances beyond what the kernel's weighted sums hold in double precision
  (:func:`beyond_precision`).
- **Zero sampling variances** are legal with the tau² estimators metafor 3.8-1 allows them
  for (the table of estimators says which: ``pooling.tau2.ZERO_VARIANCE_METHODS``, handed to
  :func:`zero_variance_refusal` by the callers above this layer), with a warning: the common-effect model, Q, I²
  and H are then undefined (metafor reports NA).
"""

from __future__ import annotations

import numpy as np

from .measures import MEASURES, Measure, get_measure, required_columns

__all__ = ["MAX_EFFECT", "MAX_VARIANCE", "UNINFORMATIVE", "needed_columns",
           "missing_cells", "uninformative", "not_computable", "not_computable_message", "beyond_precision",
           "beyond_precision_message", "within_rules", "extremes_within_rules", "zero_variance_refusal",
           "ZERO_VARIANCE_NOTE"]

#: Effects and variances past these overflow the weighted sums (1/vi, yi²/vi) of the kernel:
#: such values are data errors (units, a misplaced exponent), never effects to pool.
MAX_EFFECT = 1e100
MAX_VARIANCE = 1e200
#: Why an uninformative table is not pooled, as the notes and errors say it.
UNINFORMATIVE = "no events in both groups, or only events; allstudies = False as R meta"
#: What a zero sampling variance leaves undefined, as the notes say it.
ZERO_VARIANCE_NOTE = ("the common-effect model, Q, I², H and the Q-profile interval of tau² are not defined "
                      "(as metafor)")


def needed_columns(measure: str | Measure, arrays) -> tuple[str, ...]:
    """The columns a study needs to be pooled: the measure's, or ``yi`` with ``vi``/``sei``
    for generic data (already on the measure's analysis scale)."""
    return required_columns(MEASURES["GEN"] if "yi" in arrays else get_measure(measure), arrays)


def missing_cells(measure: str | Measure, arrays, extremes=None) -> tuple[np.ndarray, np.ndarray | None]:
    """Cells of studies with an empty value in a column they need: (mask, the first such
    column of each cell, "" where none; None when no cell is missing).  Columns the data
    lack altogether are not missing cells (the measure's own check names them).  ``extremes``:
    the least and largest value of each needed column of ``arrays`` when the caller has them
    (:func:`metareview.effectsizes.validate.column_extremes`)."""
    needed = [c for c in needed_columns(measure, arrays) if c in arrays]
    # a column without NaN has a least value that is not NaN (numpy's minimum passes a NaN on;
    # unlike a sum, it cannot overflow)
    if extremes is not None and needed and not any(_nan(extremes[c][0]) for c in needed):
        return np.zeros(np.shape(arrays[needed[0]]), dtype=bool), None
    values = [np.asarray(arrays[col], dtype=float) for col in needed]
    if not any(x.size and _nan(_smallest(x, axis=None)) for x in values):
        return np.zeros(values[0].shape if values else (0,), dtype=bool), None
    gaps = [(col, np.isnan(x)) for col, x in zip(needed, values)]
    shape = gaps[0][1].shape if gaps else (0,)
    missing = np.zeros(shape, dtype=bool)
    if not any(np.count_nonzero(gap) for _, gap in gaps):  # the usual case, without the per-column labels
        return missing, None
    where = np.full(shape, "", dtype=object)
    for col, gap in gaps:
        gap &= ~missing
        where[gap] = col
        missing |= gap
    return missing, where


def uninformative(measure: str | Measure, arrays, allstudies: bool) -> np.ndarray | None:
    """R meta's ``allstudies = FALSE`` for odds and risk ratios of two groups: studies without
    events in both groups (odds ratio: or with only events in both) carry no information and
    are not pooled.  None where the rule does not apply."""
    m = get_measure(measure)
    if allstudies or m.code not in ("OR", "RR") or "events_e" not in arrays:
        return None
    e1, n1, e2, n2 = (np.asarray(arrays[c], dtype=float) for c in ("events_e", "n_e", "events_c", "n_c"))
    out = (e1 == 0) & (e2 == 0)
    if m.code == "OR":
        out |= (e1 == n1) & (e2 == n2)
    return out


def not_computable(yi: np.ndarray, vi: np.ndarray) -> np.ndarray:
    """Effect sizes that cannot be pooled: a non-finite effect or variance, or a negative variance."""
    with np.errstate(invalid="ignore"):
        return ~(np.isfinite(yi) & np.isfinite(vi) & (vi >= 0))


def not_computable_message(yi: float, vi: float) -> str:
    return (f"the effect size cannot be computed (yi = {yi}, vi = {vi}); check its data or use a continuity "
            "correction")


def beyond_precision(yi: np.ndarray, vi: np.ndarray) -> np.ndarray:
    """Effects or variances whose weighted sums would overflow double precision."""
    with np.errstate(invalid="ignore"):
        return (np.abs(yi) > MAX_EFFECT) | (vi > MAX_VARIANCE) | ((vi > 0) & (vi < 1 / MAX_VARIANCE))


def beyond_precision_message(yi: float, vi: float) -> str:
    return (f"the effect size (yi = {yi:.6g}, vi = {vi:.6g}) is beyond what can be pooled in double precision; "
            "check the data's units and magnitudes")


def within_rules(yi: np.ndarray, vi: np.ndarray) -> bool:
    """Whether every cell is clear of :func:`not_computable` and :func:`beyond_precision` with a
    positive variance, from the extremes of the arrays (four reductions, where the cell masks
    take a dozen passes): the masks are needed only where this is False."""
    if yi.size == 0 or vi.size == 0:
        return True
    # (the ufuncs' reduce over every axis: the same values as .max()/.min(), without their wrappers)
    return extremes_within_rules((_smallest(yi, axis=None), _largest(yi, axis=None)),
                                 (_smallest(vi, axis=None), _largest(vi, axis=None)))


def extremes_within_rules(yi: tuple[float, float], vi: tuple[float, float]) -> bool:
    """:func:`within_rules` from the least and largest effect and variance, for a caller that
    has them already (a batch chunk of generic data, whose effects and variances are its
    columns)."""
    # a NaN makes min and max NaN, and every comparison below False
    return bool(yi[1] <= MAX_EFFECT and yi[0] >= -MAX_EFFECT and vi[1] <= MAX_VARIANCE
                and vi[0] >= 1 / MAX_VARIANCE)


_largest, _smallest = np.maximum.reduce, np.minimum.reduce


def _nan(x) -> bool:
    return x != x


def zero_variance_refusal(method: str, method_tau2: str, allowed: tuple[str, ...]) -> str | None:
    """Why a zero sampling variance cannot be pooled with these settings, or None when it can;
    ``allowed`` are the tau² estimators that take zero variances (the table's)."""
    if method == "Inverse" and method_tau2 in allowed:
        return None
    what = f"the {method_tau2} estimator of tau²" if method == "Inverse" else f"method {method}"
    return (f"sampling variance 0: {what} divides by the sampling variances; estimators that allow zero "
            f"variances (as metafor): {', '.join(allowed)}")
