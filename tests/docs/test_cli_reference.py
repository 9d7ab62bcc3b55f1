"""docs/cli.md is the command-line reference generated from the commands: it fails here when a command or
option changed and the page was not regenerated (python docs/_ext/cli_reference.py)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_cli_reference_is_up_to_date(ext_script):
    script = ext_script("cli_reference")
    page = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert page == script.render(), "docs/cli.md is stale: run python docs/_ext/cli_reference.py"


def test_cli_reference_lists_every_command_and_option(ext_script):
    from metareview.cli import command as cli_command

    script = ext_script("cli_reference")
    page = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    commands = list(script._commands(cli_command(), ["metareview"]))
    assert len(commands) >= 50
    for path, command in commands:
        section = page.split(f"## `{' '.join(path)}`\n", 1)[1].split("\n## ", 1)[0]
        for param in command.params:
            if not getattr(param, "hidden", False):
                assert script._names(param) in section, (path, param.name)
