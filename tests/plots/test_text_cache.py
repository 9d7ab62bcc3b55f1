"""Text sizes and shaped strings shared while figures are saved: the same files as matplotlib
writes alone, work done once, and matplotlib left as it was."""

from __future__ import annotations

import io

import matplotlib
import matplotlib.text as mtext
import pytest
from matplotlib import _text_helpers, ft2font
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, fontManager

from metareview.plots import _text_cache
from metareview.plots._text_cache import shared_text_layout

from ._formats import written


def _figure() -> Figure:
    fig = Figure(figsize=(3.1, 2.9))
    ax = fig.add_subplot()
    fig.subplots_adjust(bottom=0.16)
    ax.plot([0.55, 1], [0.2, 0.9])
    ax.set_xlabel("Proportion (95% CI)")
    for i, (text, kwargs) in enumerate([
            ("Gianfelice 2008", {}), ("0.85 [0.62; 0.97]", {"fontweight": "bold"}),
            ("Random effects model\n(n\u00a0=\u00a012)", {"fontsize": 9}), ("Favours control", {"rotation": 90}),
            ("I$^2$ = 41%", {}), ("Gianfelice 2008", {"fontsize": 5.5}), ("Ünal – 12 ≥ 3", {})]):
        ax.text(0.05 if i != 3 else 0.9, 0.95 - 0.095 * i, text, fontsize=kwargs.pop("fontsize", 7),
                transform=ax.transAxes, va="top", **kwargs)
    for k in range(6):      # one string at whole and fractional pixel offsets: glyphs drawn before, moved
        ax.text(0.05 + 0.0137 * k, 0.27 - 0.0513 * k, "0.85 [0.62; 0.97]", fontsize=7, transform=ax.transAxes)
    ax.text(0.5, 0.05, "0.85 [0.62; 0.97]", fontsize=7, transform=ax.transAxes, antialiased=False)
    ax.text(0.3, 0.5, "Gianfelice 2008", fontsize=7, transform=ax.transAxes, rotation=30)
    return fig


@pytest.mark.parametrize("rc", [{}, {"text.hinting": "none"}, {"text.hinting": "force_autohint"},
                                {"font.family": "DejaVu Serif"}, {"pdf.fonttype": 42}])
def test_the_same_bytes_and_pixels_as_matplotlib_alone(rc):
    with matplotlib.rc_context(rc):
        alone = written(_figure())
    with shared_text_layout():
        first = written(_figure())
        with matplotlib.rc_context(rc):
            shared = written(_figure())           # other settings after the first: nothing stale
            again = written(_figure())            # everything shaped before
    assert shared == alone and again == alone
    assert first == written(_figure())            # the settings before, outside


def test_a_string_is_shaped_and_measured_and_its_glyphs_drawn_once():
    with shared_text_layout():
        written(_figure())
        kept = [len(_text_cache._METRICS), len(_text_cache._SHAPES), len(_text_cache._BITMAPS)]
        written(_figure())                        # a new figure with the same texts: new renderers
        assert [len(_text_cache._METRICS), len(_text_cache._SHAPES), len(_text_cache._BITMAPS)] == kept
        assert all(n > 0 for n in kept)


def test_font_properties_changed_after_a_measurement_are_measured_anew():
    fig = Figure(dpi=100)
    renderer = FigureCanvasAgg(fig).get_renderer()
    prop = FontProperties(family="DejaVu Sans", size=7)
    with shared_text_layout():
        small = mtext._get_text_metrics_with_cache(renderer, "Wang B., 2019", prop, False, 100)
        prop.set_size(14)
        large = mtext._get_text_metrics_with_cache(renderer, "Wang B., 2019", prop, False, 100)
    assert small == renderer.get_text_width_height_descent("Wang B., 2019", FontProperties(size=7,
                                                           family="DejaVu Sans"), False)
    assert large == renderer.get_text_width_height_descent("Wang B., 2019", prop, False)
    assert large[0] > 1.9 * small[0]


def test_the_pdf_writer_gets_positions_without_loading_each_glyph():
    from matplotlib.backends import backend_pdf

    font = ft2font.FT2Font(fontManager.findfont(FontProperties(family="DejaVu Sans")))
    font.set_size(7, 72)
    theirs = [(i.glyph_index, i.x, i.y, i.prev_kern, i.char) for i in _text_helpers.layout("Wang B., 2019", font)]
    with shared_text_layout():
        helpers = backend_pdf._text_helpers
        assert isinstance(helpers, _text_cache._PositionsOnly)
        ours = [(i.glyph_index, i.x, i.y, i.prev_kern, i.char) for i in helpers.layout("Wang B., 2019", font)]
        assert helpers.warn_on_missing_glyph is _text_helpers.warn_on_missing_glyph
    assert ours == theirs
    assert backend_pdf._text_helpers is _text_helpers


