"""Sensitivity analyses: leave-one-out, cumulative meta-analysis and exclusion side by side.

Each analysis is a batch of re-poolings of the same effect sizes with different sets of
studies, so all of them run as ONE call of the vectorised kernel
(:func:`metareview.pooling.inverse_variance.pool_arrays`) on a 0/1 mask matrix of shape (analyses,
studies): row i of the leave-one-out mask omits study i (metafor's ``leave1out``, R meta's
``metainf``); row i of the cumulative mask holds the first i studies in the chosen order
(metafor's ``cumul``, R meta's ``metacum``; Lau et al. 1992, N Engl J Med 327:248).
Every re-pooling uses the settings of the result (tau² estimator, CI method, prediction
interval, I² convention).  Studies excluded from the result (shown, not pooled) take
part in none of the re-poolings.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..base.exceptions import DataError, SettingsError, SmallSampleWarning
from ..base.format import Reportable, fmt as _f, fmt_p as _p
from ..pooling.inverse_variance import PooledArrays, pool_arrays
from ..pooling.summary import pooled_block
from ..pooling.values import Pooled

__all__ = ["leave1out", "cumul", "compare_exclusion", "LeaveOneOut", "Cumulative", "ExclusionComparison",
           "pooled_block", "pool_masks", "restrict"]


# ---------------------------------------------------------------------------------------
# shared helpers: batched re-pooling of a result, JSON blocks, sub-results
# ---------------------------------------------------------------------------------------

def pool_masks(result, masks: np.ndarray, *, warn: bool = False, yi=None, vi=None) -> PooledArrays:
    """Pool ``result``'s effect sizes once per row of ``masks`` with the result's settings."""
    s = result.settings
    if s.method != "Inverse" and yi is None:
        # re-pooling is inverse variance; a GLMM, MH or Peto result must not silently change method
        raise SettingsError(f"this analysis re-pools by inverse variance; it is not available for "
                            f"method {s.method} (refit with method='Inverse')")
    masks = np.atleast_2d(np.asarray(masks, float))
    y = np.broadcast_to(np.asarray(result.yi if yi is None else yi, float), masks.shape)
    v = np.broadcast_to(np.asarray(result.vi if vi is None else vi, float), masks.shape)
    genq = (result.data or {}).get("genq_weights") if yi is None else None  # the GENQ estimator's weights
    with warnings.catch_warnings():
        if not warn:
            warnings.simplefilter("ignore")
        return pool_arrays(y, v, masks, method_tau2=s.method_tau2, level=s.level, random_ci=s.random_ci,
                           adhoc_hakn=s.adhoc_hakn, prediction=s.prediction, i2_method=s.i2_method,
                           null=result.measure.null,
                           tau2_weights=None if genq is None else np.broadcast_to(np.asarray(genq, float),
                                                                                  masks.shape))


def _original_keep(result) -> np.ndarray:
    """Which rows of the result's source data the result keeps (its ``subset``)."""
    from ..tables.selection import select_studies, study_labels
    src = result.source
    data = src.get("data") or {}
    k0 = len(next(iter(data.values()))) if data else result.k_all
    if src.get("subset") is None:
        return np.ones(k0, bool)
    return select_studies(src["subset"], study_labels(src.get("studlab"), k0), "subset")


def restrict(result, keep: np.ndarray, pooled: Pooled, notes: Sequence[str] = ()):
    """The result restricted to the studies ``keep`` (a boolean array), with ``pooled`` values.

    The sub-result keeps its settings and a source whose ``subset`` selects the same
    studies, so that ``update()`` refits it.
    """
    keep = np.asarray(keep, bool)
    src = dict(result.source)
    try:
        orig = _original_keep(result)
        new = np.zeros(orig.size, bool)
        new[np.flatnonzero(orig)[keep]] = True
        src["subset"] = new
        src["exclude"] = result.excluded[keep].copy()
    except Exception:  # a result built without a source table: refitting is not offered
        src = {}

    def cut(a):
        return None if a is None else np.asarray(a)[keep]
    return replace(result, studlab=result.studlab[keep], data={c: v[keep] for c, v in result.data.items()},
                   covariates={c: np.asarray(v)[keep] for c, v in result.covariates.items()},
                   excluded=result.excluded[keep], yi=result.yi[keep], vi=result.vi[keep],
                   incr=cut(result.incr), n=cut(result.n), ci_low=cut(result.ci_low), ci_high=cut(result.ci_high),
                   nat_ci_low=cut(result.nat_ci_low), nat_ci_high=cut(result.nat_ci_high),
                   pooled=_trim_weights(pooled, keep), source=src, notes=tuple(notes))


