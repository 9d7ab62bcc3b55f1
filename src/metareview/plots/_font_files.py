"""Font files read from memory while figures are drawn: :func:`fonts_in_memory`.

matplotlib's ``FT2Font`` gives FreeType a font as a stream whose every read calls the
Python file object's ``seek`` and ``read``: a glyph loaded to measure, shape, rasterise or
outline it takes two to four reads (its advance in ``hmtx``, its outline in ``glyf``), and
HarfBuzz reads a table again for each string it shapes.  matplotlib opens font files by
path, a buffered file of the operating system, whose ``seek`` and ``read`` go through the
buffer's lock and position checks and often to the kernel: about 6,400 instructions a read,
and a review run's figures make about 390,000 reads (an eighth of the drawing's
instructions).  From the file's bytes in memory (:class:`io.BytesIO`, whose ``seek`` and
``read`` are a copy) FreeType reads the same bytes for about a sixth of that.

Inside :func:`fonts_in_memory` the fonts matplotlib makes for its font lists
(``font_manager._get_font``, behind ``get_font``) read their files from memory: each font
file is read once per process, and each font is made by matplotlib's own ``_get_font``
from it, so the fonts, their fallbacks and the Last Resort font are the ones matplotlib
makes.  A font made from a file object gives that object as its ``fname``; its ``str`` is
the path, so the PDF and PostScript writers, which name fonts by
``FontPath(font.fname, face_index)`` (a ``str``), give the fonts the same names and embed the
same files, and it compares equal to its path (``_get_font`` looks for the Last Resort font's
path in the list it is given).  The fonts are kept per font list and
settings, as matplotlib's cache keeps them (per thread as well: FreeType objects are not
shared between threads), and forgotten in a forked child (FreeType objects are not shared
between processes either).  Without ``_get_font``'s uncached function (``__wrapped__``)
matplotlib's own fonts are used.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["fonts_in_memory"]

#: Font files read: path -> bytes
_FILE_BYTES: dict[str, bytes] = {}
#: Fonts made from memory: (font list, matplotlib's other arguments) -> FT2Font
_FONT_OBJECTS: dict = {}
#: Fonts kept at most (matplotlib's cache keeps 64; a review run makes 4)
_LIMIT = 256
#: Whether the fonts are read from memory (an inner ``with`` leaves it to the outer one)
_ACTIVE = False

#: Fonts looked up: (font list as given, kerning factor, Last Resort font, thread) -> FT2Font
_LOOKUPS: dict = {}

if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_FONT_OBJECTS.clear)
    os.register_at_fork(after_in_child=_LOOKUPS.clear)


class FontFile:
    """A font file's bytes as the file object ``FT2Font`` reads from; the font's ``fname``,
    whose ``str`` is the path, equal to the path and hashed as it is (not path-like: FT2Font
    opens a path-like object as the file it names).

    ``seek`` and ``read`` are those of an :class:`io.BytesIO` of the bytes, kept in slots:
    FreeType's reader looks both up by name for every read, with a name string made anew
    each time, which misses Python's cache of type attributes, so a lookup walks the class's
    bases; a slot is found in the first class, and gives the bound method kept in it
    instead of binding one anew (a third fewer instructions per string measured than a
    subclass of ``BytesIO``).
    """

    __slots__ = ("seek", "read", "name")

    def __init__(self, path: str):
        data = _FILE_BYTES.get(path)
        if data is None:
            with open(path, "rb") as fh:
                data = fh.read()
            _FILE_BYTES[path] = data
        file = io.BytesIO(data)     # shares the bytes: BytesIO copies only when written to
        self.seek, self.read, self.name = file.seek, file.read, path

    def __str__(self) -> str:
        return self.name

    def __eq__(self, other) -> bool:
        if isinstance(other, FontFile):
            return self.name == other.name
        return self.name == other

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"FontFile({self.name!r})"


@contextmanager
def fonts_in_memory() -> Iterator[None]:
    """Fonts made while the context lasts read their files from memory (see the module)."""
    from matplotlib import font_manager

    global _ACTIVE
    get_font = getattr(font_manager, "_get_font", None)
    make_font = getattr(get_font, "__wrapped__", None)
    if make_font is None or _ACTIVE:
        yield           # another matplotlib, or already inside
        return

    def font_from_memory(font_filepaths, **kwargs):
        try:
            key = (font_filepaths, tuple(kwargs.items()))     # get_font gives them in one order
            font = _FONT_OBJECTS.get(key)
        except TypeError:           # an unhashable argument: as matplotlib does (it would fail too)
            return get_font(font_filepaths, **kwargs)
        if font is not None:
            return font
        if not all(isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], str)
                   for entry in font_filepaths):
            return get_font(font_filepaths, **kwargs)    # not the (path, face index) pairs of matplotlib 3.11
        font = make_font(tuple((FontFile(path), index) for path, index in font_filepaths), **kwargs)
        if len(_FONT_OBJECTS) < _LIMIT:
            _FONT_OBJECTS[key] = font
        return font

    font_manager._get_font = font_from_memory
    lookups = _KeptLookups(font_manager)
    _ACTIVE = True
    try:
        lookups.install()
        yield
    finally:
        lookups.uninstall()
        font_manager._get_font = get_font
        _ACTIVE = False


class _KeptLookups:
    """matplotlib's ``get_font`` with the font of each font list kept: drawing a text looks its
    font up two to four times (its layout, its size, its drawing), and each ``get_font``
    resolves every path, reads two settings and asks ``_get_font``'s cache.  A font list
    looked up before, with the same settings and thread, gives the font it gave, after
    resetting its transformation as ``get_font`` does.  Only while the fonts are made from
    memory, whose fonts are kept for the process (so a kept lookup is the font ``get_font``
    would give); the modules that call ``get_font`` by their own name get it too.
    """

    #: Modules that import ``get_font`` under that name (and font_manager itself)
    MODULES = ("matplotlib.font_manager", "matplotlib.text", "matplotlib.textpath", "matplotlib._mathtext",
               "matplotlib.backends.backend_agg", "matplotlib.backends.backend_pdf",
               "matplotlib.backends.backend_ps")

    def __init__(self, font_manager):
        import sys

        self._get_font = font_manager.get_font
        self._modules = [module for module in map(sys.modules.get, self.MODULES)
                         if module is not None and getattr(module, "get_font", None) is self._get_font]

    def install(self) -> None:
        import threading

        from matplotlib import rcParams

        get_font, rc_get, ident = self._get_font, dict.__getitem__, threading.get_ident    # as RcParams reads them
        identity, origin = [[0x10000, 0], [0, 0x10000]], [0, 0]
        # the hinting factor a font is made with (before matplotlib 3.11 get_font reads it for each
        # font; deprecated since, and without effect on the font given): a key where it is a setting
        hinting = "text.hinting_factor" if dict.__contains__(rcParams, "text.hinting_factor") else None

        def kept_get_font(font_filepaths, hinting_factor=None):
            kind = type(font_filepaths)
            if hinting_factor is not None or not (kind is str or kind is tuple or kind is list
                                                  or isinstance(font_filepaths, str)):
                return get_font(font_filepaths, hinting_factor)
            try:
                key = (tuple(font_filepaths) if kind is list else font_filepaths,
                       rc_get(rcParams, "text.kerning_factor"), rc_get(rcParams, "font.enable_last_resort"),
                       hinting and rc_get(rcParams, hinting), ident())
                font = _LOOKUPS.get(key)
            except TypeError:       # an unhashable entry: matplotlib's way
                return get_font(font_filepaths)
            if font is None:
                font = get_font(font_filepaths)
                if len(_LOOKUPS) < _LIMIT * 16:
                    _LOOKUPS[key] = font
            else:
                font._set_transform(identity, origin)
            return font

        for module in self._modules:
            module.get_font = kept_get_font

    def uninstall(self) -> None:
        for module in self._modules:
            module.get_font = self._get_font
