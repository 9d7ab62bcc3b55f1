"""Text measurement: remembered sizes equal fresh measurements, and nothing leaks into the
settings of the program that draws."""

from __future__ import annotations

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.text import Text

from metareview.plots import _text
from metareview.plots._text import MEASURE_DPI, measure_text


def _fresh(text: str, prop: FontProperties, **kwargs) -> tuple[float, float]:
    """The measurement without any remembering, as matplotlib makes it."""
    fig = Figure(dpi=MEASURE_DPI)
    renderer = FigureCanvasAgg(fig).get_renderer()
    artist = Text(0, 0, text, fontproperties=prop, parse_math=False, **kwargs)
    artist.set_figure(fig)
    with matplotlib.rc_context({"text.hinting": "none"}):
        box = artist.get_window_extent(renderer)
    return box.width * 72 / MEASURE_DPI, box.height * 72 / MEASURE_DPI


def test_remembered_sizes_equal_fresh_ones():
    reg = FontProperties(family="DejaVu Sans", size=7)
    bold = FontProperties(family="DejaVu Sans", size=7, weight="bold")
    big = FontProperties(family="DejaVu Sans", size=11)
    cases = [("Wang B., 2019", reg, {}), ("Wang B., 2019", bold, {}), ("Wang B., 2019", big, {}),
             ("Random effects model\n(n\u00a0=\u00a012)", reg, {"linespacing": 1.15}),
             ("Favours control", reg, {"rotation": 90.0}), ("Cost $5 and $10", reg, {})]
    for text, prop, kwargs in cases:
        first = measure_text(text, prop, **kwargs)
        assert measure_text(text, prop, **kwargs) == first == _fresh(text, prop, **kwargs)
    widths = {measure_text("Wang B., 2019", p)[0] for p in (reg, bold, big)}
    assert len(widths) == 3          # bold and size are part of what is remembered


def test_a_string_is_measured_once():
    prop = FontProperties(family="DejaVu Sans", size=6.5)
    text = "a string measured twice in test_text"
    before = _text._measure.cache_info()
    measure_text(text, prop)
    measure_text(text, FontProperties(family="DejaVu Sans", size=6.5))   # an equal font, another object
    after = _text._measure.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 1)


def test_the_hinting_setting_is_left_as_it_was():
    prop = FontProperties(family="DejaVu Sans", size=8)
    with matplotlib.rc_context({"text.hinting": "force_autohint"}):
        measure_text("left as it was", prop)
        assert matplotlib.rcParams["text.hinting"] == "force_autohint"