def _trim_weights(pooled: Pooled, keep) -> Pooled:
    trimmed = {}
    for w in ("weight_common", "weight_random"):
        value = getattr(pooled, w)
        if np.ndim(value) and np.size(value) == keep.size:
            trimmed[w] = np.asarray(value)[keep]
    return pooled.replace(**trimmed)


def _frame(labels, pooled: PooledArrays, result, extra: dict | None = None):
    import pandas as pd
    d = {"study": labels}
    d.update(extra or {})
    for name in ("k", "common_estimate", "common_se", "common_ci_low", "common_ci_high", "common_p",
                 "random_estimate", "random_se", "random_ci_low", "random_ci_high", "random_statistic",
                 "random_p", "prediction_low", "prediction_high", "q", "q_df", "q_p", "tau2", "tau", "i2", "h"):
        d[name] = getattr(pooled, name)
    if result.measure.transformed:
        bt = result.backtransform
        for name in ("common_estimate", "common_ci_low", "common_ci_high", "random_estimate",
                     "random_ci_low", "random_ci_high", "prediction_low", "prediction_high"):
            d[f"bt_{name}"] = bt(getattr(pooled, name))
    return pd.DataFrame(d)


#: columns of the leave-one-out and cumulative tables (R meta's metainf/metacum print)
_ROW_COLUMNS = ("k", "Estimate", "CI", "p-value", "τ²", "τ", "I²")


def _model_row(label: str, p: Mapping, result, model: str) -> list[str]:
    """One analysis as a table row; τ², τ and I² are ``--`` for one study (not estimable)."""
    bt = result.backtransform if result.measure.transformed else (lambda x: x)
    single = int(p["k"]) <= 1
    het = ["--"] * 3 if single else [_f(p["tau2"]), _f(p["tau"]), f"{_f(p['i2'], 1)}%"]
    return [label, str(int(p["k"])), _f(bt(p[f"{model}_estimate"])),
            f"[{_f(bt(p[f'{model}_ci_low']))}; {_f(bt(p[f'{model}_ci_high']))}]",
            _p(p[f"{model}_p"]), *het]


def _model_rows(labels, pooled: PooledArrays, result, model: str, prefix: str = ""):
    """One row per analysis, then the all-studies row (R meta's "Pooled estimate")."""
    rows = [_model_row(f"{prefix}{lab}", pooled.row(i), result, model) for i, lab in enumerate(labels)]
    rows.append(_model_row("Pooled estimate (all studies)", result.pooled, result, model))
    return rows


def _model_table(labels, pooled: PooledArrays, result, model: str, prefix: str):
    from ..base.report import Table
    pct = int(round(result.settings.level * 100))
    cols = ["", *_ROW_COLUMNS]
    cols[3] = f"{pct}%-CI"
    return Table(cols, _model_rows(labels, pooled, result, model, prefix))


