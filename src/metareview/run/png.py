"""PNG files of a review run's figures, encoded from the pixels matplotlib's Agg renderer draws.

A PNG (ISO/IEC 15948:2004, the W3C PNG specification) is a header, the pixels as rows each
preceded by a filter byte, compressed with zlib, and a few ancillary chunks.  Pillow, which
matplotlib's ``savefig`` uses, picks a filter for every row ("adaptive" filtering); for
figures, which are text and flat colour, no filter at all compresses as well or better and
takes about a third of the time (encoding had been about a seventh of a review run's
drawing time).
The pixels, the resolution (``pHYs``) and the ``Software`` text are those ``savefig`` writes.

The rows are compressed a block at a time from the pixels as they are (the renderer's own
buffer, when :mod:`metareview.run.figures` saves a figure): no copy of a figure's pixels is
made (a forest plot at 300 dpi is 12-19 MB of RGBA; each copy costs its memory's page faults
as well as the copying), and zlib gives the same stream as from one buffer of all the rows.
"""

from __future__ import annotations

import struct
import zlib

__all__ = ["encode_png"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: zlib level 3: for figures, smaller files than Pillow's adaptive filtering at level 6 and
#: the fastest of the levels (lower levels find fewer repeats and write more).
_LEVEL = 3
#: Bytes of rows handed to zlib at a time (a block stays in the processor's cache)
_BLOCK = 1 << 18


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png(rgba, dpi: float, text: dict[str, str] | None = None) -> bytes:
    """The PNG of 8-bit RGBA pixels (an array or buffer of shape ``(height, width, 4)``, rows
    from the top), at ``dpi`` pixels per inch, with ``text`` as ``tEXt`` chunks (Latin-1)."""
    import numpy as np

    pixels = np.asarray(rgba)
    if pixels.ndim != 3 or pixels.shape[2] != 4 or pixels.dtype != np.uint8:
        raise ValueError(f"pixels of shape {pixels.shape} and type {pixels.dtype} are not 8-bit RGBA")
    height, width = pixels.shape[:2]
    per_block = max(1, _BLOCK // (1 + 4 * width))
    rows = np.empty((min(per_block, height), 1 + 4 * width), dtype=np.uint8)
    rows[:, 0] = 0                                   # filter type 0 (none) on every row
    flat = pixels.reshape(height, 4 * width)
    deflate = zlib.compressobj(_LEVEL)
    compressed = []
    for start in range(0, height, per_block):
        n = min(per_block, height - start)
        rows[:n, 1:] = flat[start:start + n]
        compressed.append(deflate.compress(rows[:n].data))
    compressed.append(deflate.flush())
    # bit depth 8, colour type 6 (RGBA), deflate, adaptive filter method 0, no interlace
    parts = [_SIGNATURE, _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))]
    for key, value in (text or {}).items():
        parts.append(_chunk(b"tEXt", key.encode("latin-1") + b"\0" + value.encode("latin-1")))
    per_metre = int(dpi / 0.0254 + 0.5)              # rounded as Pillow rounds it
    parts.append(_chunk(b"pHYs", struct.pack(">IIB", per_metre, per_metre, 1)))
    parts.append(_chunk(b"IDAT", b"".join(compressed)))
    parts.append(_chunk(b"IEND", b""))
    return b"".join(parts)
