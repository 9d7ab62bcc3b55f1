"""Work that creates many objects and no garbage, with Python's cyclic garbage collector paused.

Parsing an export or reading a project's keys creates millions of small objects (strings,
lists of authors, dicts of extra fields, tuples of keys) that form no reference cycles and
live until the work ends.  The collector nevertheless walks all of them again each time a
generation fills: on an export of 50,000 records that was about a fifth of the import's
time, spent finding nothing.  Reference counting still frees every object as before; the
collector runs again as soon as the work is over.

A command's imports are the same case, for good: importing numpy and ``scipy.special`` creates
some eighty thousand objects the collector tracks (scipy's copy of numpy's namespace among
them) that live as long as the process.  Walked by the collector during the import and in the
collections after it, they took about a tenth of ``metareview pool``'s time;
:func:`lasting_imports` imports them with the collector paused and then sets everything that
exists aside from its passes (:func:`gc.freeze`, meant for this).
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collector_paused", "lasting_imports"]


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector inside the block (nestable; left as found afterwards)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@contextmanager
def lasting_imports() -> Iterator[None]:
    """Import the block's modules with the collector paused and, when the block imported any, set
    every object that exists aside from the collector's passes (``gc.freeze``).

    For a command line's start-up: what is set aside is never collected as part of a cycle, which
    is right for modules and what they define, and for a short-lived process, but not for a
    library whose caller keeps working (an object set aside stays while the process lives).
    """
    before = len(sys.modules)
    with collector_paused():
        yield
        if len(sys.modules) > before:
            gc.freeze()
