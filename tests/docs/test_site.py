"""The documentation site builds in strict mode: broken links, missing pages and docstrings that
mkdocstrings cannot render fail the build (and this test)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("mkdocs", "material", "mkdocstrings_handlers")),
    reason="the docs extra is not installed (pip install -e '.[docs]'): mkdocs, mkdocs-material and "
           "mkdocstrings[python] are needed to build the site",
)


def test_site_builds_strict(tmp_path):
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"),
         "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log
    warnings = [line for line in log.splitlines() if line.startswith("WARNING")]
    assert not warnings, "\n".join(warnings)
    site = tmp_path / "site"
    for page in ("index.html", "tutorial/index.html", "coming-from-r/index.html", "methods/index.html",
                 "reference/api/index.html", "howto/batch/index.html", "conventions/index.html"):
        assert (site / page).is_file(), page
    # the API reference is generated from the docstrings
    assert "metaprop" in (site / "reference/api/index.html").read_text(encoding="utf-8")
    # MathJax is served by the site (copied in by the build's hook), and no page loads anything from elsewhere
    assert (site / "javascripts/mathjax/tex-mml-chtml.js").stat().st_size > 100_000
    assert any((site / "javascripts/mathjax/output/chtml/fonts").rglob("*.woff"))
    import re
    for page in site.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        remote = re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?://[^"]+)"', html)
        assert not remote, f"{page.relative_to(site)} loads {remote}"
    assert not list(ROOT.joinpath("docs").rglob("tex-mml-chtml.js")), "MathJax's files are not kept in docs/"


def test_every_page_is_in_the_nav():
    """A page left out of the nav is easy to miss; every Markdown file under docs/ is listed."""
    import yaml

    config = yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=yaml.BaseLoader)

    def pages(node):
        if isinstance(node, str):
            yield node
        elif isinstance(node, list):
            for item in node:
                yield from pages(item)
        elif isinstance(node, dict):
            for value in node.values():
                yield from pages(value)

    listed = set(pages(config["nav"]))
    docs = ROOT / "docs"
    files = {p.relative_to(docs).as_posix() for p in docs.rglob("*.md") if "_ext" not in p.parts}
    assert listed - files == set(), "the nav of mkdocs.yml lists pages that do not exist"
    unlisted = sorted(files - listed)
    if unlisted:
        # a page added by another change builds (MkDocs only notes it); say so without failing that change
        warnings.warn(f"docs pages not in the nav of mkdocs.yml: {', '.join(unlisted)}; add them to 'nav'",
                      UserWarning, stacklevel=1)
