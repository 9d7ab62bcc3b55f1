"""Shared console helpers for the command line: one place for errors, JSON and tables."""

from __future__ import annotations

import json
import math
import re
import sys
from typing import Any

# Escape sequences (CSI ... final byte, OSC ... BEL/ST) and single control characters other
# than tab and newline, C1 controls, and the bidirectional overrides that reorder what a
# terminal shows: text from a data file must not move the cursor, recolour or retitle the
# terminal, or disguise itself.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b.?")
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# The same characters inside JSON strings are written as \\u escapes (json escapes only C0).
_JSON_RAW = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` without terminal escape sequences and control characters (tab and newline kept)."""
    return _CONTROLS.sub("", _ESCAPES.sub("", text))


def _clean(value: Any) -> Any:
    """Make ``value`` JSON-safe: NaN and infinities become null, numpy scalars become Python."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (ValueError, TypeError):
            value = value.tolist()
            return _clean(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps(document: Any) -> str:
    """Serialise a result document to JSON with full float precision and no NaN."""
    text = json.dumps(_clean(document), indent=2, ensure_ascii=False, allow_nan=False)
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def print_json(document: Any) -> None:
    sys.stdout.write(dumps(document) + "\n")


def error(message: str) -> None:
    """Print an input error without a traceback."""
    from rich.console import Console
    from rich.markup import escape
    message = " ".join(printable(message).split("\n"))
    Console(stderr=True, highlight=False).print(f"[bold red]error:[/] {escape(message)}", markup=True,
                                                soft_wrap=True)


def warn(message: str) -> None:
    """Print a warning on standard error, one line, without control characters."""
    from rich.console import Console
    from rich.markup import escape
    message = " ".join(printable(message).split("\n"))
    Console(stderr=True, highlight=False).print(f"[bold yellow]warning:[/] {escape(message)}", markup=True,
                                                soft_wrap=True)


def wrote(path) -> None:
    """Announce a file (or folder) a command wrote: ``wrote PATH`` on standard error."""
    sys.stderr.write(f"wrote {printable(str(path))}\n")


#: ``--quiet``: the one name for "no progress lines or bars" (``--no-progress`` kept as a hidden alias).
QUIET_HELP = "No progress lines or bars on standard error."


def echo(text: str, *, err: bool = False, nl: bool = True) -> None:
    """Print text that may hold data (study labels, titles) with control characters removed."""
    stream = sys.stderr if err else sys.stdout
    stream.write(printable(text) + ("\n" if nl else ""))
