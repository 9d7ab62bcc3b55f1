"""From a data source to an analysis table: imputations, role columns, rows with the data.

An analysis uses the rows that have a value in every role column (after imputation);
the others are listed with what they lack, so that a reader can see why a study of
the table is not in a forest plot.  Values imputed here and values the source marks as
estimated are listed too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .data import LoadedData
from .plan import Analysis, PlanError, ReviewPlan

__all__ = ["AnalysisTable", "derive_table"]


@dataclass(frozen=True)
class AnalysisTable:
    analysis: Analysis
    frame: Any                       # study + role columns (+ subgroup columns), rows used only
    left_out: tuple[dict, ...] = ()  # {"study": ..., "missing": [...]} for rows not used
    flagged: tuple[dict, ...] = ()   # {"study", "column", "value", "flag", "method"}
    all_studies: tuple[str, ...] = field(default=())  # every label of the data source

    @property
    def studies(self) -> list[str]:
        return [str(s) for s in self.frame["study"]]

    @property
    def patients(self) -> float | None:
        return float(self.frame["n"].sum()) if "n" in self.frame.columns else None


def derive_table(analysis: Analysis, data: LoadedData, plan: ReviewPlan) -> AnalysisTable:
    """The analysis table of ``analysis`` from its data source."""
    import pandas as pd

    from ..base.exceptions import DataError
    from ..tables.impute import flagged_values, impute_sd

    where = f"[analysis.{analysis.name}]"
    frame = data.parsed
    for imp in analysis.impute:
        try:
            frame = impute_sd(frame, imp.column, imp.method, study=data.study, **imp.kwargs())
        except DataError as exc:
            raise PlanError(f"imputation of {imp.column!r}: {exc}", path=plan.path, line=analysis.line,
                            where=f"{where} impute") from None
    needed = dict(analysis.columns)
    for role, col in needed.items():
        if col not in frame.columns:
            raise PlanError(f"role {role!r}: column {col!r} is not in {data.source.name} (columns: "
                            f"{', '.join(c for c in frame.columns if not str(c).endswith('_printed'))})",
                            path=plan.path, line=analysis.line, where=f"{where} columns")
    for col in analysis.subgroups:
        if col not in frame.columns:
            raise PlanError(f"subgroup column {col!r} is not in {data.source.name}", path=plan.path,
                            line=analysis.line, where=f"{where} subgroups")
    numeric = {}
    for role, col in needed.items():
        s = frame[col]
        if not pd.api.types.is_numeric_dtype(s):
            stem = col[:-len("_printed")] if col.endswith("_printed") else col
            parsed = [str(c) for c in frame.columns if str(c).startswith(stem + "_") and
                      pd.api.types.is_numeric_dtype(frame[c])]
            hint = f"; its numbers are in {', '.join(parsed)}" if parsed else ""
            raise PlanError(f"role {role!r}: column {col!r} holds printed text, not numbers{hint}",
                            path=plan.path, line=analysis.line, where=f"{where} columns")
        numeric[role] = s.to_numpy(dtype=float, na_value=np.nan)
    present = np.all([~np.isnan(v) for v in numeric.values()], axis=0)
    labels = frame[data.study].astype(str).to_numpy()
    left_out = []
    for i in np.flatnonzero(~present):
        missing = [needed[r] for r, v in numeric.items() if np.isnan(v[i])]
        left_out.append({"study": labels[i], "missing": missing})
    if not present.any():
        raise PlanError(f"no row of {data.source.name} has a value in every column of "
                        f"{', '.join(needed.values())}", path=plan.path, line=analysis.line, where=where)
    table = pd.DataFrame({"study": labels[present]})
    for role, v in numeric.items():
        table[role] = v[present]
    for col in analysis.subgroups:
        table[col] = frame[col].to_numpy()[present]
    if "rob" in frame.columns and "rob" not in table.columns:   # risk of bias: sensitivity and GRADE use it
        table["rob"] = frame["rob"].to_numpy()[present]
    flags = flagged_values(frame.loc[present], study=data.study)
    used_cols = set(needed.values())
    used_labels = set(labels[present])
    filled = [f for f in data.filled if f["column"] in used_cols and f["study"] in used_labels]
    flagged = tuple(filled) + tuple({"study": str(r.study), "column": str(r.column), "value": float(r.value),
                                     "flag": str(r.flag), "method": str(r.method)}
                    for r in flags.itertuples(index=False) if r.column in used_cols)
    return AnalysisTable(analysis=analysis, frame=table.reset_index(drop=True), left_out=tuple(left_out),
                         flagged=flagged, all_studies=tuple(labels))
