"""Forest plots: a table of studies with their estimates drawn beside it.

A forest plot is laid out once, in points, from measured text (:mod:`metareview.plots._text`):
every column is as wide as its widest cell, the figure is as tall as its rows, and text
that spans a row (heterogeneity, tests) gets the whole width of the figure.  Drawing
(:meth:`ForestDisplay.plot`) only places what the layout decided, so a display can be
drawn again on other axes, restyled through its artists, or saved as PNG, SVG or PDF.

Plots know results, not how they were computed: every number comes from a
:class:`~metareview.api.result.MetaResult` (``study_arrays()``, ``pooled``, ``backtransform``)
or, for subgroup analyses, from an object with ``overall``, ``groups``, ``test`` and
``variable``.  Studies excluded from pooling are shown in grey with weights ``--``.

Three layouts: ``"meta"`` (R meta's default: data left, estimate, CI and weights right),
``"revman5"`` (every column left, the plot on the right, one model) and ``"jama"``
(estimate with CI left of the plot, weights right, one model).

>>> import metareview as mr
>>> r = mr.metaprop([8, 26, 26], [10, 31, 30], ["A", "B", "C"])
>>> d = r.forest()
>>> [row.kind for row in d.rows][:4], len(d.diamonds_)
(['study', 'study', 'study', 'common'], 2)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..base.exceptions import DataError, SettingsError
from ._labels import MINUS, literal_text, shorten

__all__ = ["forest", "forest_table", "ForestDisplay", "LAYOUTS", "SAVE_FORMATS", "save_figure"]

LAYOUTS = ("meta", "revman5", "jama")
SAVE_FORMATS = ("png", "svg", "pdf")
FONT_FAMILY = "DejaVu Sans"

#: Data columns by design, as (key, header, arm group).
DESIGN_COLUMNS = {
    "proportion": (("events", "Events", None), ("n", "Total", None)),
    "mean": (("n", "Total", None), ("mean", "Mean", None), ("sd", "SD", None)),
    "prepost": (("n", "Total", None), ("mean_pre", "Mean", "Baseline"), ("sd_pre", "SD", "Baseline"),
                ("mean_post", "Mean", "Follow-up"), ("sd_post", "SD", "Follow-up")),
    "cont2": (("n_e", "Total", "Experimental"), ("mean_e", "Mean", "Experimental"),
              ("sd_e", "SD", "Experimental"), ("n_c", "Total", "Control"), ("mean_c", "Mean", "Control"),
              ("sd_c", "SD", "Control")),
    "bin2": (("events_e", "Events", "Experimental"), ("n_e", "Total", "Experimental"),
             ("events_c", "Events", "Control"), ("n_c", "Total", "Control")),
    "generic": (("yi", "Estimate", None), ("se", "SE", None)),
    "rate": (("events", "Events", None), ("time", "Time", None)),
}
#: Columns whose sum is shown on the first pooled row.
TOTALS = {"events", "n", "events_e", "n_e", "events_c", "n_c", "time"}

_STYLE = {
    "meta": {"square": "#808080", "whisker": "black", "common": "#bfbfbf", "random": "#595959",
             "diamond_edge": "black", "prediction": "#c0392b", "reference": "#404040",
             "pooled_line": "#7f7f7f", "rules": False},
    "revman5": {"square": "#00a651", "whisker": "black", "common": "black", "random": "black",
                "diamond_edge": "black", "prediction": "#c0392b", "reference": "#404040",
                "pooled_line": None, "rules": True},
    "jama": {"square": "#1f5fa0", "whisker": "#1f3550", "common": "#f28e2b", "random": "#f28e2b",
             "diamond_edge": "#1f3550", "prediction": "#7f7f7f", "reference": "#7f7f7f",
             "pooled_line": None, "rules": True},
}
_GREY = "#9a9a9a"


# ----------------------------------------------------------------------------------------------
# number formatting
# ----------------------------------------------------------------------------------------------
def _num(x: float, digits: int) -> str:
    if x is None or not np.isfinite(x):
        return ""
    s = f"{x:.{digits}f}"
    if s.startswith("-") and float(s) == 0:
        s = s[1:]
    return s.replace("-", MINUS)


def _data_cell(x) -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not np.isfinite(v):
        return ""
    if v == int(v) and abs(v) < 1e15:
        return str(int(v)).replace("-", MINUS)
    return f"{v:.4g}".replace("-", MINUS)


def _p(p: float, style: str) -> str:
    """p = 0.04, p = 0.004, p < 0.001 (JAMA: no leading zero, capital P)."""
    name = "p" if style == "meta" else "P"
    if p is None or not np.isfinite(p):
        return f"{name} = NA"
    if p < 0.001:
        text = f"{name} < 0.001"
    elif p < 0.01:
        text = f"{name} = {p:.3f}"
    elif p < 0.995:
        text = f"{name} = {p:.2f}"
    else:
        text = f"{name} > 0.99"
    if style == "jama":
        text = text.replace(" 0.", " .")
    return text


# ----------------------------------------------------------------------------------------------
# the row model
# ----------------------------------------------------------------------------------------------
@dataclass
class ForestRow:
    """One row of the table: cells by column key and what to draw in the plot column.

    ``kind`` is ``study``, ``excluded``, ``common``, ``random``, ``prediction``,
    ``heading`` (subgroup header), ``text`` (a line spanning the figure) or ``blank``.
    Estimates are on the natural (displayed) scale.
    """

    kind: str
    cells: dict = field(default_factory=dict)
    est: float = float("nan")
    lo: float = float("nan")
    hi: float = float("nan")
    weight: float = float("nan")
    text: str = ""
    bold: bool = False
    marks: dict = field(default_factory=dict)     # column key -> fill colour of a disc behind the cell


@dataclass
class ForestColumn:
    key: str
    header: str
    side: str            # left | right
    align: str = "right"
    group: str | None = None


@dataclass
class _Geometry:
    fontsize: float
    width: float
    height: float
    row_h: float
    top: float             # y (points from the bottom) of the top of the first row
    col_x: dict            # key -> (x0, x1)
    plot_x: tuple
    header_lines: int
    text_rows: dict        # row index -> list of lines (wrapped span texts)
    ticks: list
    tick_labels: list


# ----------------------------------------------------------------------------------------------
# the display
# ----------------------------------------------------------------------------------------------
class ForestDisplay:
    """A forest plot laid out once; :meth:`plot` draws it, :meth:`savefig` writes it.

    Build it with :func:`forest` (from a result) or :func:`forest_table` (from arrays).

    Attributes after :meth:`plot`
    -----------------------------
    figure_, ax_
        The Figure and the Axes holding the table (coordinates in points).
    plot_ax_
        The inset Axes of the plot column (x on the natural scale, log for ratios;
        rows at y = i + 0.5 counted from the top).
    texts_
        List of ``(row, column key, Text)``; the header has row ``-1``, spanning lines
        the key ``"text"``.
    squares_, whiskers_, arrows_, diamonds_, prediction_, reference_line_
        The drawn artists (``diamonds_`` is a list of ``(row, Polygon)``).
    """

    def __init__(self, rows: list[ForestRow], columns: list[ForestColumn], *, ratio: bool = False,
                 null: float | None = None, xlim: Sequence[float] | None = None, xlabel: str = "",
                 favours: Sequence[str] | None = None, layout: str = "meta", fontsize: float = 7.0,
                 width: float | None = None, pooled_lines: Sequence[float] = (), percent: bool = False,
                 proportion: bool = False):
        if layout not in LAYOUTS:
            raise SettingsError(f"unknown layout {layout!r}; valid layouts are: {', '.join(LAYOUTS)}")
        if not (isinstance(fontsize, (int, float)) and 4 <= fontsize <= 30):
            raise SettingsError(f"fontsize must be between 4 and 30 points, got {fontsize!r}")
        if favours is not None and (isinstance(favours, str) or len(favours) != 2):
            raise SettingsError("favours takes two labels: (left of the null, right of the null)")
        self.rows = rows
        self.columns = columns
        self.ratio = ratio
        self.null = null
        self.xlabel = xlabel
        self.favours = tuple(favours) if favours is not None else None
        self.layout = layout
        self.style = _STYLE[layout]
        self.pooled_lines = [v for v in pooled_lines if np.isfinite(v)]
        self.user_xlim = xlim is not None
        self.xlim = self._limits(xlim, proportion, percent)
        self.axis_limits = self._outer_limits()
        self.geometry = self._layout(fontsize, width)
        self.figure_ = None
        self.ax_ = None
        self.plot_ax_ = None

    # ----- limits and ticks ------------------------------------------------------------------
    def _limits(self, xlim, proportion: bool, percent: bool) -> tuple[float, float]:
        if xlim is not None:
            lo, hi = (float(v) for v in xlim)
            if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
                raise SettingsError(f"xlim must be two finite numbers, low < high; got {tuple(xlim)!r}")
            if self.ratio and lo <= 0:
                raise SettingsError(f"xlim of a ratio (log axis) must be positive; got {tuple(xlim)!r}")
            return lo, hi
        tr = (np.log if self.ratio else (lambda v: np.asarray(v, float)))
        with np.errstate(divide="ignore", invalid="ignore"):
            ests = np.array([tr(r.est) for r in self.rows if r.kind in ("study", "excluded")], float)
            cis = np.array([[tr(r.lo), tr(r.hi)] for r in self.rows if r.kind in ("study", "excluded")],
                           float).reshape(-1, 2)
            pooled = np.array([[tr(r.lo), tr(r.hi), tr(r.est)] for r in self.rows
                               if r.kind in ("common", "random", "prediction")], float).reshape(-1, 3)
        core = np.concatenate([ests, pooled.ravel()])
        core = core[np.isfinite(core)]
        wide = np.concatenate([cis.ravel(), core])
        wide = wide[np.isfinite(wide)]
        if self.null is not None:
            core = np.append(core, tr(self.null))
            wide = np.append(wide, tr(self.null))
        if wide.size == 0:
            return (0.5, 2.0) if self.ratio else (0.0, 1.0)
        lo, hi = float(wide.min()), float(wide.max())
        # a few extreme intervals (zero cells, tiny studies) must not squash the rest: they get arrows
        if core.size:
            c_lo, c_hi = float(core.min()), float(core.max())
            span = max(c_hi - c_lo, 1e-9)
            lo, hi = max(lo, c_lo - span), min(hi, c_hi + span)
        if proportion:
            top = 100.0 if percent else 1.0
            lo, hi = max(lo, 0.0), min(hi, top)
        if hi - lo < 1e-12:
            lo, hi = lo - 0.5, hi + 0.5
        if self.ratio:
            return float(np.exp(lo)), float(np.exp(hi))
        return lo, hi

    def _outer_limits(self) -> tuple[float, float]:
        """Automatic limits widened to round values (1-2-5 on a log axis); given limits are kept."""
        lo, hi = self.xlim
        if self.user_xlim:
            return lo, hi
        if self.ratio:
            cands = sorted(m * 10.0 ** e for e in range(-12, 13) for m in (1, 2, 5))
            below = [c for c in cands if c <= lo * (1 + 1e-9)]
            above = [c for c in cands if c >= hi * (1 - 1e-9)]
            return (below[-1] if below else lo), (above[0] if above else hi)
        from matplotlib.ticker import MaxNLocator
        ticks = MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi)
        eps = 1e-9 * (hi - lo)
        return float(max([t for t in ticks if t <= lo + eps], default=lo)), \
            float(min([t for t in ticks if t >= hi - eps], default=hi))

    def _ticks(self, lo: float, hi: float, nbins: int) -> list[float]:
        """At most about ``nbins`` + 1 round ticks inside the axis limits ``lo``-``hi``."""
        if self.ratio:
            # 0.1 0.2 0.5 1 2 5 10, else decades, else every other or third decade
            for mantissas, step in (((1, 2, 5), 1), ((1,), 1), ((1,), 2), ((1,), 3)):
                cands = sorted(m * 10.0 ** e for e in range(-12, 13) if e % step == 0 for m in mantissas)
                ticks = [c for c in cands if lo * (1 - 1e-9) <= c <= hi * (1 + 1e-9)]
                if len(ticks) <= nbins + 1:
                    return ticks
            return ticks
        from matplotlib.ticker import MaxNLocator
        eps = 1e-9 * (hi - lo)
        ticks = MaxNLocator(nbins=nbins, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi)
        return [float(t) for t in ticks if lo - eps <= t <= hi + eps]

    @staticmethod
    def _tick_label(t: float) -> str:
        if t == 0:
            return "0"
        s = f"{t:.6g}"
        if "e" in s:
            s = f"{t:.10f}".rstrip("0").rstrip(".")
        return s.replace("-", MINUS)

    # ----- layout ----------------------------------------------------------------------------------
    def _layout(self, fontsize: float, width: float | None) -> _Geometry:
        f = float(fontsize)
        while True:
            geo = self._layout_at(f, width)
            if geo is not None:
                return geo
            if f <= 5.0:
                raise SettingsError(
                    f"the table does not fit in {width} in even at 5 pt; widen the figure, drop columns "
                    "(columns=...) or shorten the study labels")
            f = max(5.0, f - 0.5)

    def _layout_at(self, f: float, width: float | None) -> _Geometry | None:
        """The geometry at font size ``f``; None when it cannot fit in ``width`` inches."""
        from matplotlib.font_manager import FontProperties

        from ._text import HINTING_SLACK, measure_text, wrap_text

        reg = FontProperties(family=FONT_FAMILY, size=f)
        bold = FontProperties(family=FONT_FAMILY, size=f, weight="bold")

        def w(text: str, b: bool = False) -> float:
            if not text:
                return 0.0
            return max(measure_text(line, bold if b else reg)[0] for line in text.split("\n")) * HINTING_SLACK

        gap = 1.0 * f
        margin = 0.6 * f
        row_h = 1.45 * f
        first_key = self.columns[0].key if self.columns else None
        col_w = {}
        for c in self.columns:
            cw = w(c.header, True)
            for r in self.rows:
                cell = r.cells.get(c.key, "")
                # a subgroup heading sits in the first column and runs on over the empty cells
                if cell and not (r.kind == "heading" and c.key == first_key):
                    cw = max(cw, w(cell, r.bold))
            col_w[c.key] = cw
        # arm headers (Experimental, Control) must fit over their columns
        groups: dict[str, list[str]] = {}
        for c in self.columns:
            if c.group:
                groups.setdefault(c.group, []).append(c.key)
        for g, keys in groups.items():
            need = w(g, True) - (sum(col_w[k] for k in keys) + gap * (len(keys) - 1))
            if need > 0:
                for k in keys:
                    col_w[k] += need / len(keys)
        left = [c for c in self.columns if c.side == "left"]
        right = [c for c in self.columns if c.side == "right"]
        left_w = sum(col_w[c.key] for c in left) + gap * len(left)
        right_w = sum(col_w[c.key] for c in right) + gap * len(right)
        heading_w = max([w(r.cells.get(first_key, ""), True) for r in self.rows if r.kind == "heading"]
                        or [0.0])
        span_w = max([w(r.text) for r in self.rows if r.kind == "text"] or [0.0])
        min_plot = 11.0 * f
        if width is None:
            plot_w = 20.0 * f
            plot_w = max(plot_w, heading_w - left_w + gap, span_w - left_w - right_w)
        else:
            plot_w = float(width) * 72.0 - 2 * margin - left_w - right_w
        header_lines = max([c.header.count("\n") + 1 for c in self.columns] or [1])
        axis_block = 3.0 + 2.0 + 1.25 * f + 0.4 * f
        if self.xlabel:
            axis_block += 1.35 * f
        if self.favours:
            axis_block += 1.35 * f
        extra_lo = extra_hi = 0.0
        for _ in range(4):
            if plot_w < min_plot or heading_w > left_w + plot_w:
                return None
            plot_x = (margin + extra_lo + left_w, margin + extra_lo + left_w + plot_w)
            total = 2 * margin + extra_lo + extra_hi + left_w + plot_w + right_w
            # ticks: as many as fit without touching
            for nbins in ((8, 6, 5, 4, 3, 2, 1) if self.ratio else (6, 5, 4, 3, 2, 1)):
                ticks = self._ticks(*self.axis_limits, nbins)
                labels = [self._tick_label(t) for t in ticks]
                lws = [w(t) for t in labels]
                pos = self._positions(ticks, plot_x, self.axis_limits)
                if all(pos[i + 1] - pos[i] >= (lws[i] + lws[i + 1]) / 2 + 0.5 * f for i in range(len(ticks) - 1)):
                    break
            # what is drawn under the axis may reach past the plot column, but not off the page
            # squares and arrows at the ends of the axis reach half a row past it
            ext_lo, ext_hi = plot_x[0] - 0.5 * row_h, plot_x[1] + 0.5 * row_h
            if pos:
                ext_lo, ext_hi = min(ext_lo, pos[0] - lws[0] / 2), max(ext_hi, pos[-1] + lws[-1] / 2)
            if self.favours:
                nx = self._null_x(plot_x)
                ext_lo = min(ext_lo, nx - 0.5 * f - w(self.favours[0]))
                ext_hi = max(ext_hi, nx + 0.5 * f + w(self.favours[1]))
            if self.xlabel:
                mid = sum(plot_x) / 2
                ext_lo, ext_hi = min(ext_lo, mid - w(self.xlabel) / 2), max(ext_hi, mid + w(self.xlabel) / 2)
            need_lo = max(0.0, margin - ext_lo)
            need_hi = max(0.0, ext_hi - (total - margin))
            if need_lo < 0.01 and need_hi < 0.01:
                break
            if width is None:
                extra_lo, extra_hi = extra_lo + need_lo, extra_hi + need_hi
            else:
                plot_w -= need_lo + need_hi
                extra_lo, extra_hi = extra_lo + need_lo, extra_hi + need_hi
        else:
            return None
        avail = total - 2 * margin
        text_rows = {i: (wrap_text(r.text, avail, reg) if w(r.text) > avail else [r.text])
                     for i, r in enumerate(self.rows) if r.kind == "text"}
        col_x = {}
        x = margin + extra_lo
        for c in left:
            col_x[c.key] = (x, x + col_w[c.key])
            x += col_w[c.key] + gap
        x = plot_x[1] + gap
        for c in right:
            col_x[c.key] = (x, x + col_w[c.key])
            x += col_w[c.key] + gap
        n_rows = len(self.rows) + sum(len(v) - 1 for v in text_rows.values())
        header_h = (header_lines + (1 if groups else 0)) * 1.2 * f + 0.5 * f
        height = margin + header_h + n_rows * row_h + 0.3 * f + axis_block + margin
        return _Geometry(fontsize=f, width=total, height=height, row_h=row_h, top=height - margin - header_h,
                         col_x=col_x, plot_x=plot_x, header_lines=header_lines, text_rows=text_rows,
                         ticks=ticks, tick_labels=labels)

    def _positions(self, values, plot_x, limits) -> list[float]:
        """x in points of ``values`` in a plot column at ``plot_x`` showing ``limits``."""
        (x0, x1), (lo, hi) = plot_x, limits
        if self.ratio:
            return [x0 + (math.log(v) - math.log(lo)) / (math.log(hi) - math.log(lo)) * (x1 - x0) for v in values]
        return [x0 + (v - lo) / (hi - lo) * (x1 - x0) for v in values]

    def _null_x(self, plot_x) -> float:
        """Where the favours labels meet: the null value, or the middle without one on the axis."""
        lo, hi = self.axis_limits
        if self.null is None or not lo < self.null < hi:
            return (plot_x[0] + plot_x[1]) / 2
        return self._positions([self.null], plot_x, (lo, hi))[0]

    # ----- drawing ----------------------------------------------------------------------------------
    @property
    def size(self) -> tuple[float, float]:
        """Width and height in inches of the figure :meth:`plot` makes."""
        return self.geometry.width / 72.0, self.geometry.height / 72.0

    def __repr__(self) -> str:
        w, h = self.size
        k = sum(r.kind in ("study", "excluded") for r in self.rows)
        return f"<ForestDisplay {self.layout}: {k} studies, {len(self.rows)} rows, {w:.2f} x {h:.2f} in>"

    @literal_text
    def plot(self, ax=None):
        """Draw the plot and return ``self``.

        Without ``ax`` a figure of exactly :attr:`size` is made.  With ``ax`` the plot is
        drawn into it, scaled (text included) to fit, and the axes' frame is switched off.
        """
        from matplotlib.collections import LineCollection
        from matplotlib.font_manager import FontProperties
        from matplotlib.patches import Polygon, Rectangle
        from matplotlib.ticker import FixedLocator, NullLocator

        g = self.geometry
        W, H = g.width, g.height
        if ax is None:
            import matplotlib.pyplot as plt
            fig = plt.figure(figsize=(W / 72.0, H / 72.0))
            ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
            s = 1.0
            ax.set_xlim(0.0, W)
            ax.set_ylim(0.0, H)
        else:
            fig = ax.get_figure()
            pos = ax.get_position()
            fw, fh = fig.get_size_inches()
            aw, ah = pos.width * fw * 72.0, pos.height * fh * 72.0
            s = min(aw / W, ah / H)
            vw, vh = aw / s, ah / s
            ax.set_xlim((W - vw) / 2, (W + vw) / 2)
            ax.set_ylim((H - vh) / 2, (H + vh) / 2)
        ax.set_axis_off()
        text = _text_adder(ax)
        f = g.fontsize * s
        reg = FontProperties(family=FONT_FAMILY, size=f)
        bold = FontProperties(family=FONT_FAMILY, size=f, weight="bold")
        st = self.style
        lw = 0.6 * s
        self.texts_ = []
        self.rob_marks_ = []

        # vertical positions: a spanning line wrapped over n lines takes n rows
        row_top = []
        y = g.top
        for i in range(len(self.rows)):
            row_top.append(y)
            y -= g.row_h * len(g.text_rows.get(i, [None]))
        rows_bottom = y - 0.3 * g.fontsize    # a little air between the last row and the axis

        def cx(key, align):
            a, b = g.col_x[key]
            return {"left": a, "right": b, "center": (a + b) / 2}[align]

        # header
        head_y = g.top + 0.35 * g.fontsize
        for c in self.columns:
            t = text(cx(c.key, c.align), head_y, c.header, ha=c.align, va="bottom", fontproperties=bold,
                     multialignment=c.align, linespacing=1.15)
            self.texts_.append((-1, c.key, t))
        groups: dict[str, list[str]] = {}
        for c in self.columns:
            if c.group:
                groups.setdefault(c.group, []).append(c.key)
        group_y = head_y + g.header_lines * 1.2 * g.fontsize
        for name, keys in groups.items():
            x0 = min(g.col_x[k][0] for k in keys)
            x1 = max(g.col_x[k][1] for k in keys)
            t = text((x0 + x1) / 2, group_y + 0.25 * g.fontsize, name, ha="center", va="bottom",
                     fontproperties=bold)
            self.texts_.append((-1, "group:" + name, t))
            ax.plot([x0, x1], [group_y + 0.1 * g.fontsize] * 2, color="black", lw=lw, solid_capstyle="butt")
        if st["rules"]:
            x0, x1 = 0.6 * g.fontsize, W - 0.6 * g.fontsize
            ax.plot([x0, x1], [g.top] * 2, color="black", lw=lw)

        # cells
        first_key = self.columns[0].key if self.columns else None
        for i, r in enumerate(self.rows):
            yc = row_top[i] - g.row_h / 2
            colour = _GREY if r.kind == "excluded" else "black"
            if r.kind == "text":
                for j, line in enumerate(g.text_rows[i]):
                    t = text(0.6 * g.fontsize, yc - j * g.row_h, line, ha="left", va="center_baseline",
                             fontproperties=reg)
                    self.texts_.append((i, "text", t))
                continue
            for c in self.columns:
                cell = r.cells.get(c.key, "")
                fill = r.marks.get(c.key)
                if fill is not None:   # a risk-of-bias judgment: a disc with its symbol (R meta's rob())
                    from matplotlib.patches import Circle
                    disc = Circle((cx(c.key, "center"), yc), 0.62 * g.fontsize * s, facecolor=fill,
                                  edgecolor="black", linewidth=0.4 * s)
                    ax.add_patch(disc)
                    self.rob_marks_.append((i, c.key, disc))
                if not cell:
                    continue
                align = "left" if (r.kind == "heading" and c.key == first_key) else c.align
                t = text(cx(c.key, align), yc, cell, ha=align, va="center_baseline",
                         fontproperties=bold if r.bold else reg,
                         color=colour if fill is None else _ink(fill))
                self.texts_.append((i, c.key, t))

        # the plot column
        x0, x1 = g.plot_x
        pax = ax.inset_axes((x0, rows_bottom, x1 - x0, g.top - rows_bottom), transform=ax.transData)
        pax.patch.set_visible(False)
        for side in ("top", "right", "left"):
            pax.spines[side].set_visible(False)
        pax.spines["bottom"].set_linewidth(lw)
        if self.ratio:
            pax.set_xscale("log")
        lo, hi = self.axis_limits
        pax.set_xlim(lo, hi)
        n_units = (g.top - rows_bottom) / g.row_h
        pax.set_ylim(n_units, 0.0)
        pax.yaxis.set_major_locator(NullLocator())
        pax.yaxis.set_minor_locator(NullLocator())
        pax.xaxis.set_major_locator(FixedLocator(g.ticks))
        pax.xaxis.set_minor_locator(NullLocator())
        pax.set_xticklabels(g.tick_labels, fontproperties=reg)
        pax.tick_params(axis="x", length=3.0 * s, width=lw, pad=2.0 * s)
        ypos = [(g.top - (rt - g.row_h / 2)) / g.row_h for rt in row_top]

        # reference and pooled-estimate lines, broken at spanning lines and headings
        def blocks():
            start = None
            for i, r in enumerate(self.rows):
                ok = r.kind not in ("text", "heading", "blank")
                if ok and start is None:
                    start = i
                if not ok and start is not None:
                    yield start, i - 1
                    start = None
            if start is not None:
                yield start, len(self.rows) - 1
        self.reference_line_ = []
        spans = [((g.top - row_top[a]) / g.row_h, (g.top - row_top[b]) / g.row_h + 1.0) for a, b in blocks()]
        if self.null is not None and lo <= self.null <= hi:
            for a, b in spans:
                self.reference_line_.append(pax.vlines(self.null, a, b, color=st["reference"], lw=lw,
                                                       zorder=1))
        if st["pooled_line"]:
            study_rows = [i for i, r in enumerate(self.rows) if r.kind in ("study", "excluded")]
            if study_rows:
                a, b = ypos[study_rows[0]] - 0.5, ypos[study_rows[-1]] + 0.5
                for v in self.pooled_lines:
                    if lo < v < hi:
                        pax.vlines(v, a, b, color=st["pooled_line"], lw=lw, linestyles=(0, (2, 2)), zorder=1)

        # studies
        segs, seg_cols, arrows = [], [], []
        sq_x, sq_y, sq_s, sq_c = [], [], [], []
        weights = np.array([r.weight for r in self.rows if r.kind == "study"], float)
        wmax = np.nanmax(weights) if weights.size and np.isfinite(weights).any() else 1.0
        max_side = 0.8 * g.row_h * s
        for i, r in enumerate(self.rows):
            if r.kind not in ("study", "excluded"):
                continue
            colour = _GREY if r.kind == "excluded" else st["whisker"]
            if not (np.isfinite(r.lo) and np.isfinite(r.hi)):
                continue
            a, b = max(r.lo, lo), min(r.hi, hi)
            if a < b:
                segs.append([(a, ypos[i]), (b, ypos[i])])
                seg_cols.append(colour)
            if r.lo < lo:
                arrows.append((lo, ypos[i], "<", colour))
            if r.hi > hi:
                arrows.append((hi, ypos[i], ">", colour))
            if np.isfinite(r.est) and lo <= r.est <= hi:
                if r.kind == "study" and np.isfinite(r.weight) and wmax > 0:
                    side = max(1.6 * s, max_side * math.sqrt(max(r.weight, 0.0) / wmax))
                    sq_c.append(st["square"])
                elif r.kind == "study":     # a method without study weights (GLMM): one size for all
                    side = 0.5 * max_side
                    sq_c.append(st["square"])
                else:
                    side = 0.35 * max_side
                    sq_c.append("none")
                sq_x.append(r.est)
                sq_y.append(ypos[i])
                sq_s.append(side ** 2)
        self.whiskers_ = LineCollection(segs, colors=seg_cols, linewidths=lw * 1.2, zorder=2)
        pax.add_collection(self.whiskers_)
        self.squares_ = pax.scatter(sq_x, sq_y, s=sq_s, marker="s", c=sq_c if sq_c else None,
                                    edgecolors=[_GREY if c == "none" else c for c in sq_c] or None,
                                    linewidths=0.5 * s, zorder=3, clip_on=False)
        self.arrows_ = []
        for xa, ya, mk, colour in arrows:
            self.arrows_.extend(pax.plot([xa], [ya], marker=mk, markersize=3.2 * s, color=colour,
                                         markeredgewidth=0, clip_on=False, zorder=3))

        # diamonds and the prediction interval
        self.diamonds_ = []
        self.prediction_ = []
        for i, r in enumerate(self.rows):
            if r.kind in ("common", "random") and np.isfinite(r.est):
                yy = ypos[i]
                hh = 0.36
                verts = [(r.lo, yy), (r.est, yy - hh), (r.hi, yy), (r.est, yy + hh)]
                poly = Polygon(verts, closed=True, facecolor=st[r.kind], edgecolor=st["diamond_edge"],
                               linewidth=lw, zorder=4)
                pax.add_patch(poly)
                self.diamonds_.append((i, poly))
                if r.lo < lo:
                    self.arrows_.extend(pax.plot([lo], [yy], marker="<", markersize=3.2 * s,
                                                 color=st["diamond_edge"], clip_on=False, zorder=4))
                if r.hi > hi:
                    self.arrows_.extend(pax.plot([hi], [yy], marker=">", markersize=3.2 * s,
                                                 color=st["diamond_edge"], clip_on=False, zorder=4))
            if r.kind == "prediction" and np.isfinite(r.lo) and np.isfinite(r.hi):
                yy = ypos[i]
                a, b = max(r.lo, lo), min(r.hi, hi)
                rect = Rectangle((a, yy - 0.16), b - a, 0.32, facecolor=st["prediction"], edgecolor="none",
                                 zorder=4)
                pax.add_patch(rect)
                self.prediction_.append(rect)
                for xa, mk, out in ((lo, "<", r.lo < lo), (hi, ">", r.hi > hi)):
                    if out:
                        self.arrows_.extend(pax.plot([xa], [yy], marker=mk, markersize=3.2 * s,
                                                     color=st["prediction"], clip_on=False, zorder=4))

        # axis labels below the ticks
        below = rows_bottom - 3.0 - 2.0 - 1.25 * g.fontsize - 0.4 * g.fontsize
        mid = (x0 + x1) / 2
        if self.favours:
            nx = self._null_x(g.plot_x)
            y_f = below - 0.7 * g.fontsize
            t1 = text(nx - 0.5 * g.fontsize, y_f, self.favours[0], ha="right", va="center_baseline",
                      fontproperties=reg)
            t2 = text(nx + 0.5 * g.fontsize, y_f, self.favours[1], ha="left", va="center_baseline",
                      fontproperties=reg)
            self.texts_ += [(-2, "favours", t1), (-2, "favours", t2)]
            below -= 1.35 * g.fontsize
        if self.xlabel:
            t = text(mid, below - 0.7 * g.fontsize, self.xlabel, ha="center", va="center_baseline",
                     fontproperties=reg)
            self.texts_.append((-2, "xlabel", t))
        self.figure_, self.ax_, self.plot_ax_ = fig, ax, pax
        return self

    def savefig(self, path: str | Path, *, format: str | None = None, dpi: float = 300,
                inputs: Sequence[str | Path] = ()) -> Path:
        """Write the plot as PNG (``dpi``, 300 by default), SVG or PDF (format from the suffix)."""
        if self.figure_ is None:
            self.plot()
        return save_figure(self.figure_, path, format=format, dpi=dpi, inputs=inputs)


def _text_adder(ax):
    """``ax.text`` for the texts of one plot, with the axes' clip box made once.

    ``ax.text`` gives every text a clip box of its own, the axes' rectangle through a new
    transformation (a third of the cost of adding a text, and a node more in the transforms
    that drawing walks).  The texts of a forest plot share one: the same rectangle, so a
    text whose clipping is switched on (``ax.text`` leaves it off) is clipped as before.
    """
    from matplotlib.text import Text
    from matplotlib.transforms import Bbox, TransformedBbox

    add = getattr(ax, "_add_text", None)    # matplotlib's own step after making the text
    if add is None:
        return ax.text
    clip = TransformedBbox(Bbox.unit(), ax.patch.get_transform())

    def text(x: float, y: float, s: str, **kwargs):
        if "bbox" in kwargs:                # a box around the text: clipped with it, as ax.text does
            return ax.text(x, y, s, **kwargs)
        t = Text(x, y, text=s, **{"verticalalignment": "baseline", "horizontalalignment": "left",
                                 "transform": ax.transData, "clip_on": False, **kwargs})
        t.set_clip_box(clip)
        return add(t)

    return text


#: Resolutions a figure may be saved at: below 10 dpi no text is legible; above 2400 a PNG
#: of a long forest plot runs into gigabytes.
DPI_RANGE = (10.0, 2400.0)
#: The largest PNG side in pixels that Agg can draw (2**16 - 1).
MAX_PIXELS = 65535


def check_dpi(dpi: float) -> float:
    """Refuse a resolution outside :data:`DPI_RANGE` (0, negative, NaN, absurd) with one message."""
    low, high = DPI_RANGE
    try:
        value = float(dpi)
    except (TypeError, ValueError):
        raise SettingsError(f"dpi must be a number between {low:g} and {high:g}, not {dpi!r}") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise SettingsError(f"dpi must be between {low:g} and {high:g}, not {dpi!r}")
    return value


def check_figure_size(fig, fmt: str, dpi: float) -> None:
    """Refuse a PNG larger than Agg can draw, naming the size and what to change."""
    width, height = fig.get_size_inches()
    if not (math.isfinite(width) and math.isfinite(height) and width > 0 and height > 0):
        raise SettingsError(f"the figure size {width:g} x {height:g} inches is not drawable")
    if fmt == "png" and max(width, height) * dpi > MAX_PIXELS:
        raise SettingsError(f"the figure would be {width * dpi:.0f} x {height * dpi:.0f} pixels, more than a PNG "
                            f"can hold ({MAX_PIXELS}); lower the dpi or save as .svg or .pdf")


def save_figure(fig, path: str | Path, *, format: str | None = None, dpi: float = 300,
                inputs: Sequence[str | Path] = ()) -> Path:
    """Save ``fig`` as PNG, SVG or PDF with embedded TrueType fonts and no creation date.

    The file is written through :func:`metareview.base.outputs.open_output`: never onto one of
    ``inputs``, and complete or not at all.
    """
    import matplotlib

    from ..base.outputs import open_output

    path = Path(path)
    suffix = path.suffix.lower().lstrip(".")
    fmt = (format or suffix).lower().lstrip(".")
    if fmt not in SAVE_FORMATS:
        raise SettingsError(f"cannot save as {fmt or str(path)!r}; name the file .png, .svg or .pdf")
    if format is not None and suffix and suffix != fmt:
        raise SettingsError(f"format {fmt!r} does not match the file suffix .{suffix} of {path}")
    metadata = {"png": {}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}[fmt]
    dpi = check_dpi(dpi)
    check_figure_size(fig, fmt, dpi)
    with matplotlib.rc_context({"pdf.fonttype": 42, "svg.fonttype": "path", "svg.hashsalt": "metareview"}), \
            open_output(path, "wb", inputs=inputs) as fh:
        fig.savefig(fh, format=fmt, dpi=dpi, facecolor="white", metadata=metadata)
    return path


# ----------------------------------------------------------------------------------------------
# from results to rows
# ----------------------------------------------------------------------------------------------
MODEL_LABELS = {
    "meta": {"common": "Common effect model", "random": "Random effects model",
             "prediction": "Prediction interval"},
    "revman5": {"common": "Total ({pct}% CI)", "random": "Total ({pct}% CI)", "prediction": "Prediction interval"},
    "jama": {"common": "Overall (common effect)", "random": "Overall (random effects)",
             "prediction": "Prediction interval"},
}
SUBTOTAL_LABELS = {"revman5": "Subtotal ({pct}% CI)"}
RIGHT_KEYS = {"meta": {"effect", "ci", "effect_ci", "weight_common", "weight_random"},
              "revman5": set(),
              "jama": {"weight_common", "weight_random"}}


def _ink(fill: str) -> str:
    """Black on light discs, white on dark ones."""
    from matplotlib.colors import to_rgb
    r, g, b = to_rgb(fill)
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.45 else "white"


def _rob_columns(rows: list[ForestRow], rob) -> tuple[list[ForestColumn], list[ForestRow]]:
    """Risk-of-bias columns at the right of the table (as R meta's ``rob()``): one disc per domain and
    overall for each study, coloured and marked as robvis does, and a legend of the domains."""
    from .rob_style import ROB_COLOURS, ROB_SYMBOLS

    ids = [d.id for d in rob.tool.domains] if rob.tool.domains else [f"D{i + 1}" for i in range(len(rob.domains))]
    index = {st: i for i, st in enumerate(rob.studies)}
    for r in rows:
        if r.kind not in ("study", "excluded"):
            continue
        label = r.cells.get("study", "")
        if label not in index:
            raise DataError(f"no row in the risk-of-bias table (its studies: {', '.join(rob.studies)})",
                            study=label, column="Study", rule="risk of bias")
        i = index[label]
        for key, judgment in zip([*ids, "Overall"], [*rob.judgments[i], rob.overall[i]]):
            level = rob.level(judgment)
            r.cells[f"rob:{key}"] = ROB_SYMBOLS[level]
            r.marks[f"rob:{key}"] = ROB_COLOURS[level]
    cols = [ForestColumn(f"rob:{key}", key if key != "Overall" else "All", "right", "center", "Risk of bias")
            for key in [*ids, "Overall"]]
    # one short line per domain, so that the legend never widens the figure
    legend = [ForestRow("text", text=f"Risk of bias ({rob.tool.name}), All: overall")]
    legend += [ForestRow("text", text=f"{i}: {n}") for i, n in zip(ids, rob.names)]
    return cols, legend


def _is_subgroup(obj) -> bool:
    return all(hasattr(obj, a) for a in ("overall", "groups", "test", "variable"))


def effect_ci_cells(layout: str, digits: int, est: float, lo: float, hi: float) -> dict:
    """The cells ``effect``, ``ci`` and ``effect_ci`` (both in the layout's style)."""
    e, a, b = _num(est, digits), _num(lo, digits), _num(hi, digits)
    if not e:
        return {}
    if layout == "meta":
        combined = f"{e} [{a}; {b}]"
    elif layout == "revman5":
        combined = f"{e} [{a}, {b}]"
    else:
        sep = " to " if (lo < 0 or hi < 0) else "\u2013"
        combined = f"{e} ({a}{sep}{b})"
    return {"effect": e, "ci": f"[{a}; {b}]", "effect_ci": combined}


class _Formatter:
    """Cells of one analysis: its studies' data, estimates, intervals and weights as text."""

    def __init__(self, result, layout: str, digits: int, percent: bool, square: str):
        self.r = result
        self.square = square
        self.m = result.measure
        self.layout = layout
        self.digits = digits
        self.factor = 100.0 if percent else 1.0
        self.pct = int(round(result.settings.level * 100))

    def nat(self, x):
        """A pooled analysis-scale value on the displayed scale."""
        x = float(x)
        v = float(self.r.backtransform(x)) if self.m.transformed else x
        return v * self.factor

    def effect_ci(self, est, lo, hi) -> dict:
        return effect_ci_cells(self.layout, self.digits, est, lo, hi)

    def weight(self, w: float) -> str:
        """A weight in percent (JAMA: the header says %); ``--`` where a method has no
        study weights (GLMM, as meta)."""
        if not np.isfinite(w):
            return "--"
        return f"{w:.1f}" if self.layout == "jama" else f"{w:.1f}%"

    def study_rows(self, weights_from=None) -> list[ForestRow]:
        r = self.r
        sa = r.study_arrays()
        nat = self.m.transformed
        est = sa["bt_estimate"] if nat else sa["yi"]
        lo = sa["bt_ci_low"] if nat else sa["ci_low"]
        hi = sa["bt_ci_high"] if nat else sa["ci_high"]
        wc, wr = weights_from if weights_from is not None else (sa["weight_common"], sa["weight_random"])
        rows = []
        for i in range(r.k_all):
            inc = bool(r.included[i])
            cells = {"study": shorten(str(r.studlab[i]))}
            for key, arr in r.data.items():
                cells[key] = _data_cell(arr[i])
            cells["yi"] = _num(sa["yi"][i], max(self.digits, 2) + 1)
            cells["se"] = _num(sa["se"][i], max(self.digits, 2) + 1)
            for key, arr in r.covariates.items():
                cells[key] = shorten(_data_cell(arr[i]))
            cells.update(self.effect_ci(est[i] * self.factor, lo[i] * self.factor, hi[i] * self.factor))
            cells["weight_common"] = self.weight(wc[i]) if inc else "--"
            cells["weight_random"] = self.weight(wr[i]) if inc else "--"
            rows.append(ForestRow("study" if inc else "excluded", cells, est=est[i] * self.factor,
                                  lo=lo[i] * self.factor, hi=hi[i] * self.factor,
                                  weight=float(wc[i] if self.square == "common" else wr[i]) if inc else np.nan))
        return rows

    def pooled_rows(self, models, show_prediction, labels, weights=None, totals=True) -> list[ForestRow]:
        p = self.r.pooled
        rows = []
        for j, model in enumerate(models):
            est = self.nat(p[f"{model}_estimate"])
            lo, hi = self.nat(p[f"{model}_ci_low"]), self.nat(p[f"{model}_ci_high"])
            cells = {"study": labels[model].format(pct=self.pct)}
            cells.update(self.effect_ci(est, lo, hi))
            totals_w = weights if weights is not None else {"common": 100.0, "random": 100.0}
            for wm in ("common", "random"):
                cells[f"weight_{wm}"] = self.weight(totals_w[wm]) if wm == model else "--"
            if totals and j == 0:
                inc = self.r.included
                for key, arr in self.r.data.items():
                    if key in TOTALS:
                        cells[key] = _data_cell(np.nansum(arr[inc]))
            rows.append(ForestRow(model, cells, est=est, lo=lo, hi=hi, bold=True))
        s = self.r.settings
        if show_prediction and s.random and s.prediction != "none" and self.r.k >= 3:
            lo, hi = self.nat(p["prediction_low"]), self.nat(p["prediction_high"])
            if np.isfinite(lo) and np.isfinite(hi):
                cells = {"study": labels["prediction"]}
                ci = self.effect_ci(0.0, lo, hi)
                cells["ci"] = ci["ci"]
                cells["effect_ci"] = ci["ci"] if self.layout != "jama" else ci["effect_ci"].split(" ", 1)[1]
                rows.append(ForestRow("prediction", cells, lo=lo, hi=hi))
        return rows

    def heterogeneity(self) -> str | None:
        p, r = self.r.pooled, self.r
        if r.k < 2 or int(p["q_df"]) < 1:
            return None
        i2, tau2, q, df, qp = p["i2"], p["tau2"], p["q"], int(p["q_df"]), p["q_p"]
        if tau2 == 0:
            tau2_s = "0"
        elif tau2 >= 0.0001:
            tau2_s = _num(tau2, 4)
        else:
            tau2_s = f"{tau2:.1e}".replace("-", MINUS)
        if not np.isfinite(q):
            return f"Heterogeneity: \u03c4\u00b2 = {tau2_s} (Q and I\u00b2 not defined: a sampling variance is 0)"
        if self.layout == "meta":
            return f"Heterogeneity: I\u00b2 = {i2:.0f}%, \u03c4\u00b2 = {tau2_s}, {_p(qp, 'meta')}"
        if self.layout == "revman5":
            return (f"Heterogeneity: Tau\u00b2 = {_num(tau2, 2) if tau2 >= 0.005 else tau2_s}; "
                    f"Chi\u00b2 = {q:.2f}, df = {df} ({_p(qp, 'revman5')}); I\u00b2 = {i2:.0f}%")
        return (f"Heterogeneity: \u03c4\u00b2 = {tau2_s}; I\u00b2 = {i2:.1f}%; Q = {q:.2f}, df = {df} "
                f"({_p(qp, 'jama')})")

    def overall_tests(self, models) -> list[str]:
        if self.m.null is None:
            return []
        p = self.r.pooled
        out = []
        names = {"common": "common effect", "random": "random effects"}
        for model in models:
            stat, pv = p[f"{model}_statistic"], p[f"{model}_p"]
            if not np.isfinite(stat):
                continue
            df = p.get("random_df") if model == "random" else None
            letter = "t" if df is not None and np.isfinite(df) else "z"
            if letter == "t":
                letter = f"t({df:g})" if self.layout == "meta" else f"t = {stat:.2f}, df = {df:g}"
            if self.layout == "meta":
                stat_s = f"{letter} = {_num(stat, 2)}"
                out.append(f"Test for overall effect ({names[model]}): {stat_s} ({_p(pv, 'meta')})")
            elif self.layout == "revman5":
                stat_s = f"Z = {_num(stat, 2)}" if letter == "z" else letter.replace("t = ", "T = ")
                out.append(f"Test for overall effect: {stat_s.replace('-', MINUS)} ({_p(pv, 'revman5')})")
            else:
                stat_s = f"z = {_num(stat, 2)}" if letter == "z" else letter
                label = "" if len(models) == 1 else f" ({names[model]})"
                out.append(f"Overall effect{label}: {stat_s.replace('-', MINUS)} ({_p(pv, 'jama')})")
        return out


def _default_columns(design: str, layout: str, weights: Sequence[str]) -> list[str]:
    data = [k for k, _, _ in DESIGN_COLUMNS.get(design, ())]
    if layout == "meta":
        out = ["study", *data, "effect", "ci"]
    else:
        out = ["study", *data, "effect_ci"]
    return out + [f"weight_{w}" for w in weights]


def _headers(m, layout: str, models, percent: bool, pct: int, design: str) -> dict:
    short = m.short_label
    unit = " (%)" if percent else ""
    h = {"study": "Study", "effect": short + unit, "ci": f"{pct}%-CI",
         "weight_common": "Weight\n(common)", "weight_random": "Weight\n(random)"}
    if layout == "meta":
        h["effect_ci"] = f"{short}{unit} [{pct}%-CI]"
    elif layout == "revman5":
        long = m.label.split(" (")[0]
        model = "Random" if models == ["random"] else ("Fixed" if models == ["common"] else "Common/Random")
        h.update({"study": "Study or Subgroup", "effect_ci": f"{long}{unit}\nIV, {model}, {pct}% CI",
                  "weight_common": "Weight" if models == ["common"] else "Weight\n(common)",
                  "weight_random": "Weight" if models == ["random"] else "Weight\n(random)"})
    else:
        h.update({"study": "Source", "effect_ci": f"{short}{', %' if percent else ''} ({pct}% CI)",
                  "weight_common": "Weight, %" if models == ["common"] else "Weight, %\n(common)",
                  "weight_random": "Weight, %" if models == ["random"] else "Weight, %\n(random)"})
    for key, head, _ in DESIGN_COLUMNS.get(design, ()):
        h[key] = head
    if design == "generic":
        h["yi"] = "Estimate" if not m.transformed else f"log({m.code})" if m.scale == "log" else "Estimate"
    return h


def _groups(design: str) -> dict:
    return {k: g for k, _, g in DESIGN_COLUMNS.get(design, ()) if g}


def forest(result, ax=None, *, layout: str | None = None, columns: Sequence[str] | None = None,
           sort_by: str | None = None, xlim: Sequence[float] | None = None, xlabel: str | None = None,
           percent: bool = False, show_prediction: bool = True, show_weights: Sequence[str] | None = None,
           models: Sequence[str] | None = None, favours: Sequence[str] | None = None, digits: int | None = None,
           fontsize: float = 7.0, width: float | None = None, square_weights: str | None = None,
           rob=None) -> ForestDisplay:
    """Forest plot of a pooled result (or of a subgroup analysis), drawn and returned as a display.

    Parameters
    ----------
    result
        A :class:`~metareview.api.result.MetaResult`, or a subgroup analysis: any object with
        ``overall`` (a MetaResult), ``groups`` (dict level -> MetaResult), ``test`` (dict
        ``"common"``/``"random"`` -> ``{"q", "df", "p"}``) and ``variable`` (the column).
    ax
        Axes to draw into (the plot is scaled to fit); by default a new figure whose
        height grows with the number of rows.
    layout
        ``"meta"`` (R meta's default), ``"revman5"`` or ``"jama"``; by default the layout of
        the result's settings preset (``revman5``, ``jama``), otherwise ``"meta"``.
    columns
        Column keys in order: ``study``, the data columns of the design (``events``, ``n``,
        ``mean``, ``sd``, ``events_e``, ``n_e``, ..., ``yi``, ``se``), any covariate of the
        result (e.g. ``year``), ``effect``, ``ci``, ``effect_ci`` (both in one column),
        ``weight_common``, ``weight_random``.  The layout decides which side of the plot
        each goes to.
    sort_by
        A column key (or covariate) to order the studies by; prefix ``-`` for descending.
        Subgroup sections are sorted within themselves.
    xlim, xlabel
        Axis limits on the displayed scale and axis label (default: the measure's name).
    percent
        Proportions in % (axis and text); only for proportion measures.
    show_prediction
        Draw the prediction interval where the result has one.
    show_weights
        Weight columns to show: ``("common", "random")``, one of them or ``()``; by
        default those of the models drawn.
    models
        Diamonds to draw: default both fitted models for ``meta``, the random-effects
        model (the common one if no random-effects model was fitted) for ``revman5`` and
        ``jama``.
    favours
        Two labels under the axis, left and right of the null (e.g. ``("Favours
        treatment", "Favours control")``).
    digits
        Decimals of estimates and intervals (default 2; 1 with ``percent``).
    fontsize, width
        Font size in points; figure width in inches (default: as wide as the table needs;
        with a width the plot column takes what is left and the font shrinks, down to
        5 pt, if the table does not fit).
    square_weights
        Which weights the squares' areas follow (default the common-effect weights when
        that model is drawn).
    rob
        A :class:`~metareview.appraisal.rob.RobTable`: its judgments as coloured discs in columns at
        the right, one per domain and overall, as R meta's ``rob()`` adds them, with the
        domains named under the plot.  Every study needs a row in it.

    Returns
    -------
    ForestDisplay
        Already drawn: ``.figure_``, ``.ax_``, ``.plot_ax_``; ``.savefig(path)``.
    """
    subgroup = _is_subgroup(result)
    overall = result.overall if subgroup else result
    if layout is None:
        from ..base.presets import print_style
        layout = print_style(getattr(overall.settings, "preset", None)).forest_layout
    if layout not in LAYOUTS:
        raise SettingsError(f"unknown layout {layout!r}; valid layouts are: {', '.join(LAYOUTS)}")
    m = overall.measure
    s = overall.settings
    # a model the data do not define (the common effect with a zero sampling variance) is not drawn
    fitted = [mod for mod in ("common", "random")
              if getattr(s, mod) and np.isfinite(float(overall.pooled[f"{mod}_estimate"]))]
    if models is None:
        models = fitted if layout == "meta" else (["random"] if "random" in fitted else ["common"])
    models = [str(x).lower() for x in ([models] if isinstance(models, str) else models)]
    for mod in models:
        if mod not in fitted:
            raise SettingsError(f"model {mod!r} is not in this result; fitted models: {', '.join(fitted)}")
    if show_weights is None:
        # a method without study weights (GLMM) gets no weight columns
        show_weights = [mod for mod in models
                        if np.isfinite(np.asarray(overall.pooled[f"weight_{mod}"], float)).any()]
    show_weights = [str(x).lower() for x in ([show_weights] if isinstance(show_weights, str) else show_weights)]
    for wm in show_weights:
        if wm not in fitted:
            raise SettingsError(f"show_weights: {wm!r} is not a fitted model; fitted models: {', '.join(fitted)}")
    if percent and m.design != "proportion":
        raise SettingsError(f"percent=True is for proportions; measure {m.code} is not one")
    square = square_weights or ("common" if "common" in models else "random")
    if square not in fitted:
        raise SettingsError(f"square_weights: {square!r} is not a fitted model; fitted models: {', '.join(fitted)}")
    if digits is None:
        digits = 1 if percent else 2
    pct = int(round(s.level * 100))
    design = overall.design
    headers = _headers(m, layout, models, percent, pct, design)
    keys = list(columns) if columns is not None else _default_columns(design, layout, show_weights)
    known = set(headers) | set(overall.data) | set(overall.covariates) | {"yi", "se"}
    for k in keys:
        if k not in known:
            raise SettingsError(f"unknown column {k!r}; available columns: {', '.join(sorted(known))}")
    for wm in ("common", "random"):
        if f"weight_{wm}" in keys and wm not in fitted:
            raise SettingsError(f"column weight_{wm}: model {wm!r} was not fitted")
    if sort_by is not None:
        sk = sort_by.lstrip("-")
        if sk not in known:
            raise SettingsError(f"cannot sort by {sort_by!r}; available columns: {', '.join(sorted(known))}")
    arm = _groups(design)
    cols = [ForestColumn(k, headers.get(k, k[:1].upper() + k[1:]), "right" if k in RIGHT_KEYS[layout] else "left",
                         "left" if k == "study" or k in overall.covariates and not _numeric(overall.covariates[k])
                         else "right", arm.get(k)) for k in keys]
    labels = dict(MODEL_LABELS[layout])

    def fmt(res):
        return _Formatter(res, layout, digits, percent, square)

    rows: list[ForestRow] = []
    if not subgroup:
        f = fmt(result)
        rows += _sorted(f.study_rows(), result, sort_by, percent)
        rows += f.pooled_rows(models, show_prediction, labels)
        het = f.heterogeneity()
        if het:
            rows.append(ForestRow("text", text=het))
        rows += [ForestRow("text", text=t) for t in f.overall_tests(models)]
        pooled_lines = [f.nat(result.pooled[f"{mod}_estimate"]) for mod in models]
    else:
        rows, pooled_lines = _subgroup_rows(result, fmt, models, show_prediction, labels, layout, sort_by,
                                            percent, pct)
    if rob is not None:
        rob_cols, legend = _rob_columns(rows, rob)
        cols += rob_cols
        rows += legend
    return ForestDisplay(rows, cols, ratio=m.ratio or (m.scale == "log" and m.design != "proportion"),
                         null=(m.natural_null if m.null is not None else None), xlim=xlim,
                         xlabel=axis_label(m, percent) if xlabel is None else xlabel, favours=favours,
                         layout=layout, fontsize=fontsize, width=width, pooled_lines=pooled_lines,
                         percent=percent, proportion=m.design == "proportion").plot(ax)


def _numeric(arr) -> bool:
    try:
        np.asarray(arr, dtype=float)
        return True
    except (TypeError, ValueError):
        return False


def axis_label(m, percent: bool) -> str:
    return m.axis_label + (" (%)" if percent else "")


def _sorted(rows: list[ForestRow], res, sort_by: str | None, percent: bool) -> list[ForestRow]:
    if sort_by is None:
        return rows
    desc = sort_by.startswith("-")
    key = sort_by.lstrip("-")
    sa = res.study_arrays()
    if key in ("effect", "ci", "effect_ci"):
        values = np.array([r.est for r in rows], float)
    elif key == "study":
        values = np.array([str(x) for x in res.studlab], dtype=object)
    elif key in ("weight_common", "weight_random", "yi", "se"):
        values = np.where(res.included, sa[key], np.nan) if key.startswith("weight") else np.asarray(sa[key], float)
    elif key in res.data:
        values = np.asarray(res.data[key], float)
    else:
        arr = res.covariates[key]
        values = np.asarray(arr, float) if _numeric(arr) else np.array([str(x) for x in arr], dtype=object)
    order = list(range(len(rows)))
    if values.dtype == object:
        order.sort(key=lambda i: values[i], reverse=desc)
    else:
        finite = [i for i in order if np.isfinite(values[i])]
        missing = [i for i in order if not np.isfinite(values[i])]
        finite.sort(key=lambda i: values[i], reverse=desc)
        order = finite + missing
    return [rows[i] for i in order]


def _subgroup_rows(sg, fmt, models, show_prediction, labels, layout, sort_by, percent, pct):
    """Sections per level (heading, studies, diamonds, heterogeneity), then the overall analysis."""
    overall = sg.overall
    names = {"common": "common effect", "random": "random effects"}
    # study weights are those of the overall analysis (as R meta and RevMan show them) when every
    # study of a subgroup is found, once, in it; otherwise the subgroup's own weights
    sa = overall.study_arrays()
    index = {}
    for i, lab in enumerate(overall.studlab):
        index.setdefault(str(lab), []).append(i)
    matched = all(len(index.get(str(lab), [])) == 1 for g in sg.groups.values() for lab in g.studlab)
    rows: list[ForestRow] = []
    for level, res in sg.groups.items():
        f = fmt(res)
        heading = f"{sg.variable} = {level}" if layout == "meta" else str(level)
        rows.append(ForestRow("heading", {"study": heading}, bold=True))
        weights = None
        sub_labels = dict(labels)
        if layout == "revman5":
            sub_labels["common"] = sub_labels["random"] = SUBTOTAL_LABELS["revman5"]
        if matched:
            idx = [index[str(lab)][0] for lab in res.studlab]
            wc, wr = sa["weight_common"][idx], sa["weight_random"][idx]
            inc = res.included
            weights = {"common": float(np.sum(wc[inc])), "random": float(np.sum(wr[inc]))}
            study = f.study_rows(weights_from=(wc, wr))
        else:
            study = f.study_rows()
        rows += _sorted(study, res, sort_by, percent)
        rows += f.pooled_rows(models, False, sub_labels, weights=weights)
        het = f.heterogeneity()
        if het:
            rows.append(ForestRow("text", text=het))
        rows.append(ForestRow("blank"))
    fo = fmt(overall)
    rows += fo.pooled_rows(models, show_prediction, labels)
    het = fo.heterogeneity()
    if het:
        rows.append(ForestRow("text", text=het))
    rows += [ForestRow("text", text=t) for t in fo.overall_tests(models)]
    for mod in models:
        t = sg.test.get(mod) if isinstance(sg.test, dict) else None
        if not t or t.get("q") is None or t.get("p") is None:
            continue                        # fewer than two subgroups with an estimate: no test
        q, df, p = float(t["q"]), int(t["df"]), float(t["p"])
        if layout == "meta":
            rows.append(ForestRow("text", text=f"Test for subgroup differences ({names[mod]}): "
                                               f"\u03c7\u00b2 = {q:.2f}, df = {df} ({_p(p, 'meta')})"))
        elif layout == "revman5":
            rows.append(ForestRow("text", text=f"Test for subgroup differences: Chi\u00b2 = {q:.2f}, "
                                               f"df = {df} ({_p(p, 'revman5')})"))
        else:
            rows.append(ForestRow("text", text=f"Subgroup differences ({names[mod]}): Q = {q:.2f}, df = {df} "
                                               f"({_p(p, 'jama')})"))
    pooled_lines = [fo.nat(overall.pooled[f"{mod}_estimate"]) for mod in models]
    return rows, pooled_lines


def forest_table(labels: Sequence[str], estimates, ci_low, ci_high, *, measure, ax=None,
                 columns: dict[str, Sequence[str]] | None = None, overall: Sequence[float] | None = None,
                 overall_label: str = "Overall", header: str = "Study", layout: str = "meta",
                 xlim: Sequence[float] | None = None, xlabel: str | None = None, percent: bool = False,
                 digits: int | None = None, favours: Sequence[str] | None = None, fontsize: float = 7.0,
                 width: float | None = None, notes: Sequence[str] = ()) -> ForestDisplay:
    """Rows of estimates with intervals (no weights): for leave-one-out and cumulative analyses.

    ``estimates``, ``ci_low`` and ``ci_high`` are on the displayed (natural) scale, e.g.
    odds ratios, not log odds ratios; ``measure`` (a code or :class:`~metareview.effectsizes.measures.Measure`)
    gives the axis (log for ratios), the reference line at its null and the labels.
    ``columns`` adds text columns right of the estimate (header -> one string per row,
    e.g. ``{"I²": [...], "p": [...]}``); ``overall`` = ``(estimate, low, high)`` adds a
    diamond row; ``notes`` are lines under the table.
    """
    from ..effectsizes.measures import get_measure

    m = get_measure(measure)
    labels = [str(x) for x in labels]
    est, lo, hi = (np.asarray(v, float).ravel() for v in (estimates, ci_low, ci_high))
    if not (len(labels) == est.size == lo.size == hi.size):
        raise SettingsError(f"forest_table: {len(labels)} labels, {est.size} estimates, {lo.size} lower and "
                            f"{hi.size} upper limits; give one of each per row")
    if percent and m.design != "proportion":
        raise SettingsError(f"percent=True is for proportions; measure {m.code} is not one")
    extra = dict(columns or {})
    for head, vals in extra.items():
        if len(vals) != len(labels):
            raise SettingsError(f"forest_table: column {head!r} has {len(vals)} values for {len(labels)} rows")
    if digits is None:
        digits = 1 if percent else 2
    factor = 100.0 if percent else 1.0
    headers = _headers(m, layout, ["random"], percent, 95, m.design)
    headers["study"] = header
    est_keys = ["effect", "ci"] if layout == "meta" else ["effect_ci"]
    rows = []
    for i, lab in enumerate(labels):
        cells = {"study": lab, **effect_ci_cells(layout, digits, est[i] * factor, lo[i] * factor, hi[i] * factor)}
        for j, vals in enumerate(extra.values()):
            cells[f"extra{j}"] = str(vals[i])
        rows.append(ForestRow("study", cells, est=est[i] * factor, lo=lo[i] * factor, hi=hi[i] * factor))
    if overall is not None:
        e, a, b = (float(v) * factor for v in overall)
        rows.append(ForestRow("random", {"study": overall_label, **effect_ci_cells(layout, digits, e, a, b)},
                              est=e, lo=a, hi=b, bold=True))
    rows += [ForestRow("text", text=str(t)) for t in notes]
    right = RIGHT_KEYS[layout] | {f"extra{j}" for j in range(len(extra))}
    if layout == "jama":
        right = {f"extra{j}" for j in range(len(extra))}
    cols = [ForestColumn("study", header, "left", "left")]
    cols += [ForestColumn(k, headers[k], "right" if k in right else "left") for k in est_keys]
    cols += [ForestColumn(f"extra{j}", head, "right" if f"extra{j}" in right else "left")
             for j, head in enumerate(extra)]
    return ForestDisplay(rows, cols, ratio=m.ratio or (m.scale == "log" and m.design != "proportion"),
                         null=(m.natural_null if m.null is not None else None), xlim=xlim,
                         xlabel=axis_label(m, percent) if xlabel is None else xlabel, favours=favours, layout=layout,
                         fontsize=fontsize, width=width, percent=percent,
                         proportion=m.design == "proportion").plot(ax)
