"""The command tree of ``metareview``, each subcommand built when it is first looked up.

Building a command turns every option's declaration into a click parameter with typer's type
validators, which costs more than the rest of start-up together when done for all 66 commands and
groups.  ``metareview pool`` builds only ``pool``; the root's listing of the commands comes from their
declarations (name, help, panel) and builds none (``metareview --help`` prints a copy of it without
importing typer, ``_root_help``).  A command is found by the naming rule of
its module: ``cmd_<name>``, with the ``cmd_<name>_*`` modules that add subcommands to its group; a
command declared elsewhere is found by registering every module, so the rule speeds up the look-up
and never decides it.  ``tests/cli/test_help.py`` pins that every help text is the one of the tree
built at once.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import pkgutil
from collections.abc import MutableMapping
from typing import Any

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup
from typer.models import CommandInfo

PACKAGE = __name__.rpartition(".")[0]

#: Settings of every typer application the tree is built from: help by click's plain formatter
#: (``_help`` gives each command its whole first sentence as short help, so listings cut nothing).
SETTINGS = {"pretty_exceptions_enable": False, "rich_markup_mode": None}


def cmd_modules(name: str | None = None) -> list[str]:
    """The ``cmd_*`` modules in name order; with ``name``: those that define the command ``name``
    by the naming rule."""
    path = importlib.import_module(PACKAGE).__path__
    modules = sorted(m.name for m in pkgutil.iter_modules(path) if m.name.startswith("cmd_"))
    if name is None:
        return modules
    stem = "cmd_" + name.replace("-", "_")
    return [m for m in modules if m == stem or m.startswith(stem + "_")]


def registered(modules: list[str]) -> typer.Typer:
    """A typer application with the commands of ``modules`` declared (none built)."""
    app = typer.Typer(add_completion=False, **SETTINGS)
    for module in modules:
        importlib.import_module(f"{PACKAGE}.{module}").register(app)
    return app


def declarations(app: typer.Typer) -> dict:
    """The commands and groups declared on ``app`` by name, in typer's order (commands, then groups)."""
    named = {info.name or typer.main.get_command_name(info.callback.__name__): info
             for info in app.registered_commands}
    named.update({typer.main.solve_typer_info_defaults(info).name: info for info in app.registered_groups})
    return named


def build(name: str, info) -> Any:
    """The click command of one declaration, dressed for help and completion (``_help.dress``), its plain
    option values read without pydantic (``_values``)."""
    from ._help import dress, walk
    from ._values import plain_values

    one = typer.Typer(add_completion=False, **SETTINGS)
    if isinstance(info, CommandInfo):
        one.registered_commands = [info]
    else:
        one.registered_groups = [info]
    command = dress(typer.main.get_group(one).commands[name], ["metareview", name])
    for _, each in walk(command, name):
        plain_values(each)
    return command


def listed(name: str, info) -> TyperCommand:
    """A command as the top-level help lists it: the name, help and panel typer gives it; no options."""
    if isinstance(info, CommandInfo):
        text = inspect.getdoc(info.callback) if info.help is None else inspect.cleandoc(info.help)
        about = info
    else:
        about = typer.main.solve_typer_info_defaults(info)
        text = about.help
    from ._help import first_sentence

    return TyperCommand(name=name, help=text, short_help=about.short_help or first_sentence(text),
                        hidden=about.hidden, deprecated=about.deprecated, rich_help_panel=about.rich_help_panel)


class Commands(MutableMapping):
    """The subcommands of ``metareview`` by name, in the order of the help's listing; each built on
    first use."""

    def __init__(self) -> None:
        self._built: dict = {}
        self._declared: dict | None = None

    def declared(self) -> dict:
        if self._declared is None:
            self._declared = declarations(registered(cmd_modules()))
        return self._declared

    def __getitem__(self, name: str):
        if name not in self._built:
            info = declarations(registered(cmd_modules(name))).get(name) or self.declared().get(name)
            if info is None:
                raise KeyError(name)
            self._built[name] = build(name, info)
        return self._built[name]

    def __setitem__(self, name: str, command) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        raise TypeError("the commands of metareview are declared by their modules")

    def __iter__(self):
        return iter(self.declared())

    def __len__(self) -> int:
        return len(self.declared())

    def built(self) -> list[str]:
        """The names of the commands built so far."""
        return list(self._built)

    def listing(self) -> dict:
        """Every command for the top-level help: the built ones as they are, the others as listed."""
        return {name: self._built.get(name) or listed(name, info) for name, info in self.declared().items()}


class Root(TyperGroup):
    """The ``metareview`` group: its help lists the subcommands without building them."""

    def format_help(self, ctx, formatter) -> None:
        if not isinstance(self.commands, Commands):
            return super().format_help(ctx, formatter)
        shown = copy.copy(self)
        shown.commands = self.commands.listing()
        return TyperGroup.format_help(shown, ctx, formatter)
