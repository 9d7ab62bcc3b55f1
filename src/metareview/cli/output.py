"""Shared console helpers for the command line: one place for errors, JSON and tables."""

from __future__ import annotations

import json
import math
import sys
from typing import Any


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
    return json.dumps(_clean(document), indent=2, ensure_ascii=False, allow_nan=False)


def print_json(document: Any) -> None:
    sys.stdout.write(dumps(document) + "\n")


def error(message: str) -> None:
    """Print an input error without a traceback."""
    from rich.console import Console
    from rich.markup import escape
    Console(stderr=True, highlight=False).print(f"[bold red]error:[/] {escape(message)}", markup=True,
                                                soft_wrap=True)
