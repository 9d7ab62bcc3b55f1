"""Peto's one-step odds ratio for two-group binary outcomes.

Yusuf, Peto, Lewis, Collins & Sleight (1985), Prog Cardiovasc Dis 27:335-371: in each
table the observed minus expected number of events in the experimental group under the
null, ``O - E``, and its hypergeometric variance ``V``; the pooled log odds ratio is
``sum(O - E) / sum(V)`` with variance ``1 / sum(V)``.  No continuity correction is
needed: a table with a zero cell still has ``V > 0`` unless neither group (or every
participant) had an event, and such a table contributes nothing.  Heterogeneity:
``Q = sum((O - E)² / V) - (sum(O - E))² / sum(V)`` on (number of tables with V > 0) - 1
degrees of freedom, the value meta and metafor print.

Study-level estimates ``(O - E)/V`` with variance ``1/V`` are meta's
(``convention="meta"``, default); metafor's ``escalc(measure = "PETO")`` first adds 0.5
to every cell of tables with a zero cell (``convention="metafor"``).  The pooled
estimate and Q are the same under both.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from ..base.exceptions import DataError, SettingsError
from .fixed_cell import FixedCellResult, two_by_two, z_quantile
from .heterogeneity import i2_from_q

__all__ = ["peto"]


def o_e_v(a, b, c, d):
    n1, n2 = a + b, c + d
    N = n1 + n2
    xt, yt = a + c, b + d
    E = xt * n1 / N
    with np.errstate(invalid="ignore", divide="ignore"):
        V = xt * yt * (n1 / N) * (n2 / N) / (N - 1)
    return a - E, np.where(N > 1, V, 0.0)


def peto(events_e, n_e, events_c, n_c, *, convention: str = "meta",
         level: float = 0.95) -> FixedCellResult:
    """Peto's pooled log odds ratio (Yusuf et al. 1985) with its heterogeneity Q.

    >>> r = peto([4, 6], [100, 90], [10, 12], [100, 95])
    >>> round(math.exp(r.estimate), 4)
    0.4571
    """
    if convention not in ("meta", "metafor"):
        raise SettingsError(f"unknown convention {convention!r}; valid: meta, metafor")
    zcrit = z_quantile(level)
    a, b, c, d = two_by_two(events_e, n_e, events_c, n_c)
    oe, V = o_e_v(a, b, c, d)
    sv = float(V.sum())
    if sv == 0:
        raise DataError("no table has both outcomes: Peto's odds ratio is undefined",
                        column="events_e", rule="some events and non-events")
    est = float(oe.sum()) / sv
    se = 1.0 / math.sqrt(sv)
    pos = V > 0
    k = int(pos.sum())
    q = max(0.0, float(np.sum(oe[pos] ** 2 / V[pos])) - float(oe.sum()) ** 2 / sv)
    if k > 1:
        df = k - 1
        q_p = float(special.chdtrc(df, q))
        i2 = i2_from_q(q, df)
        h = math.sqrt(q / df)
    else:
        df, q_p, i2, h = 0, 1.0, 0.0, 1.0
    if convention == "meta":
        with np.errstate(invalid="ignore", divide="ignore"):
            yi = np.where(pos, oe / V, np.nan)
            vi = np.where(pos, 1.0 / V, np.nan)
    else:
        zero = (a == 0) | (b == 0) | (c == 0) | (d == 0)
        i = np.where(zero, 0.5, 0.0)
        oe2, V2 = o_e_v(a + i, b + i, c + i, d + i)
        with np.errstate(invalid="ignore", divide="ignore"):
            yi = np.where(pos, oe2 / V2, np.nan)
            vi = np.where(pos, 1.0 / V2, np.nan)
    z = est / se
    return FixedCellResult(
        method="Peto", measure="OR", convention=convention, k=k, estimate=est, se=se,
        ci_low=est - zcrit * se, ci_high=est + zcrit * se, statistic=z,
        p=float(2 * special.ndtr(-abs(z))), q=q, q_df=df, q_p=q_p, i2=i2, h=h, level=level,
        correction=0.0, yi=yi, vi=vi, weights=np.where(pos, 100 * V / sv, np.nan))
