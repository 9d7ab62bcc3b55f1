"""The analysis functions: ``metaprop``, ``metamean``, ``metacont``, ``metaprepost``,
``metabin``, ``metagen`` (R meta's names) and ``metaanalysis`` for a table whose design is
read from its column names.

Each builds the study data, computes effect sizes (:mod:`metareview.effectsizes.escalc`), pools them
with the vectorised kernel (:mod:`metareview.pooling.inverse_variance`, as a batch of one analysis) and
returns a :class:`~metareview.api.result.MetaResult`.  ``exclude`` keeps studies in the
result (shown, not pooled); ``subset`` drops them (R meta's distinction).
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from functools import partial
from typing import Any, Mapping, Sequence

import numpy as np

from ..base.deferred import Deferred
from ..base.exceptions import DataError, MetaReviewWarning, SettingsError, SmallSampleWarning
from ..base.version import __version__
from ..effectsizes import rules
from ..effectsizes.escalc import escalc
from ..effectsizes.measures import (
    DEFAULT_MEASURE,
    DESIGNS,
    MEASURES,
    Measure,
    design_columns,
    get_measure,
    measures_for,
)
from ..effectsizes.study_ci import study_ci
from ..effectsizes.validate import column_extremes
from ..pooling.inverse_variance import kernel_warnings, one_study_message, pool_one
from ..pooling.settings import Settings
from ..pooling.tau2 import ZERO_VARIANCE_METHODS
from ..pooling.values import Estimate, Interval, Pooled
from ..tables.arguments import column_argument
from ..tables.selection import select_studies, study_labels
from .result import MetaResult

__all__ = ["metaprop", "metarate", "metamean", "metacont", "metaprepost", "metabin", "metainc", "metacor",
           "metagen", "metaanalysis", "detect_design", "resolve_design", "DEFAULT_MEASURE"]

ROLE_COLUMNS = sorted({c for d in DESIGNS for cols in design_columns(d) for c in cols} | {"genq_weights"})
_GENERIC = MEASURES["GEN"]


#: The order in which designs are listed (and tried).
_DESIGN_ORDER = ("bin2", "cont2", "prepost", "rate2", "rate", "proportion", "mean", "pcor", "cor")


def _fitting_designs(cols: set) -> list[str]:
    fits = [d for d in _DESIGN_ORDER if set(DESIGNS[d]) <= cols]
    if "yi" in cols and ({"vi", "sei"} & cols):
        fits.append("generic")
    return fits


def _design_columns(design: str, cols: set) -> set:
    """The role columns a design uses, of those present."""
    required, further = design_columns(design)
    return (set(required) | set(further) | {"genq_weights"}) & cols


def _reading(design: str, cols: set) -> str:
    codes = [c for c, m in MEASURES.items() if m.design == design and c != "GEN"] if design != "generic" \
        else ["GEN"]
    return f"{design} ({', '.join(sorted(_design_columns(design, cols)))}; --measure {'/'.join(codes)})"


def resolve_design(columns: Sequence[str], measure: str | None = None) -> tuple[str, list[str]]:
    """The design a table's columns give, and the notes that explain the choice.

    The rule (no silent guessing): when the role columns fit exactly one design and every
    role column is used by it, that design.  When they fit several (``events,n,time`` is a
    proportion or a rate; ``events,n,yi,vi`` a proportion or generic estimates), or role
    columns would go unused (``events,n,mean``), :class:`DataError` lists the readings,
    unless ``measure`` chooses one: then the unused role columns are named in the notes and
    kept as covariates.  ``yi`` with both ``vi`` and ``sei`` is refused (one would be ignored).
    """
    cols = {str(c) for c in columns}
    fits = _fitting_designs(cols)
    if not fits:
        raise DataError("cannot tell the study design from the columns "
                        f"{', '.join(map(str, columns)) or '(none)'}; expected one of: events,n | mean,sd,n | "
                        "mean_pre,sd_pre,mean_post,sd_post,n[,r] | mean_e,sd_e,n_e,mean_c,sd_c,n_c | "
                        "events_e,n_e,events_c,n_c | events,time | events_e,time_e,events_c,time_c | cor,n | "
                        "tstat,n,predictors[,r2] | yi,vi | yi,sei "
                        "(map other names with --col ROLE=COLUMN)",
                        rule="unknown design")
    notes: list[str] = []
    if measure is None:
        design = fits[0]
        if len(fits) > 1:
            raise DataError("the columns fit more than one design: " + " or ".join(_reading(d, cols) for d in fits)
                            + "; choose one with --measure (measure=), or rename the columns of the other "
                              "(--col ROLE=COLUMN maps a role to another column)", rule="ambiguous design")
    else:
        m = get_measure(measure)
        wanted = [d for d in fits if d in m.designs]
        if m.code == "GEN" or not wanted:
            wanted = ["generic"] if "generic" in fits else wanted
        if not wanted:
            raise SettingsError(f"measure {m.code} needs a {m.design} design, but the columns give a "
                                f"{' or '.join(fits)} design")
        design = wanted[0]
    if design == "generic" and {"vi", "sei"} <= cols:
        raise DataError("the table has both vi and sei; give one of them (the other would be ignored), or "
                        "rename one with --col", column="sei", rule="ambiguous design")
    role_cols = cols & set(ROLE_COLUMNS)
    unused = sorted(role_cols - _design_columns(design, cols))
    if unused:
        if measure is None:
            raise DataError(f"the columns give a {design} design, which does not use the column(s) "
                            f"{', '.join(unused)}; remove or rename them, or name the measure with --measure "
                            f"to pool as {design} and keep them as covariates", column=unused[0],
                            rule="unused role column")
        notes.append(f"column(s) {', '.join(unused)} not used: the {design} design was chosen by measure "
                     f"{m.code}; they are kept as covariates")
    return design, notes


def detect_design(columns: Sequence[str]) -> str:
    """The study design given by a table's column names (metareview's role names); see
    :func:`resolve_design` for the rule."""
    return resolve_design(columns)[0]


def _as_float(values, column: str, labels) -> np.ndarray:
    """Numbers from a column; a non-numeric cell is an error naming the study and column."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiu":
        return values.astype(float).ravel()
    if isinstance(values, (list, tuple)) and all(type(v) in (int, float) for v in values):
        return np.array(values, dtype=float)
    arr = np.asarray(values, dtype=object).ravel()
    out = np.empty(arr.shape, dtype=float)
    for i, v in enumerate(arr):
        if v is None or (isinstance(v, str) and v.strip() == ""):
            out[i] = np.nan
            continue
        try:
            out[i] = float(v)
        except (TypeError, ValueError):
            raise DataError(f"non-numeric value {v!r}", study=str(labels[i]), column=column,
                            rule="numeric value required") from None
    return out


