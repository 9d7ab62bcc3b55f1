"""The package's folders are its layers: imports point down, never up, and never round in a cycle.

Every ``import`` in every module counts, including those inside functions (imported
lazily to keep start-up fast): a lazy import is still an arrow.  A module may import
from its own layer or any layer below; names starting with an underscore stay inside
their module.  The order is written once, here and in docs/architecture.md.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import metareview

PACKAGE = Path(metareview.__file__).parent

#: bottom to top; a module's layer is its first folder below ``metareview``
LAYERS = ("base", "tables", "effectsizes", "plots", "pooling", "analyses", "appraisal", "api",
          "report", "review", "run", "web", "cli", "")


def _modules() -> dict[str, tuple[Path, bool]]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        out[".".join(parts)] = (path, is_package)
    return out


MODULES = _modules()


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and MODULES[module][1]) else ""


def imports(module: str) -> list[tuple[str, list[str], int]]:
    """(target module, names imported from it, line) for every import in ``module``."""
    path, is_package = MODULES[module]
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names if a.name.startswith("metareview")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            elif (node.module or "").startswith("metareview"):
                target = node.module
            else:
                continue
            names = []
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in MODULES:
                    found.append((sub, [], node.lineno))
                else:
                    names.append(alias.name)
            if names:
                found.append((target, names, node.lineno))
    return [(t, n, line) for t, n, line in found if t in MODULES and t != module]


GRAPH = {m: imports(m) for m in MODULES}


def test_every_module_has_a_layer():
    for module in MODULES:
        assert layer(module) in LAYERS, f"{module} is in no layer of {LAYERS}"


def test_imports_point_down():
    upward = [f"{m}:{line} imports {t} ({layer(m) or 'root'} -> {layer(t) or 'root'})"
              for m, edges in GRAPH.items() for t, _, line in edges
              if LAYERS.index(layer(t)) > LAYERS.index(layer(m))]
    assert not upward, "\n".join(upward)


def test_no_private_names_across_modules():
    private = [f"{m}:{line} imports {', '.join(n for n in names if n.startswith('_'))} from {t}"
               for m, edges in GRAPH.items() for t, names, line in edges
               if any(n.startswith("_") and not n.startswith("__") for n in names)]
    assert not private, "\n".join(private)


def test_no_import_cycles():
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        for w, _, _ in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in MODULES:
        if module not in index:
            visit(module)
    assert not cycles, "\n".join(" <-> ".join(c) for c in cycles)


def test_the_walker_sees_lazy_imports():
    """Imports inside functions are arrows too (the forest plot is imported on first use)."""
    assert any(t == "metareview.plots.forest" for t, _, _ in GRAPH["metareview.api.result"])
