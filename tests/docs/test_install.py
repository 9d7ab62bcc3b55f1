"""The tutorial from an install, not a clone: build the wheel, install it into a fresh virtual
environment in a temporary folder, and run every `metareview` command of docs/tutorial.md there, in
order, from an empty folder (the Python blocks run in-process in test_tutorial.py).

One test, run once: it costs a wheel build and a virtual environment; the commands run through the
installed console script (the first) and then in one process of the new environment.
"""

from __future__ import annotations

import json
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
    env = {**os.environ, "MPLBACKEND": "Agg", "COLUMNS": "100"}
    env.pop("METAREVIEW_PROJECT", None)
    env.pop("PYTHONPATH", None)
    page = page_parts.docs / "tutorial.md"
    steps = [(cmd.argv, cmd.expected_exit, cmd.shown_output, cmd.line)
             for block in page_parts.parse_blocks(page) for cmd in block.commands
             if cmd.argv[:1] == ["cd"] or cmd.expected_exit >= 0]
    # the first command through the installed console script; the others in one process of the new
    # environment (one interpreter start instead of fifty), in order, following the page's `cd`s
    first, rest = steps[0], steps[1:]
    assert first[0][:2] == ["metareview", "example"]
    proc = subprocess.run([str(venv / "bin" / "metareview"), *first[0][1:]], cwd=work, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    page_parts.check_shown(first[2], proc.stdout + proc.stderr, f"docs/tutorial.md:{first[3]}")
    (tmp_path / "steps.json").write_text(json.dumps([s[0] for s in rest]), encoding="utf-8")
    proc = subprocess.run([str(python), "-c", DRIVER, str(tmp_path / "steps.json"), str(tmp_path / "out.json")],
                          cwd=work, env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr
    results = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert len(results) == len(rest)
    for (argv, expected, shown, line), (code, out, err) in zip(rest, results):
        if argv[0] == "cd":
            continue
        where = f"docs/tutorial.md:{line}: `{' '.join(argv)}`"
        assert code == expected, f"{where} exited {code}\n{out}\n{err}"
        page_parts.check_shown(shown, out + "\n" + err, where)
    assert sum(1 for s in steps if s[0][0] == "metareview") >= 45
    assert (work / "mrgfus" / "analysis.csv").is_file()
    assert (work / "mrgfus" / "mrgfus-report" / "report.html").is_file()


# Runs in the new environment: each step is `cd DIR` or a metareview command line; writes
# [exit code, stdout, stderr] per step.
DRIVER = """
import contextlib, io, json, os, sys
import matplotlib
matplotlib.use("Agg")
import metareview
from metareview.cli import main
assert "site-packages" in metareview.__file__, metareview.__file__
steps = json.load(open(sys.argv[1], encoding="utf-8"))
results = []
for argv in steps:
    if argv[0] == "cd":
        os.chdir(argv[1])
        results.append([0, "", ""])
        continue
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv[1:])
    import matplotlib.pyplot as plt
    plt.close("all")
    results.append([code or 0, out.getvalue(), err.getvalue()])
json.dump(results, open(sys.argv[2], "w", encoding="utf-8"))
"""
