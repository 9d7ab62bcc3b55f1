"""Modules that libraries import and never use, loaded on first use instead: :func:`defer_imports`.

Some of what a command imports is loaded by the libraries it needs and never used by them.
``scipy.special`` (every statistical module needs it) builds an array-API namespace as a
copy of numpy's, and copying reads every attribute numpy lists, so numpy imports its lazy
submodules ``numpy.f2py`` (a Fortran wrapper generator) and ``numpy.testing`` (the test
helpers): about a tenth of a second, a quarter of ``scipy.special``'s import, at every
start of ``metareview pool`` or ``run``.  matplotlib's PDF writer imports ``fontTools.subset``
to subset TrueType fonts, which the figures of a review do not embed (they are written with
Type 3 fonts); that took about 60 ms of a figure worker's start.

:func:`defer_imports` puts a finder in front of :data:`sys.meta_path` that gives these
modules Python's own lazy loader (:class:`importlib.util.LazyLoader`, the recipe of the
``importlib`` documentation): the module is found and placed as usual, and its code runs the
first time one of its attributes is read.  A program that uses them gets them as before,
loaded then; one that does not never runs them.  Nothing is imported to set this up, so a
command that never imports numpy pays nothing.

For a process of the command line, not for a library call: the finder stays for the life of
the process, and Python 3.11's lazy loader is not safe for two threads that read a deferred
module first at the same moment (nothing in metareview reads them at all).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from types import ModuleType

__all__ = ["UNUSED_IMPORTS", "defer_imports", "after_import", "spec_with_loader"]

#: Modules imported by a library metareview uses and never used by it: name -> who imports it and why
#: it is not used.
UNUSED_IMPORTS = {
    "numpy.f2py": "scipy.special's array-API namespace copies every attribute of numpy",
    "numpy.testing": "scipy.special's array-API namespace copies every attribute of numpy",
    "fontTools.subset": "matplotlib's PDF writer; the figures use Type 3 fonts, which are not subset",
}


class _Deferring:
    """A meta path finder that finds the modules it defers through the other finders and hands
    them to :class:`importlib.util.LazyLoader`."""

    def __init__(self, names: Iterable[str]):
        self.names = frozenset(names)

    def find_spec(self, name, path=None, target=None):
        if name not in self.names:
            return None
        from importlib.util import LazyLoader

        return spec_with_loader(name, path, target, LazyLoader, _Deferring)


def spec_with_loader(name: str, path, target, wrap, skip: type):
    """The spec that the finders of :data:`sys.meta_path` other than those of type ``skip`` give
    ``name``, its loader replaced by ``wrap(loader)``: for a finder that changes how a module is
    run, not where it is found.  A loader that cannot run a module in two steps (create, then
    execute) is left as it is; None when no finder knows the module."""
    for finder in sys.meta_path:
        if isinstance(finder, skip) or not hasattr(finder, "find_spec"):
            continue
        spec = finder.find_spec(name, path, target)
        if spec is not None:
            if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                spec.loader = wrap(spec.loader)
            return spec
    return None


def defer_imports(names: Iterable[str] = UNUSED_IMPORTS) -> None:
    """Load ``names`` (default :data:`UNUSED_IMPORTS`) on first use from now on in this process.

    A name already imported stays as it is; calling again adds to what is deferred."""
    names = [n for n in names if n not in sys.modules]
    for finder in sys.meta_path:
        if isinstance(finder, _Deferring):
            names = [n for n in names if n not in finder.names]
    if names:
        sys.meta_path.insert(0, _Deferring(names))


class _AfterImport:
    """A meta path finder that has one module run as usual through the other finders' loader, then
    hands the module to ``hook``."""

    def __init__(self, name: str, hook: Callable[[ModuleType], None]):
        self.name = name
        self.hook = hook

    def find_spec(self, name, path=None, target=None):
        if name != self.name:
            return None
        return spec_with_loader(name, path, target, lambda loader: _HookedLoader(loader, self.hook), _AfterImport)


class _HookedLoader:
    def __init__(self, loader, hook: Callable[[ModuleType], None]):
        self.loader = loader
        self.hook = hook

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        self.loader.exec_module(module)
        self.hook(module)

    def __getattr__(self, name: str):     # what else the loader offers (resources, source), unchanged
        return getattr(self.loader, name)


def after_import(name: str, hook: Callable[[ModuleType], None]) -> None:
    """From now on in this process, once module ``name`` has run (imported as usual), call
    ``hook(module)``: for changing what a library builds at import before anything reads it.

    Does nothing when ``name`` is already imported, or when ``hook`` is already waiting for it."""
    if name in sys.modules or any(isinstance(f, _AfterImport) and f.name == name and f.hook is hook
                                  for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _AfterImport(name, hook))
