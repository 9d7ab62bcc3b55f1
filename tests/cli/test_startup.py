"""What starting metareview imports: pinned, so that a heavy import slipping onto the start-up path
fails here rather than in a user's wait (issue: the CLI answers at once).

Each case runs in a fresh interpreter and lists the modules loaded after it ran.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SEED = Path(__file__).resolve().parents[1] / "fixtures" / "seed_tr.csv"
HEAVY = ("numpy", "scipy", "pandas", "matplotlib", "jinja2", "starlette", "uvicorn", "formulaic", "pyarrow",
         "dask", "rapidfuzz", "docx", "lxml", "argon2", "psycopg", "rich", "typer", "click", "pydantic")


def python(code: str) -> str:
    """What ``code`` prints, run in a fresh interpreter."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout


def loaded(code: str) -> list[str]:
    out = python(f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))")
    return json.loads(out.strip().splitlines()[-1])


def ours(modules):
    return [m for m in modules if m.split(".")[0] == "metareview"]


def heavy(modules):
    return sorted({m.split(".")[0] for m in modules} & set(HEAVY))


def test_import_metareview_loads_nothing_else():
    modules = loaded("import metareview")
    assert ours(modules) == ["metareview", "metareview.base", "metareview.base.version"]
    assert heavy(modules) == []


def test_version_answers_before_the_command_line_is_built():
    modules = loaded("from metareview.cli import main\nassert main(['--version']) == 0")
    assert heavy(modules) == []
    assert "metareview.cli.cmd_pool" not in modules


@pytest.mark.parametrize("args, code", [(["--help"], 0), ([], 2)])
def test_help_answers_before_typer_is_imported(args, code):
    """The commands' listing is printed from its copy (cli/_root_help.py): neither typer (nor the click it
    vendors) nor any command's module is imported."""
    modules = loaded(f"from metareview.cli import main\nassert main({args!r}) == {code}")
    assert heavy(modules) == []
    assert ours(modules) == ["metareview", "metareview.base", "metareview.base.exceptions", "metareview.base.version",
                             "metareview.cli", "metareview.cli._root_help"]


@pytest.mark.parametrize("args", [["pool", "--help"], ["review", "import", "--help"]])
def test_a_command_s_help_loads_no_validators(args):
    """typer validates the value of a flag left out (None) through pydantic: --help and the completion flags
    default to False, so that the help of a command is not kept waiting for pydantic."""
    modules = loaded(f"from metareview.cli import main\nassert main({args!r}) == 0")
    assert heavy(modules) == ["typer"]


@pytest.mark.skipif(not SEED.exists(), reason="the seed's treatment-response table is a test fixture")
def test_pool_loads_only_what_pooling_needs():
    modules = loaded(f"from metareview.cli import main\nassert main(['pool', {str(SEED)!r}]) == 0")
    # no pydantic: the options' plain values are read without typer's adapters (cli/_values.py)
    assert heavy(modules) == ["numpy", "scipy", "typer"]
    assert ours(modules) == sorted([
        "metareview", "metareview.api", "metareview.api.meta", "metareview.api.result",
        "metareview.base", "metareview.base.collector", "metareview.base.deferred", "metareview.base.dist",
        "metareview.base.exceptions",
        "metareview.base.format", "metareview.base.jsondoc", "metareview.base.lazy_imports",
        "metareview.base.library_docs", "metareview.base.outputs",
        "metareview.base.presets",
        "metareview.base.report", "metareview.base.version",
        "metareview.effectsizes", "metareview.effectsizes.escalc", "metareview.effectsizes.measures",
        "metareview.effectsizes.rules", "metareview.effectsizes.study_ci", "metareview.effectsizes.validate",
        "metareview.pooling", "metareview.pooling.heterogeneity", "metareview.pooling.inverse_variance",
        "metareview.pooling.per_analysis",
        "metareview.pooling.projection", "metareview.pooling.settings", "metareview.pooling.summary",
        "metareview.pooling.tau2",
        "metareview.pooling.values",
        "metareview.tables", "metareview.tables.arguments", "metareview.tables.decoding", "metareview.tables.io",
        "metareview.tables.selection",
        # the command line builds the one command that runs: no other command's module is loaded
        "metareview.cli", "metareview.cli._help", "metareview.cli._tree", "metareview.cli._values",
        "metareview.cli.cmd_pool", "metareview.cli.output",
    ])


@pytest.mark.skipif(not SEED.exists(), reason="the seed's treatment-response table is a test fixture")
def test_pool_sets_its_imports_aside_from_the_garbage_collector():
    """numpy, scipy.special, typer and the command tree are tens of thousands of objects that live as long
    as the process: created with the collector paused and then frozen with the core's import, so that no
    collection walks them again (before: about 120 collections, a tenth of the command's time)."""
    code = (f"import gc, sys\nfrom metareview.cli import main\ncounts = []\n"
            f"gc.callbacks.append(lambda phase, info: phase == 'start' and counts.append(info['generation']))\n"
            f"assert main(['pool', {str(SEED)!r}]) == 0\n"
            f"print('\\nFROZEN', gc.get_freeze_count(), gc.isenabled(), len(counts))")
    out = python(code)
    frozen, enabled, collections = out.rsplit("FROZEN", 1)[1].split()
    assert int(frozen) > 50_000 and enabled == "True"
    # what is left (4 young-generation collections): the analysis and its printing; typer's validators and
    # pydantic, imported while the arguments were parsed, took about 30 more
    assert int(collections) < 15


