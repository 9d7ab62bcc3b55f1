"""The values of a command's options, read as typer reads them, without loading pydantic for the plain ones.

The typer releases that validate through pydantic give every option of a command a pydantic ``TypeAdapter``,
built the first time a value passes, the declared defaults included: ``metareview pool FILE`` loaded pydantic
and built some thirty adapters, a sixth of the command's time, to hand on ``0.95`` as ``0.95``.  The options
of metareview are text, whole numbers, numbers, paths, flags and lists of these, and most values are plain:
a default already of its declared type, text, a number written in decimals, a path that can be read or does
not exist.  :func:`plain_values` gives each such option a reader that returns those values as typer's
conversion returns them (same value, same type) and passes every other value to typer's own conversion,
built on first use: ``--level 1_000`` or ``--n-agq 7.0`` are read by typer, its messages for a bad value
are typer's.  ``tests/cli/test_values.py`` holds the reader to typer's conversion, value by value.

The reader is put where typer keeps each parameter's conversion once built (``_runtime_param``, private to
typer), on the parameters of the commands metareview builds; typer's own classes and functions are not
changed.  A typer without this layout (the click-based releases, which need no pydantic) is left alone; a
typer that changes it fails the tests above before a user sees a difference.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, get_args, get_origin

__all__ = ["plain_values", "PlainValues"]

#: A whole number in decimal digits, and a number in decimal notation: what Python and pydantic read alike.
_INT = re.compile(r"[+-]?[0-9]{1,18}")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?")

#: Not decided here: the value goes to typer's conversion.
_TYPER = object()


def _read_str(value):
    return value if type(value) is str else _TYPER


def _read_int(value):
    if type(value) is int:
        return value
    if type(value) is str and _INT.fullmatch(value):
        return int(value)
    return _TYPER


def _read_float(value):
    if type(value) is float:
        return value
    if type(value) is int:
        return float(value)
    if type(value) is str and len(value) <= 40 and _FLOAT.fullmatch(value):
        return float(value)
    return _TYPER


def _read_bool(value):
    return value if type(value) is bool else _TYPER


def _read_path(value):
    """typer reads a path as ``Path(value)`` and refuses only one that exists and cannot be read (with the
    declaration's defaults, which every path of metareview has)."""
    if type(value) is not str or not value or value == "-":
        return _TYPER
    path = Path(value)
    try:
        os.stat(path)
    except OSError:
        return path
    return path if os.access(path, os.R_OK) else _TYPER


_READERS = {str: _read_str, int: _read_int, float: _read_float, bool: _read_bool, Path: _read_path}

#: The fields of a declaration that change how typer reads a value, and their defaults: a declaration that
#: sets any of them is left to typer.
_PLAIN_DECLARATION = {"parser": None, "min": None, "max": None, "clamp": False, "formats": None, "mode": None,
                      "exists": False, "file_okay": True, "dir_okay": True, "writable": False, "readable": True,
                      "resolve_path": False, "allow_dash": False, "path_type": None}


class PlainValues:
    """The reader of one option: plain values here, the others by typer's conversion (built when one comes)."""

    def __init__(self, read, many: bool, descriptor) -> None:
        self._read = read
        self._many = many
        self._descriptor = descriptor
        self._typer = None

    def coerce(self, value: Any, param, ctx) -> Any:
        if value is None:
            return () if param.multiple or param.nargs == -1 else None
        if self._many and type(value) in (tuple, list):
            items = [self._read(item) for item in value]
            if all(item is not _TYPER for item in items):
                return items
        elif not self._many and not (param.multiple or param.nargs == -1):
            read = self._read(value)
            if read is not _TYPER:
                return read
        return self.typer().coerce(value, param=param, ctx=ctx)

    def typer(self):
        """typer's own conversion of this option."""
        if self._typer is None:
            from typer._coercion import build_runtime_param

            self._typer = build_runtime_param(self._descriptor)
        return self._typer


def _reader(param) -> PlainValues | None:
    descriptor = getattr(param, "type_descriptor", None)
    info = getattr(descriptor, "parameter_info", None)
    if info is None or getattr(descriptor, "file_annotation", None) is not None:
        return None
    if any(getattr(info, name, default) != default for name, default in _PLAIN_DECLARATION.items()):
        return None
    annotation, many = descriptor.annotation, False
    if get_origin(annotation) is list and len(get_args(annotation)) == 1:
        annotation, many = get_args(annotation)[0], True
    read = _READERS.get(annotation) if isinstance(annotation, type) else None
    if read is None or many != bool(param.multiple or param.nargs == -1):
        return None
    return PlainValues(read, many, descriptor)


def _typer_reads_through_adapters() -> bool:
    try:
        from typer._coercion import build_runtime_param  # noqa: F401
        from typer.core import _TyperParameter
    except ImportError:
        return False
    return callable(getattr(_TyperParameter, "get_runtime_param", None))


def plain_values(command, ctx=None) -> None:
    """Give every option of ``command`` (a click command built by typer) whose declaration is plain its
    :class:`PlainValues` reader; the others, and every option under a typer of another layout, keep typer's."""
    if not _typer_reads_through_adapters():
        return
    ctx = ctx or command.context_class(command, info_name=command.name)
    for param in command.get_params(ctx):
        if "_runtime_param" in vars(param) and param._runtime_param is None:
            reader = _reader(param)
            if reader is not None:
                param._runtime_param = reader
