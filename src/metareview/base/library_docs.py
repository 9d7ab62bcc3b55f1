"""Docstrings that scipy rewrites at import, left as written in a command's process: :func:`keep_docstrings`.

scipy marks each function that accepts other array libraries than numpy with the decorator
``scipy._lib._array_api.xp_capabilities``, which appends a table of the supported libraries
("Array API Standard Support") to the function's docstring as the module is imported: it parses
the docstring into sections with numpydoc's ``FunctionDoc`` and renders it again.
``import scipy.special`` does so for 94 functions, 172 million of the 915 million instructions
of importing numpy and ``scipy.special`` (valgrind), at every start of ``metareview pool`` and
``run`` (in ``run``, before the figure workers can be forked).  The table is documentation of
array libraries metareview never passes; a command never reads it.

:func:`keep_docstrings` has :func:`~metareview.base.lazy_imports.after_import`, once
``scipy._lib._array_api`` has run, give it a ``FunctionDoc`` that leaves a docstring as
written and keeps the note instead (the decorator's other work, the capabilities table its
tests read, is done as before).  What is lost, in that process only: the note at the end of
those docstrings.  :func:`library_docstring` gives the docstring scipy would have set, from
the same parser, and :func:`complete_docstrings` sets them all.  A docstring that the
decorator would also change otherwise (one that starts with blank space, or none) is handed
to scipy's own ``FunctionDoc``; so is everything when scipy's private names are not where
this expects them (another release): the decorator then works as it does in scipy.

For a process of the command line, as :mod:`metareview.base.lazy_imports` is: nothing is
imported to set this up, and nothing changes until scipy is imported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .lazy_imports import after_import

__all__ = ["keep_docstrings", "library_docstring", "complete_docstrings", "ARRAY_API_MODULE"]

#: The module of scipy whose ``xp_capabilities`` appends the notes, and whose ``FunctionDoc`` is replaced.
ARRAY_API_MODULE = "scipy._lib._array_api"

#: function -> the note its docstring did not get, for every function decorated since :func:`keep_docstrings`
_NOTES: dict[Any, str] = {}
_LIBRARY: list[Callable] = []       # scipy's FunctionDoc, once replaced


class _Kept:
    """What ``xp_capabilities`` reads of a ``FunctionDoc``: the list of notes it appends to, and the
    rendering, whose lines after the first (the signature) it sets as the docstring.  Rendered here
    as the docstring as written, so that the docstring is set to itself.  Asked for anything else
    (another section, an attribute: a scipy release that reads more of it), it becomes scipy's own
    ``FunctionDoc`` of the function, the notes given so far appended, and renders as that."""

    def __init__(self, function, doc: str):
        self._function, self._doc = function, doc
        self._notes: list[str] = []
        self._library: Any = None

    def _parsed(self):
        if self._library is None:
            self._library = _LIBRARY[0](self._function)
            self._library["Notes"].extend(self._notes)
            self._notes = self._library["Notes"]
        return self._library

    def __getitem__(self, section: str):
        if section == "Notes" and self._library is None:
            return self._notes
        return self._parsed()[section]

    def __setitem__(self, section: str, value) -> None:
        self._parsed()[section] = value

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._parsed(), name)

    def __str__(self) -> str:
        if self._library is not None:
            return str(self._library)
        if self._notes:
            _NOTES[self._function] = "\n".join(self._notes)
        return "\n" + self._doc


def _function_doc(function, *args, **kwargs):
    """``FunctionDoc(function)``: kept as written where that gives the same docstring back."""
    if function in _NOTES:         # decorated again: scipy would parse the docstring with the first note
        _complete(function)
    doc = getattr(function, "__doc__", None)
    if args or kwargs or not isinstance(doc, str) or doc != doc.lstrip(" \n"):
        return _LIBRARY[0](function, *args, **kwargs)
    return _Kept(function, doc)


def _replace(module) -> None:
    """Give scipy's array-API module our ``FunctionDoc``, if it is built as expected."""
    library = getattr(module, "FunctionDoc", None)
    if library is None or not callable(getattr(module, "xp_capabilities", None)) or _LIBRARY:
        return
    _LIBRARY.append(library)
    module.FunctionDoc = _function_doc


def keep_docstrings() -> None:
    """From now on in this process, functions that scipy decorates with ``xp_capabilities`` keep their
    docstring as written (see the module's docstring).  Does nothing when scipy's array-API module
    is already imported; calling again adds nothing."""
    after_import(ARRAY_API_MODULE, _replace)


def library_docstring(function) -> str | None:
    """The docstring scipy sets on ``function`` (its own ``FunctionDoc`` with the note appended),
    whether or not it was kept as written here."""
    note = _NOTES.get(function)
    if note is None or not _LIBRARY:
        return function.__doc__
    doc = _LIBRARY[0](function)
    doc["Notes"].append(note)
    return str(doc).split("\n", 1)[1].lstrip(" \n")


def complete_docstrings() -> None:
    """Set the docstrings kept as written to those scipy sets (for a process that will read them)."""
    for function in list(_NOTES):
        _complete(function)


def _complete(function) -> None:
    doc = library_docstring(function)
    try:
        function.__doc__ = doc
    except AttributeError:      # as in scipy: a ufunc's docstring is fixed before numpy 2.2
        pass
    del _NOTES[function]
