"""Forest plot of a multilevel model: the estimates grouped by cluster, then the pooled estimate.

Each cluster (a study with several outcomes or time points) gets a heading and one row per
estimate, with its Wald interval ``yi ± z sqrt(vi)`` and its weight in the model
(``diag(M⁻¹)`` in percent, metafor's ``weights()`` for ``rma.mv``); the pooled estimate of
the intercept-only model closes the plot as a diamond, with its prediction interval.  The
layout and drawing are the forest plot's own (:class:`~metareview.plots.forest.ForestDisplay`).

>>> import metareview as mr
>>> r = mr.metamv([0.2, 0.3, 0.1, 0.5, 0.4, 0.6], [0.01, 0.02, 0.01, 0.02, 0.01, 0.02],
...               data={"study": ["A", "A", "B", "B", "C", "C"], "es": [1, 2, 1, 2, 1, 2]},
...               random="~ 1 | study/es")
>>> d = r.forest()
>>> [row.kind for row in d.rows][:4]
['heading', 'study', 'study', 'heading']
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..base.dist import norm_ppf
from ..base.exceptions import SettingsError
from .forest import ForestColumn, ForestDisplay, ForestRow, axis_label, effect_ci_cells

__all__ = ["forest_clusters"]


def forest_clusters(result, ax=None, *, labels: str | None = None, xlim: Sequence[float] | None = None,
                    xlabel: str | None = None, digits: int = 2, fontsize: float = 7.0, width: float | None = None,
                    favours: Sequence[str] | None = None, show_prediction: bool = True) -> ForestDisplay:
    """Draw a :class:`~metareview.analyses.multilevel.MultilevelResult` grouped by its cluster column.

    ``labels``: a column whose values label the rows (a grouping column or another column
    of the data, e.g. the time point; default: the estimates' labels).  The pooled diamond is drawn for the
    intercept-only model; with moderators there is no single pooled estimate, and only the estimates are shown.
    """
    f = result.fit
    m = result.measure
    pct = int(round(f.level * 100))
    columns = {**result.covariates, **result.groups}
    if labels is not None and labels not in columns:
        raise SettingsError(f"labels={labels!r} is not a column of the estimates; columns are: {', '.join(columns)}")
    row_labels = [_label(x) for x in (columns[labels] if labels else result.studlab)]
    nat = (lambda x: float(result.backtransform(x))) if m.transformed else float
    z = float(norm_ppf(1 - (1 - f.level) / 2))
    se = np.sqrt(np.diag(result.V))
    W = np.linalg.inv(f.M)
    w = np.diag(W) / np.sum(np.diag(W)) * 100.0
    clusters = result.groups[result.cluster]
    order = list(dict.fromkeys(str(c) for c in clusters))
    rows: list[ForestRow] = []
    for c in order:
        rows.append(ForestRow("heading", {"study": f"{result.cluster} = {c}"}, bold=True))
        for i in np.flatnonzero(np.array([str(x) for x in clusters]) == c):
            est, lo, hi = nat(result.yi[i]), nat(result.yi[i] - z * se[i]), nat(result.yi[i] + z * se[i])
            rows.append(ForestRow("study", {"study": row_labels[i], **effect_ci_cells("meta", digits, est, lo, hi),
                                            "weight": f"{w[i]:.1f}%"}, est=est, lo=lo, hi=hi, weight=w[i]))
    pooled_lines: list[float] = []
    if result.formula is None:
        est, lo, hi = nat(f.beta[0]), nat(f.ci_low[0]), nat(f.ci_high[0])
        rows.append(ForestRow("blank"))
        rows.append(ForestRow("random", {"study": f"Multilevel model ({f.method})",
                                         **effect_ci_cells("meta", digits, est, lo, hi), "weight": "100.0%"},
                              est=est, lo=lo, hi=hi, bold=True))
        pooled_lines = [est]
        if show_prediction and result.prediction is not None:
            a, b = (nat(x) for x in result.prediction)
            rows.append(ForestRow("prediction", {"study": "Prediction interval", "ci": effect_ci_cells(
                "meta", digits, est, a, b)["ci"]}, est=est, lo=a, hi=b))
    names = ", ".join(f"{n} {_fmt(s)}" for n, s in zip(f.components, f.sigma2))
    rows.append(ForestRow("text", text=f"Variance components (sigma\u00b2): {names}"))
    rows.append(ForestRow("text", text=f"Heterogeneity: Q = {f.qe:.2f}, df = {f.qe_df}"
                                       + (f"; {result.rho:g} correlation within {result.cluster}"
                                          if result.rho is not None else "")))
    short = m.short_label
    cols = [ForestColumn("study", "Study", "left", "left"), ForestColumn("effect", short, "right"),
            ForestColumn("ci", f"{pct}%-CI", "right"), ForestColumn("weight", "Weight", "right")]
    return ForestDisplay(rows, cols, ratio=m.ratio or (m.scale == "log" and m.design != "proportion"),
                         null=(m.natural_null if m.null is not None else None), xlim=xlim,
                         xlabel=axis_label(m, False) if xlabel is None else xlabel, favours=favours, layout="meta",
                         fontsize=fontsize, width=width, pooled_lines=pooled_lines,
                         proportion=m.design == "proportion").plot(ax)


def _label(x) -> str:
    if isinstance(x, (float, np.floating)) and float(x).is_integer():
        return str(int(x))
    return str(x)


def _fmt(x: float) -> str:
    return f"{x:.4f}"
