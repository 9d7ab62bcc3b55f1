"""Funnel plots: study estimates against their standard errors.

The estimates are drawn on the scale they were pooled on (log odds ratios, logit
proportions, ...); measures pooled on the log scale are drawn on a log axis labelled with
natural values (odds ratios, risk ratios).  The standard error axis runs downwards from 0,
so that large studies sit at the top (Sterne & Egger 2001, J Clin Epidemiol 54:1046).

Around the pooled estimate a pseudo confidence region (estimate ± z·SE at the result's
level) shows where studies would fall without heterogeneity or small-study effects.
The contour-enhanced version (Peters et al. 2008, J Clin Epidemiol 61:991) shades where
a study's own test against the null would give p < 0.10, 0.05 and 0.01, which tells
missing studies in areas of non-significance apart from other causes of asymmetry.

>>> import metareview as mr
>>> r = mr.metabin([4, 6, 3, 12], [40, 50, 30, 90], [8, 9, 7, 20], [40, 50, 30, 90])
>>> d = r.funnel(contour=True)
>>> bool(d.ax_.yaxis_inverted()), len(d.contours_)
(True, 6)
"""

from __future__ import annotations

from pathlib import Path
from statistics import NormalDist
from typing import Sequence

import numpy as np

from ..base.exceptions import SettingsError
from ._labels import POINT_LABEL_LIMIT, literal_text, number_ticks, shorten
from .forest import FONT_FAMILY, save_figure

__all__ = ["funnel", "FunnelDisplay", "CONTOUR_LEVELS"]

#: Significance levels of the contour-enhanced funnel plot and the shade of each band.
CONTOUR_LEVELS = (0.10, 0.05, 0.01)
_SHADES = ("#e8e8e8", "#cccccc", "#adadad")   # 0.05 <= p < 0.10, 0.01 <= p < 0.05, p < 0.01


