"""Scripts written against the earlier flat layout keep working: old module paths import the moved module."""

from __future__ import annotations

import subprocess
import sys

import pytest

import metareview

MOVED = sorted(metareview._MOVED.items())


@pytest.mark.parametrize("old,new", MOVED)
def test_old_path_is_the_moved_module_and_warns(old, new):
    code = (f"import warnings, importlib, sys\n"
            f"warnings.simplefilter('error')\n"
            f"new = importlib.import_module('metareview.{new}')\n"
            f"try:\n"
            f"    importlib.import_module('metareview.{old}')\n"
            f"except DeprecationWarning as w:\n"
            f"    print('warned:', w)\n"
            f"warnings.simplefilter('ignore')\n"
            f"old = importlib.import_module('metareview.{old}')\n"
            f"print(old is new, old.__spec__.name)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert f"warned: metareview.{old} has moved to metareview.{new}" in out
    assert out.strip().endswith(f"True metareview.{new}")


def test_documented_old_imports_still_work():
    code = ("import warnings; warnings.simplefilter('ignore')\n"
            "from metareview.batch import batch\n"
            "from metareview.mh import mantel_haenszel\n"
            "from metareview.parse import load_spec\n"
            "from metareview.review_run.progress import Steps\n"
            "import metareview.api.meta as meta\n"
            "from metareview.api import meta as meta2\n"
            "print(batch.__module__, mantel_haenszel.__module__, load_spec.__module__, Steps.__module__, meta is meta2)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["metareview.api.batch", "metareview.pooling.mh", "metareview.tables.parse", "metareview.run.progress",
                   "True"]


def test_unknown_paths_are_not_invented():
    with pytest.raises(ModuleNotFoundError):
        __import__("metareview.no_such_module")
