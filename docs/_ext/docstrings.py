"""Griffe extension for the API reference: docstrings written for Sphinx and doctest, read as Markdown.

metareview's docstrings use reStructuredText roles (``:func:`~metareview.api.meta.metaprop```) and
doctest examples (``>>> ...``) in running text.  Markdown would read a doctest's printed list
(``[1.3863, 1.6487]``) as a link and the roles as plain text, so before rendering:

* every doctest block (a ``>>>`` line and the lines after it up to a blank line) is fenced as
  ``pycon`` code;
* ``:role:`~a.b.c``` becomes the code span ``c`` and ``:role:`a.b.c``` becomes ``a.b.c``.
"""

from __future__ import annotations

import re

import griffe

_ROLE = re.compile(r":(?:func|class|meth|mod|data|attr|obj|exc|ref|const):`(~?)([^`]+)`")


def _role(match: re.Match) -> str:
    target = match.group(2)
    if match.group(1):
        target = target.rsplit(".", 1)[-1]
    return f"`{target}`"


def _fence_doctests(text: str) -> str:
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith(">>>"):
            indent = line[: len(line) - len(line.lstrip())]
            block = []
            while i < len(lines) and lines[i].strip():
                block.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i].lstrip())
                i += 1
            if out and out[-1].strip():
                out.append("")
            out.extend([f"{indent}```pycon", *(f"{indent}{b}" for b in block), f"{indent}```", ""])
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


class MarkdownDocstrings(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        doc = obj.docstring
        if doc is None or not doc.value:
            return
        value = _ROLE.sub(_role, doc.value)
        if ">>>" in value:
            value = _fence_doctests(value)
        doc.value = value
