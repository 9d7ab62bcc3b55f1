"""Text measurement and text-collision checks shared by metareview's figures.

A figure is only ready for a journal if no label runs into another and none is cut off
by its box or by the edge of the page.  Guessing text sizes from character counts fails
for proportional fonts, so the layouts here ask matplotlib's renderer, and the checks
look at what a draw really puts on the canvas.

Two groups of helpers:

* layout: :func:`measure_text` (width and height of a string in points) and
  :func:`wrap_text` (greedy word wrapping to a width in points, measured, not counted);
* checks: :func:`drawn_text_extents` (every text artist that a draw of the figure paints,
  with its bounding box in pixels), :func:`find_text_overlaps`,
  :func:`find_text_outside` (text leaving a region, by default the figure),
  :func:`find_text_outside_artists` (each label inside its own box, one draw) and
  :func:`assert_no_text_overlap` (for tests: overlaps and cut-off text in one message).

Strings are never split at non-breaking spaces (U+00A0), so ``"(n\\u00a0=\\u00a012)"``
stays on one line.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.text import Text
from matplotlib.transforms import Bbox

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.backend_bases import RendererBase

__all__ = [
    "MEASURE_DPI",
    "HINTING_SLACK",
    "TextExtent",
    "measure_text",
    "wrap_text",
    "get_renderer",
    "drawn_text_extents",
    "find_text_overlaps",
    "find_text_outside",
    "assert_no_text_overlap",
    "artist_extent",
    "find_text_outside_artists",
]

#: Resolution at which strings are measured (without hinting, i.e. the font's outlines).
MEASURE_DPI = 288.0

#: Agg's hinting draws text up to about 7 % wider than its outline at screen resolutions
#: (72-150 dpi; 1-2 % at 300 dpi).  Layouts that must hold text at any resolution multiply
#: measured widths by this factor.
HINTING_SLACK = 1.08


@functools.lru_cache(maxsize=4)
def _scratch(dpi: float) -> tuple[Figure, RendererAgg]:
    fig = Figure(dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    return fig, canvas.get_renderer()


def measure_text(text: str, fontproperties: FontProperties, *, rotation: float = 0.0,
                 linespacing: float | None = None) -> tuple[float, float]:
    """Return ``(width, height)`` in points of ``text`` as matplotlib lays it out.

    The size is that of the font's unhinted outlines, which PDF and SVG output follow;
    raster output may be wider by up to :data:`HINTING_SLACK`.  Multi-line strings are
    measured as one block (with ``linespacing``, matplotlib's default 1.2 when None);
    ``rotation`` in degrees gives the axis-aligned extent of the rotated block.

    Sizes are remembered per string, font file, size and layout settings: a layout that
    tries several font sizes or wraps a paragraph word by word asks for the same strings
    many times.
    """
    if not text:
        return 0.0, 0.0
    from matplotlib import rcParams
    from matplotlib.font_manager import findfont

    # the font file stands for family, style, weight and the rc fallbacks that chose it
    return _measure(text, findfont(fontproperties), fontproperties.get_size_in_points(),
                    float(rotation), linespacing, rcParams["text.hinting_factor"],
                    rcParams["text.kerning_factor"])


@functools.lru_cache(maxsize=65536)
def _measure(text: str, font_file: str, size: float, rotation: float, linespacing: float | None,
             hinting_factor: int, kerning_factor: int) -> tuple[float, float]:
    fig, renderer = _scratch(MEASURE_DPI)
    artist = Text(0.0, 0.0, text, fontproperties=FontProperties(fname=font_file, size=size),
                  rotation=rotation, linespacing=linespacing, parse_math=False)
    artist.set_figure(fig)
    with _unhinted():
        bbox = artist.get_window_extent(renderer)
    scale = 72.0 / MEASURE_DPI
    return bbox.width * scale, bbox.height * scale


@contextmanager
def _unhinted():
    """``text.hinting = "none"`` for one measurement (rc_context would copy every setting)."""
    from matplotlib import rcParams

    old = rcParams["text.hinting"]
    rcParams["text.hinting"] = "none"
    try:
        yield
    finally:
        rcParams["text.hinting"] = old


def wrap_text(text: str, max_width: float, fontproperties: FontProperties, *,
              indent: str = "", hanging: str = "", slack: float = HINTING_SLACK) -> list[str]:
    """Break ``text`` at ordinary spaces into lines no wider than ``max_width`` points.

    Widths are :func:`measure_text` widths times ``slack`` (by default enough for Agg's
    hinting at any resolution, so that the lines fit on screen and in print alike).

    The first line starts with ``indent`` and continuation lines with ``indent + hanging``.
    A single word wider than ``max_width`` is kept whole on its own line: the caller must
    then grow its box (use :func:`measure_text` on the result).
    """
    words = text.split(" ")
    lines: list[str] = []
    current = indent
    for word in words:
        if current.strip() == "":
            candidate = current + word
        else:
            candidate = current + " " + word
        if current.strip() and measure_text(candidate, fontproperties)[0] * slack > max_width:
            lines.append(current)
            current = indent + hanging + word
        else:
            current = candidate
    lines.append(current)
    return lines


def get_renderer(fig: Figure) -> RendererBase:
    """The renderer of ``fig``'s canvas, or an Agg renderer of the same size and dpi."""
    canvas = fig.canvas
    if hasattr(canvas, "get_renderer"):
        return canvas.get_renderer()
    width, height = fig.bbox.size
    return RendererAgg(int(width), int(height), fig.dpi)


@dataclass(frozen=True)
class TextExtent:
    """A text artist that a draw painted, with its bounding box in display pixels."""

    artist: Text
    bbox: Bbox

    @property
    def text(self) -> str:
        return self.artist.get_text()


def drawn_text_extents(fig: Figure) -> list[TextExtent]:
    """Every non-empty text artist that drawing ``fig`` paints, in drawing order.

    The figure is drawn (twice: once so that tick labels and other lazily created texts
    exist, once with each text's ``draw`` observed).  Texts that are not drawn, such as the
    tick labels of an axis that is switched off, are not reported.  The boxes are taken
    during the draw, so texts placed by their parents at draw time (legends, tick labels)
    are where they appear on the canvas.
    """
    renderer = get_renderer(fig)
    fig.draw(renderer)
    texts = [t for t in fig.findobj(Text)]
    painted: dict[int, TextExtent] = {}

    def observer(artist: Text):
        original = type(artist).draw

        def draw(rend):
            original(artist, rend)
            if artist.get_visible() and artist.get_text().strip():
                painted[id(artist)] = TextExtent(artist, artist.get_window_extent(rend))
        return draw

    for artist in texts:
        artist.draw = observer(artist)
    try:
        fig.draw(renderer)
    finally:
        for artist in texts:
            vars(artist).pop("draw", None)
    order = {id(t): i for i, t in enumerate(texts)}
    return sorted(painted.values(), key=lambda e: order[id(e.artist)])


def find_text_overlaps(fig: Figure, *, tol: float = 0.0,
                       extents: Sequence[TextExtent] | None = None
                       ) -> list[tuple[TextExtent, TextExtent]]:
    """Pairs of drawn texts whose bounding boxes overlap by more than ``tol`` pixels.

    ``extents`` (from :func:`drawn_text_extents`) saves a second draw when the caller
    already has them.
    """
    import numpy as np

    items = list(drawn_text_extents(fig) if extents is None else extents)
    if len(items) < 2:
        return []
    # all pairs at once: a 100-study figure draws about a thousand texts
    b = np.array([[e.bbox.x0, e.bbox.y0, e.bbox.x1, e.bbox.y1] for e in items])
    width = np.minimum(b[:, None, 2], b[None, :, 2]) - np.maximum(b[:, None, 0], b[None, :, 0])
    height = np.minimum(b[:, None, 3], b[None, :, 3]) - np.maximum(b[:, None, 1], b[None, :, 1])
    over = np.triu((width > tol) & (height > tol), 1)
    return [(items[i], items[j]) for i, j in np.argwhere(over)]


def artist_extent(artist: Artist, fig: Figure | None = None) -> Bbox:
    """Bounding box in display pixels of any artist (a patch, an axes, a text)."""
    fig = artist.get_figure() if fig is None else fig
    return artist.get_window_extent(get_renderer(fig))


def find_text_outside(fig: Figure, region: Bbox | Artist | None = None, *,
                      tol: float = 0.5, texts: Iterable[Text] | None = None,
                      extents: Sequence[TextExtent] | None = None) -> list[TextExtent]:
    """Drawn texts whose bounding box leaves ``region`` by more than ``tol`` pixels.

    ``region`` is a :class:`~matplotlib.transforms.Bbox` in display pixels, or an artist
    (its window extent is used); by default the whole figure, which finds text cut off
    at the edge of the saved image.  ``texts`` restricts the check to some artists, e.g.
    the labels that belong inside one box.  ``extents`` (from :func:`drawn_text_extents`)
    saves a draw when several regions are checked.
    """
    extents = list(drawn_text_extents(fig) if extents is None else extents)
    if texts is not None:
        wanted = {id(t) for t in texts}
        extents = [e for e in extents if id(e.artist) in wanted]
    if region is None:
        box = fig.bbox
    elif isinstance(region, Bbox):
        box = region
    else:
        box = artist_extent(region, fig)
    return [e for e in extents
            if e.bbox.x0 < box.x0 - tol or e.bbox.x1 > box.x1 + tol
            or e.bbox.y0 < box.y0 - tol or e.bbox.y1 > box.y1 + tol]


def _describe(extent: TextExtent) -> str:
    b = extent.bbox
    first_line = extent.text.splitlines()[0]
    return f"{first_line!r} at x {b.x0:.0f}-{b.x1:.0f}, y {b.y0:.0f}-{b.y1:.0f} px"


def assert_no_text_overlap(fig: Figure, *, tol: float = 0.0, inside_figure: bool = True) -> None:
    """Raise ``AssertionError`` naming every pair of overlapping texts.

    With ``inside_figure`` (default) texts cut off by the figure's edge are reported too.
    """
    extents = drawn_text_extents(fig)
    problems = [f"{_describe(a)} overlaps {_describe(b)}"
                for a, b in find_text_overlaps(fig, tol=tol, extents=extents)]
    if inside_figure:
        problems += [f"{_describe(e)} leaves the figure"
                     for e in find_text_outside(fig, extents=extents)]
    if problems:
        raise AssertionError("text collisions:\n" + "\n".join(problems))


def find_text_outside_artists(fig: Figure, pairs: Iterable[tuple[Artist, Text]], *,
                              tol: float = 0.5) -> list[tuple[Artist, TextExtent]]:
    """For ``(container, text)`` pairs, the texts that leave their container (one draw).

    Use it to check that every label stays inside its own box, cell or legend frame.
    """
    extents = {id(e.artist): e for e in drawn_text_extents(fig)}
    renderer = get_renderer(fig)
    bad = []
    for container, text in pairs:
        extent = extents.get(id(text))
        if extent is None:
            continue
        box = container.get_window_extent(renderer)
        b = extent.bbox
        if b.x0 < box.x0 - tol or b.x1 > box.x1 + tol or b.y0 < box.y0 - tol or b.y1 > box.y1 + tol:
            bad.append((container, extent))
    return bad
