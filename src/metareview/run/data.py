"""The plan's data files: printed tables read under their declarations, and checked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .plan import DataSource, ReviewPlan

__all__ = ["LoadedData", "load_data"]


@dataclass(frozen=True)
class LoadedData:
    """One data source: the cells as printed, the parsed numbers and the data-check findings."""

    source: DataSource
    printed: Any          # DataFrame of text cells, as in the file
    parsed: Any           # DataFrame with numeric columns (metareview.tables.parse)
    study: str            # the column holding the study labels
    checks: Any = None    # CheckReport, or None when the plan switches checks off
    filled: tuple = ()    # {"study", "column", "value", "flag", "method"} for each filled cell


def load_data(plan: ReviewPlan) -> dict[str, LoadedData]:
    """Read, parse and check every data file of ``plan``.

    Cells that cannot be read as declared and data-check errors (events > n, SD <= 0, ...)
    stop the run with a message naming the file, the study and the column; warnings are
    kept for the report.
    """
    from ..base.exceptions import DataError
    from ..tables.checks import check_table
    from ..tables.parse import as_spec, parse_printed_table, read_table

    out = {}
    for name, src in plan.data.items():
        rel = _relative(src.file, plan)
        try:
            printed = read_table(src.file)
            spec = as_spec(src.columns, printed)
            checks = check_table(printed, spec, source=rel) if src.check else None
            if checks is not None:
                checks.raise_for_errors()
            parsed = parse_printed_table(printed, spec)
        except DataError as exc:
            raise DataError(f"{rel}: {exc}", rule=exc.rule) from None
        study = spec.study or "study"
        if study not in parsed.columns:
            raise DataError(f"{rel}: no study label column (declare [table] study = ... in its columns file)",
                            rule="declaration")
        parsed, filled = _fill(parsed, printed, src, study, rel)
        if src.rob is not None:
            parsed = _attach_rob(parsed, src, study, plan)
        out[name] = LoadedData(source=src, printed=printed, parsed=parsed, study=study, checks=checks,
                               filled=filled)
    return out


def _fill(parsed, printed, src: DataSource, study: str, rel: str):
    """Apply the source's fills: a missing value becomes ``value`` in rows that print any of ``rows_with``."""
    import numpy as np

    from .plan import PlanError

    filled = []
    for f in src.fill:
        where = f"[data.{src.name}.fill] {f.column}"
        if f.column not in parsed.columns:
            raise PlanError(f"column {f.column!r} is not in {rel}", where=where)
        mask = np.zeros(len(printed), dtype=bool)
        for c in f.rows_with:
            if c not in printed.columns:
                raise PlanError(f"rows_with: column {c!r} is not in {rel}", where=where)
            mask |= printed[c].astype(str).str.strip().ne("").to_numpy()
        col = parsed[f.column]
        todo = col.isna().to_numpy() & mask
        if todo.any():
            parsed = parsed.copy()
            parsed.loc[todo, f.column] = f.value
            labels = parsed[study].astype(str).to_numpy()
            for i in np.flatnonzero(todo):
                filled.append({"study": labels[i], "column": f.column, "value": f.value, "flag": "filled",
                               "method": f.reason or f"blank cell read as {f.value:g}"})
    return parsed, tuple(filled)


def _relative(path, plan: ReviewPlan) -> str:
    try:
        return str(path.relative_to(plan.root))
    except ValueError:
        return str(path)


def _attach_rob(parsed, src: DataSource, study: str, plan: ReviewPlan):
    """The source's risk-of-bias judgments as columns ``rob`` (overall) and ``rob_<domain>``."""
    import pandas as pd

    from ..appraisal.rob import attach_rob, read_robvis
    from ..base.exceptions import DataError
    from .plan import PlanError

    try:
        table = read_robvis(src.rob, src.rob_tool)
        cols = attach_rob({c: parsed[c].tolist() for c in parsed.columns}, table, study=study)
    except DataError as exc:
        raise PlanError(f"{_relative(src.rob, plan)}: {exc}", path=plan.path, where=f"[data.{src.name}] rob") \
            from None
    return pd.DataFrame(cols, index=parsed.index).astype({c: parsed[c].dtype for c in parsed.columns})