_DUPLICATE_LABELS = "duplicate study labels"


def _duplicate_labels(labels: np.ndarray) -> str | None:
    """A note naming the study labels that occur more than once (and their rows), or None."""
    if len(set(labels.tolist())) == labels.size:  # the usual case: every label once
        return None
    seen: dict[str, list[int]] = {}
    for i, lab in enumerate(labels):
        seen.setdefault(str(lab), []).append(i + 1)
    dup = {lab: rows for lab, rows in seen.items() if len(rows) > 1}
    if not dup:
        return None
    listed = "; ".join(f"{lab!r} (rows {', '.join(map(str, rows))})" for lab, rows in list(dup.items())[:5])
    return f"{_DUPLICATE_LABELS}: {listed}; each row is pooled as its own study"


def _fit(func: str, data: Mapping[str, Any], studlab, covariates: Mapping[str, Any] | None,
         settings: Settings, exclude=None, subset=None) -> MetaResult:
    sizes = [v.size if type(v) is np.ndarray else np.size(v) for v in data.values()
             if v is not None and (v.ndim if type(v) is np.ndarray else np.ndim(v)) > 0]
    k = max(sizes) if sizes else 1
    labels = study_labels(studlab, k)
    # a single number (e.g. an assumed pre/post correlation r) applies to every study
    arrays = {c: _as_float(v if type(v) is np.ndarray and v.ndim else np.repeat(v, k) if np.ndim(v) == 0 else v,
                           c, labels)
              for c, v in data.items() if v is not None}
    covs = {c: np.array(v, dtype=object) for c, v in (covariates or {}).items()}  # a copy, as the data
    if subset is not None:
        keep = select_studies(subset, labels, "subset")
        if not keep.any():
            raise DataError("no studies left after 'subset'", rule="no studies")
        labels = labels[keep]
        arrays = {c: v[keep] for c, v in arrays.items()}
        covs = {c: v[keep] for c, v in covs.items()}
    excl = select_studies(exclude, labels, "exclude")
    m = get_measure(settings.measure)
    notes = []
    duplicated = None if studlab is None else _duplicate_labels(labels)  # (1, 2, ..., k: never)
    if duplicated:
        notes.append(duplicated)
        warnings.warn(duplicated, MetaReviewWarning, stacklevel=4)
    screen = _column_screen(m, arrays)
    missing = _missing_cells(m, arrays, labels, notes, screen)
    excl = excl | missing
    nonif = rules.uninformative(m, arrays, settings.allstudies)
    if nonif is not None:
        if (nonif & ~excl).any():
            notes.append(f"not pooled ({rules.UNINFORMATIVE}): " + ", ".join(labels[nonif & ~excl]))
            excl = excl | nonif
            if excl.all():
                raise DataError("no study has events in one group and not in the other (R meta's "
                                "allstudies = False leaves such studies out): no studies left to "
                                "pool; pool the risk difference (RD) instead",
                                column="events_e", rule="no studies")
    n_excluded = np.count_nonzero(excl)
    if n_excluded == excl.size:
        raise DataError("every study is excluded: no studies left to pool", rule="no studies")
    # generic data (yi with vi or sei) are already on the measure's analysis scale
    es = _effects_of_complete(missing, _GENERIC if "yi" in arrays else m, arrays, labels, settings, screen)
    # np.count_nonzero: these checks run on every analysis, and cost a third of .any() on a few studies
    # (the studies pooled: True when every study is, which a mask ANDed with it keeps as it is)
    pooled_in = ~excl if n_excluded else True
    # every cell within the rules (four reductions; none for generic data given with vi, whose
    # effects are its columns) spares the masks that name the study breaking one
    any_zero_vi = False
    within = (rules.extremes_within_rules(screen["yi"], screen["vi"])
              if screen is not None and es.yi is arrays.get("yi") and es.vi is arrays.get("vi")
              else rules.within_rules(es.yi, es.vi))
    if not within:
        bad = rules.not_computable(es.yi, es.vi) & pooled_in
        if np.count_nonzero(bad):
            i = int(np.argmax(bad))
            raise DataError(rules.not_computable_message(es.yi[i], es.vi[i]), study=str(labels[i]),
                            column=m.code, rule="finite effect size")
        absurd = rules.beyond_precision(es.yi, es.vi) & pooled_in
        if np.count_nonzero(absurd):
            i = int(np.argmax(absurd))
            raise DataError(rules.beyond_precision_message(es.yi[i], es.vi[i]), study=str(labels[i]),
                            column=m.code, rule="magnitude")
        zero_vi = (es.vi == 0) & pooled_in
        any_zero_vi = bool(np.count_nonzero(zero_vi))
        if any_zero_vi:
            _check_zero_variances(zero_vi, labels, settings, notes)
    # (the mask of pooled studies: for the kernel when a study is left out, and for the other methods)
    mask = (~excl).astype(float) if n_excluded or settings.method != "Inverse" else None
    genq = _genq_weights(arrays.get("genq_weights"), settings, labels, excl)
    # what rma() leaves to confint(), predict() and weights() is computed when first used
    # (the Q-profile interval of tau², the I² and H intervals, the prediction interval, the weights)
    lazy = settings.method == "Inverse" and not any_zero_vi
    # (every study pooled: no mask, as the kernel takes a batch without padding; within the rules,
    # every cell is finite: the kernel need not look again)
    pool = partial(pool_one, es.yi, es.vi, mask if n_excluded else None, _screened=within,
                   method_tau2=settings.method_tau2, level=settings.level,
                   random_ci=settings.random_ci, adhoc_hakn=settings.adhoc_hakn, prediction=settings.prediction,
                   i2_method=settings.i2_method, null=m.null, tau2_ci=not any_zero_vi, tau2_weights=genq)
    # a GLMM puts its own values in place of every value of the inverse-variance kernel (pooling/glmm.py),
    # and rma.glmm fits no inverse-variance model: the kernel is not run; of its warnings, the one on a
    # single study is given as it gives it
    glmm_alone = settings.method == "GLMM" and not any_zero_vi
    if glmm_alone:
        if excl.size - n_excluded == 1:
            message = one_study_message(settings.random_ci, glmm=True)
            notes.append(message)
            warnings.warn(message, SmallSampleWarning, stacklevel=3)
        from ..pooling.glmm import pooled_for_analysis as glmm_pooled
        pooled, method_notes = glmm_pooled(settings, m, arrays, excl, None, labels=labels)
        notes.extend(method_notes)
    elif lazy:
        # the kernel's warnings made from its values (recording every warning costs more than pooling)
        pooled = pool(deferred=True, warn=False)
        for message, category in kernel_warnings(pooled, method_tau2=settings.method_tau2,
                                                 random_ci=settings.random_ci):
            notes.append(message)
            warnings.warn(message, category, stacklevel=3)
    else:
        pooled = _noted(notes, pool)
    if any_zero_vi:
        pooled = _without_inverse_variance_quantities(pooled, zero_vi, labels, settings.method_tau2)
    if settings.method != "Inverse" and not glmm_alone:
        # likelihood and fixed-cell methods replace the kernel's named values (glmm.py, mh.py)
        if settings.method == "GLMM":
            from ..pooling.glmm import pooled_for_analysis as glmm_pooled
            pooled, method_notes = glmm_pooled(settings, m, arrays, excl, pooled, labels=labels)
        elif m.design == "rate2" and settings.method == "MH":
            from ..pooling.mh import pooled_rates_for_analysis
            pooled, method_notes = _noted(notes, lambda: pooled_rates_for_analysis(settings, m, arrays, excl, pooled))
        else:
            from ..pooling.mh import pooled_for_analysis as fixed_cell_pooled
            pooled, method_notes = _noted(notes, lambda: fixed_cell_pooled(
                settings, m, arrays, excl, pooled, effects=(es.yi, es.vi, mask)))
        notes.extend(method_notes)
        if settings.method == "MH" and m.code == "OR":
            # the Cochran-Mantel-Haenszel and Tarone tests, as rma.mh prints them
            from ..pooling.mh import cmh_tarone
            pooled = pooled.replace(method_details={**(pooled.method_details or {}), **cmh_tarone(
                *(arrays[c][~excl] for c in ("events_e", "n_e", "events_c", "n_c")))})
    intervals = Deferred(_study_intervals, m, es.yi, es.vi, settings, arrays, missing)
    lo, hi, nlo, nhi = intervals.part(0), intervals.part(1), intervals.part(2), intervals.part(3)
    if covs:
        notes.extend(_flag_notes(labels, covs))
    # (an increment is never negative: the studies given one are its nonzero cells, usually none)
    corrected = None
    if m.design in ("proportion", "bin2") and np.count_nonzero(es.incr):
        corrected = es.incr > 0 if pooled_in is True else (es.incr > 0) & pooled_in
    if corrected is not None and np.count_nonzero(corrected):
        notes.append(f"continuity correction {settings.incr:g} added in {', '.join(labels[corrected])}")
    source = {"func": func, "data": dict(data), "studlab": studlab, "covariates": dict(covariates or {}),
              "exclude": exclude, "subset": subset, "refit": _refit}
    return MetaResult.of_fields(func=func, settings=settings, studlab=labels, data=arrays, covariates=covs,
                                excluded=excl, yi=es.yi, vi=es.vi, incr=es.incr, n=es.n, ci_low=lo, ci_high=hi,
                                nat_ci_low=nlo, nat_ci_high=nhi, pooled=pooled, source=source,
                                notes=tuple(notes), version=__version__)


