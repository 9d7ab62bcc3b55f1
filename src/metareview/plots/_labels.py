"""Text from the data as figures draw it: literal (never matplotlib math) and of bounded length.

Study labels, covariates and titles come from users' files; a "$" in them must not switch
on TeX parsing, and a label of thousands of characters must not make a figure of hundreds
of thousands of pixels.  No matplotlib import at module level: the plot modules import
this at theirs.
"""

from __future__ import annotations

import functools

__all__ = ["LABEL_LIMIT", "POINT_LABEL_LIMIT", "shorten", "literal_text"]

#: The longest study label (in characters) a figure draws; longer ones end in an ellipsis.
LABEL_LIMIT = 60
#: The same for labels set beside points (funnel and bubble plots), where space is shorter.
POINT_LABEL_LIMIT = 30


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
