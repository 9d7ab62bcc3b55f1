"""Font files read from memory while figures are drawn: the fonts and files matplotlib makes
alone, fewer reads through the operating system, and matplotlib left as it was."""

from __future__ import annotations

import os
import warnings

import matplotlib
import pytest
from matplotlib import font_manager, ft2font
from matplotlib.figure import Figure
from matplotlib.font_manager import FontPath, FontProperties, fontManager, get_font

from metareview.plots import _font_files
from metareview.plots._font_files import FontFile, fonts_in_memory

from ._formats import written


def _path(family: str = "DejaVu Sans", **kwargs) -> str:
    found = fontManager.findfont(FontProperties(family=family, **kwargs))
    return os.path.realpath(getattr(found, "path", found))     # matplotlib 3.11's FontPath is (path, face)


def _figure() -> Figure:
    fig = Figure(figsize=(2.4, 1.6))
    fig.text(0.05, 0.8, "Gianfelice 2008  0.85 [0.62; 0.97]", fontsize=7)
    fig.text(0.05, 0.6, "Random effects model", fontsize=7, fontweight="bold")
    fig.text(0.05, 0.4, "Ünal – 12 ≥ 3", fontsize=9, family="DejaVu Serif")
    fig.text(0.05, 0.2, r"$I^2 = 41\%$", fontsize=7)
    fig.text(0.9, 0.1, "Favours control", fontsize=6, rotation=90)
    return fig


@pytest.mark.parametrize("rc", [{}, {"pdf.fonttype": 42}, {"svg.fonttype": "none"}, {"text.hinting": "none"}])
def test_the_same_bytes_and_pixels_as_matplotlib_alone(rc):
    with matplotlib.rc_context(rc):
        alone = written(_figure())
        with fonts_in_memory():
            ours = written(_figure())
            again = written(_figure())
    assert ours == alone and again == alone


def test_a_font_reads_its_file_from_memory_and_is_named_by_its_path():
    path = _path()
    theirs = get_font(path)
    with fonts_in_memory():
        font = get_font(path)
        assert get_font(path) is font                       # kept, as matplotlib keeps its own
        assert get_font(FontPath(path, 0)) is font
    assert get_font(path) is theirs                         # matplotlib's own again, outside
    assert isinstance(font, ft2font.FT2Font) and font is not theirs
    assert isinstance(font.fname, FontFile) and font.fname == theirs.fname == path and str(font.fname) == path
    assert not isinstance(font.fname, os.PathLike)      # FT2Font would open the file it names
    assert _font_files._FILE_BYTES[path] == open(path, "rb").read()
    assert FontFile(path) == path and hash(FontFile(path)) == hash(path) and str(FontFile(path)) == path
    # how the PDF and PostScript writers name a font: the same name from either font
    assert FontPath(font.fname, font.face_index) == FontPath(theirs.fname, theirs.face_index)
    assert type(FontPath(font.fname, 0).path) is str
    assert (font.postscript_name, font.num_glyphs, font.family_name) == \
        (theirs.postscript_name, theirs.num_glyphs, theirs.family_name)


def test_a_string_measures_and_shapes_the_same_from_memory():
    path = _path()
    theirs = get_font(path)
    with fonts_in_memory():
        ours = get_font(path)
    for font in (ours, theirs):
        font.set_size(7, 300)
    for flags in (ft2font.LoadFlags.NO_HINTING, ft2font.LoadFlags.FORCE_AUTOHINT, ft2font.LoadFlags.DEFAULT):
        assert ours.set_text("Wang B., 2019 – Ünal", 0.0, flags=flags).tolist() == \
            theirs.set_text("Wang B., 2019 – Ünal", 0.0, flags=flags).tolist()
        assert ours.get_width_height() == theirs.get_width_height() and ours.get_descent() == theirs.get_descent()
    assert [(i.glyph_index, i.x, i.y) for i in ours._layout("Ünal 0.85", ft2font.LoadFlags.NO_HINTING)] == \
        [(i.glyph_index, i.x, i.y) for i in theirs._layout("Ünal 0.85", ft2font.LoadFlags.NO_HINTING)]


def test_font_lists_with_fallbacks_and_the_last_resort_font_are_made_as_matplotlib_makes_them():
    import warnings

    from matplotlib import cbook

    last_resort = os.path.realpath(cbook._get_data_path("fonts", "ttf", "LastResortHE-Regular.ttf"))
    lists = [[_path(), _path("DejaVu Serif")], [last_resort], [_path(), last_resort]]
    string = "Wang 王 ∰ 2019"
    for paths in lists:
        theirs = get_font(paths)
        with fonts_in_memory():
            ours = get_font(paths)
        assert ours is not theirs
        results = []
        for font in (theirs, ours):
            font.set_size(7, 72)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                results.append((font.set_text(string).tolist(), font.get_width_height(),
                                [(i.glyph_index, i.x, i.ft_object.postscript_name)
                                 for i in font._layout(string, ft2font.LoadFlags.NO_HINTING)],
                                sorted(_missing(w.message) for w in caught)))
        assert results[1] == results[0]


