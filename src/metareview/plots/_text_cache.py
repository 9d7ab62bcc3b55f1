"""Text measured, shaped and rasterised once per process while figures are saved: :func:`shared_text_layout`.

Saving a figure lays out every text artist with the renderer of the format: its size
(``get_text_width_height_descent``, which shapes the string with libraqm) and, when drawn,
its glyphs and their positions (``FT2Font._layout``, libraqm again), and for PNG each
glyph's pixels (FreeType's rasteriser).  Text is most of the cost of drawing a forest plot:
shaping takes about 10 µs per character, and a review run draws about 1,400 texts three
times, of which two in three are strings drawn before (the same counts, percentages and
headers in several figures).  matplotlib keeps the sizes for one renderer only, shapes every
drawn string anew and rasterises every glyph anew.

Inside :func:`shared_text_layout` these are kept for the process:

* sizes by renderer class and resolution, string, font properties and math mode (the
  settings that change them, hinting and kerning, are part of the key; mathtext is
  measured as matplotlib measures it);
* shaped strings by font object, size, resolution, string, load flags, features and
  language (the glyphs a shaping returns and their positions; a string shaped with a
  fallback font is not kept, since shaping sets that font's size too);
* glyph bitmaps by font object, size, resolution, transformation matrix, glyph, flags and
  the fraction of a pixel the glyph is placed at: FreeType rasterises an outline moved by
  whole pixels into the same pixels, moved (the place is in 1/64 pixel, FreeType's 26.6);
* a font's tables and the font files found for font properties.

The PDF writer gets each string's glyphs and positions without matplotlib loading each
glyph into the font as it goes (20 µs a glyph; the writer never reads the loaded glyph);
text drawn as paths (SVG) loads a glyph only when its outline is read, the first time the
glyph is used in a file.  A glyph's Type 3 procedure (PDF) and its id (SVG) are made once per
process, not once per file.  Agg draws a glyph kept before from its pixels without setting the
font's size and transformation for it, and sets a font's size once per string instead of once
per glyph: FreeType runs the font's hinting program for the size (its ``prep`` table) again
after each change of size, which was about half the cost of rasterising a glyph
(:class:`_AggText`).

All of it gives what matplotlib computes, so the files are the same bytes and pixels
(tests/plots/test_text_cache.py compares them under several settings).  It rests on
matplotlib's private text machinery (``matplotlib.text``'s metrics cache, ``FT2Font``'s
``_layout``, ``_set_transform`` and ``_render_glyph``, the ``_text_helpers`` of the PDF
writer and of ``matplotlib.textpath``; matplotlib 3.11): on a matplotlib without them
nothing is shared (and without the private parts of Agg's text drawing, the PDF writer's
``_get_pdf_charprocs`` or ``TextToPath._get_glyph_repr``, matplotlib does that part itself).  The context changes
matplotlib for the whole process while it lasts: a thread that draws meanwhile (the workspace
runs a review in a thread of its server) shares the caches, whose entries are matplotlib's
numbers for the font objects it gets (matplotlib gives each thread its own), and an inner or
concurrent ``with`` leaves the caches to the first.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from ._font_files import fonts_in_memory

__all__ = ["shared_text_layout"]

#: Sizes of strings: (renderer class, renderer dpi, settings, text, font properties, ismath, dpi) -> (w, h, d)
_METRICS: dict = {}
#: Shaped strings: (font object, (size, dpi), text, flags, features, language) -> the layout items
_SHAPES: dict = {}
#: Font tables by font object and table name (a font file's tables never change)
_TABLES: dict = {}
#: Font files found: (font properties, findfont's arguments, font settings) -> the files
_FONTS: dict = {}
#: The settings that change a text's size (read at each measurement: a figure may change them)
_TEXT_RC = ("text.hinting", "text.hinting_factor", "text.kerning_factor", "pdf.use14corefonts", "ps.useafm",
            "text.usetex")
#: The settings matplotlib's findfont reads
_FONT_RC = tuple(f"font.{key}" for key in ("family", "style", "variant", "weight", "stretch", "size", "serif",
                                           "sans-serif", "cursive", "fantasy", "monospace"))
#: Size and resolution last set on each font object (set_size is the only way they change)
_SIZES: dict = {}
#: Whether the caches are in place (an inner ``with`` leaves them to the outer one)
_ACTIVE = False
#: Glyph bitmaps: (font object, (size, dpi), matrix, 1/64 pixel fractions of the place, glyph, flags,
#: mode) -> (pixels, left and top at the whole pixel 0)
_BITMAPS: dict = {}
#: Transformation last set on each font object for drawing a glyph: (matrix, dx, dy) in 16.16 and 26.6
_PLACES: dict = {}
#: Type 3 glyph procedures of the PDF writer: (font file, glyph) -> (glyph name, procedure)
_CHARPROCS: dict = {}
#: Glyph names of text drawn as paths (the SVG writer's ids): (font object, glyph) -> name
_GLYPH_NAMES: dict = {}
#: The transformation ``get_font`` sets on every font it gives, as given and as kept in :data:`_PLACES`
_IDENTITY, _ORIGIN = [[0x10000, 0], [0, 0x10000]], [0, 0]
_IDENTITY_PLACE = (((0x10000, 0), (0, 0x10000)), 0, 0)
#: Entries kept at most (a review run needs about 2,000 of each)
_LIMIT = 65536


@contextmanager
def shared_text_layout() -> Iterator[None]:
    """Share text sizes and shaped strings across renderers, figures and formats (see the module)."""
    import matplotlib
    import matplotlib.text as mtext
    from matplotlib import ft2font
    from matplotlib.backends.backend_mixed import MixedModeRenderer
    from matplotlib.font_manager import FontProperties, fontManager

    metrics = getattr(mtext, "_get_text_metrics_with_cache", None)
    agg_text = _AggText.of_matplotlib()
    font_type = ft2font.FT2Font
    layout, set_size = getattr(font_type, "_layout", None), getattr(font_type, "set_size", None)
    hooked = (metrics, layout, set_size, getattr(font_type, "_set_transform", None),
              getattr(font_type, "_render_glyph", None), getattr(font_type, "get_sfnt_table", None),
              getattr(fontManager, "_find_fonts_by_props", None))
    global _ACTIVE
    if any(part is None for part in hooked) or _ACTIVE:
        yield       # another matplotlib (every private part hooked must be there), or already inside
        return
    rc = matplotlib.rcParams

    def shared_metrics(renderer, text, fontprop, ismath, dpi):
        if ismath is not False:     # mathtext and TeX depend on more settings: measured as matplotlib does
            return metrics(renderer, text, fontprop, ismath, dpi)
        # SVG and PDF draw through a MixedModeRenderer: what measures is the renderer inside it
        inner = renderer._renderer if isinstance(renderer, MixedModeRenderer) else renderer
        key = (type(inner), getattr(inner, "dpi", None), tuple(map(rc_get, _TEXT_RC)), text, fontprop, ismath, dpi)
        try:
            return _METRICS[key]
        except KeyError:
            pass
        except TypeError:           # an unhashable part: measure as matplotlib does
            return metrics(renderer, text, fontprop, ismath, dpi)
        value = metrics(renderer, text, fontprop, ismath, dpi)
        if len(_METRICS) < _LIMIT:
            # the key keeps a copy: FontProperties is mutable and hashed by its state
            _METRICS[key[:4] + (fontprop.copy(),) + key[5:]] = value
        return value

    def tracked_set_size(font, ptsize, dpi):
        set_size(font, ptsize, dpi)
        _SIZES[font] = (ptsize, dpi)
        _PLACES.pop(font, None)

    def tracked_set_transform(font, matrix, delta):
        set_transform(font, matrix, delta)
        if type(matrix) is list and matrix == _IDENTITY and type(delta) is list and delta == _ORIGIN:
            _PLACES[font] = _IDENTITY_PLACE      # get_font's reset, at every font looked up
            return
        try:
            # Agg passes an integer array (once per glyph drawn): its rows as Python ints, at
            # a tenth of the cost of converting element by element
            rows = matrix.tolist() if getattr(matrix, "dtype", None) is not None and matrix.dtype.kind in "iu" \
                else [[int(v) for v in row] for row in matrix]
            _PLACES[font] = (tuple(map(tuple, rows)), int(delta[0]), int(delta[1]))
        except (TypeError, ValueError):
            _PLACES.pop(font, None)

    def shared_render(font, glyph, flags, mode):
        size, place = _SIZES.get(font), _PLACES.get(font)
        if size is None or place is None:
            return render(font, glyph, flags, mode)
        matrix, dx, dy = place
        # a glyph moved by whole pixels is the same bitmap, moved: keep it by the pixel fraction
        key = (font, size, matrix, dx & 63, dy & 63, glyph, flags, mode)
        try:
            buffer, left, top = _BITMAPS[key]
        except KeyError:
            bitmap = render(font, glyph, flags, mode)
            buffer, left, top = bitmap.buffer.copy(), bitmap.left - (dx >> 6), bitmap.top - (dy >> 6)
            if len(_BITMAPS) < _LIMIT:
                _BITMAPS[key] = (buffer, left, top)
        return _Bitmap(buffer.copy(), left + (dx >> 6), top + (dy >> 6))

    def shared_layout(font, string, flags, *args, **kwargs):
        size = _SIZES.get(font)
        if size is None or args:
            return layout(font, string, flags, *args, **kwargs)
        features, language = kwargs.get("features"), kwargs.get("language")
        key = (font, size, string, flags,
               tuple(features) if features is not None else None,
               tuple(language) if isinstance(language, list) else language)
        try:
            return _SHAPES[key]
        except KeyError:
            pass
        items = layout(font, string, flags, *args, **kwargs)
        if len(_SHAPES) < _LIMIT and all(item.ft_object is font for item in items):
            _SHAPES[key] = items
        return items

    def shared_table(font, name):
        key = (font, name)
        try:
            table = _TABLES[key]
        except KeyError:
            table = _TABLES[key] = get_sfnt_table(font, name)
        return dict(table) if table is not None else None     # a copy: the caller may change it

    def shared_fonts(prop, fontext="ttf", directory=None, fallback_to_default=True, rebuild_if_missing=True):
        if not isinstance(prop, FontProperties):
            return find_fonts(prop, fontext, directory, fallback_to_default, rebuild_if_missing)
        # what matplotlib's findfont depends on besides its arguments (read without RcParams' checks;
        # compared with the last values seen, which is cheaper than making them a key each time)
        values = list(map(rc_get, _FONT_RC))
        if values != font_settings[0]:
            font_settings[:] = [[list(v) if isinstance(v, list) else v for v in values],
                                tuple(tuple(v) if isinstance(v, list) else v for v in values)]
        key = (prop, fontext, directory, fallback_to_default, rebuild_if_missing, font_settings[1],
               os.environ.get("MPL_IGNORE_SYSTEM_FONTS"))
        try:
            return list(_FONTS[key])
        except KeyError:
            pass
        found = find_fonts(prop, fontext, directory, fallback_to_default, rebuild_if_missing)
        if len(_FONTS) < _LIMIT:
            _FONTS[(prop.copy(),) + key[1:]] = tuple(found)
        return found

    # The PDF writer needs only the glyphs and their positions (it loads the glyphs it embeds
    # itself): it gets them without matplotlib's loading each glyph as it goes (20 µs a glyph)
    pdf = sys.modules.get("matplotlib.backends.backend_pdf")
    pdf_helpers = getattr(pdf, "_text_helpers", None)
    if pdf_helpers is not None and getattr(pdf_helpers, "layout", None) is not None:
        pdf._text_helpers = _PositionsOnly(pdf_helpers)
    # Text drawn as paths (the SVG writer, through matplotlib.textpath) needs each glyph's outline
    # once per file and its position every time: a glyph is loaded when its outline is asked for
    textpath = sys.modules.get("matplotlib.textpath")
    path_helpers = getattr(textpath, "_text_helpers", None)
    if path_helpers is not None and getattr(path_helpers, "layout", None) is not None:
        textpath._text_helpers = _OutlinesOnDemand(path_helpers)
    # A glyph's Type 3 procedure in a PDF (its outline in PDF operators) and its name in an SVG
    # are the same in every file: made once
    charprocs = getattr(pdf, "_get_pdf_charprocs", None)
    if charprocs is not None:
        pdf._get_pdf_charprocs = functools.partial(_kept_charprocs, charprocs)
    path_type = getattr(textpath, "TextToPath", None)
    glyph_repr = getattr(path_type, "_get_glyph_repr", None)
    if glyph_repr is not None:
        path_type._get_glyph_repr = functools.partialmethod(_kept_glyph_repr, glyph_repr)  # type: ignore[union-attr]

    rc_get = functools.partial(dict.__getitem__, rc)
    font_settings: list = [None, None]      # the font settings last seen, as read and as a key
    get_sfnt_table = font_type.get_sfnt_table
    find_fonts = fontManager._find_fonts_by_props
    mtext._get_text_metrics_with_cache = shared_metrics
    _ACTIVE = True
    set_transform, render = font_type._set_transform, font_type._render_glyph
    font_type.set_size, font_type._layout, font_type.get_sfnt_table = tracked_set_size, shared_layout, shared_table
    font_type._set_transform, font_type._render_glyph = tracked_set_transform, shared_render
    fontManager._find_fonts_by_props = shared_fonts
    if agg_text is not None:
        agg_text.install()
    try:
        with fonts_in_memory():
            yield
    finally:
        if agg_text is not None:
            agg_text.uninstall()
        mtext._get_text_metrics_with_cache = metrics
        _ACTIVE = False
        font_type.set_size, font_type._layout, font_type.get_sfnt_table = set_size, layout, get_sfnt_table
        font_type._set_transform, font_type._render_glyph = set_transform, render
        _PLACES.clear()
        del fontManager._find_fonts_by_props
        if pdf_helpers is not None and isinstance(pdf._text_helpers, _PositionsOnly):
            pdf._text_helpers = pdf_helpers
        if path_helpers is not None and isinstance(textpath._text_helpers, _OutlinesOnDemand):
            textpath._text_helpers = path_helpers
        if charprocs is not None:
            pdf._get_pdf_charprocs = charprocs
        if glyph_repr is not None:
            path_type._get_glyph_repr = glyph_repr  # type: ignore[union-attr]
        _SIZES.clear()


def _kept_charprocs(charprocs, font_path, glyph_indices) -> dict:
    """matplotlib's ``_get_pdf_charprocs`` (a Type 3 font's glyph procedures, each the glyph's
    outline at 1000 units, loaded unscaled from the font file) with each glyph's procedure
    made once per process: the same dictionary, in the same order."""
    procs = {}
    for glyph in glyph_indices:
        key = (font_path, glyph)
        try:
            name, proc = _CHARPROCS[key]
        except (KeyError, TypeError):       # TypeError: an unhashable font path, made as matplotlib does
            (name, proc), = charprocs(font_path, [glyph]).items()
            if len(_CHARPROCS) < _LIMIT:
                try:
                    _CHARPROCS[key] = (name, proc)
                except TypeError:
                    pass
        procs[name] = proc
    return procs


def _kept_glyph_repr(path_maker, glyph_repr, font, glyph) -> str:
    """matplotlib's ``TextToPath._get_glyph_repr`` (the font's PostScript name and the glyph,
    quoted for a URL: the id of the glyph's outline in an SVG) made once per font and glyph."""
    key = (font._font if isinstance(font, _FontOnDemand) else font, glyph)
    try:
        return _GLYPH_NAMES[key]
    except KeyError:
        pass
    name = glyph_repr(path_maker, font, glyph)
    if len(_GLYPH_NAMES) < _LIMIT:
        _GLYPH_NAMES[key] = name
    return name


