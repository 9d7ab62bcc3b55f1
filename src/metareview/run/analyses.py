"""Fitting the plan's analyses: the pooled result, its sensitivity analyses and the
additional estimates (crude proportion, GLMM) that a proportion analysis asks for."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .derive import AnalysisTable
from .plan import ADDITIONAL, Analysis, PlanError, ReviewPlan, Sensitivity

__all__ = ["Fit", "AnalysisRun", "run_analysis", "crude_proportion", "glmm_estimate"]


@dataclass(frozen=True)
class Fit:
    """One pooled result with its additional estimates."""

    name: str                      # the name in results.json
    result: Any                    # MetaResult
    additional: dict = field(default_factory=dict)
    sensitivity: Sensitivity | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class AnalysisRun:
    analysis: Analysis
    table: AnalysisTable
    main: Fit
    sensitivity: tuple[Fit, ...] = ()
    subgroups: dict = field(default_factory=dict)

    def fits(self) -> list[Fit]:
        return [self.main, *self.sensitivity]

    def fit(self, sensitivity: str | None) -> Fit:
        if sensitivity is None:
            return self.main
        for f in self.sensitivity:
            if f.sensitivity is not None and f.sensitivity.name == sensitivity:
                return f
        raise KeyError(sensitivity)


def run_analysis(table: AnalysisTable, plan: ReviewPlan) -> AnalysisRun:
    """Pool ``table`` as its analysis declares, then each sensitivity analysis."""
    from ..api.meta import metaanalysis
    from ..base.exceptions import MetaReviewError

    a = table.analysis
    where = f"[analysis.{a.name}]"
    settings = dict(a.settings)
    measure = settings.pop("measure", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # warnings are kept in the result's notes
        try:
            result = metaanalysis(table.frame, measure, studlab="study", **settings)
        except MetaReviewError as exc:
            raise PlanError(str(exc), path=plan.path, line=a.line, where=where) from None
    main = Fit(name=a.name, result=result, additional=_additional(a, result))
    fits = []
    for sname in a.sensitivity:
        s = plan.sensitivity[sname]
        if s.exclude_rob is not None:
            s = _by_rob(s, table, plan, a)
        present = [x for x in s.exclude if x in table.studies]
        unknown = [x for x in s.exclude if x not in table.all_studies]
        if unknown:
            raise PlanError(f"no study is labelled {unknown[0]!r} in {a.data}; studies are: "
                            f"{', '.join(table.all_studies)}", path=plan.path,
                            line=_line(plan, f"sensitivity.{sname}") if plan.text else None,
                            where=f"[sensitivity.{sname}] exclude")
        notes = []
        if s.exclude_rob is not None and not s.exclude:
            notes.append(f"no study of this analysis is excluded by exclude_rob = {s.exclude_rob!r}")
        absent = [x for x in s.exclude if x not in present]
        if absent:
            notes.append(f"{', '.join(absent)} not in this analysis (missing data): nothing to exclude")
        if len(present) >= result.k_all:
            raise PlanError(f"excluding {', '.join(present)} leaves no study in analysis {a.name!r}",
                            path=plan.path, where=f"[sensitivity.{sname}] exclude")
        res = result
        if present:
            from ..analyses.sensitivity import compare_exclusion
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # kept in the result's notes
                res = compare_exclusion(result, studies=present).reduced
        fits.append(Fit(name=f"{a.name}_{sname}", result=res, additional=_additional(a, res), sensitivity=s,
                        notes=tuple(notes)))
    subgroups = {}
    if a.subgroups:
        subgroups = _subgroups(a, result, plan)
    return AnalysisRun(analysis=a, table=table, main=main, sensitivity=tuple(fits), subgroups=subgroups)


def _by_rob(s: Sensitivity, table: AnalysisTable, plan: ReviewPlan, a: Analysis) -> Sensitivity:
    """A sensitivity analysis by risk of bias, with the studies its judgments leave out named."""
    from dataclasses import replace

    from ..appraisal.rob import load_tool, rob_exclusions
    from ..base.exceptions import MetaReviewError

    where = f"[sensitivity.{s.name}] exclude_rob"
    if "rob" not in table.frame.columns:
        raise PlanError(f"analysis {a.name!r} uses data {a.data!r}, which has no risk-of-bias table: add "
                        f"rob = \"judgments.csv\" to [data.{a.data}]", path=plan.path, where=where)
    source = plan.data[a.data]
    try:
        tool = load_tool(source.rob_tool or "generic")
        overall = dict(zip(table.studies, (str(x) for x in table.frame["rob"])))
        dropped = rob_exclusions(overall, tool, table.studies, s.exclude_rob or "")
    except MetaReviewError as exc:
        raise PlanError(str(exc), path=plan.path, where=where) from None
    return replace(s, exclude=tuple(dropped))


def _line(plan: ReviewPlan, header: str) -> int | None:
    for i, line in enumerate(plan.text.splitlines()):
        if line.strip().replace(" ", "") == f"[{header}]":
            return i + 1
    return None


def _additional(a: Analysis, result) -> dict:
    out: dict[str, dict] = {}
    if not a.additional:
        return out
    inc = result.included
    events = result.data["events"][inc]
    n = result.data["n"][inc]
    level = result.settings.level
    for what in a.additional:
        if what == "crude":
            out["crude"] = crude_proportion(events, n, level)
        elif what == "glmm":
            out["glmm"] = glmm_estimate(events, n, level)
        else:  # the plan only lets ADDITIONAL through
            raise PlanError(f"unknown additional estimate {what!r}; valid: {', '.join(ADDITIONAL)}")
    return out


def crude_proportion(events, n, level: float = 0.95) -> dict:
    """Total events over total patients, with the Clopper-Pearson interval of that ratio."""
    from ..effectsizes.study_ci import proportion_ci

    e, t = float(np.sum(events)), float(np.sum(n))
    lo, hi = proportion_ci(np.array([e]), np.array([t]), level, "CP")
    return {"method": ADDITIONAL["crude"], "k": int(len(n)), "events": int(e), "n": int(t),
            "estimate": e / t, "ci_low": float(lo[0]), "ci_high": float(hi[0]), "level": level}


def glmm_estimate(events, n, level: float = 0.95) -> dict:
    """Binomial-normal random-intercept model (Stijnen et al. 2010), back-transformed."""
    from ..pooling.glmm import glmm_proportion

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = glmm_proportion(events, n, level=level)
    expit = lambda x: float(1.0 / (1.0 + np.exp(-x)))  # noqa: E731
    return {"method": ADDITIONAL["glmm"], "k": int(fit.k), "estimate": expit(fit.estimate),
            "ci_low": expit(fit.ci_low), "ci_high": expit(fit.ci_high), "level": level,
            "logit": {"estimate": float(fit.estimate), "se": float(fit.se), "ci_low": float(fit.ci_low),
                      "ci_high": float(fit.ci_high)},
            "tau2": float(fit.tau2), "i2": float(fit.i2), "converged": bool(fit.converged),
            "notes": [str(w.message) for w in caught]}


def _subgroups(a: Analysis, result, plan: ReviewPlan) -> dict:
    """Subgroup analyses by each declared column (:func:`metareview.analyses.subgroups.subgroup`)."""
    from ..analyses.subgroups import subgroup
    from ..base.exceptions import MetaReviewError

    out = {}
    for col in a.subgroups:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # kept in the subgroup result's notes
            try:
                out[col] = subgroup(result, col)
            except MetaReviewError as exc:
                raise PlanError(str(exc), path=plan.path, line=a.line, where=f"[analysis.{a.name}] subgroups") \
                    from None
    return out