def _missing(message) -> tuple:
    """A missing glyph's warning, the fonts named in any order (FreeType's fonts are listed in
    the order of their places in memory)."""
    glyph, _, fonts = str(message).partition(" missing from font(s) ")
    return glyph, sorted(fonts.rstrip(".").split(", "))


def test_a_font_list_of_other_paths_is_made_by_matplotlib():
    """Paths that are not the ``str`` matplotlib 3.11 gives (bytes here) get matplotlib's own font."""
    path = _path()
    with fonts_in_memory():
        font = font_manager._get_font(((os.fsencode(path), 0),), _kerning_factor=None, thread_id=0,
                                      enable_last_resort=True)
    assert font.fname == os.fsencode(path) and not any(f is font for f in _font_files._FONT_OBJECTS.values())


def test_matplotlib_is_left_as_it_was_even_after_an_error():
    before = font_manager._get_font
    with pytest.raises(RuntimeError), fonts_in_memory():
        hooked = font_manager._get_font
        assert hooked is not before
        with fonts_in_memory():                 # nested: the outer one stays in charge
            assert font_manager._get_font is hooked
        assert font_manager._get_font is hooked
        raise RuntimeError
    assert font_manager._get_font is before


def test_a_matplotlib_without_an_uncached_font_maker_is_left_alone(monkeypatch):
    monkeypatch.setattr(font_manager, "_get_font", lambda *a, **k: None)
    plain = font_manager._get_font
    with fonts_in_memory():
        assert font_manager._get_font is plain


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_forked_child_makes_its_own_fonts():
    with fonts_in_memory():
        get_font(_path())
        assert _font_files._FONT_OBJECTS
        pid = os.fork()
        if pid == 0:                                     # the child: nothing kept from the parent
            os._exit(0 if not _font_files._FONT_OBJECTS else 1)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_font_list_looked_up_again_gives_its_font_reset_as_get_font_resets_it(monkeypatch):
    from matplotlib import text as text_module
    from matplotlib.backends import backend_agg

    paths = [_path(), _path("DejaVu Serif")]
    original = font_manager.get_font
    with fonts_in_memory():
        first = text_module.get_font(paths)
        assert backend_agg.get_font is text_module.get_font is font_manager.get_font is not original
        calls = []
        real = ft2font.FT2Font._set_transform
        monkeypatch.setattr(ft2font.FT2Font, "_set_transform", lambda f, m, d: calls.append((m, d)) or real(f, m, d))
        assert backend_agg.get_font(list(paths)) is first and font_manager.get_font(tuple(paths)) is first
        assert calls == [([[0x10000, 0], [0, 0x10000]], [0, 0])] * 2
        monkeypatch.undo()
        assert original(paths) is first                         # what matplotlib's get_font gives meanwhile
        assert text_module.get_font(FontPath(paths[0], 0)) is text_module.get_font(paths[0]) is original(paths[0])
        # (a kerning factor is deprecated since matplotlib 3.11: get_font warns, naming its caller)
        with matplotlib.rc_context({"text.kerning_factor": 6}), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            assert text_module.get_font(paths) is original(paths) is not first
    assert backend_agg.get_font is text_module.get_font is font_manager.get_font is original


@pytest.mark.skipif("text.hinting_factor" not in matplotlib.rcParams, reason="no hinting factor setting")
def test_a_font_list_looked_up_under_another_hinting_factor_is_looked_up_anew():
    """Before matplotlib 3.11 ``get_font`` makes a font per hinting factor setting: a kept lookup is one
    setting's (since 3.11 the setting is deprecated and matplotlib gives the same font)."""
    from matplotlib import text as text_module

    paths = [_path()]
    original = font_manager.get_font
    with fonts_in_memory():
        text_module.get_font(paths)
        before = len(_font_files._LOOKUPS)
        setting = dict.__getitem__(matplotlib.rcParams, "text.hinting_factor")
        dict.__setitem__(matplotlib.rcParams, "text.hinting_factor", 3 if setting != 3 else 4)
        try:
            font = text_module.get_font(paths)
            assert len(_font_files._LOOKUPS) == before + 1
            assert font is original(paths)
        finally:
            dict.__setitem__(matplotlib.rcParams, "text.hinting_factor", setting)
        assert text_module.get_font(paths) is original(paths)
        assert len(_font_files._LOOKUPS) == before + 1
