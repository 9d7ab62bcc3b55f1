"""base.lazy_imports.after_import: a hook called with a module once it has run, in a fresh process."""

import subprocess
import sys

import pytest

CODE = """
import sys
sys.path.insert(0, {folder!r})
from metareview.base.lazy_imports import after_import, _AfterImport
seen = []
def hook(module):
    seen.append((module.__name__, module.VALUE))
    module.VALUE = "changed"
{before}
after_import("hooked_module", hook)
after_import("hooked_module", hook)
print(sum(isinstance(f, _AfterImport) for f in sys.meta_path))
import hooked_module
import hooked_module
print(hooked_module.VALUE, seen, hooked_module.__spec__.loader.get_filename("hooked_module").endswith(".py"))
"""


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "hooked_module.py").write_text("VALUE = 'as written'\n")
    return str(tmp_path)


def run(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")


def test_the_hook_sees_the_module_once_after_it_has_run(folder):
    out = run(CODE.format(folder=folder, before=""))
    assert out[0] == "1"
    assert out[1] == "changed [('hooked_module', 'as written')] True"


def test_a_module_already_imported_is_left_alone(folder):
    out = run(CODE.format(folder=folder, before="import hooked_module"))
    assert out[0] == "0"
    assert out[1] == "as written [] True"