class FunnelDisplay:
    """A funnel plot computed once; :meth:`plot` draws it, :meth:`savefig` writes it.

    Attributes after :meth:`plot`
    -----------------------------
    figure_, ax_
        The Figure and Axes.
    points_, excluded_points_, filled_points_
        The markers of the pooled, excluded and imputed (trim-and-fill) studies (None when absent).
    pseudo_ci_, centre_line_
        The dashed lines of the pseudo confidence region and the pooled estimate's line.
    contours_
        The filled bands of the contour-enhanced plot (empty list without contours).
    labels_, leaders_
        The study labels (empty list without labels), placed by adjustText, and the grey
        leader lines to the points of labels that had to move away from them.
    legend_
        The legend (None when there is nothing to explain).
    """

    def __init__(self, yi, se, *, studlab: Sequence[str], centre: float, level: float = 0.95,
                 log_axis: bool = False, excluded=None, contour_null: float | None = None, labels: bool = False,
                 filled: tuple | None = None, xlabel: str = "", xlim: Sequence[float] | None = None,
                 centre_label: str = "Pooled estimate", fontsize: float = 7.0,
                 size: tuple[float, float] = (3.5, 3.2)):
        self.yi = np.asarray(yi, float)
        self.se = np.asarray(se, float)
        self.studlab = [shorten(str(s), POINT_LABEL_LIMIT) for s in studlab]
        self.excluded = np.zeros(self.yi.size, bool) if excluded is None else np.asarray(excluded, bool)
        self.centre = float(centre)
        self.level = float(level)
        self.log_axis = log_axis
        self.contour_null = contour_null
        self.labels = labels
        if filled is not None:
            fy, fv = (np.asarray(v, float).ravel() for v in filled)
            if fy.size != fv.size:
                raise SettingsError(f"filled: {fy.size} estimates but {fv.size} variances; give (yi, vi) "
                                    "of the imputed studies")
            if (fv <= 0).any() or not np.isfinite(fv).all() or not np.isfinite(fy).all():
                raise SettingsError("filled: variances must be positive and estimates finite")
            self.filled = (fy, np.sqrt(fv))
        else:
            self.filled = None
        self.xlabel = xlabel
        self.centre_label = centre_label
        self.fontsize = fontsize
        self.size = size
        self.z = NormalDist().inv_cdf(0.5 + self.level / 2)
        all_se = [self.se] + ([self.filled[1]] if self.filled is not None else [])
        self.se_max = float(np.nanmax(np.concatenate(all_se))) * 1.05
        if xlim is not None:
            lo, hi = (float(v) for v in xlim)
            if not lo < hi or (log_axis and lo <= 0):
                raise SettingsError(f"xlim must be low < high{' and positive (log axis)' if log_axis else ''}; "
                                    f"got {tuple(xlim)!r}")
            self.xlim = (np.log(lo), np.log(hi)) if log_axis else (lo, hi)
        else:
            xs = [self.yi, [self.centre - self.z * self.se_max, self.centre + self.z * self.se_max]]
            if self.filled is not None:
                xs.append(self.filled[0])
            if contour_null is not None:
                z01 = NormalDist().inv_cdf(1 - CONTOUR_LEVELS[0] / 2)
                xs.append([contour_null - z01 * self.se_max, contour_null + z01 * self.se_max])
            v = np.concatenate([np.asarray(x, float).ravel() for x in xs])
            v = v[np.isfinite(v)]
            pad = 0.05 * (v.max() - v.min() or 1.0)
            self.xlim = (float(v.min() - pad), float(v.max() + pad))
        self.figure_ = None
        self.ax_ = None

    def __repr__(self) -> str:
        return f"<FunnelDisplay {self.yi.size} studies{', contour-enhanced' if self.contour_null is not None else ''}>"

    def _x(self, v):
        """Analysis-scale values to axis coordinates."""
        return np.exp(v) if self.log_axis else v

    @literal_text
    def plot(self, ax=None):
        """Draw the funnel and return ``self`` (a new figure of :attr:`size` without ``ax``)."""
        from matplotlib.font_manager import FontProperties

        own = ax is None
        if own:
            import matplotlib.pyplot as plt
            fig = plt.figure(figsize=self.size, layout="constrained")
            ax = fig.add_subplot()
        else:
            fig = ax.get_figure()
        f = self.fontsize
        font = FontProperties(family=FONT_FAMILY, size=f)
        lw = 0.7
        se_grid = np.linspace(0.0, self.se_max, 60)
        lo, hi = self.xlim
        handles = []
        self.contours_ = []
        if self.contour_null is not None:
            zs = [NormalDist().inv_cdf(1 - a / 2) for a in CONTOUR_LEVELS]
            names = ["0.05 \u2264 p < 0.10", "0.01 \u2264 p < 0.05", "p < 0.01"]
            bounds = zs + [None]
            for j in range(3):
                inner = self.contour_null + zs[j] * se_grid
                outer = (self.contour_null + bounds[j + 1] * se_grid if bounds[j + 1] is not None
                         else np.full_like(se_grid, max(hi, self.contour_null) + abs(hi - lo)))
                inner_l = self.contour_null - zs[j] * se_grid
                outer_l = (self.contour_null - bounds[j + 1] * se_grid if bounds[j + 1] is not None
                           else np.full_like(se_grid, min(lo, self.contour_null) - abs(hi - lo)))
                band = ax.fill_betweenx(se_grid, self._x(inner), self._x(outer), color=_SHADES[j], lw=0,
                                        zorder=0, label=names[j])
                self.contours_.append(band)
                self.contours_.append(ax.fill_betweenx(se_grid, self._x(outer_l), self._x(inner_l),
                                                       color=_SHADES[j], lw=0, zorder=0))
                handles.append(band)
        # pseudo confidence region around the pooled estimate
        left = self.centre - self.z * se_grid
        right = self.centre + self.z * se_grid
        pct = f"{self.level * 100:g}%"
        self.pseudo_ci_ = ax.plot(self._x(left), se_grid, ls=(0, (4, 2)), color="black", lw=lw, zorder=1,
                                  label=f"Pseudo {pct} CI")
        self.pseudo_ci_ += ax.plot(self._x(right), se_grid, ls=(0, (4, 2)), color="black", lw=lw, zorder=1)
        self.centre_line_ = ax.plot(self._x([self.centre] * 2), [0, self.se_max], color="black", lw=lw,
                                    zorder=1, label=self.centre_label)[0]
        inc = ~self.excluded
        self.points_ = ax.scatter(self._x(self.yi[inc]), self.se[inc], s=14, color="black", zorder=3,
                                  linewidths=0, label="Studies")
        self.excluded_points_ = None
        if self.excluded.any():
            self.excluded_points_ = ax.scatter(self._x(self.yi[~inc]), self.se[~inc], s=16, marker="x",
                                               color="#8a8a8a", linewidths=0.8, zorder=3,
                                               label="Excluded (not pooled)")
            handles.append(self.excluded_points_)
        self.filled_points_ = None
        if self.filled is not None and self.filled[0].size:
            self.filled_points_ = ax.scatter(self._x(self.filled[0]), self.filled[1], s=14, facecolors="white",
                                             edgecolors="black", linewidths=0.7, zorder=3,
                                             label="Filled (imputed)")
            handles.append(self.filled_points_)
        self.labels_, self.leaders_ = [], []
        if self.labels:
            for x, y, lab in zip(self.yi, self.se, self.studlab):
                self.labels_.append(ax.text(self._x(x), y, lab, ha="center", va="center", fontproperties=font,
                                            zorder=4))
        if self.log_axis:
            ax.set_xscale("log")
        number_ticks(ax.xaxis, log=self.log_axis)
        ax.set_xlim(self._x(lo), self._x(hi))
        ax.set_ylim(self.se_max, 0.0)
        ax.set_xlabel(self.xlabel, fontproperties=font)
        ax.set_ylabel("Standard error", fontproperties=font)
        ax.tick_params(labelsize=f, width=lw, length=3)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        for side in ("bottom", "left"):
            ax.spines[side].set_linewidth(lw)
        self.legend_ = None
        if handles:
            handles = [self.points_, self.centre_line_, self.pseudo_ci_[0]] + handles
            if own:
                self.legend_ = fig.legend(handles=handles, loc="outside lower center", ncol=2, frameon=False,
                                          prop=font)
            else:
                self.legend_ = ax.legend(handles=handles, loc="lower right", frameon=False, prop=font)
        self.figure_, self.ax_ = fig, ax
        if self.labels_:
            self._place_labels(own)
        return self

    def _place_labels(self, own: bool) -> None:
        """Place the labels; a figure of our own grows (by a fifth, up to four times) until
        every label has a free place.  Labels that still have none stay beside their points,
        with a warning."""
        import warnings

        from ..base.exceptions import MetaReviewWarning

        start = [t.get_position() for t in self.labels_]
        for attempt in range(5):
            crowded = self._spread_labels()
            if not crowded or not own or attempt == 4:
                break
            for line in self.leaders_:
                line.remove()
            self.leaders_ = []
            for t, xy in zip(self.labels_, start):
                t.set_position(xy)
            w, h = self.figure_.get_size_inches()
            self.figure_.set_size_inches(1.2 * w, 1.2 * h)
        if crowded:
            warnings.warn(f"{crowded} study label(s) found no free place and may cover other text: give the "
                          "funnel plot more room (size=, or a larger axes)", MetaReviewWarning, stacklevel=3)

    def _spread_labels(self) -> int:
        """Place the labels: adjustText (Flyamer et al., github.com/Phlya/adjustText) finds
        where each label would like to go, repelled from the other labels, the points and
        the axes' texts; each label then takes, in order from the top of the funnel, the first
        free place beside its point, at adjustText's place or further out, a free place being one
        inside the axes where it covers no text, no point and no leader line, and where its
        own leader line (drawn when it is away from its point) crosses no label.  Returns the
        number of labels that found no free place."""
        from adjustText import adjust_text
        from matplotlib.transforms import Bbox

        from ._text import get_renderer

        fig, ax = self.figure_, self.ax_
        fig.draw_without_rendering()       # settle the layout before measuring
        renderer = get_renderer(fig)
        xs, ys = self._x(self.yi), self.se
        static = [t.get_window_extent(renderer) for t in
                  ax.get_xticklabels() + ax.get_yticklabels() + [ax.xaxis.label, ax.yaxis.label]
                  if t.get_visible() and t.get_text()]
        adjust_text(self.labels_, x=xs, y=ys, objects=static, ax=ax, expand=(1.15, 1.4),
                    ensure_inside_axes=True, iter_lim=60)
        pts = ax.transData.transform(np.column_stack([xs, ys]))
        wanted = [ax.transData.transform(t.get_position()) for t in self.labels_]
        sizes = [(b.width, b.height) for b in (t.get_window_extent(renderer) for t in self.labels_)]
        frame = ax.get_window_extent(renderer)
        dot = 2.5 * fig.dpi / 72.0
        gap = 0.25 * self.fontsize * fig.dpi / 72.0
        obstacles = static + [Bbox([[px - dot, py - dot], [px + dot, py + dot]]) for px, py in pts]
        placed: list[Bbox] = []
        leaders: list[tuple[np.ndarray, np.ndarray]] = []

        def box_at(c, wh):
            return Bbox([[c[0] - wh[0] / 2, c[1] - wh[1] / 2], [c[0] + wh[0] / 2, c[1] + wh[1] / 2]])

        def leader_of(p, box):
            q = np.clip(p, box.min, box.max)
            return None if np.hypot(*(q - p)) <= 2 * gap + dot else (p, q)

        fixed = np.array([o.extents for o in obstacles])        # x0, y0, x1, y1

        def hits(box, arr):
            return bool(arr.size) and bool(np.any((arr[:, 0] < box.x1) & (box.x0 < arr[:, 2])
                                                  & (arr[:, 1] < box.y1) & (box.y0 < arr[:, 3])))

        def free(p, box, own):
            if not (frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1):
                return None
            others = np.delete(fixed, len(static) + own, axis=0)
            if hits(box, others) or hits(box, np.array([o.extents for o in placed]).reshape(-1, 4)):
                return None
            if any(_segment_hits(a, b, box) for a, b in leaders):
                return None
            line = leader_of(p, box)
            if line is not None and any(_segment_hits(line[0], line[1], o, shrink=dot) for o in placed):
                return None
            return line or ()

        crowded = 0
        order = np.argsort(ys, kind="stable")
        for i in order:
            p, (w, h) = pts[i], sizes[i]
            side = w / 2 + gap + dot
            # beside the point first (no leader), then where adjustText put it, then further out
            candidates = [p + (side, 0), p - (side, 0), wanted[i]]
            # then on rings around the point, nearest first, the label's near edge towards it
            for ring in range(1, 40):
                r = ring * 1.2 * h
                for angle in np.radians((0, 180, 30, 150, -30, -150, 60, 120, -60, -120, 90, -90)):
                    c, sn = np.cos(angle), np.sin(angle)
                    candidates.append(p + (r * c + np.sign(round(c, 9)) * side, r * sn))
            for c in candidates:
                box = box_at(c, (w, h))
                line = free(p, box, i)
                if line is not None:
                    break
            else:                           # nowhere free: beside the point
                box, line = box_at(p + (side, 0), (w, h)), ()
                crowded += 1
            placed.append(box)
            self.labels_[i].set_position(ax.transData.inverted().transform(box.get_points().mean(0)))
            if line:
                leaders.append(line)
                a, b = ax.transData.inverted().transform(np.array(line))
                self.leaders_.append(ax.plot([a[0], b[0]], [a[1], b[1]], color="#7f7f7f", lw=0.4,
                                             zorder=3, solid_capstyle="butt")[0])
        return crowded

    def savefig(self, path: str | Path, *, format: str | None = None, dpi: float = 300,
                inputs: Sequence[str | Path] = ()) -> Path:
        """Write the plot as PNG (``dpi``, 300 by default), SVG or PDF (format from the suffix)."""
        if self.figure_ is None:
            self.plot()
        return save_figure(self.figure_, path, format=format, dpi=dpi, inputs=inputs)