def test_text_as_paths_loads_a_glyph_only_for_its_outline():
    """SVG text (``matplotlib.textpath``): the same glyphs, positions and outlines as matplotlib's
    layout, with a glyph loaded only when its outline is read."""
    from matplotlib import textpath

    font = ft2font.FT2Font(fontManager.findfont(FontProperties(family="DejaVu Sans")))
    font.set_size(100, 72)
    string = "Wang B., 2019 – Ünal"
    theirs = [(i.glyph_index, i.x, i.y, i.ft_object.postscript_name, i.ft_object.get_path())
              for i in _text_helpers.layout(string, font)]
    loads = []
    with shared_text_layout():
        helpers = textpath._text_helpers
        assert isinstance(helpers, _text_cache._OutlinesOnDemand)
        items = list(helpers.layout(string, font))
        real_load = ft2font.FT2Font.load_glyph
        try:
            ft2font.FT2Font.load_glyph = lambda f, *a, **k: loads.append(a) or real_load(f, *a, **k)
            positions = [(i.glyph_index, i.x, i.y, i.ft_object.postscript_name) for i in items]
            assert loads == []                   # positions and names load nothing
            ours = [p + (i.ft_object.get_path(),) for p, i in zip(positions, items)]
        finally:
            ft2font.FT2Font.load_glyph = real_load
        assert items[0].prev_kern == next(iter(_text_helpers.layout(string, font))).prev_kern
    assert len(loads) == len(items)
    assert [p[:4] for p in ours] == [p[:4] for p in theirs]
    for (_, _, _, _, (verts, codes)), (_, _, _, _, (verts0, codes0)) in zip(ours, theirs):
        assert verts.tolist() == verts0.tolist() and codes.tolist() == codes0.tolist()
    assert textpath._text_helpers is _text_helpers


def test_a_glyph_placed_by_a_transformation_given_as_lists_is_drawn_as_matplotlib_draws_it():
    font = ft2font.FT2Font(fontManager.findfont(FontProperties(family="DejaVu Sans")))
    glyph = font.get_char_index(ord("W"))

    def bitmap(matrix, delta):
        font.set_size(7, 300)
        font._set_transform(matrix, delta)
        b = font._render_glyph(glyph, ft2font.LoadFlags.FORCE_AUTOHINT, ft2font.RenderMode.NORMAL)
        return b.buffer.tolist(), b.left, b.top

    import numpy as np

    places = [([[0x10000, 0], [0, 0x10000]], [0, 0]),         # get_font's reset, kept without converting it
              ([[0x10000, 0], [0, 0x10000]], [1000, 2000]), ([[0x10000, 0], [0, 0x10000]], [1013, 2000]),
              (np.array([[0x10000, 0], [0, 0x10000]]), [1013, 2000]), ([[0, -0x10000], [0x10000, 0]], [1013, 2000])]
    alone = [bitmap(*p) for p in places]
    with shared_text_layout():
        assert [bitmap(*p) for p in places] == alone
        assert [bitmap(*p) for p in places] == alone
        font._set_transform([[0x10000, 0], [0, 0x10000]], [0, 0])
        assert _text_cache._PLACES[font] == (((0x10000, 0), (0, 0x10000)), 0, 0)
        font._set_transform([[0x10000, 0], [0, 0x10000]], np.array([0, 0]))
        assert _text_cache._PLACES[font] == (((0x10000, 0), (0, 0x10000)), 0, 0)


def test_matplotlib_is_left_as_it_was_even_after_an_error():
    from matplotlib import textpath
    from matplotlib.backends import backend_pdf
    from matplotlib.backends.backend_agg import RendererAgg

    before = (mtext._get_text_metrics_with_cache, ft2font.FT2Font._layout, ft2font.FT2Font.set_size,
              ft2font.FT2Font.get_sfnt_table, fontManager._find_fonts_by_props, backend_pdf._text_helpers,
              ft2font.FT2Font._set_transform, ft2font.FT2Font._render_glyph, textpath._text_helpers,
              RendererAgg.draw_text, backend_pdf._get_pdf_charprocs, textpath.TextToPath._get_glyph_repr)
    with pytest.raises(RuntimeError), shared_text_layout():
        assert mtext._get_text_metrics_with_cache is not before[0]
        with shared_text_layout():               # nested: the outer one stays in charge
            pass
        assert mtext._get_text_metrics_with_cache is not before[0]
        raise RuntimeError
    assert (mtext._get_text_metrics_with_cache, ft2font.FT2Font._layout, ft2font.FT2Font.set_size,
            ft2font.FT2Font.get_sfnt_table, fontManager._find_fonts_by_props, backend_pdf._text_helpers,
            ft2font.FT2Font._set_transform, ft2font.FT2Font._render_glyph, textpath._text_helpers,
            RendererAgg.draw_text, backend_pdf._get_pdf_charprocs, textpath.TextToPath._get_glyph_repr) == before
    assert "_find_fonts_by_props" not in vars(fontManager)


def test_font_tables_are_copies():
    font = ft2font.FT2Font(fontManager.findfont(FontProperties(family="DejaVu Sans")))
    with shared_text_layout():
        table = font.get_sfnt_table("head")
        table["unitsPerEm"] = 1
        assert font.get_sfnt_table("head")["unitsPerEm"] == 2048
    assert font.get_sfnt_table("head")["unitsPerEm"] == 2048


