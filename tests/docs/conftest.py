"""Run the code of documentation pages: every ```python block and every `metareview` command.

A page is executed top to bottom in one fresh working directory that holds copies of the files
the pages read (the sample search exports, the bundled MRgFUS example, ``docs/tutorial/``):

* ```python blocks run in order in one namespace, as in a notebook; a ```text block titled
  "Output" (```text title="Output") right after one is what it prints, checked as console output is;
* ```console blocks: each line starting with ``$ metareview`` is a command (a trailing ``\\``
  continues it); the lines after it are its output as shown on the page, and each shown line
  that is not ``...`` must appear in the real output (spaces collapsed; a line ending in ``...``
  shows the beginning of a longer line);
* ```bash blocks: each line starting with ``metareview`` is a command (output not shown);
* ```sql blocks run only when the test gives the runner a database (``runner.sql``);
* a command ends with ``# exit N`` when it is meant to exit with code N (default 0).

Commands run in-process through ``metareview.cli.main``, with ``$VARIABLE``s of the environment
expanded as a shell would; ``$ cd DIR`` in a console block changes
the working directory for what follows; other shell commands (``pip``) are not run.  Blocks in other languages
(``text``, ``toml``, ``csv``, ``r``) are not run.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

FENCE = re.compile(r"^(?P<indent>[ ]*)```(?P<lang>[\w-]*)(?P<info>[^\n]*)\n(?P<body>.*?)^(?P=indent)```[ ]*$",
                   re.MULTILINE | re.DOTALL)
OUTPUT_INFO = re.compile(r'title="Output"')
EXIT = re.compile(r"#\s*exit\s+(\d+)\s*$")

# What a page may read, copied into its working directory (relative paths as in a clone).
WORKSPACE = ["tests/data/exports", "examples/mrgfus-bone-metastases", "docs/tutorial",
             "src/metareview/data/mrgfus_treatment_response.csv"]


@dataclass
class Command:
    argv: list[str]
    expected_exit: int
    shown_output: list[str] = field(default_factory=list)
    line: int = 0


@dataclass
class Block:
    lang: str
    code: str
    line: int
    commands: list[Command] = field(default_factory=list)
    shown_output: list[str] = field(default_factory=list)   # python blocks: the "Output" block after them


def _commands(lang: str, body: str, line: int) -> list[Command]:
    out: list[Command] = []
    lines = body.splitlines()
    i = 0
    while i < len(lines):
        text = lines[i]
        stripped = text.strip()
        if lang == "console":
            is_cmd = stripped.startswith("$ ")
            cmd = stripped[2:] if is_cmd else ""
        else:
            is_cmd = bool(stripped) and not stripped.startswith("#")
            cmd = stripped
        start = i
        i += 1
        if not is_cmd:
            if lang == "console" and out and stripped:
                out[-1].shown_output.append(stripped)
            continue
        while cmd.endswith("\\") and i < len(lines):
            cmd = cmd[:-1] + " " + lines[i].strip()
            i += 1
        m = EXIT.search(cmd)
        expected = int(m.group(1)) if m else 0
        argv = shlex.split(cmd, comments=True)
        if argv and argv[0] == "metareview":
            out.append(Command(argv, expected, line=line + start + 1))
        elif lang == "console":
            out.append(Command(argv, -1, line=line + start + 1))   # shown, not run (pip, cd, ...)
    return out


def parse_blocks(path: Path) -> list[Block]:
    """The runnable blocks of a Markdown page, in order."""
    text = path.read_text(encoding="utf-8")
    blocks: list[Block] = []
    previous_end = -1
    for m in FENCE.finditer(text):
        lang = m.group("lang").lower()
        indent = len(m.group("indent"))
        body = "\n".join(line[indent:] for line in m.group("body").splitlines())
        line = text.count("\n", 0, m.start()) + 1
        follows = blocks and blocks[-1].lang == "python" and not text[previous_end:m.start()].strip()
        previous_end = m.end()
        if lang == "text" and OUTPUT_INFO.search(m.group("info")):
            assert follows, f"{path.name}:{line}: an Output block must follow a python block directly"
            blocks[-1].shown_output = [s.strip() for s in body.splitlines() if s.strip()]
        elif lang in ("python", "py"):
            blocks.append(Block("python", body, line))
        elif lang == "sql":
            blocks.append(Block("sql", body, line))
        elif lang in ("console", "bash", "sh", "shell"):
            kind = "console" if lang == "console" else "bash"
            blocks.append(Block(kind, body, line, _commands(kind, body, line)))
    return blocks


def _normalise(s: str) -> str:
    return " ".join(s.split())


def check_shown(shown_lines: list[str], printed: str, what: str) -> None:
    """Each line shown on the page, other than ``...``, appears in what was printed (spaces collapsed)."""
    real = _normalise(printed)
    for shown in shown_lines:
        if shown in ("...", "…"):
            continue
        shown = shown.removesuffix("...").rstrip()   # a line cut short shows its beginning
        assert _normalise(shown) in real, f"{what} no longer prints {shown!r}; it printed:\n{printed}"


class PageRunner:
    """Runs the blocks of one page in a working directory; ``run()`` returns the namespace."""

    def __init__(self, workdir: Path, capsys):
        self.workdir = workdir
        self.capsys = capsys
        self.python_blocks = 0      # counted, so that a test can tell a page ran more than nothing
        self.commands = 0
        self.sql = None             # sql(code): runs a ```sql block, when a test gives a database to run it on

    def run(self, page: str | Path) -> dict:
        path = DOCS / page
        namespace: dict = {"__name__": "__docs__"}
        for block in parse_blocks(path):
            where = f"{path.relative_to(ROOT)}:{block.line}"
            if block.lang == "python":
                self.capsys.readouterr()
                try:
                    exec(compile(block.code, where, "exec"), namespace)
                except Exception as exc:  # pragma: no cover - reported with the block's place
                    raise AssertionError(f"python block at {where} failed: {exc!r}\n{block.code}") from exc
                finally:
                    self._close_figures()
                printed = self.capsys.readouterr().out
                check_shown(block.shown_output, printed, f"python block at {where}")
                self.python_blocks += 1
                continue
            if block.lang == "sql":
                if self.sql is not None:
                    self.sql(block.code)
                continue
            for cmd in block.commands:
                if cmd.argv[:1] == ["cd"] and len(cmd.argv) == 2:
                    os.chdir(cmd.argv[1])
                    continue
                if cmd.expected_exit < 0:
                    continue
                self.check_command(cmd, f"{path.relative_to(ROOT)}:{cmd.line}")
                self.commands += 1
        self.capsys.readouterr()
        return namespace

    def check_command(self, cmd: Command, where: str) -> None:
        from metareview.cli import main

        self.capsys.readouterr()
        code = main([os.path.expandvars(arg) for arg in cmd.argv[1:]])  # "$VAR" as a shell expands it
        out, err = self.capsys.readouterr()
        code = 0 if code is None else code
        self._close_figures()
        assert code == cmd.expected_exit, (f"{where}: `{shlex.join(cmd.argv)}` exited {code}, expected "
                                           f"{cmd.expected_exit}\n{out}\n{err}")
        check_shown(cmd.shown_output, out + "\n" + err, f"{where}: `{shlex.join(cmd.argv)}`")

    @staticmethod
    def _close_figures() -> None:
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close("all")


@pytest.fixture
def ext_script():
    """Load a page generator from docs/_ext by its name (``cli_reference``, ``estimators_table``)."""
    import importlib.util

    def load(name: str):
        spec = importlib.util.spec_from_file_location(name, DOCS / "_ext" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    return load


@pytest.fixture
def page_runner(tmp_path, monkeypatch, capsys):
    """A :class:`PageRunner` in a fresh working directory holding the files pages read."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.delenv("METAREVIEW_PROJECT", raising=False)
    import matplotlib

    matplotlib.use("Agg")
    for rel in WORKSPACE:
        src = ROOT / rel
        dst = tmp_path / rel
        if not src.exists():
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("output", "__pycache__"))
        else:
            shutil.copy2(src, dst)
    monkeypatch.chdir(tmp_path)
    return PageRunner(tmp_path, capsys)


@pytest.fixture(scope="session")
def page_parts():
    """The page parser and the output check, for tests that run a page's commands another way."""
    from types import SimpleNamespace

    return SimpleNamespace(parse_blocks=parse_blocks, check_shown=check_shown, docs=DOCS, root=ROOT)
