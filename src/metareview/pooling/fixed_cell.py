"""What the fixed-cell methods (Mantel-Haenszel, Peto) share: the 2x2 tables and their result type."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import special

from ..base.exceptions import DataError, SettingsError

__all__ = ["FixedCellResult", "two_by_two", "z_quantile"]


@dataclass(frozen=True, eq=False)
class FixedCellResult:
    """A Mantel-Haenszel or Peto common-effect meta-analysis.

    ``estimate``/``se``/``ci_low``/``ci_high`` are on the analysis scale (log OR, log RR,
    RD); ``statistic``/``p`` is the z test of no effect.  ``q``/``q_df``/``q_p`` is the
    heterogeneity test, ``i2`` in percent, ``h`` = sqrt(Q/df).  ``k`` is the number of
    tables that contribute to the estimate.  Study-level arrays (one entry per input
    table, ``nan`` where a table is left out): ``yi``, ``vi`` (the estimates used for Q),
    ``weights`` (the method's weights, in percent of their sum).  ``correction`` is the
    increment used for the pooled estimate.
    """

    method: str
    measure: str
    convention: str
    k: int
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    statistic: float
    p: float
    q: float
    q_df: int
    q_p: float
    i2: float
    h: float
    level: float
    correction: float
    yi: np.ndarray = field(repr=False)
    vi: np.ndarray = field(repr=False)
    weights: np.ndarray = field(repr=False)
    tau2: float = 0.0

    def to_dict(self) -> dict:
        """Plain-Python dictionary (arrays as lists, nan as None)."""
        out = {}
        for name in self.__dataclass_fields__:
            val = getattr(self, name)
            if isinstance(val, np.ndarray):
                val = [None if not np.isfinite(v) else float(v) for v in val]
            elif isinstance(val, float) and not math.isfinite(val):
                val = None
            out[name] = val
        return out


def two_by_two(events_e, n_e, events_c, n_c):
    """Validate the four count arrays; return float arrays a, b, c, d (cells)."""
    arrs = []
    names = ("events_e", "n_e", "events_c", "n_c")
    for name, v in zip(names, (events_e, n_e, events_c, n_c)):
        a = np.asarray(v, dtype=float)
        if a.ndim != 1:
            raise DataError("must be a one-dimensional array", column=name, rule="shape")
        arrs.append(a)
    if len({a.size for a in arrs}) != 1:
        raise DataError("events_e, n_e, events_c and n_c must have the same length",
                        rule="shape")
    if arrs[0].size == 0:
        raise DataError("no studies to pool", rule="k >= 1")
    for name, a in zip(names, arrs):
        bad = np.flatnonzero(~np.isfinite(a))
        if bad.size:
            raise DataError("value is missing or not finite", study=str(bad[0]), column=name,
                            rule="finite")
        bad = np.flatnonzero((a < 0) | (a != np.round(a)))
        if bad.size:
            raise DataError("count must be a non-negative whole number", study=str(bad[0]),
                            column=name, rule="integer >= 0")
    ae, ne, ac, nc = arrs
    for name, n in (("n_e", ne), ("n_c", nc)):
        bad = np.flatnonzero(n <= 0)
        if bad.size:
            raise DataError("group size must be positive", study=str(bad[0]), column=name,
                            rule="n > 0")
    for name, x, n, col in (("events_e", ae, ne, "n_e"), ("events_c", ac, nc, "n_c")):
        bad = np.flatnonzero(x > n)
        if bad.size:
            raise DataError(f"more events than participants ({col})", study=str(bad[0]),
                            column=name, rule="events <= n")
    return ae, ne - ae, ac, nc - ac


def z_quantile(level: float) -> float:
    """The normal quantile of a two-sided ``level`` interval (1.96 for 0.95)."""
    if not 0 < level < 1:
        raise SettingsError("level must be between 0 and 1 (e.g. 0.95)")
    return float(special.ndtri(0.5 + level / 2))
