"""MkDocs hook: serve MathJax from the site itself, not from a CDN.

The MathJax 3 files come from an installed Python package that ships them
(``django-static-mathjax``, in the ``docs`` extra: its ``mathjax/static/mathjax/es5``); after
each build they are copied into ``site/javascripts/mathjax/``, so the pages display formulas
without a network and no MathJax file is kept in this repository.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from mkdocs.exceptions import PluginError

TARGET = "javascripts/mathjax"
# the combined TeX + MathML -> CommonHTML build, and the parts it loads on demand (fonts, TeX packages,
# the menu's accessibility tools)
FILES = ("tex-mml-chtml.js",)
FOLDERS = ("output", "input", "ui", "a11y", "adaptors", "sre")


def mathjax_source() -> Path:
    """The folder of MathJax's ES5 build in the installed package."""
    try:
        import mathjax
    except ImportError:
        raise PluginError("MathJax is not installed: pip install -e '.[docs]' (it brings django-static-mathjax, "
                          "whose files the site serves)") from None
    source = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    if not (source / FILES[0]).is_file():
        raise PluginError(f"{source / FILES[0]} is missing: reinstall django-static-mathjax")
    return source


def on_post_build(config, **kwargs) -> None:
    source = mathjax_source()
    target = Path(config["site_dir"]) / TARGET
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in FILES:
        shutil.copy2(source / name, target / name)
    for name in FOLDERS:
        shutil.copytree(source / name, target / name)