def _forest_rows(obj, header: str, ax, kwargs):
    """Draw a leave-one-out or cumulative analysis with the plots' ``forest_table``."""
    from ..plots.forest import forest_table
    r = obj.result
    model = kwargs.pop("model", "random" if r.settings.random else "common")
    bt = r.backtransform if r.measure.transformed else (lambda x: x)
    p = obj.pooled
    est = bt(getattr(p, f"{model}_estimate"))
    lo = bt(getattr(p, f"{model}_ci_low"))
    hi = bt(getattr(p, f"{model}_ci_high"))
    full = r.pooled
    overall = (bt(full[f"{model}_estimate"]), bt(full[f"{model}_ci_low"]), bt(full[f"{model}_ci_high"]))
    columns = {"tau²": [_f(t) for t in p.tau2], "I²": [f"{_f(i, 1)}%" for i in p.i2]}
    kwargs.setdefault("columns", columns)
    kwargs.setdefault("header", header)
    kwargs.setdefault("overall", overall)
    kwargs.setdefault("overall_label", f"All studies ({'random' if model == 'random' else 'common'} effect)")
    return forest_table(list(map(str, obj.studlab)), est, lo, hi, measure=r.measure, ax=ax, **kwargs)


# ---------------------------------------------------------------------------------------
# leave-one-out
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LeaveOneOut(Reportable):
    """The result re-pooled with each included study omitted in turn."""

    result: Any
    studlab: np.ndarray          # the omitted study of each row
    pooled: PooledArrays         # one analysis per omitted study
    kind: str = "leave_one_out"

    @property
    def overall(self):
        return self.result

    def summary(self):
        """One row per omitted study (analysis scale, natural scale in ``bt_*`` columns)."""
        return _frame(self.studlab, self.pooled, self.result)

    def rows(self) -> list[dict]:
        return [{"omitted": str(s), **pooled_block(self.pooled.row(i), self.result)}
                for i, s in enumerate(self.studlab)]

    def to_dict(self) -> dict:
        """The JSON ``leave_one_out`` block: one pooled block per omitted study."""
        return {"model": "both", "rows": self.rows()}

    def report(self):
        from ..base.report import Heading, Report
        r = self.result
        model = "random" if r.settings.random else "common"
        rep = Report()
        rep.add(Heading(f"Leave-one-out analysis ({model} effects model)", 2))
        rep.add(_model_table(self.studlab, self.pooled, r, model, "Omitting "))
        return rep

    def forest(self, ax=None, **kwargs):
        """Forest plot of the estimates without each study (``model=`` common or random)."""
        return _forest_rows(self, "Omitting", ax, kwargs)

    plot = forest


def leave1out(result) -> LeaveOneOut:
    """Leave-one-out sensitivity analysis: pool again without each study in turn.

    All k re-poolings are one batched call of the kernel.  The numbers per row are those of
    metafor's ``leave1out()`` (estimate, se, z/t, p, CI, Q, Q p, tau², I², H) and R meta's
    ``metainf()``, under the result's settings.
    """
    inc = np.flatnonzero(result.included)
    if inc.size < 2:
        raise DataError(f"leave-one-out needs at least two pooled studies, not {inc.size}", rule="k >= 2")
    masks = np.tile(result.included.astype(float), (inc.size, 1))
    masks[np.arange(inc.size), inc] = 0.0
    if inc.size < 3:
        warnings.warn("leave-one-out with two studies pools single studies: tau², Q and I² are not estimable",
                      SmallSampleWarning, stacklevel=2)
    return LeaveOneOut(result=result, studlab=result.studlab[inc], pooled=pool_masks(result, masks))


# ---------------------------------------------------------------------------------------
# cumulative
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Cumulative(Reportable):
    """The result pooled cumulatively, adding studies in a chosen order."""

    result: Any
    studlab: np.ndarray          # the study added at each step
    order_by: str | None
    order_values: np.ndarray
    pooled: PooledArrays
    decreasing: bool = False
    kind: str = "cumulative"

    @property
    def overall(self):
        return self.result

    def summary(self):
        return _frame(self.studlab, self.pooled, self.result, {"order_value": self.order_values})

    def to_dict(self) -> dict:
        """The JSON ``cumulative`` block: one pooled block per step."""
        rows = []
        for i, s in enumerate(self.studlab):
            v = self.order_values[i]
            rows.append({"added": str(s), "order_value": v.item() if hasattr(v, "item") else v,
                         **pooled_block(self.pooled.row(i), self.result)})
        return {"order_by": self.order_by, "decreasing": self.decreasing, "rows": rows}

    def report(self):
        from ..base.report import Heading, Report
        r = self.result
        model = "random" if r.settings.random else "common"
        rep = Report()
        by = f" ordered by {self.order_by}" if self.order_by else ""
        rep.add(Heading(f"Cumulative meta-analysis{by} ({model} effects model)", 2))
        rep.add(_model_table(self.studlab, self.pooled, r, model, "Adding "))
        return rep

    def forest(self, ax=None, **kwargs):
        """Forest plot of the cumulative estimates (``model=`` common or random)."""
        return _forest_rows(self, "Adding", ax, kwargs)

    plot = forest


