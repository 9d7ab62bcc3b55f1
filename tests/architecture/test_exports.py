"""Every public module says what it offers: an ``__all__`` naming what the module defines, or a public name of
another metareview module that it deliberately hands on.

Public modules are those of the library's layers (``metareview.<layer>.<module>`` and the layer packages) whose
path has no part starting with an underscore; the faces that are programs rather than libraries (the
command-line commands, ``cli``, and the web application's pages, ``web.routes``) are not imported by users.
"""

from __future__ import annotations

import ast
import importlib
import warnings

import pytest

from .test_layers import MODULES

FACES = ("metareview.cli", "metareview.web.routes", "metareview.__main__")


def _public(name: str) -> bool:
    parts = name.split(".")
    return not any(p.startswith("_") for p in parts[1:]) and not name.startswith(FACES)


PUBLIC = sorted(m for m in MODULES if m != "metareview" and _public(m))


def _top_level_names(module: str) -> tuple[set[str], dict[str, tuple[str, str]]]:
    """Names a module's source defines at top level (functions, classes, assignments), and the names it imports
    from other modules, each with the module and the name it comes from."""
    path, is_package = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if is_package else module.rpartition(".")[0]
    defined: set[str] = set()
    imported: dict[str, tuple[str, str]] = {}

    def visit(body):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defined.add(node.name)
            elif isinstance(node, ast.Assign):
                for t in node.targets:
                    defined.update(n.id for n in ast.walk(t) if isinstance(n, ast.Name))
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and isinstance(node.target, ast.Name):
                defined.add(node.target.id)
            elif isinstance(node, ast.ImportFrom):
                base = package.split(".")[:len(package.split(".")) - node.level + 1] if node.level else []
                source = ".".join([*base, *([node.module] if node.module else [])])
                for a in node.names:
                    imported[a.asname or a.name] = (source, a.name)
            elif isinstance(node, (ast.If, ast.Try)):  # conditional definitions
                visit(node.body)
                visit(node.orelse)
                for h in getattr(node, "handlers", []):
                    visit(h.body)

    visit(tree.body)
    return defined, imported


def _import(module: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return importlib.import_module(module)


def test_there_are_public_modules_to_check():
    assert {"metareview.api.meta", "metareview.pooling.tau2", "metareview.base.format"} <= set(PUBLIC)


@pytest.mark.parametrize("module", PUBLIC)
def test_public_module_declares_what_it_offers(module):
    mod = _import(module)
    assert hasattr(mod, "__all__"), f"{module} has no __all__"
    names = list(mod.__all__)
    assert len(names) == len(set(names)), f"{module}.__all__ repeats a name"
    defined, imported = _top_level_names(module)
    for name in names:
        assert hasattr(mod, name), f"{module}.__all__ names {name!r}, which the module does not have"
        if name in defined:
            continue
        assert name in imported, f"{module}.__all__ names {name!r}, which it neither defines nor imports"
        source, original = imported[name]
        assert source.startswith("metareview.") and original in getattr(_import(source), "__all__", ()), (
            f"{module}.__all__ hands on {name!r} from {source}, where it is not a public name")
