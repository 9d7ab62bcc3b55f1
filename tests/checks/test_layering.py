"""The data layer stays light: no plotting, templating, review store or CLI on import."""

from __future__ import annotations

import doctest
import subprocess
import sys

import metareview.tables.checks
import metareview.tables.parse


def test_modules_import_without_heavy_or_upper_layers():
    code = ("import sys, metareview.tables.convert, metareview.tables.parse, metareview.tables.checks, "
            "metareview.tables.impute; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'jinja2') or "
            "m.startswith(('metareview.plots', 'metareview.report', 'metareview.review', 'metareview.cli'))]; "
            "print(','.join(sorted(bad)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_docstring_examples_run():
    for module in (metareview.tables.parse, metareview.tables.checks):
        result = doctest.testmod(module)
        assert result.attempted >= 2 and result.failed == 0, module.__name__
