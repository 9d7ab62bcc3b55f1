"""The command tree built command by command (``cli/_tree.py``): the same help, options and errors
as the tree built at once, and only the command that runs is built."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys

import typer.main

from metareview.cli import command, main
from metareview.cli._help import dress, walk


def _help_text(run, args: list[str]) -> str:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run(args)
    return f"{code}\n{out.getvalue()}\n{err.getvalue()}"


def _at_once(args: list[str]) -> int:
    """Run ``args`` as ``main`` does, on the tree built at once (every command, as typer builds an
    application)."""
    import metareview.cli as cli

    tree = dress(typer.main.get_command(cli.app))
    built_lazily = cli.command
    cli.command = lambda: tree
    try:
        return main(args)
    finally:
        cli.command = built_lazily


def test_every_help_text_is_the_one_of_the_tree_built_at_once(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    from metareview.cli import app

    at_once = dress(typer.main.get_command(app))
    paths = [path for path, _ in walk(at_once)]
    assert len(paths) >= 60
    assert paths == [path for path, _ in walk(command())]
    for path in paths:
        args = [*path[1:], "--help"]
        assert _help_text(main, args) == _help_text(_at_once, args), path


def test_unknown_commands_are_reported_as_before():
    for args in (["poo"], ["review", "scren"], []):
        assert _help_text(main, args) == _help_text(_at_once, args), args
    assert "Did you mean 'pool'?" in _help_text(main, ["poo"])


def test_top_level_help_builds_no_command():
    root = command()
    text = root.get_help(root.context_class(root, info_name="metareview"))
    assert "pool" in text and "Pool the studies of DATA" in text and "review" in text
    assert root.commands.built() == []


def test_a_command_builds_alone():
    root = command()
    assert [o for p in root.commands["pool"].params for o in p.opts if o == "--method-tau2"]
    assert root.commands.built() == ["pool"]
    assert root.commands.get("no-such-command") is None
    assert list(root.commands)[:2] == ["batch", "check"]  # the listing's order: typer's


def test_a_group_gets_the_subcommands_other_modules_add():
    """``review rob`` is declared by cmd_review_rob, found by the naming rule in a new interpreter."""
    code = ("import sys\nfrom metareview.cli import main\n"
            "sys.exit(main(['review', 'rob', '--help']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "Usage: metareview review rob" in done.stdout
