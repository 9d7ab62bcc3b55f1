"""Risk-of-bias figures in the layout of robvis: the traffic-light plot and the summary plot.

McGuinness LA, Higgins JPT. Risk-of-bias VISualization (robvis): an R package and Shiny
web app for visualizing risk-of-bias assessments. Res Synth Methods 2021;12:55-61.

Both take a :class:`metareview.appraisal.rob.RobTable` (robvis's ``Study, D1..Dn, Overall[, Weight]``):

* :func:`traffic_light`: one row per study, one coloured circle with a symbol per domain
  and overall (+ low, - some concerns or moderate, x high or serious, ! critical,
  ? no information), the domains' names and the judgments in a legend below;
* :func:`rob_summary`: one horizontal bar per domain and overall, split by the share of
  studies (or of the weight, when the table has a ``Weight`` column) at each judgment.

Colours are robvis's "cochrane" scheme.  The layout is measured with matplotlib's
renderer (:mod:`metareview.plots._text`), so labels never run into each other at any
number of studies.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from ..base.exceptions import SettingsError
from .rob_style import ROB_COLOURS, ROB_SYMBOLS

__all__ = ["traffic_light", "rob_summary", "TrafficLightDisplay", "RobSummaryDisplay", "ROB_COLOURS",
           "ROB_SYMBOLS", "PLOT_TYPES"]

#: ``metareview rob plot --type`` choices.
PLOT_TYPES = ("traffic-light", "summary")


def _font(size: float, weight: str = "normal"):
    from matplotlib.font_manager import FontProperties
    return FontProperties(family="DejaVu Sans", size=size, weight=weight)


class _Display(ABC):
    """What the risk-of-bias figures share: drawn on first use, saved in any format."""

    figure_: Any = None

    def savefig(self, path: str | Path, *, format: str | None = None, dpi: float = 300,
                inputs=()) -> Path:
        """Write the plot as PNG, SVG or PDF (never onto one of ``inputs``)."""
        from .forest import save_figure
        if self.figure_ is None:
            self.plot()
        return save_figure(self.figure_, path, format=format, dpi=dpi, inputs=inputs)

    @abstractmethod
    def plot(self):
        """Draw the figure (kept as ``figure_``) and return the display."""


def _column_ids(table) -> list[str]:
    if table.tool.domains:
        return [d.id for d in table.tool.domains]
    return [f"D{i}" for i in range(1, len(table.domains) + 1)]


def _judgments_in(table) -> list[tuple[str, int]]:
    """The judgments the table uses, in the tool's order of levels (low first, then no information)."""
    used = {j for row in table.judgments for j in row} | set(table.overall)
    out = {}
    for j in table.tool.judgments:
        if j.name in used:
            out[j.name] = j.level
    order = {1: 0, 2: 1, 3: 2, 4: 3, 0: 4, -1: 5}
    return sorted(out.items(), key=lambda kv: order[kv[1]])