def cumul(result, order=None, *, decreasing: bool = False) -> Cumulative:
    """Cumulative meta-analysis in the order of ``order`` (Lau et al. 1992).

    ``order``: a column of ``result.covariates`` (e.g. ``"year"``), an array of sort keys
    (one per study), or None for the order of the data.  Ties keep the data order (a
    stable sort, as R's ``order()``).  Step i pools the first i included studies; all
    steps are one batched call of the kernel.
    """
    labels = result.studlab
    name = None
    if order is None:
        keys = np.arange(result.k_all)
    elif isinstance(order, str):
        from .moderators import study_columns
        cols = study_columns(result)
        if order not in cols:
            raise DataError(f"cannot order by {order!r}: it is not a column of the data; columns are: "
                            f"{', '.join(cols) or '(none)'}", column=order, rule="missing column")
        name = order
        keys = cols[order]
    else:
        keys = np.asarray(order, dtype=object).ravel()
        if keys.size != result.k_all:
            raise DataError(f"{keys.size} order values for {result.k_all} studies", rule="one value per study")
    from .moderators import as_number, is_missing
    miss = np.array([is_missing(x) for x in keys])
    if miss.any():
        raise DataError(f"missing order values for {', '.join(map(str, labels[miss]))}", study=str(labels[miss][0]),
                        column=name, rule="order value required")
    nums = [as_number(x) for x in keys]
    sort_keys = np.array(nums, float) if all(n is not None for n in nums) else np.array([str(x) for x in keys])
    idx = np.flatnonzero(result.included)
    sk = sort_keys[idx]
    if decreasing:
        # stable descending: R's order(decreasing = TRUE) keeps ties in data order
        if sk.dtype.kind == "f":
            perm = np.argsort(-sk, kind="stable")
        else:
            ranks = np.unique(sk, return_inverse=True)[1]
            perm = np.argsort(-ranks, kind="stable")
    else:
        perm = np.argsort(sk, kind="stable")
    ordered = idx[perm]
    m = ordered.size
    masks = np.zeros((m, result.k_all))
    for step in range(m):  # building the 0/1 matrix, not refitting
        masks[step, ordered[: step + 1]] = 1.0
    vals = keys[ordered]
    return Cumulative(result=result, studlab=labels[ordered], order_by=name, order_values=vals,
                      pooled=pool_masks(result, masks), decreasing=decreasing)