def _study_intervals(m: Measure, yi, vi, settings: Settings, arrays: dict, missing) -> tuple:
    """The study intervals (analysis scale, natural scale), computed when a result first reads them."""
    lo, hi, nlo, nhi = study_ci(m, yi, vi, settings.level, settings.study_ci, arrays)
    if missing.any():  # no interval for a study without its data
        lo, hi, nlo, nhi = (None if a is None else np.where(missing, np.nan, a) for a in (lo, hi, nlo, nhi))
    return lo, hi, nlo, nhi


#: what inverse-variance weights 1/v_i define, undefined when a v_i is 0 (metafor reports NA)
NEEDS_POSITIVE_V = ("common_estimate", "common_se", "common_ci_low", "common_ci_high", "common_statistic",
                     "common_p", "q", "q_p", "i2", "i2_ci_low", "i2_ci_high", "h", "h_ci_low", "h_ci_high",
                     "tau2_ci_low", "tau2_ci_high")


def _check_zero_variances(zero_vi, labels, settings: Settings, notes: list) -> None:
    """Studies with sampling variance 0 (an estimate without sampling error): legal for the
    random-effects model with the estimators metafor allows them for, with a warning."""
    refusal = rules.zero_variance_refusal(settings.method, settings.method_tau2, ZERO_VARIANCE_METHODS)
    if refusal is not None:
        raise DataError(refusal, study=str(labels[int(np.argmax(zero_vi))]), column="vi", rule="vi > 0")
    msg = f"sampling variance 0 in {', '.join(labels[zero_vi])}: {rules.ZERO_VARIANCE_NOTE}"
    warnings.warn(msg, MetaReviewWarning, stacklevel=4)
    notes.append(msg)


