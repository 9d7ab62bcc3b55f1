"""Result documents as JSON: full float precision, null for NaN and infinities, no raw control characters.

The one serialiser of the ``--json`` contract (docs/json-contract.md) and of the run's
``results.json``.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

__all__ = ["dumps", "clean"]

# C1 controls and the bidirectional overrides inside JSON strings are written as \\u escapes
# (json escapes only C0), so a terminal showing the document cannot be reordered or recoloured.
_JSON_RAW = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean(value: Any) -> Any:
    """Make ``value`` JSON-safe: NaN and infinities become null, numpy scalars become Python."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (ValueError, TypeError):
            value = value.tolist()
            return clean(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps(document: Any) -> str:
    """Serialise a result document to JSON with full float precision and no NaN."""
    text = json.dumps(clean(document), indent=2, ensure_ascii=False, allow_nan=False)
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
