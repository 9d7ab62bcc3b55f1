"""The workspace's pages, one module per page, each exposing ``routes``.

Modules are collected here in name order, so adding a page touches no other file.
"""

from __future__ import annotations

import importlib
import pkgutil

from starlette.routing import BaseRoute

__all__ = ["routes"]


def _collect() -> list[BaseRoute]:
    out: list[BaseRoute] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            out.extend(importlib.import_module(f"{__name__}.{info.name}").routes)
    return out


routes = _collect()
