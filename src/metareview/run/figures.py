"""The review's figures: drawn once, kept as PNG, SVG and PDF bytes until written.

Forest plots come from :mod:`metareview.plots.forest` (through ``MetaResult.forest``), the
flow diagram from :mod:`metareview.plots.prisma`.  SVG ids get a per-figure prefix so that
several figures can be inlined in one HTML page.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

FORMATS = ("png", "svg", "pdf")


@dataclass(frozen=True)
class FigureFile:
    name: str                          # file stem, e.g. "treatment_response_forest"
    title: str
    caption: str
    files: dict = field(default_factory=dict)   # format -> bytes

    def inline_svg(self) -> str:
        return inline_svg(self.files["svg"].decode("utf-8"), self.name)


def save_figure(fig, name: str, title: str, caption: str, dpi: int = 300) -> FigureFile:
    """PNG (at ``dpi``, the plan's ``[review] dpi``), SVG and PDF of a matplotlib figure, with
    no dates in them (same input, same bytes)."""
    import matplotlib
    import matplotlib.pyplot as plt

    files = {}
    meta = {"png": {}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}
    # Type 3 fonts in PDF: embedding TrueType subsets (fonttype 42) takes ~0.3 s per font and file,
    # which would put a review run far over its time budget.
    with matplotlib.rc_context({"pdf.fonttype": 3, "svg.fonttype": "path", "svg.hashsalt": name}):
        for fmt in FORMATS:
            buf = io.BytesIO()
            fig.savefig(buf, format=fmt, dpi=dpi, facecolor="white", metadata=meta[fmt])
            files[fmt] = buf.getvalue()
    plt.close(fig)
    return FigureFile(name=name, title=title, caption=caption, files=files)


_ID = re.compile(r'\bid="([^"]+)"')


def inline_svg(svg: str, prefix: str) -> str:
    """An SVG document as an element for an HTML page: no XML prolog, ids made unique."""
    svg = re.sub(r"^\s*<\?xml[^>]*>\s*", "", svg)
    svg = re.sub(r"<!DOCTYPE[^>]*>\s*", "", svg)
    svg = re.sub(r"<!--.*?-->\s*", "", svg, flags=re.S)
    ids = set(_ID.findall(svg))
    if ids:
        svg = _ID.sub(lambda m: f'id="{prefix}-{m.group(1)}"', svg)
        svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}-{m.group(1)})" if m.group(1) in ids
                     else m.group(0), svg)
        svg = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}-{m.group(1)}"' if m.group(1) in ids
                     else m.group(0), svg)
    # shrink with the page, and grow to at most 1.6 times the figure's print size (7-point
    # text is small on a screen): keep the viewBox, turn the fixed width into a maximum width
    m = re.search(r'<svg[^>]*?\swidth="([\d.]+)(pt|px)?"', svg)
    width = f"{1.6 * float(m.group(1)):.0f}{m.group(2) or 'px'}" if m else None
    svg = re.sub(r'(<svg[^>]*?)\swidth="[^"]*"', r"\1", svg, count=1)
    svg = re.sub(r'(<svg[^>]*?)\sheight="[^"]*"', r"\1", svg, count=1)
    if width:
        svg = svg.replace("<svg", f'<svg style="width:100%;max-width:{width};height:auto"', 1)
    return svg.strip()


def forest_figure(result, name: str, title: str, caption: str, options: dict | None = None,
                  dpi: int = 300) -> FigureFile:
    """The forest plot of a pooled result or a subgroup analysis (:mod:`metareview.plots.forest`)."""
    from ..plots.forest import forest

    display = forest(result, **(options or {}))
    return save_figure(display.figure_, name, title, caption, dpi)


def prisma_figure(path, name: str = "prisma", dpi: int = 300) -> FigureFile:
    """The PRISMA 2020 flow diagram of a counts file."""
    from ..plots.prisma import PrismaDiagram

    diagram = PrismaDiagram.from_file(path)
    fig = diagram.plot()
    return save_figure(fig, name, "PRISMA 2020 flow diagram",
                       "Flow of records and studies (Page et al. 2021, BMJ 372:n71); boxes whose counts "
                       "the source does not give are left out.", dpi)
