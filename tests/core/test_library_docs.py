"""scipy's docstrings kept as written in a command's process (base/library_docs.py): the functions work as
before, the docstring scipy sets is still there to be had, the same string, and scipy's own path is taken
when its private names are not where they are expected.

Each case runs in a fresh interpreter: the seam acts when scipy is first imported.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("scipy")

#: Prints, as JSON, every function scipy decorated: its docstring now and the one scipy sets, after importing
#: scipy.special and scipy.stats (``KEEP``: with the seam set up first; ``COMPLETE``: and completed afterwards).
COLLECT = """
import json, sys
KEEP, COMPLETE = {keep}, {complete}
if KEEP:
    from metareview.base.library_docs import complete_docstrings, keep_docstrings, library_docstring
    keep_docstrings()
import numpy as np, scipy.special as sc, scipy.stats
from scipy._lib._array_api import xp_capabilities_table
if COMPLETE:
    complete_docstrings()
def name(f):
    return f"{{getattr(f, '__module__', '')}}.{{getattr(f, '__qualname__', getattr(f, '__name__', repr(f)))}}"
out = {{name(f): {{"doc": f.__doc__, "library": library_docstring(f) if KEEP else f.__doc__,
                   "capabilities": repr(sorted(c.items(), key=str))}}
        for f, c in xp_capabilities_table.items()}}
values = [float(sc.gammaln(7.5)), float(sc.betainc(2.0, 3.0, 0.4)), float(sc.ndtri(0.975)), float(sc.erfc(1.3)),
          float(scipy.stats.norm.sf(1.96)), float(scipy.stats.chi2.sf(3.2, 4))]
print(json.dumps({{"functions": out, "values": values}}))
"""


def collect(keep: bool, complete: bool = False) -> dict:
    code = COLLECT.format(keep=keep, complete=complete)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def library() -> dict:
    return collect(keep=False)


def test_the_docstrings_scipy_sets_are_the_same_string_when_asked_for(library):
    kept = collect(keep=True)
    assert kept["functions"].keys() == library["functions"].keys() and len(kept["functions"]) > 90
    for name, f in library["functions"].items():
        assert kept["functions"][name]["library"] == f["doc"], name
        # the rest of what the decorator records (the table scipy's tests read) is made as before
        assert kept["functions"][name]["capabilities"] == f["capabilities"], name
    # most of them were kept as written: the note is what is left out
    left_out = [n for n, f in kept["functions"].items() if f["doc"] != library["functions"][n]["doc"]]
    assert len(left_out) > 90
    for name in left_out:
        assert "Array API Standard Support" in library["functions"][name]["doc"]
        assert "Array API Standard Support" not in (kept["functions"][name]["doc"] or "")
    assert kept["values"] == library["values"]


def test_completed_docstrings_are_scipy_s(library):
    completed = collect(keep=True, complete=True)
    assert {n: f["doc"] for n, f in completed["functions"].items()} == \
        {n: f["doc"] for n, f in library["functions"].items()}


def test_a_docstring_decorated_twice_gets_both_notes():
    code = ("from metareview.base.library_docs import keep_docstrings, library_docstring\nkeep_docstrings()\n"
            "from scipy._lib._array_api import xp_capabilities\n"
            "def f(x):\n    '''Square.\n\n    Parameters\n    ----------\n    x : float\n        A number.\n    '''\n"
            "    return x * x\n"
            "xp_capabilities(np_only=True)(f)\nxp_capabilities(cpu_only=True)(f)\n"
            "print(repr(library_docstring(f)))\nprint(repr(f.__doc__))")
    kept = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    lines = [line for line in kept.splitlines() if line.startswith("'")]
    library = subprocess.run([sys.executable, "-c", code.replace(
        "from metareview.base.library_docs import keep_docstrings, library_docstring\nkeep_docstrings()\n", "").replace(
        "print(repr(library_docstring(f)))\n", "")], capture_output=True, text=True, check=True).stdout
    assert lines[0] == library.strip()
    assert lines[0].count("Array API Standard Support") == 2


def test_scipy_s_own_path_when_its_private_names_are_elsewhere():
    """A scipy without ``FunctionDoc`` in its array-API module (another release): nothing is replaced."""
    code = ("import sys, types\nfrom metareview.base import library_docs\n"
            "module = types.ModuleType('m')\nmodule.xp_capabilities = lambda **k: None\n"
            "library_docs._replace(module)\nassert not hasattr(module, 'FunctionDoc') and not library_docs._LIBRARY\n"
            "library_docs.keep_docstrings()\nlibrary_docs.keep_docstrings()\n"
            "from metareview.base.lazy_imports import _AfterImport\n"
            "print(sum(isinstance(f, _AfterImport) and f.name == library_docs.ARRAY_API_MODULE\n"
            "          for f in sys.meta_path))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "1"


def test_setting_up_imports_nothing_and_does_nothing_once_scipy_is_loaded():
    code = ("import sys\nfrom metareview.base.library_docs import keep_docstrings\nbefore = set(sys.modules)\n"
            "keep_docstrings()\nassert set(sys.modules) == before\n"
            "import scipy.special\nfrom scipy._lib import _array_api\n"
            "print(_array_api.FunctionDoc.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "metareview.base.library_docs"
    code = "import scipy.special\nfrom metareview.base.library_docs import keep_docstrings\nkeep_docstrings()\n" \
           "import sys\nprint(len(sys.meta_path))\nimport scipy.stats\n" \
           "from scipy._lib import _array_api\nprint(_array_api.FunctionDoc.__module__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split()[-1] == "scipy._lib._docscrape"


def test_a_decorator_that_reads_more_of_the_docstring_gets_scipy_s_own():
    """A scipy release whose decorator reads another section, or an attribute, of the ``FunctionDoc``: the
    kept docstring becomes scipy's parse of it (the notes given before included), rendered as scipy renders it."""
    code = ("from metareview.base import library_docs\nlibrary_docs.keep_docstrings()\n"
            "from scipy._lib import _array_api\n"
            "def f(x):\n    '''Square.\n\n    Parameters\n    ----------\n    x : float\n        A number.\n    '''\n"
            "    return x * x\n"
            "doc = _array_api.FunctionDoc(f)\ndoc['Notes'].append('first')\n"
            "params = [p.name for p in doc['Parameters']]\ndoc['Notes'].append('second')\n"
            "ours = str(doc)\n"
            "library = library_docs._LIBRARY[0](f)\nlibrary['Notes'].extend(['first', 'second'])\n"
            "print(params, ours == str(library), 'first' in ours and 'second' in ours, f not in library_docs._NOTES)\n"
            "other = _array_api.FunctionDoc(f)\nprint(other.__class__.__name__, type(other._parsed_data).__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0] == "['x'] True True True"
    assert out[1] == "_Kept dict"