class _PositionsOnly:
    """matplotlib's ``_text_helpers`` for the PDF writer: ``layout`` yields the glyphs of a string
    with their positions as matplotlib's does, without loading each glyph into the font (the
    only use of a loaded glyph is its outline, ``get_path``, which the PDF writer never asks for)."""

    def __init__(self, helpers):
        self._helpers = helpers

    def __getattr__(self, name: str):
        return getattr(self._helpers, name)

    @staticmethod
    def layout(string, font, *, features=None, language=None):
        from matplotlib.ft2font import LoadFlags

        return iter(font._layout(string, LoadFlags.NO_HINTING, features=features, language=language))


class _OutlinesOnDemand(_PositionsOnly):
    """matplotlib's ``_text_helpers`` for text drawn as paths (``matplotlib.textpath``, which the
    SVG writer uses): ``layout`` yields the glyphs of a string with their positions as
    matplotlib's does, and loads a glyph into its font only when its outline (``get_path``) is
    asked for, which the writer does for the first use of each glyph in a file."""

    @staticmethod
    def layout(string, font, *, features=None, language=None):
        from matplotlib.ft2font import LoadFlags

        for item in font._layout(string, LoadFlags.NO_HINTING, features=features, language=language):
            yield _GlyphOnDemand(item)


class _GlyphOnDemand:
    """A layout item whose ``ft_object`` loads the glyph (unhinted, as matplotlib's layout does)
    when its outline is asked for."""

    __slots__ = ("_item", "ft_object", "glyph_index", "x", "y")

    def __init__(self, item):
        self._item, self.glyph_index, self.x, self.y = item, item.glyph_index, item.x, item.y
        self.ft_object = _FontOnDemand(item.ft_object, item.glyph_index)

    def __getattr__(self, name: str):
        return getattr(self._item, name)


