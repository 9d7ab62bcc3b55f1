"""A figure written to memory in the formats a review's figures are written in (pixels, SVG, PDF),
with the dates and the SVG ids fixed, so that two ways of drawing it can be compared byte for byte."""

from __future__ import annotations

import io

import matplotlib
from matplotlib.figure import Figure


def written(fig: Figure) -> dict[str, bytes]:
    files = {}
    for fmt, meta in (("rgba", None), ("svg", {"Date": None}), ("pdf", {"CreationDate": None})):
        buf = io.BytesIO()
        with matplotlib.rc_context({"svg.hashsalt": "test"}):
            fig.savefig(buf, format=fmt, dpi=150, metadata=meta)
        files[fmt] = buf.getvalue()
    return files
