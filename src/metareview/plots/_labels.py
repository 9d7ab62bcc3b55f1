"""Text from the data as figures draw it: literal (never matplotlib math) and of bounded length.

Study labels, covariates and titles come from users' files; a "$" in them must not switch
on TeX parsing, and a label of thousands of characters must not make a figure of hundreds
of thousands of pixels.  No matplotlib import at module level: the plot modules import
this at theirs.
"""

from __future__ import annotations

import functools

__all__ = ["LABEL_LIMIT", "POINT_LABEL_LIMIT", "MINUS", "shorten", "literal_text", "number_ticks"]

#: The longest study label (in characters) a figure draws; longer ones end in an ellipsis.
LABEL_LIMIT = 60
#: The same for labels set beside points (funnel and bubble plots), where space is shorter.
POINT_LABEL_LIMIT = 30
#: The minus sign of numbers in figures (typographic, not the hyphen).
MINUS = "\u2212"


def shorten(text: str, limit: int = LABEL_LIMIT) -> str:
    """``text`` on one line (control characters become spaces), cut to ``limit`` characters
    with an ellipsis: a 20,000-character label must not make a figure 450,000 pixels wide."""
    text = "".join(" " if (ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0) else ch for ch in str(text))
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "\u2026"


def literal_text(func):
    """Run ``func`` with matplotlib's math parsing off, so that every string it draws or
    measures is literal text: a study called "Cost $5 and $10" is drawn as written, and a
    label with one "$" cannot fail as invalid TeX.  (Text artists keep the setting they
    were created with.)"""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from matplotlib import rc_context

        with rc_context({"text.parse_math": False}):
            return func(*args, **kwargs)

    return wrapper


def number_ticks(axis, *, log: bool = False) -> None:
    """Plain numbers on a matplotlib ``axis`` (``ax.xaxis``, ``ax.yaxis``), with a true minus sign;
    on a log axis ticks at 1, 2 and 5 times the powers of ten and no minor labels (matplotlib's
    default writes them as math, "2×10⁻¹", which literal text would show as its TeX source)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    if log:
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        axis.set_minor_formatter(NullFormatter())
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}".replace("-", MINUS)))