def _without_inverse_variance_quantities(pooled: Pooled, zero_vi, labels, method_tau2) -> Pooled:
    het = pooled.heterogeneity
    if not het.tau2 > 0:
        i = int(np.argmax(zero_vi))
        raise DataError(f"sampling variance 0 and tau² estimated as 0 ({method_tau2}): the random-effects "
                        "weights are infinite", study=str(labels[i]), column="vi", rule="vi > 0 or tau² > 0")
    # what inverse-variance weights 1/v_i define is undefined when a v_i is 0 (metafor reports NA):
    # the common-effect model, Q, I², H and the Q-profile interval of tau² (NEEDS_POSITIVE_V)
    nan = float("nan")
    none = Interval(nan, nan, pooled.common.interval.level)
    return pooled.replace(
        common=Estimate(nan, nan, none, nan, nan),
        heterogeneity=replace(het, q=nan, p=nan, i2=nan, i2_interval=none, h=nan, h_interval=none,
                              tau2_interval=none),
        weight_common=None if pooled.weight_common is None else np.full_like(pooled.weight_common, nan))


def _genq_weights(weights, settings: Settings, labels, excl):
    """The GENQ estimator's user weights (column ``genq_weights``): required by it, refused
    otherwise, positive and finite in every pooled study."""
    if weights is None:
        if settings.method_tau2 == "GENQ":
            raise SettingsError("the GENQ estimator of tau² needs user weights: give genq_weights= "
                                "(or a column genq_weights, --col genq_weights=COLUMN)")
        return None
    if settings.method_tau2 != "GENQ":
        raise SettingsError(f"genq_weights apply only to the GENQ estimator of tau², not to {settings.method_tau2}")
    bad = ~(np.isfinite(weights) & (weights > 0)) & ~excl
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"a GENQ weight must be a positive number (value {weights[i]:g})", study=str(labels[i]),
                        column="genq_weights", rule="genq_weights > 0")
    return weights