class TrafficLightDisplay(_Display):
    """A traffic-light plot laid out once; :meth:`plot` draws it, :meth:`savefig` writes it.

    Attributes after :meth:`plot`: ``figure_``, ``ax_`` (coordinates in points, y down),
    ``circles_`` (``(study index, column index, Circle)``, the overall column last) and
    ``texts_`` (every Text drawn).
    """

    def __init__(self, table, *, fontsize: float = 8.0, cell: float | None = None):
        if not 5 <= fontsize <= 20:
            raise SettingsError(f"fontsize must be between 5 and 20 points, got {fontsize!r}")
        self.table, self.fontsize = table, fontsize
        self.cell = cell or 2.6 * fontsize

    def plot(self) -> "TrafficLightDisplay":
        from matplotlib.figure import Figure
        from matplotlib.patches import Circle, Rectangle

        from ._text import measure_text, wrap_text

        t, fs, cell = self.table, self.fontsize, self.cell
        font, bold = _font(fs), _font(fs, "bold")
        ids = _column_ids(t) + ["Overall"]
        pad = fs
        label_w = max(measure_text(s, font)[0] for s in (*t.studies, "Study")) * 1.1 + 2 * pad
        col_w = max(cell, max(measure_text(c, bold)[0] for c in ids) * 1.15 + 0.4 * fs)
        grid_w = col_w * len(ids)
        width = max(label_w + grid_w + 2 * pad, 4.5 * 72)
        line = 1.25 * fs
        head = 2 * line + pad
        row_h = max(cell, 1.6 * fs)
        grid_h = row_h * len(t.studies)
        # legend below: domain names (wrapped) on the left, judgments on the right
        judg = _judgments_in(t)
        judg_w = max(max(measure_text(name, font)[0] for name, _ in judg) + 1.6 * fs,
                     measure_text("Judgement", bold)[0]) * 1.1
        names_w = width - judg_w - 3 * pad
        legend_lines = []
        for cid, name in zip(ids[:-1], t.names):
            wrapped = wrap_text(f"{cid}: {name}", names_w, font, hanging="    ")
            legend_lines.append(wrapped)
        n_lines = 1 + sum(len(w) for w in legend_lines)
        legend_h = max(n_lines, 1 + len(judg)) * line + pad
        height = head + grid_h + pad + legend_h + pad

        fig = Figure(figsize=(width / 72, height / 72))
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, width)
        ax.set_ylim(height, 0)
        ax.set_axis_off()
        texts, circles = [], []
        x0 = label_w + pad
        # header
        texts.append(ax.text(x0 + grid_w / 2, pad + line / 2, "Risk of bias domains", ha="center", va="center",
                             fontproperties=bold))
        ytop = head
        for j, cid in enumerate(ids):
            texts.append(ax.text(x0 + (j + 0.5) * col_w, ytop - line / 2 - 0.15 * fs, cid, ha="center",
                                 va="center", fontproperties=bold))
        texts.append(ax.text(pad, ytop - line / 2 - 0.15 * fs, "Study", ha="left", va="center", fontproperties=bold))
        ax.add_patch(Rectangle((x0, ytop), grid_w, grid_h, facecolor="#EEEEEE", edgecolor="#BBBBBB",
                               linewidth=0.5))
        ax.add_patch(Rectangle((x0 + grid_w - col_w, ytop), col_w, grid_h, facecolor="#E2E2E2",
                               edgecolor="#BBBBBB", linewidth=0.5))
        radius = 0.38 * min(row_h, col_w)
        for i, study in enumerate(t.studies):
            y = ytop + (i + 0.5) * row_h
            texts.append(ax.text(pad, y, study, ha="left", va="center", fontproperties=font))
            for j, judgment in enumerate((*t.judgments[i], t.overall[i])):
                level = t.level(judgment)
                x = x0 + (j + 0.5) * col_w
                c = Circle((x, y), radius, facecolor=ROB_COLOURS[level], edgecolor="black", linewidth=0.4)
                ax.add_patch(c)
                circles.append((i, j, c))
                if ROB_SYMBOLS[level]:
                    texts.append(ax.text(x, y, ROB_SYMBOLS[level], ha="center", va="center_baseline",
                                         fontproperties=_font(fs * 0.95, "bold"),
                                         color="black" if level in (1, 2, 0) else "white"))
        # legend
        y = ytop + grid_h + pad + line / 2
        texts.append(ax.text(pad, y, "Domains:", ha="left", va="center", fontproperties=bold))
        for wrapped in legend_lines:
            for part in wrapped:
                y += line
                texts.append(ax.text(pad, y, part, ha="left", va="center", fontproperties=font))
        jx = width - judg_w - pad
        y = ytop + grid_h + pad + line / 2
        texts.append(ax.text(jx, y, "Judgement", ha="left", va="center", fontproperties=bold))
        for name, level in judg:
            y += line
            ax.add_patch(Circle((jx + 0.55 * fs, y), 0.55 * fs, facecolor=ROB_COLOURS[level], edgecolor="black",
                                linewidth=0.4))
            if ROB_SYMBOLS[level]:
                texts.append(ax.text(jx + 0.55 * fs, y, ROB_SYMBOLS[level], ha="center", va="center_baseline",
                                     fontproperties=_font(fs * 0.8, "bold"),
                                     color="black" if level in (1, 2, 0) else "white"))
            texts.append(ax.text(jx + 1.6 * fs, y, name, ha="left", va="center", fontproperties=font))
        self.figure_, self.ax_, self.texts_, self.circles_ = fig, ax, texts, circles
        return self


