"""The tutorial from an install, not a clone: build the wheel, install it into a fresh virtual
environment in a temporary folder, and run every `metareview` command of docs/tutorial.md there, in
order, from an empty folder (the Python blocks run in-process in test_tutorial.py).

One test, run once: it costs a wheel build, a virtual environment and some fifty process starts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.install


def _have(*modules: str) -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in modules)


def _run(argv, **kw):
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=600, **kw)
    assert proc.returncode == 0, f"{' '.join(map(str, argv))} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def test_tutorial_commands_run_from_an_installed_wheel(tmp_path, page_parts):
    root = page_parts.root
    # build from a copy of the sources, so the build leaves nothing in the working tree
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(root / name, source / name)
    shutil.copytree(root / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    wheels = tmp_path / "wheels"
    # offline when the build backend is at hand; otherwise pip fetches it into an isolated build
    local = ["--no-build-isolation", "--no-index"] if _have("setuptools", "wheel") else []
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", *local, "-q", "-w", str(wheels), str(source)])
    (wheel,) = wheels.glob("metareview-*.whl")
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)])
    python = venv / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)])
    where = _run([str(python), "-c", "import metareview; print(metareview.__file__)"], cwd=tmp_path).stdout
    assert str(venv) in where, f"metareview was not imported from the new environment: {where}"

    work = tmp_path / "work"
    work.mkdir()
    cwd = work
    env = {**os.environ, "MPLBACKEND": "Agg", "COLUMNS": "100", "PATH": f"{venv / 'bin'}{os.pathsep}"
           f"{os.environ.get('PATH', '')}"}
    env.pop("METAREVIEW_PROJECT", None)
    env.pop("PYTHONPATH", None)
    n = 0
    page = page_parts.docs / "tutorial.md"
    for block in page_parts.parse_blocks(page):
        for cmd in block.commands:
            if cmd.argv[:1] == ["cd"]:
                cwd = cwd / cmd.argv[1]
                continue
            if cmd.expected_exit < 0:
                continue
            proc = subprocess.run([str(venv / "bin" / "metareview"), *cmd.argv[1:]], cwd=cwd, env=env,
                                  capture_output=True, text=True, timeout=600)
            where = f"docs/tutorial.md:{cmd.line}: `{' '.join(cmd.argv)}`"
            assert proc.returncode == cmd.expected_exit, f"{where} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
            page_parts.check_shown(cmd.shown_output, proc.stdout + "\n" + proc.stderr, where)
            n += 1
    assert n >= 45
    assert (work / "mrgfus" / "analysis.csv").is_file()
    assert (work / "mrgfus" / "mrgfus-report" / "report.html").is_file()