def test_a_matplotlib_without_one_of_the_private_parts_is_left_alone(monkeypatch):
    """Every private part hooked must be there; without one of them nothing is shared (and
    nothing fails)."""
    from matplotlib.font_manager import FontManager

    monkeypatch.delattr(FontManager, "_find_fonts_by_props")
    layout = ft2font.FT2Font._layout
    with shared_text_layout():
        assert ft2font.FT2Font._layout is layout


def _agg_pixels(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="rgba", dpi=300)
    return buf.getvalue()


def test_agg_draws_a_kept_glyph_without_touching_the_font_and_sets_a_size_once_per_string(monkeypatch):
    """Agg's text: glyphs drawn before come from the kept pixels (no size, transformation or
    rasterising for them); a glyph not drawn before is rasterised without setting again the
    size the string set (FreeType would run the font's hinting program for it again)."""
    calls: dict[str, int] = {}
    monkeypatch.setattr(_text_cache, "_BITMAPS", {})      # no glyph drawn before
    with shared_text_layout():
        for name in ("set_size", "_set_transform", "_render_glyph"):
            hooked = getattr(ft2font.FT2Font, name)
            monkeypatch.setattr(ft2font.FT2Font, name,
                                lambda font, *a, _f=hooked, _n=name: calls.__setitem__(_n, calls.get(_n, 0) + 1)
                                or _f(font, *a))
        fig = Figure(figsize=(2, 1))
        fig.text(0.1, 0.5, "Wang B., 2019", fontsize=7)
        fig.text(0.1, 0.2, "Ünal 2021", fontsize=9)
        _agg_pixels(fig)
        assert calls["_render_glyph"] >= 15                    # the distinct glyphs of the two strings
        assert calls["set_size"] <= 6                          # per string (measured, drawn), not per glyph
        calls.clear()
        _agg_pixels(fig)                                       # every glyph drawn before
        assert "_render_glyph" not in calls
        assert calls.get("_set_transform", 0) <= 4             # get_font resets it (twice a string), not per glyph (22)
    monkeypatch.undo()
    with shared_text_layout():
        shared = _agg_pixels(fig)
    assert shared == _agg_pixels(fig)


def test_agg_text_with_a_fallback_font_or_math_is_drawn_by_matplotlib():
    fig = Figure(figsize=(2, 1))
    fig.text(0.1, 0.6, "Wang 王 2019", fontsize=7, family=["DejaVu Sans", "Droid Sans Fallback"])
    fig.text(0.1, 0.2, r"$I^2 = 41\%$", fontsize=7)
    with pytest.warns(UserWarning, match="missing from font") if not any(
            "Droid" in f.name for f in fontManager.ttflist) else _no_warning():
        alone = _agg_pixels(fig)
    with shared_text_layout():
        assert _agg_pixels(fig) == alone
        assert _agg_pixels(fig) == alone


def _no_warning():
    import contextlib

    return contextlib.nullcontext()


def test_agg_without_its_private_parts_draws_as_matplotlib(monkeypatch):
    from matplotlib.backends.backend_agg import RendererAgg

    draw_text = RendererAgg.draw_text
    monkeypatch.delattr(RendererAgg, "_prepare_font")
    with shared_text_layout():
        assert RendererAgg.draw_text is draw_text
        assert mtext._get_text_metrics_with_cache is not None       # the rest is shared as before


def test_a_glyph_procedure_and_name_are_made_once_and_as_matplotlib_makes_them():
    from matplotlib import textpath
    from matplotlib.backends import backend_pdf
    from matplotlib.font_manager import FontPath

    path = fontManager.findfont(FontProperties(family="DejaVu Sans"))
    font_path = FontPath(path, 0)
    font = ft2font.FT2Font(path)
    glyphs = [font.get_char_index(ord(c)) for c in "Wang 0.85"]
    theirs = backend_pdf._get_pdf_charprocs(font_path, glyphs)
    names = [textpath.text_to_path._get_glyph_repr(font, g) for g in glyphs]
    loads = []
    with shared_text_layout():
        assert backend_pdf._get_pdf_charprocs(font_path, glyphs[:3]) == dict(list(theirs.items())[:3])
        ours = backend_pdf._get_pdf_charprocs(font_path, glyphs)
        real_load = ft2font.FT2Font.load_glyph
        try:
            ft2font.FT2Font.load_glyph = lambda f, *a, **k: loads.append(a) or real_load(f, *a, **k)
            again = backend_pdf._get_pdf_charprocs(font_path, list(reversed(glyphs)))
        finally:
            ft2font.FT2Font.load_glyph = real_load
        assert [textpath.text_to_path._get_glyph_repr(font, g) for g in glyphs] == names
        assert [textpath.text_to_path._get_glyph_repr(_text_cache._FontOnDemand(font, g), g) for g in glyphs] == names
    assert loads == []
    assert list(ours.items()) == list(theirs.items())
    assert again == theirs and list(again) == list(reversed(list(theirs)))