# ---------------------------------------------------------------------------------------
# exclusion side by side
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ExclusionComparison(Reportable):
    """The full analysis beside the analysis without some studies."""

    full: Any
    reduced: Any
    excluded: tuple
    rule: str | None = None
    kind: str = "exclusion"

    def to_dict(self) -> dict:
        return {"rule": self.rule, "excluded": list(self.excluded),
                "full": pooled_block(self.full.pooled, self.full),
                "reduced": pooled_block(self.reduced.pooled, self.reduced)}

    def summary(self):
        import pandas as pd
        rows = []
        for name, r in (("full", self.full), ("reduced", self.reduced)):
            p = r.pooled
            rows.append({"analysis": name, "k": r.k, "common_estimate": p["common_estimate"],
                         "common_ci_low": p["common_ci_low"], "common_ci_high": p["common_ci_high"],
                         "random_estimate": p["random_estimate"], "random_ci_low": p["random_ci_low"],
                         "random_ci_high": p["random_ci_high"], "tau2": p["tau2"], "i2": p["i2"]})
        return pd.DataFrame(rows).set_index("analysis")

    def report(self):
        from ..base.report import Heading, Paragraph, Report, Table
        rep = Report()
        rep.add(Heading("Sensitivity analysis: exclusion of studies", 2))
        why = f" ({self.rule})" if self.rule else ""
        rep.add(Paragraph(f"Excluded{why}: {', '.join(self.excluded)}"))
        pct = int(round(self.full.settings.level * 100))
        rows = []
        for name, r in (("All studies", self.full), ("Without excluded", self.reduced)):
            bt = r.backtransform if r.measure.transformed else (lambda x: x)
            p = r.pooled
            for model in ("common", "random"):
                if not getattr(r.settings, model):
                    continue
                rows.append([name, model, str(r.k), _f(bt(p[f"{model}_estimate"])),
                             f"[{_f(bt(p[f'{model}_ci_low']))}; {_f(bt(p[f'{model}_ci_high']))}]",
                             _f(p["tau2"]), _f(p["i2"], 1)])
        rep.add(Table(["Analysis", "Model", "k", "Estimate", f"{pct}%-CI", "τ²", "I² (%)"], rows))
        return rep

def compare_exclusion(result, studies: Sequence[str] | None = None, *,
                      rule: Callable[[dict], bool] | str | None = None) -> ExclusionComparison:
    """The analysis without some studies, beside the full analysis.

    ``studies``: labels to leave out; or ``rule``: a function of a study's row (a dict of
    its covariates and data, plus ``study``, ``yi``, ``vi``) returning True to exclude, or
    a column name whose truthy values exclude (e.g. a ``paediatric`` flag).
    """
    if (studies is None) == (rule is None):
        raise SettingsError("give exactly one of studies= (labels) or rule= (a function or a column name)")
    labels = [str(s) for s in result.studlab]
    if studies is not None:
        if isinstance(studies, str):
            studies = [studies]
        unknown = [s for s in studies if s not in labels]
        if unknown:
            raise SettingsError(f"no study is labelled {', '.join(map(repr, unknown))}; studies are: "
                                f"{', '.join(labels)}")
        drop = np.isin(np.array(labels, dtype=object), list(studies))
        rule_text = None
    else:
        if isinstance(rule, str):
            if rule not in result.covariates:
                raise DataError(f"rule column {rule!r} is not in the data", column=rule, rule="missing column")
            from .moderators import is_missing
            col = result.covariates[rule]
            drop = np.array([(not is_missing(x)) and str(x).strip().lower() not in ("0", "false", "no", "")
                             for x in col])
            rule_text = f"{rule} is true"
        else:
            if not callable(rule):
                raise SettingsError(f"rule must be a function of a study's row or a column name, not {rule!r}")
            drop = np.zeros(result.k_all, bool)
            for i in range(result.k_all):
                study_row = {c: v[i] for c, v in result.covariates.items()}
                study_row.update({c: v[i] for c, v in result.data.items()})
                study_row.update({"study": labels[i], "yi": result.yi[i], "vi": result.vi[i]})
                drop[i] = bool(rule(study_row))
            rule_text = getattr(rule, "__name__", "rule")
    drop &= result.included
    if not drop.any():
        raise SettingsError("no pooled study is excluded by this rule or list")
    if drop.sum() == result.included.sum():
        raise DataError("the rule or list excludes every pooled study", rule="no studies")
    keep_mask = (result.included & ~drop).astype(float)
    row = pool_masks(result, keep_mask[None, :], warn=True).row(0)
    src = dict(result.source)
    if src:
        src["exclude"] = result.excluded | drop
    reduced = replace(result, excluded=result.excluded | drop, pooled=row, source=src,
                      notes=tuple(result.notes) + (f"excluded in sensitivity analysis: "
                                                   f"{', '.join(np.array(labels)[drop])}",))
    return ExclusionComparison(full=result, reduced=reduced, excluded=tuple(np.array(labels)[drop]),
                               rule=rule_text)
