"""Table 1: pooled characteristics computed from the study table, as papers compute them.

Counts of studies, sums of patients, medians and ranges of study-level values, and
events as a percentage of patients, each over the rows that give the value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .data import LoadedData
from .plan import PlanError, ReviewPlan, Table1Row

__all__ = ["Table1Value", "compute_table1"]


@dataclass(frozen=True)
class Table1Value:
    row: Table1Row
    numbers: tuple[float, ...]          # what the row's printed form holds, in order
    text: str                           # our value, formatted as the row prints it
    k: int | None = None
    studies: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        names = {"count": ("k",), "sum_median_range": ("sum", "median", "min", "max"),
                 "median_range": ("k", "median", "min", "max"), "events_percent": ("k", "n", "events", "percent"),
                 "not_in_data": ()}[self.row.statistic]
        return {"key": self.row.key, "label": self.row.label, "statistic": self.row.statistic,
                "column": self.row.column, "value": dict(zip(names, self.numbers)), "text": self.text,
                "k": self.k, "paper": self.row.paper}


def _num(frame, col: str, plan: ReviewPlan, i: int) -> np.ndarray:
    import pandas as pd

    if col not in frame.columns:
        raise PlanError(f"column {col!r} is not in the data (columns: "
                        f"{', '.join(c for c in frame.columns if not str(c).endswith('_printed'))})",
                        path=plan.path, where=f"[[table1.row]] #{i + 1} column")
    s = frame[col]
    if not pd.api.types.is_numeric_dtype(s):
        raise PlanError(f"column {col!r} is not numeric", path=plan.path, where=f"[[table1.row]] #{i + 1} column")
    return s.to_numpy(dtype=float, na_value=np.nan)


def _present(data: LoadedData, cols, plan: ReviewPlan, i: int) -> np.ndarray:
    frame = data.printed
    mask = np.zeros(len(frame), dtype=bool)
    for c in cols:
        if c not in frame.columns:
            raise PlanError(f"rows_with: column {c!r} is not in the data", path=plan.path,
                            where=f"[[table1.row]] #{i + 1} rows_with")
        mask |= frame[c].astype(str).str.strip().ne("").to_numpy()
    return mask


def _fmt(x: float, d: int) -> str:
    from .compare import round_half_up
    return round_half_up(x, d)


def compute_table1(plan: ReviewPlan, data: LoadedData) -> list[Table1Value]:
    """Every row of the plan's Table 1, computed from ``data``."""
    out = []
    frame = data.parsed
    labels = frame[data.study].astype(str).to_numpy()
    for i, row in enumerate(plan.table1):
        d = row.decimals
        if row.statistic == "not_in_data":
            out.append(Table1Value(row=row, numbers=(), text="not in the data"))
            continue
        mask = _present(data, row.rows_with, plan, i) if row.rows_with else np.ones(len(frame), dtype=bool)
        if row.statistic == "count":
            k = int(mask.sum())
            out.append(Table1Value(row=row, numbers=(k,), text=str(k), k=k, studies=tuple(labels[mask])))
            continue
        assert row.column is not None  # the plan requires a column for the other statistics
        v = _num(frame, row.column, plan, i)
        use = mask & ~np.isnan(v)
        vals = v[use]
        k = int(use.sum())
        if k == 0:
            raise PlanError(f"no study has a value in {row.column!r}", path=plan.path,
                            where=f"[[table1.row]] #{i + 1} ({row.key})")
        if row.statistic == "sum_median_range":
            nums = (float(vals.sum()), float(np.median(vals)), float(vals.min()), float(vals.max()))
            text = (f"{_fmt(nums[0], 0)} (median {_fmt(nums[1], d)}, range {_fmt(nums[2], d)}–{_fmt(nums[3], d)})")
        elif row.statistic == "median_range":
            nums = (k, float(np.median(vals)), float(vals.min()), float(vals.max()))
            text = f"{k} studies: {_fmt(nums[1], d)} (range {_fmt(nums[2], d)}–{_fmt(nums[3], d)})"
        else:  # events_percent
            n = _num(frame, row.n, plan, i)
            use = use & ~np.isnan(n)
            k = int(use.sum())
            ev, tot = float(v[use].sum()), float(n[use].sum())
            nums = (k, tot, ev, 100.0 * ev / tot)
            text = f"{k} studies, N = {tot:.0f}: {ev:.0f} ({_fmt(nums[3], d)}%)"
        out.append(Table1Value(row=row, numbers=nums, text=text, k=k, studies=tuple(labels[use])))
    return out