class RobSummaryDisplay(_Display):
    """A summary plot laid out once: one bar per domain and overall, shares of each judgment.

    Attributes after :meth:`plot`: ``figure_``, ``ax_`` (the bars' Axes, x from 0 to 100 %),
    ``shares_`` (``{bar label: {judgment: percent}}``) and ``bars_``.
    """

    def __init__(self, table, *, weighted: bool | None = None, fontsize: float = 8.0):
        if not 5 <= fontsize <= 20:
            raise SettingsError(f"fontsize must be between 5 and 20 points, got {fontsize!r}")
        if weighted and table.weights is None:
            raise SettingsError("a weighted summary needs a Weight column in the risk-of-bias table")
        self.table, self.fontsize = table, fontsize
        self.weighted = table.weights is not None if weighted is None else weighted
        self.shares_ = self._shares()

    def _shares(self) -> dict[str, dict[str, float]]:
        t = self.table
        w = list(t.weights) if self.weighted else [1.0] * len(t.studies)
        total = sum(w)
        if total <= 0:
            raise SettingsError("the weights of the risk-of-bias table add up to zero")
        bars = {}
        columns = [[row[j] for row in t.judgments] for j in range(len(t.domains))] + [list(t.overall)]
        labels = list(t.names) + ["Overall risk of bias"]
        for label, col in zip(labels, columns):
            share: dict[str, float] = {}
            for judgment, wi in zip(col, w):
                share[judgment] = share.get(judgment, 0.0) + 100.0 * wi / total
            bars[label] = share
        return bars

    def plot(self) -> "RobSummaryDisplay":
        from matplotlib.figure import Figure

        from ._text import measure_text, wrap_text

        fs = self.fontsize
        font, bold = _font(fs), _font(fs, "bold")
        labels = list(self.shares_)
        max_label = 3.3 * 72
        wrapped = [wrap_text(lab, max_label, font) for lab in labels]
        label_w = max(measure_text(w, font)[0] for lines in wrapped for w in lines) * 1.1
        line = 1.2 * fs
        bar_h = max(2.2 * fs, max(len(w) for w in wrapped) * line + 0.6 * fs)
        plot_w = 3.6 * 72
        pad = fs
        judg = _judgments_in(self.table)
        legend_h = 2.6 * fs * (1 + (len(judg) > 4))
        width = pad + label_w + pad + plot_w + 2 * pad
        height = pad + bar_h * len(labels) + 2.6 * fs + legend_h + pad
        fig = Figure(figsize=(width / 72, height / 72))
        left = (pad + label_w + pad) / width
        bottom = (2.6 * fs + legend_h + pad) / height
        ax = fig.add_axes((left, bottom, plot_w / width, bar_h * len(labels) / height))
        bars = []
        for i, label in enumerate(labels):
            start = 0.0
            for name, level in judg:
                share = self.shares_[label].get(name, 0.0)
                if share > 0:
                    bars.append(ax.barh(i, share, left=start, height=0.7, color=ROB_COLOURS[level],
                                        edgecolor="black", linewidth=0.4)[0])
                start += share
        ax.set_ylim(len(labels) - 0.5, -0.5)
        ax.set_xlim(0, 100)
        ax.set_yticks(range(len(labels)))
        ax.set_yticklabels(["\n".join(w) for w in wrapped], fontproperties=font)
        ax.tick_params(axis="y", length=0)
        ax.set_xticks([0, 25, 50, 75, 100])
        ax.set_xticklabels(["0%", "25%", "50%", "75%", "100%"], fontproperties=font)
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
        ax.get_yticklabels()[-1].set_fontproperties(bold)
        from matplotlib.patches import Patch
        handles = [Patch(facecolor=ROB_COLOURS[lv], edgecolor="black", linewidth=0.4, label=name)
                   for name, lv in judg]
        title = "Share of the weight" if self.weighted else "Share of studies"
        ax.set_xlabel(title, fontproperties=font)
        fig.legend(handles=handles, loc="lower center", ncol=min(4, len(handles)), frameon=False, prop=font,
                   bbox_to_anchor=(0.5 * (1 + left), pad / height / 2))
        self.figure_, self.ax_, self.bars_ = fig, ax, bars
        return self


def traffic_light(table, *, fontsize: float = 8.0) -> TrafficLightDisplay:
    """The traffic-light plot of ``table`` (a :class:`~metareview.appraisal.rob.RobTable`), drawn."""
    return TrafficLightDisplay(table, fontsize=fontsize).plot()


def rob_summary(table, *, weighted: bool | None = None, fontsize: float = 8.0) -> RobSummaryDisplay:
    """The summary plot of ``table``: weighted by its ``Weight`` column when it has one
    (``weighted=False`` counts studies instead), drawn."""
    return RobSummaryDisplay(table, weighted=weighted, fontsize=fontsize).plot()