def test_the_command_line_freezes_nothing_before_a_command_asks():
    """``run`` freezes what its forked figure workers inherit, and only when nothing is frozen yet (it
    unfreezes afterwards): the command line's start-up pauses the collector but leaves freezing to the
    commands."""
    code = ("import gc\nfrom metareview.cli import main\nassert main(['pool', '--help']) == 0\n"
            "print('\\nFROZEN', gc.get_freeze_count())")
    out = python(code)
    assert out.rsplit("FROZEN", 1)[1].split() == ["0"]


def test_lasting_imports_pause_the_collector_and_freeze_only_after_new_imports():
    code = ("import gc, sys\nfrom metareview.base.collector import lasting_imports\n"
            "assert 'fractions' not in sys.modules and gc.get_freeze_count() == 0\n"
            "with lasting_imports():\n    assert not gc.isenabled()\n    import fractions\n"
            "frozen = gc.get_freeze_count()\nassert gc.isenabled() and frozen > 0\n"
            "gc.unfreeze()\nwith lasting_imports():\n    import fractions\n"
            "assert gc.get_freeze_count() == 0 and gc.isenabled()\n"
            "gc.disable()\nwith lasting_imports():\n    import decimal\nassert not gc.isenabled()\nprint('ok')")
    out = python(code)
    assert out.strip() == "ok"


@pytest.mark.skipif(not SEED.exists(), reason="the seed's treatment-response table is a test fixture")
def test_the_dataclasses_pool_makes_have_their_own_docstrings():
    """A dataclass without a docstring gets one built from ``inspect.signature`` of its fields when the class is
    made, at every start of the command line."""
    code = (f"import dataclasses, sys\nfrom metareview.cli import main\nassert main(['pool', {str(SEED)!r}]) == 0\n"
            "print('\\nBUILT', [f'{n}.{k}' for n, m in list(sys.modules.items()) if n.startswith('metareview')\n"
            "       for k, v in vars(m).items() if isinstance(v, type) and dataclasses.is_dataclass(v)\n"
            "       and v.__module__ == n and (v.__doc__ or '').startswith(v.__name__ + '(')])")
    out = python(code)
    assert out.rsplit("BUILT", 1)[1].strip() == "[]"


@pytest.mark.skipif(not SEED.exists(), reason="the seed's treatment-response table is a test fixture")
def test_pool_runs_none_of_the_modules_numpy_imports_for_nothing():
    """scipy.special's array-API layer reads every attribute of numpy, which imports numpy.f2py and
    numpy.testing (about 0.1 s): they are placed as lazy modules (base/lazy_imports.py), never run."""
    code = (f"import sys\nfrom metareview.cli import main\nassert main(['pool', {str(SEED)!r}]) == 0\n"
            "print('\\nLAZY', [type(sys.modules[n]).__name__ for n in ('numpy.f2py', 'numpy.testing')],\n"
            "      'numpy.f2py.crackfortran' in sys.modules, 'unittest' in sys.modules)")
    out = python(code)
    assert out.rsplit("LAZY", 1)[1].split() == ["['_LazyModule',", "'_LazyModule']", "False", "False"]


@pytest.mark.skipif(not SEED.exists(), reason="the seed's treatment-response table is a test fixture")
def test_pool_keeps_scipy_s_docstrings_as_written():
    """scipy.special appends a note on array libraries to 94 docstrings as it is imported, parsing and
    rendering each (a fifth of importing numpy and scipy.special): in a command's process the docstrings are
    kept as written (base/library_docs.py)."""
    code = (f"import sys\nfrom metareview.cli import main\nassert main(['pool', {str(SEED)!r}]) == 0\n"
            "from scipy._lib import _array_api\nfrom metareview.base.library_docs import _NOTES\n"
            "print('\\nKEPT', _array_api.FunctionDoc.__module__, len(_NOTES) > 90)")
    out = python(code)
    assert out.rsplit("KEPT", 1)[1].split() == ["metareview.base.library_docs", "True"]


def test_a_deferred_module_is_loaded_when_it_is_used():
    code = ("import sys\nfrom metareview.base.lazy_imports import defer_imports\ndefer_imports()\n"
            "defer_imports(['numpy.testing'])\n"
            "import numpy.testing\nassert type(numpy.testing).__name__ == '_LazyModule'\n"
            "assert 'numpy.testing._private.utils' not in sys.modules\n"
            "numpy.testing.assert_allclose(1.0, 1.0)\n"
            "assert type(numpy.testing).__name__ == 'module' and 'numpy.testing._private.utils' in sys.modules\n"
            "from numpy import f2py\nassert callable(f2py.run_main)\n"
            "print(sum(type(f).__name__ == '_Deferring' for f in sys.meta_path))")
    out = python(code)
    assert out.strip() == "1"


def test_review_import_loads_no_numerics(tmp_path):
    """Importing an export parses and stores records: numpy (about 0.15 s of each start) is loaded by
    de-duplication, which finds and compares pairs as arrays, not by the commands that only read clusters."""
    export = Path(__file__).resolve().parents[1] / "data" / "exports" / "pubmed.nbib"
    project = tmp_path / "review.mrv"
    modules = loaded(f"from metareview.cli import main\nassert main(['review', 'init', {str(project)!r}]) == 0\n"
                     f"assert main(['review', 'import', {str(export)!r}, '-p', {str(project)!r}, '--source', "
                     f"'PubMed']) == 0")
    assert "metareview.review.dedupe" in modules
    assert heavy(modules) == ["rapidfuzz", "rich", "typer"]