class _FontOnDemand:
    """A font seen through one glyph of a layout: ``get_path`` loads that glyph first."""

    __slots__ = ("_font", "_glyph")

    def __init__(self, font, glyph: int):
        self._font, self._glyph = font, glyph

    def __getattr__(self, name: str):
        return getattr(self._font, name)

    def get_path(self):
        from matplotlib.ft2font import LoadFlags

        self._font.load_glyph(self._glyph, flags=LoadFlags.NO_HINTING)
        return self._font.get_path()


class _Bitmap:
    """A glyph's pixels and where they go, as matplotlib's ``FT2Font._render_glyph`` returns them."""

    __slots__ = ("buffer", "left", "top")

    def __init__(self, buffer, left: int, top: int):
        self.buffer, self.left, self.top = buffer, left, top


class _AggText:
    """Agg's ``draw_text`` for plain strings, drawing each glyph from :data:`_BITMAPS` when it
    was rasterised before at the same fraction of a pixel, without setting the font's size
    and transformation for it (matplotlib sets both for every glyph it draws).

    A glyph not drawn before is rasterised as matplotlib does, except that the font's size is
    set only when it is not the size already set (matplotlib sets it again for every glyph,
    and FreeType then runs the font's hinting program for the size, its ``prep`` table, again
    before the next hinted glyph: most of the time of rasterising a glyph).  Strings shaped
    with a fallback font, mathtext and TeX are drawn by matplotlib.  The pixels are
    matplotlib's (tests/plots/test_text_cache.py).  Needs Agg's private ``_prepare_font``,
    ``_draw_text_glyphs_and_boxes`` and the renderer's ``draw_text_image``; without one of them
    matplotlib draws.
    """

    def __init__(self, renderer_type, hinting_flag, render_mode):
        self._type, self._hinting_flag, self._mode = renderer_type, hinting_flag, render_mode
        self._draw_text = renderer_type.draw_text

    @classmethod
    def of_matplotlib(cls) -> _AggText | None:
        """The hook for this matplotlib's Agg renderer, or None when a private part it needs is missing."""
        from matplotlib.backends import backend_agg

        renderer = backend_agg.RendererAgg
        flag, mode = getattr(backend_agg, "get_hinting_flag", None), getattr(backend_agg, "RenderMode", None)
        needed = (flag, mode, getattr(renderer, "_prepare_font", None),
                  getattr(renderer, "_draw_text_glyphs_and_boxes", None),
                  getattr(getattr(backend_agg, "_RendererAgg", None), "draw_text_image", None))
        if any(part is None for part in needed):
            return None
        return cls(renderer, flag, mode)

    def install(self) -> None:
        self._type.draw_text = self._drawer()

    def uninstall(self) -> None:
        self._type.draw_text = self._draw_text

    def _drawer(self):
        import math

        import numpy as np

        draw_text, hinting_flag, normal, mono = self._draw_text, self._hinting_flag, self._mode.NORMAL, self._mode.MONO

        def shared_draw_text(renderer, gc, x, y, s, prop, angle, ismath=False, mtext=None):
            if ismath:
                return draw_text(renderer, gc, x, y, s, prop, angle, ismath, mtext)
            # as matplotlib's RendererAgg.draw_text and _draw_text_glyphs_and_boxes (3.11)
            font = renderer._prepare_font(prop)
            flags = hinting_flag()
            items = font._layout(s, flags=flags,
                                 features=mtext.get_fontfeatures() if mtext is not None else None,
                                 language=mtext.get_language() if mtext is not None else None)
            size = prop.get_size_in_points()
            if any(item.ft_object is not font for item in items):   # a fallback font: matplotlib's way
                renderer._draw_text_glyphs_and_boxes(
                    gc, x, y, angle, ((item.ft_object, size, item.glyph_index, 0, 1, item.x, item.y)
                                      for item in items), [])
                return None
            cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
            # (matplotlib multiplies this by [[extend, extend * slant], [0, 1]], the identity for a plain string)
            matrix = (0x10000 * np.array([[cos, -sin], [sin, cos]])).round().astype(int)
            matrix_key = tuple(map(tuple, matrix.tolist()))
            antialiased = gc.get_antialiased()
            mode = normal if antialiased else mono
            dpi, height = renderer.dpi, renderer.height
            font_size = (size, dpi)
            draw_image = renderer._renderer.draw_text_image
            for item in items:
                dx, dy, glyph = item.x, item.y, item.glyph_index
                px, py = round(0x40 * (x + dx * cos - dy * sin)), round(0x40 * (height - y + dx * sin + dy * cos))
                kept = _BITMAPS.get((font, font_size, matrix_key, px & 63, py & 63, glyph, flags, mode))
                if kept is None:
                    if _SIZES.get(font) != font_size:
                        font.set_size(size, dpi)
                    font._set_transform(matrix, [px, py])
                    bitmap = font._render_glyph(glyph, flags, mode)
                    buffer, left, top = bitmap.buffer, bitmap.left, bitmap.top
                else:
                    buffer, left, top = kept[0], kept[1] + (px >> 6), kept[2] + (py >> 6)
                if not antialiased:
                    buffer = buffer * 0xff
                draw_image(buffer, left, int(height) - top + buffer.shape[0], 0, gc)
            return None

        return shared_draw_text
