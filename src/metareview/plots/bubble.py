"""Bubble plots for meta-regression: effects against a moderator, with the fitted line.

Each study is a circle at (moderator value, effect) whose area is proportional to its
weight in the mixed-effects model, 1/(v_i + tau²); the fitted regression line with its
confidence band (and optionally the prediction band) is drawn over the range of the
moderator, the other moderators held at the weighted mean of the studies (numeric) or at
the reference level (categorical), as metafor's ``regplot()``.  Effects are on the
analysis scale unless ``transf=True`` back-transforms them (proportions, ratios); the y axis
is labelled as R meta's ``bubble()`` labels it: "Log risk ratio" on the analysis scale,
"Risk ratio" on a log axis when back-transformed.

>>> import metareview as mr
>>> from metareview.analyses.metareg import metareg
>>> r = mr.metagen([-0.9, -1.6, -1.4, -1.5, -0.2, -0.5], [0.6, 0.4, 0.6, 0.1, 0.1, 0.3],
...                covariates={"lat": [44, 55, 42, 52, 13, 44]})
>>> d = metareg(r, "~ lat").bubble()
>>> len(d.points_.get_offsets())
6
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..base.exceptions import SettingsError
from ._labels import POINT_LABEL_LIMIT, literal_text, number_ticks, shorten
from .forest import FONT_FAMILY, save_figure

__all__ = ["bubble", "BubbleDisplay"]


class BubbleDisplay:
    """A bubble plot computed once; :meth:`plot` draws it, :meth:`savefig` writes it.

    Attributes after :meth:`plot`
    -----------------------------
    figure_, ax_
        The Figure and Axes.
    points_
        The study circles.
    line_, ci_band_, pi_band_
        The fitted line, its confidence band and the prediction band (None when not drawn).
    labels_
        Study labels (empty list without labels).
    """

    def __init__(self, x, y, weights, *, grid, pred, ci_low, ci_high, pi_low=None, pi_high=None,
                 studlab: Sequence[str] = (), labels: bool = False, xlabel: str = "", ylabel: str = "",
                 log_axis: bool = False, fontsize: float = 7.0, size: tuple[float, float] = (3.5, 3.0)):
        self.x = np.asarray(x, float)
        self.y = np.asarray(y, float)
        self.weights = np.asarray(weights, float)
        self.grid, self.pred = np.asarray(grid, float), np.asarray(pred, float)
        self.ci_low, self.ci_high = np.asarray(ci_low, float), np.asarray(ci_high, float)
        self.pi_low = None if pi_low is None else np.asarray(pi_low, float)
        self.pi_high = None if pi_high is None else np.asarray(pi_high, float)
        self.studlab = [shorten(str(s), POINT_LABEL_LIMIT) for s in studlab]
        self.labels = labels
        self.xlabel, self.ylabel = xlabel, ylabel
        self.log_axis = log_axis
        self.fontsize = fontsize
        self.size = size
        self.figure_ = self.ax_ = None

    @literal_text
    def plot(self, ax=None) -> "BubbleDisplay":
        import matplotlib.pyplot as plt
        from matplotlib.font_manager import FontProperties

        f = self.fontsize
        font = FontProperties(family=FONT_FAMILY, size=f)
        lw = 0.6
        if ax is None:
            fig, ax = plt.subplots(figsize=self.size, layout="constrained")
        else:
            fig = ax.figure
        area = 250 * self.weights / self.weights.max()
        self.pi_band_ = None
        if self.pi_low is not None:
            self.pi_band_ = ax.fill_between(self.grid, self.pi_low, self.pi_high, color="#f0f0f0", lw=0, zorder=0,
                                            label="Prediction interval")
        self.ci_band_ = ax.fill_between(self.grid, self.ci_low, self.ci_high, color="#d0d0d0", lw=0, zorder=1,
                                        label="Confidence interval")
        self.line_ = ax.plot(self.grid, self.pred, color="black", lw=1.0, zorder=2, label="Fitted")[0]
        self.points_ = ax.scatter(self.x, self.y, s=area, facecolors="#9e9e9e", edgecolors="black",
                                  linewidths=0.5, alpha=0.8, zorder=3)
        self.labels_ = []
        if self.labels:
            for x, y, lab in zip(self.x, self.y, self.studlab):
                self.labels_.append(ax.annotate(lab, (x, y), xytext=(4, 2), textcoords="offset points",
                                                fontproperties=font, zorder=4))
        if self.log_axis:
            ax.set_yscale("log")
        number_ticks(ax.yaxis, log=self.log_axis)
        number_ticks(ax.xaxis)
        ax.set_xlabel(self.xlabel, fontproperties=font)
        ax.set_ylabel(self.ylabel, fontproperties=font)
        ax.tick_params(labelsize=f, width=lw, length=3)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        for side in ("bottom", "left"):
            ax.spines[side].set_linewidth(lw)
        self.figure_, self.ax_ = fig, ax
        return self

    def savefig(self, path: str | Path, *, format: str | None = None, dpi: float = 300,
                inputs: Sequence[str | Path] = ()) -> Path:
        """Write the plot as PNG (``dpi``), SVG or PDF (format from the suffix)."""
        if self.figure_ is None:
            self.plot()
        return save_figure(self.figure_, path, format=format, dpi=dpi, inputs=inputs)


def bubble(reg, ax=None, *, mod: str | None = None, prediction: bool = False, labels: bool = False,
           transf: bool = False, points: int = 100, xlabel: str | None = None, ylabel: str | None = None,
           fontsize: float = 7.0, size: tuple[float, float] = (3.5, 3.0)) -> BubbleDisplay:
    """Bubble plot of a :class:`~metareview.analyses.metareg.MetaRegression` against the numeric moderator ``mod``.

    ``mod`` defaults to the first numeric moderator.  ``prediction`` adds the prediction
    band; ``transf`` draws effects back-transformed to the natural scale.
    """
    numeric = [t for t in reg.terms if t.kind == "numeric"]
    if not numeric:
        raise SettingsError("a bubble plot needs a numeric moderator; this model has only categorical ones")
    names = [t.column for t in numeric]
    mod = mod or names[0]
    if mod not in names:
        raise SettingsError(f"mod={mod!r} is not a numeric moderator of the model; numeric moderators: "
                            f"{', '.join(names)}")
    x = np.array(reg.columns[mod], float)
    w = reg.fit.weights
    grid = np.linspace(x.min(), x.max(), points)
    newmods = {}
    for t in reg.terms:
        if t.column == mod:
            newmods[t.column] = grid
        elif t.kind == "numeric":
            vals = np.array(reg.columns[t.column], float)
            newmods[t.column] = np.full(points, np.sum(w * vals) / np.sum(w))
        else:
            newmods[t.column] = [t.levels[0]] * points
    pr = reg.predict(newmods)
    y = np.asarray(reg.yi, float)
    cols = ["pred", "ci_low", "ci_high", "pi_low", "pi_high"]
    res = reg.result
    measure = res.measure if res is not None else None
    back = transf and measure is not None and measure.transformed
    if back:
        y = res.backtransform(y)
        vals = {c: pr[f"bt_{c}"].to_numpy() for c in cols}
    else:
        vals = {c: pr[c].to_numpy() for c in cols}
    if ylabel is None:
        # as R meta's bubble(): log ratios untransformed ("Log risk ratio"), ratios on a log axis ("Risk ratio")
        ylabel = "Effect" if measure is None else measure.axis_label if back else measure.analysis_label
    return BubbleDisplay(x, y, w, grid=grid, pred=vals["pred"], ci_low=vals["ci_low"], ci_high=vals["ci_high"],
                         pi_low=vals["pi_low"] if prediction else None, pi_high=vals["pi_high"] if prediction else None,
                         studlab=reg.studlab, labels=labels, xlabel=xlabel or mod, ylabel=ylabel,
                         log_axis=back and measure.scale == "log", fontsize=fontsize, size=size).plot(ax)