def _noted(notes: list, compute):
    """Run ``compute()``; each warning it gives is added to ``notes`` and passed on."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = compute()
    for w in caught:
        notes.append(str(w.message))
        warnings.warn(w.message, w.category, stacklevel=4)
    return value


def _column_screen(m, arrays: dict) -> dict | None:
    """The least and largest value of each column the measure needs (None when a column is
    absent or empty: the checks below name it): computed once for the missing-cell check, the
    design's rules and, for generic data, the effects' rules, which read each column's
    extremes (two reductions a column instead of two for each check)."""
    needed = rules.needed_columns(m, arrays)
    if not all(c in arrays and arrays[c].size for c in needed):
        return None
    return column_extremes(arrays, needed)


def _missing_cells(m, arrays: dict, labels: np.ndarray, notes: list, screen: dict | None = None) -> np.ndarray:
    """Studies with an empty cell in a column the measure needs: kept in the study table and
    left out of the pooling, with a note and a warning naming study and column (what
    metafor does with ``na.action = "na.omit"`` and R meta with missing values)."""
    missing, where = rules.missing_cells(m, arrays, screen)
    if where is None:  # nothing missing
        return missing
    if missing.all():
        raise DataError("no study has complete data: every study has an empty cell "
                        f"(e.g. column {where[0]!r})", study=str(labels[0]), column=where[0],
                        rule="value required")
    detail = ", ".join(f"{labels[i]} (column '{where[i]}')" for i in np.flatnonzero(missing))
    msg = (f"not pooled, value missing: {detail}; kept in the study table "
           "(as metafor's na.action = \"na.omit\")")
    notes.append(msg)
    warnings.warn(msg, MetaReviewWarning, stacklevel=4)
    return missing


def _effects_of_complete(missing: np.ndarray, measure, arrays: dict, labels, settings, screen: dict | None = None):
    """Effect sizes of the studies with complete data; ``nan`` for the others (``screen``: the
    extremes of the needed columns of every study, :func:`_column_screen`)."""
    if not np.count_nonzero(missing):  # the usual case: every study, no copies
        return escalc(measure, arrays, incr=settings.incr, method_incr=settings.method_incr,
                      incr_style=settings.incr_style, exact_smd=settings.exact_smd, studlab=labels,
                      rr_cochrane=settings.rr_cochrane, extremes=screen)
    complete = ~missing
    part = {c: v[complete] for c, v in arrays.items()}
    es = escalc(measure, part, incr=settings.incr, method_incr=settings.method_incr,
                incr_style=settings.incr_style, exact_smd=settings.exact_smd, studlab=labels[complete],
                rr_cochrane=settings.rr_cochrane)

    def full(values, fill=np.nan):
        if values is None:
            return None
        out = np.full(missing.shape, fill)
        out[complete] = values
        return out
    return replace(es, yi=full(es.yi), vi=full(es.vi), incr=full(es.incr, 0.0), n=full(es.n))


def _flag_notes(labels, covs) -> list[str]:
    """Say which values were imputed or estimated (columns ``<col>_imputed`` / ``<col>_estimated``,
    with the method in ``<col>_imputation`` where given), so every result shows them."""
    out = []
    for key in sorted(covs):
        for suffix, verb in (("_imputed", "imputed"), ("_estimated", "estimated in the source")):
            if not key.endswith(suffix):
                continue
            col = key[: -len(suffix)]
            flags = np.array([str(v).strip().lower() in ("true", "1", "yes", "*") for v in covs[key]])
            if flags.any():
                how = covs.get(f"{col}_imputation")
                detail = [f"{labels[i]}" + (f" ({how[i]})" if how is not None and str(how[i]) not in ("", "nan", "None")
                                            else "") for i in np.flatnonzero(flags)]
                out.append(f"{col} {verb} in {int(flags.sum())} stud{'y' if flags.sum() == 1 else 'ies'}: "
                           + ", ".join(detail))
    return out


def _refit(result: MetaResult, changes: dict) -> MetaResult:
    src = result.source
    exclude = changes.pop("exclude", src["exclude"])
    subset = changes.pop("subset", src["subset"])
    settings = result.settings.replace(**changes)
    return _fit(src["func"], src["data"], src["studlab"], src["covariates"], settings, exclude, subset)


def _measure_of(func: str, measure, design: str) -> Measure:
    """The measure named by ``measure``, which must be one of ``design``'s (resolved here, once,
    and passed down as a :class:`~metareview.effectsizes.measures.Measure`)."""
    m = get_measure(measure)
    if design not in m.designs:
        *most, last = [x.code for x in measures_for(design)]
        raise SettingsError(f"{func} takes {', '.join(most)} or {last}, not {measure!r}")
    return m


def _run(func, roles: dict, studlab, data, measure: Measure | str, kwargs):
    exclude = kwargs.pop("exclude", None)
    subset = kwargs.pop("subset", None)
    covariates = kwargs.pop("covariates", None)
    roles = {**roles, "genq_weights": kwargs.pop("genq_weights", None)}
    resolved = {role: column_argument(data, v, role) for role, v in roles.items() if v is not None}
    studlab = column_argument(data, studlab, "studlab")
    settings, _ = Settings.split({"measure": measure, **kwargs})
    return _fit(func, resolved, studlab, covariates, settings, exclude, subset)


def metaprop(event, n, studlab=None, *, data=None, measure: str = "PLO", **kwargs) -> MetaResult:
    """Pool single proportions (R meta's ``metaprop``; inverse variance, logit by default;
    ``method="GLMM"`` fits the random-intercept logistic model, ``n_agq`` quadrature points).

    >>> r = metaprop([8, 26, 26], [10, 31, 30], ["A", "B", "C"])
    >>> round(float(r.backtransform(r.pooled["random_estimate"])), 4)
    0.8435
    """
    m = _measure_of("metaprop", measure, "proportion")
    return _run("metaprop", {"events": event, "n": n}, studlab, data, m, kwargs)


def metarate(event, time, studlab=None, *, data=None, measure: str = "IRLN", **kwargs) -> MetaResult:
    """Pool single incidence rates, events over person-time (R meta's ``metarate``: IR, IRLN,
    IRS, IRFT; ``method="GLMM"`` fits the Poisson-normal model for IRLN)."""
    m = _measure_of("metarate", measure, "rate")
    return _run("metarate", {"events": event, "time": time}, studlab, data, m, kwargs)


def metamean(n, mean, sd, studlab=None, *, data=None, measure: str = "MN", **kwargs) -> MetaResult:
    """Pool single means (R meta's ``metamean``: MN raw, MNLN log)."""
    m = _measure_of("metamean", measure, "mean")
    return _run("metamean", {"n": n, "mean": mean, "sd": sd}, studlab, data, m, kwargs)


def metacont(n_e, mean_e, sd_e, n_c, mean_c, sd_c, studlab=None, *, data=None, measure: str = "MD",
             **kwargs) -> MetaResult:
    """Pool two-group continuous outcomes (R meta's ``metacont``: MD, SMD, ROM; metafor's SMDH, VR, CVR)."""
    m = _measure_of("metacont", measure, "cont2")
    roles = {"n_e": n_e, "mean_e": mean_e, "sd_e": sd_e, "n_c": n_c, "mean_c": mean_c, "sd_c": sd_c}
    return _run("metacont", roles, studlab, data, m, kwargs)


def metaprepost(n, mean_pre, sd_pre, mean_post, sd_post, studlab=None, *, r=None, data=None,
                measure: str = "MD", **kwargs) -> MetaResult:
    """Pool follow-up minus baseline in one group.

    ``MD`` treats follow-up and baseline as two independent groups (what R meta's
    ``metacont(n, mean_post, sd_post, n, mean_pre, sd_pre)`` does, and the seed paper did);
    ``MC``, ``SMCC``, ``SMCR``, ``SMCRH`` and ``ROMC`` use the pre/post correlation ``r`` (required).
    """
    m = _measure_of("metaprepost", measure, "prepost")
    roles = {"n": n, "mean_pre": mean_pre, "sd_pre": sd_pre, "mean_post": mean_post, "sd_post": sd_post,
             "r": r}
    return _run("metaprepost", roles, studlab, data, m, kwargs)


def metabin(event_e, n_e, event_c, n_c, studlab=None, *, data=None, measure: str = "OR",
            **kwargs) -> MetaResult:
    """Pool two-group binary outcomes (R meta's ``metabin``: OR, RR, RD) by inverse variance,
    or with ``method="MH"`` (Mantel-Haenszel) or ``method="Peto"`` (OR) for the common effect;
    ``method="GLMM"`` (OR) fits a two-group GLMM, ``model_glmm`` as R meta's ``model.glmm``: the
    unconditional model with fixed study effects (``"UM.FS"``, the default of meta and metafor's
    ``rma.glmm``), the unconditional model with random study effects (``"UM.RS"``), the conditional
    model with the approximate (``"CM.AL"``) or the exact likelihood
    (``"CM.EL"``); see :func:`metareview.pooling.glmm.glmm_or`."""
    m = _measure_of("metabin", measure, "bin2")
    roles = {"events_e": event_e, "n_e": n_e, "events_c": event_c, "n_c": n_c}
    return _run("metabin", roles, studlab, data, m, kwargs)


def metainc(event_e, time_e, event_c, time_c, studlab=None, *, data=None, measure: str = "IRR",
            **kwargs) -> MetaResult:
    """Pool two-group incidence rates, events over person-time in each group (R meta's
    ``metainc``: IRR, IRD; and metafor's IRSD, the difference of square-root rates).

    The common effect is pooled by inverse variance; R meta's default ``method = "MH"``
    is ``method="MH"`` here.

    >>> r = metainc([9, 8, 3], [413, 263, 487], [19, 19, 13], [398, 245, 435])
    >>> round(float(r.backtransform(r.pooled["common_estimate"])), 4)
    0.3749
    """
    m = _measure_of("metainc", measure, "rate2")
    roles = {"events_e": event_e, "time_e": time_e, "events_c": event_c, "time_c": time_c}
    return _run("metainc", roles, studlab, data, m, kwargs)


def metacor(cor, n, studlab=None, *, data=None, measure: str = "ZCOR", **kwargs) -> MetaResult:
    """Pool correlations (R meta's ``metacor``: Fisher's z by default, back-transformed to
    correlations; COR for raw and UCOR for bias-corrected correlations as metafor).

    >>> r = metacor([0.187, 0.162, 0.34], [109, 749, 55])
    >>> round(float(r.backtransform(r.pooled["common_estimate"])), 4)
    0.1756
    """
    m = _measure_of("metacor", measure, "cor")
    return _run("metacor", {"cor": cor, "n": n}, studlab, data, m, kwargs)


def metagen(TE, seTE=None, studlab=None, *, vi=None, data=None, measure: str = "GEN", **kwargs) -> MetaResult:
    """Pool estimates with standard errors (``seTE``) or variances (``vi``), as R meta's ``metagen``.

    ``measure`` says what the estimates are (e.g. ``"OR"`` for log odds ratios, so that
    results are back-transformed); the default ``GEN`` is an untransformed estimate.
    """
    if (seTE is None) == (vi is None):
        raise SettingsError("metagen needs exactly one of seTE (standard errors) or vi (variances)")
    roles = {"yi": TE, "sei": seTE, "vi": vi}
    return _run("metagen", roles, studlab, data, get_measure(measure), dict(kwargs))


def metaanalysis(table, measure: str | None = None, *, studlab: str = "study", columns: Mapping[str, str] | None = None,
                 cluster: str | None = None, **kwargs):
    """Pool a table (DataFrame or dict of columns) whose design is read from its column names.

    ``columns`` maps metareview's roles to other column names (``{"events": "resp"}``).
    Columns that are not roles are kept as covariates (subgroups, moderators).

    ``cluster`` names a column that groups rows (several estimates of one study, e.g. time
    points): the rows are then pooled with the three-level model
    ``rma.mv(yi, vi, random = ~ 1 | cluster/estimate)``, as R meta's ``cluster`` argument,
    and a :class:`~metareview.analyses.multilevel.MultilevelResult` is returned.  Its variance
    components are estimated by ``method_tau2`` REML (default) or ML; ``random_ci="hk"``
    gives t tests on k - p df (``rma.mv(test = "t")``).
    """
    if cluster is not None:
        return _three_level(table, measure, studlab, columns, cluster, kwargs)
    cols = {str(c): table[c] for c in (table.columns if hasattr(table, "columns") else table.keys())}
    for role, name in (columns or {}).items():
        if role not in ROLE_COLUMNS and role != "study":
            raise SettingsError(f"unknown column role {role!r}; valid roles are: {', '.join(ROLE_COLUMNS)}, study")
        if name not in cols:
            raise DataError(f"column {name!r} (mapped to {role}) is not in the data", column=name,
                            rule="missing column")
        cols[role] = cols.pop(name)
    design, design_notes = resolve_design([c for c in cols if c != studlab], measure)
    m = get_measure(measure if measure else DEFAULT_MEASURE[design])
    if design not in m.designs and design != "generic":
        raise SettingsError(f"measure {m.code} needs a {m.design} design, but the columns give a {design} "
                            f"design")
    labels = cols.pop(studlab, None) if studlab in cols else None
    genq = kwargs.pop("genq_weights", None)
    if isinstance(genq, str):
        if genq not in cols:
            raise DataError(f"column {genq!r} (given as genq_weights) is not in the data", column=genq,
                            rule="missing column")
        genq = cols[genq]
    used = _design_columns(design, set(cols))
    roles = {c: cols.pop(c) for c in list(cols) if c in used}
    if genq is not None:
        roles["genq_weights"] = genq
    exclude = kwargs.pop("exclude", None)
    subset = kwargs.pop("subset", None)
    settings, _ = Settings.split({"measure": m, **kwargs})
    result = _fit("metagen" if design == "generic" else f"meta{design}", roles, labels, cols, settings,
                  exclude, subset)
    if design_notes:
        from dataclasses import replace
        result = replace(result, notes=tuple(design_notes) + tuple(result.notes))
    return result


def _three_level(table, measure, studlab, columns, cluster, kwargs):
    """metaanalysis(..., cluster=): effect sizes as for one analysis, pooled by the three-level model."""
    from ..analyses.multilevel import MV_METHODS, multilevel

    method = str(kwargs.get("method_tau2", "REML")).upper()
    if method not in MV_METHODS:
        raise SettingsError(f"with cluster, tau² is estimated by {' or '.join(MV_METHODS)} (the three-level "
                            f"model), not {method}")
    if kwargs.get("method", "Inverse") != "Inverse":
        raise SettingsError("with cluster, the estimates are pooled by inverse variance (the three-level model); "
                            f"method {kwargs['method']!r} is not offered")
    unused = [key for key in ("adhoc_hakn", "prediction", "i2_method", "study_ci", "common", "random") if key in kwargs]
    if unused:
        raise SettingsError(f"with cluster, {', '.join(unused)} {'is' if len(unused) == 1 else 'are'} not offered "
                            "(the three-level model reports metafor's Wald intervals, prediction interval and "
                            "variance components)")
    test = "t" if kwargs.get("random_ci", "wald") == "hk" else "z"
    with warnings.catch_warnings():
        # several rows of one study are what a cluster means, not a mistake in the labels
        warnings.filterwarnings("ignore", message=_DUPLICATE_LABELS, category=MetaReviewWarning)
        result = metaanalysis(table, measure, studlab=studlab, columns=columns, **{**kwargs, "method_tau2": method})
    result = replace(result, notes=tuple(n for n in result.notes if not n.startswith(_DUPLICATE_LABELS)))
    if cluster == studlab and cluster not in result.covariates and cluster not in result.data:
        # the study label column (popped as labels) groups the rows
        return multilevel(result, result.studlab, method=method, test=test, cluster_name=cluster)
    return multilevel(result, cluster, method=method, test=test)