def _segment_hits(a, b, box, shrink: float = 0.0) -> bool:
    """Whether the segment from ``a`` to ``b`` (display pixels; ``shrink`` pixels left off
    at ``a``) passes through ``box`` (Liang-Barsky clipping)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    d = b - a
    n = np.hypot(*d)
    if n == 0:
        return False
    t0, t1 = min(shrink / n, 1.0), 1.0
    for p, q in ((-d[0], a[0] - box.x0), (d[0], box.x1 - a[0]), (-d[1], a[1] - box.y0), (d[1], box.y1 - a[1])):
        if p == 0:
            if q < 0:
                return False
            continue
        r = q / p
        if p < 0:
            t0 = max(t0, r)
        else:
            t1 = min(t1, r)
        if t0 > t1:
            return False
    return t1 - t0 > 1e-9


def funnel(result, ax=None, *, contour: bool = False, labels: bool = False, filled=None,
           pooled: str | None = None, contour_null: float | None = None, xlim: Sequence[float] | None = None,
           xlabel: str | None = None, fontsize: float = 7.0, size: tuple[float, float] | None = None
           ) -> FunnelDisplay:
    """Funnel plot of a pooled result, drawn and returned as a :class:`FunnelDisplay`.

    Parameters
    ----------
    result
        A :class:`~metareview.api.result.MetaResult`.
    ax
        Axes to draw into; by default a new figure of ``size`` inches (one journal column).
    contour
        Shade where a study's test against the null gives p < 0.10, 0.05, 0.01 (Peters et
        al. 2008).  Needs a null value: measures without one (single proportions and means)
        need ``contour_null`` on the analysis scale.
    labels
        Write each study's label beside its point.
    filled
        ``(yi, vi)`` of studies imputed by trim-and-fill, on the analysis scale; drawn as
        open circles.
    pooled
        Centre of the pseudo confidence region: ``"common"`` (default when fitted) or
        ``"random"``.
    contour_null
        Null value on the analysis scale for the contours (default: the measure's).
    xlim
        Limits on the axis' scale (natural values on a log axis).
    xlabel
        Axis label (default: the measure's name and scale).
    fontsize, size
        Font size in points; size in inches of the new figure (default 3.5 x 3.2, one
        journal column; not with ``ax``, whose size is the axes').
    """
    if size is not None and ax is not None:
        raise SettingsError("size= sets the size of a new figure; with ax= the plot takes the axes' size")
    m = result.measure
    s = result.settings
    fitted = [mod for mod in ("common", "random") if getattr(s, mod)]
    pooled = pooled or fitted[0]
    if pooled not in fitted:
        raise SettingsError(f"pooled={pooled!r} is not a fitted model; fitted models: {', '.join(fitted)}")
    if contour_null is not None and not contour:
        raise SettingsError("contour_null is the null of the contours; pass contour=True with it")
    null = None
    if contour:
        null = m.null if contour_null is None else float(contour_null)
        if null is None:
            raise SettingsError(f"measure {m.code} has no null value to draw significance contours around; "
                                "give contour_null= (--contour-null) on the analysis scale")
    log_axis = m.scale == "log"
    if xlabel is None:
        xlabel = m.axis_label + " (log scale)" if log_axis else m.label
    sa = result.study_arrays()
    return FunnelDisplay(sa["yi"], sa["se"], studlab=sa["study"], centre=result.pooled[f"{pooled}_estimate"],
                         level=s.level, log_axis=log_axis, excluded=sa["excluded"], contour_null=null,
                         labels=labels, filled=filled, xlabel=xlabel, xlim=xlim,
                         centre_label="Random effects estimate"
                         if pooled == "random" else "Common effect estimate",
                         fontsize=fontsize, size=size or (3.5, 3.2)).plot(ax)
