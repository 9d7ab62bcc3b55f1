"""Write docs/cli.md, the command-line reference, from the commands themselves.

Run ``python docs/_ext/cli_reference.py`` after changing a command; the tests
(``tests/docs/test_cli_reference.py``) fail while the committed page differs from what this
script writes, so the page lists every command and option as they are.
"""

from __future__ import annotations

import sys
from pathlib import Path

PAGE = Path(__file__).resolve().parents[1] / "cli.md"

INTRO = """# Command-line reference

Every `metareview` command with its arguments and options, generated from the commands themselves
(`docs/_ext/cli_reference.py`; a test fails when this page is out of date). `metareview COMMAND
--help` prints the same at the terminal. Errors caused by the input are printed as one line and end
the command with exit code 2. `metareview --version` prints the version; `python -m metareview`
runs the same command line.

## Shell completion

Options with a fixed set of values (`--method-tau2`, `--measure`, `--stage`, `--layout`, ...) list
them in `--help` and complete them in the shell, as do commands and option names.
`metareview --install-completion` installs completion for the current shell (bash, zsh, fish or
PowerShell; open a new shell afterwards); `metareview --show-completion` prints the script instead,
to put where you keep such scripts. For bash, the same script comes from the environment variable
click reads:

```bash
_METAREVIEW_COMPLETE=source_bash metareview > ~/.metareview-complete.bash
echo 'source ~/.metareview-complete.bash' >> ~/.bashrc
```

(`source_zsh` and `source_fish` for the other shells.)
"""


def _cell(text: str | None) -> str:
    return " ".join((text or "").split()).replace("|", "\\\\|")


# Typer carries its own copy of click, so commands and parameters are recognised by what they have,
# not by their class.
def _is_argument(param) -> bool:
    return getattr(param, "param_type_name", "") == "argument"


def _is_group(command) -> bool:
    return hasattr(command, "list_commands")


def _context(command, name: str):
    return command.context_class(command, info_name=name)


def _names(param) -> str:
    if _is_argument(param):
        return f"`{param.name.upper()}`"
    names = list(param.opts)
    if getattr(param, "secondary_opts", None):
        names = [f"{a}/{b}" for a, b in zip(param.opts, param.secondary_opts)] + param.opts[len(param.secondary_opts):]
    return ", ".join(f"`{n}`" for n in names)


def _value(param) -> str:
    kind = getattr(param, "type", None)
    parts = []
    metavar = getattr(param, "metavar", None) or ""
    if hasattr(kind, "choices"):
        parts.append("one of " + ", ".join(f"`{c}`" for c in kind.choices))
    elif metavar.startswith("[") and "|" in metavar:  # the values metareview.cli._help lists
        parts.append("one of " + ", ".join(f"`{c}`" for c in metavar[1:-1].split("|")))
    if param.required:
        parts.append("required")
    elif getattr(param, "is_flag", False) and not getattr(param, "secondary_opts", None):
        parts.append("flag")
    else:
        default = param.default
        if callable(default) or default in (None, [], ()):
            parts.append("")
        else:
            shown = " ".join(map(str, default)) if isinstance(default, (list, tuple)) else str(default)
            if isinstance(default, bool) and getattr(param, "secondary_opts", None):
                shown = param.opts[0] if default else param.secondary_opts[0]
            parts.append(f"default `{shown}`")
    if getattr(param, "multiple", False):
        parts.append("repeatable")
    if getattr(param, "envvar", None):
        parts.append(f"or `${param.envvar}`")
    return "; ".join(p for p in parts if p)


def _commands(group, path: list[str]):
    ctx = _context(group, path[-1])
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or getattr(command, "hidden", False):
            continue
        yield path + [name], command
        if _is_group(command):
            yield from _commands(command, path + [name])


def render() -> str:
    from metareview.cli import command as cli_command

    root = cli_command()
    out = [INTRO]
    for path, command in _commands(root, ["metareview"]):
        title = " ".join(path)
        out.append(f"## `{title}`\n")
        ctx = _context(command, title)
        params = [p for p in command.params if not getattr(p, "hidden", False)]
        usage = " ".join(["[OPTIONS]"] + [p.name.upper() + ("..." if p.nargs == -1 else "")
                                          if p.required else f"[{p.name.upper()}]"
                                          for p in params if _is_argument(p)]
                         + (["COMMAND [ARGS]..."] if _is_group(command) else []))
        help_text = (command.help or "").strip()
        if help_text:
            out.append(help_text.split("\x0c")[0].strip() + "\n")
        out.append(f"```text\n{title} {usage}\n```\n")
        if _is_group(command):
            subs = [n for n in command.list_commands(ctx)]
            out.append("Commands: " + ", ".join(f"[`{n}`](#{'-'.join(path + [n])})" for n in subs) + ".\n")
        if params:
            out.append("| argument or option | value | what it does |\n| --- | --- | --- |")
            for p in params:
                out.append(f"| {_names(p)} | {_cell(_value(p))} | {_cell(getattr(p, 'help', None))} |")
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def main() -> int:
    text = render()
    if PAGE.exists() and PAGE.read_text(encoding="utf-8") == text:
        print(f"{PAGE} is up to date")
        return 0
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
