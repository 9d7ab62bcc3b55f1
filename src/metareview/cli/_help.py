"""What ``--help`` and shell completion show: conventional metavars, the values an option takes and
each command's one-line description.

The commands declare their options with typer; this module dresses the command tree typer builds
once, from two tables, so that every command shows the same words for the same idea: ``DATA``,
``FILE``, ``DIR``, ``PROJECT``, ``TEXT``, ``N`` instead of Python types, and the fixed values of an
option (``--method-tau2 DL|PM|REML|...``) in its help and in shell completion.

The value lists are copied here rather than imported from the registries (``tau2.TAU2_METHODS``,
``measures.MEASURES``, ...) so that ``metareview --help`` and completion do not import numpy (the
measures' table holds their formulas); ``tests/cli/test_help.py`` fails when a list here and its
registry differ (for measures: the same codes in the table's order).  Validation stays where
it is (the core checks every code case-insensitively and names the valid ones in its message), so
aliases accepted today (``ta`` for ``title_abstract``, ``cor`` for ``COR``) keep working.

The help is printed by click's plain formatter (``rich_markup_mode=None`` on every typer
application, ``_tree.SETTINGS``): rich's formatter costs more to import than the rest of
``metareview --help``.  The plain formatter cuts a command's description in a listing to the
width left beside the names; each command's short help is therefore its whole first sentence
(:func:`first_sentence`), which the listing wraps instead of cutting.  The flags a command never
sees (``--help``, the completion flags) default to False rather than None: typer validates a None
through pydantic, which a command's help does not otherwise need.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

#: ``--json`` of the review commands: today's documents, keys only ever added (docs/json-contract.md).
JSON_HELP = "Print the machine-readable JSON instead of a table (keys are only ever added)."
#: ``--quiet``: the one name for "no progress lines or bars" (``--no-progress`` kept as a hidden alias).
QUIET_HELP = "No progress lines or bars on standard error."

#: The codes of the table of tau² estimators (``pooling/tau2.py``), in its order.
TAU2 = ("DL", "PM", "REML", "ML", "HS", "SJ", "HE", "EB", "PMM", "HSk", "DLIT", "SJIT", "GENQ")
MEASURES = ("PR", "PLO", "PLN", "PAS", "PFT", "MN", "MNLN", "MD", "SMD", "SMDH", "ROM", "MC", "SMCC", "SMCR",
            "SMCRH", "ROMC", "CVR", "VR", "OR", "RR", "RD", "IR", "IRLN", "IRS", "IRFT", "IRR", "IRD", "IRSD",
            "COR", "UCOR", "ZCOR", "PCOR", "ZPCOR", "SPCOR", "GEN")
METHODS = ("Inverse", "GLMM", "MH", "Peto")
MODELS_GLMM = ("UM.FS", "UM.RS", "CM.AL", "CM.EL")
RANDOM_CI = ("wald", "hk")
PREDICTION = ("t", "v", "z", "none")
ADHOC_HAKN = ("none", "se", "ci")
I2 = ("q", "tau2")
PRESETS = ("revman5", "jama", "meta4", "meta8")
LAYOUTS = ("meta", "revman5", "jama")
STAGES = ("title_abstract", "full_text")
ROLES = ("owner", "reviewer", "adjudicator")
DECISIONS = ("include", "exclude", "maybe")
SOURCE_KINDS = ("database", "register", "other")

#: Option -> the values it takes.  A key "COMMAND PATH --option" applies to that command only and
#: wins over the bare "--option".
CHOICES: dict[str, tuple[str, ...]] = {
    "--method-tau2": TAU2,
    "--measure": MEASURES,
    "--method": METHODS,
    "--model-glmm": MODELS_GLMM,
    "--random-ci": RANDOM_CI,
    "--prediction": PREDICTION,
    "--adhoc-hakn": ADHOC_HAKN,
    "--i2": I2,
    "--preset": PRESETS,
    "--layout": LAYOUTS,
    "--stage": STAGES,
    "--included": STAGES,
    "--role": ROLES,
    "--decision": DECISIONS,
    "--kind": SOURCE_KINDS,
    "batch --prediction": ("t", "z", "none"),
    "rob plot --type": ("traffic-light", "summary"),
    "prisma --format": ("png", "svg", "pdf"),
    "review import --format": ("medline", "ris", "wos", "bibtex", "endnote", "csljson", "csv"),
    "review export-records --format": ("csv", "ris", "bibtex"),
    "review prisma --format": ("json", "toml", "prisma2020"),
}

#: Parameter name -> metavar, for values that are not codes.
METAVARS = {
    "data": "DATA", "project": "PROJECT", "directory": "DIR", "out": "DIR", "out_alias": "DIR", "dest": "DIR",
    "col": "ROLE=COLUMN", "map_": "FIELD=COLUMN", "set_": "NAME=VALUE",
}
_BY_TYPE = {"path": "FILE", "str": "TEXT", "int": "N", "float": "NUMBER"}


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def first_sentence(text: str | None) -> str:
    """The first sentence of a help text, whole, on one line: what a listing of commands shows."""
    paragraph = (text or "").strip().split("\n\n")[0]
    return _SENTENCE_END.split(" ".join(paragraph.split()), maxsplit=1)[0]


def _walk(command, path: list[str]) -> Iterator[tuple[list[str], Any]]:
    yield path, command
    if hasattr(command, "list_commands"):
        ctx = command.context_class(command, info_name=path[-1])
        for name in command.list_commands(ctx):
            yield from _walk(command.get_command(ctx, name), [*path, name])


def walk(command, name: str = "metareview") -> Iterator[tuple[list[str], Any]]:
    """Every command of the tree below ``command`` (groups included) with its path of names."""
    return _walk(command, [name])


def choices_of(path: list[str], param) -> tuple[str, ...] | None:
    """The fixed values of ``param`` in the command at ``path`` (names after the program's)."""
    where = " ".join(path[1:])
    for flag in param.opts:
        if f"{where} {flag}" in CHOICES:
            return CHOICES[f"{where} {flag}"]
    for flag in param.opts:
        if flag in CHOICES:
            return CHOICES[flag]
    return None


def _metavar(param) -> str:
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return ""
    if param.name in METAVARS:
        return METAVARS[param.name]
    if _is_argument(param):
        return param.name.upper()
    desc = getattr(param, "type_descriptor", None)
    annotation = getattr(desc, "annotation", None)
    name = getattr(annotation, "__name__", "") if annotation is not None else ""
    if getattr(desc, "is_path", False):
        return "FILE"
    if getattr(desc, "is_list", False):
        from typing import get_args
        args = get_args(annotation)
        name = getattr(args[0], "__name__", "") if args else "str"
    return _BY_TYPE.get(name, "TEXT")


def _is_argument(param) -> bool:
    return getattr(param, "param_type_name", "") == "argument"


def _usage_name(param):
    # click's convention: NAME for a required argument, [NAME] for an optional one (typer writes {name})
    def usage() -> str:
        name = param.metavar if param.required else f"[{param.metavar}]"
        return name + ("..." if param.nargs != 1 else "")
    return usage


def _completer(values: tuple[str, ...]):
    def complete(ctx, param, incomplete: str) -> list[str]:
        return [v for v in values if v.lower().startswith(incomplete.lower())]
    return complete


def dress(command, path: list[str] | None = None, *, subcommands: bool = True) -> Any:
    """Give every command of the tree at ``path`` (default: the program's) its first sentence as
    short help, and every parameter a conventional metavar and its values in help and completion;
    with ``subcommands=False``, ``command`` alone."""
    top = path or ["metareview"]
    for path, cmd in (_walk(command, top) if subcommands else [(top, command)]):
        cmd.short_help = cmd.short_help or first_sentence(cmd.help)
        ctx = cmd.context_class(cmd, info_name=path[-1])
        for param in cmd.get_params(ctx):  # with the help option, which click makes here and keeps
            if getattr(param, "is_flag", False) and not param.expose_value and param.default is None:
                # --help, --install-completion: typer validates a None through pydantic (which a group's
                # command line would load to answer `metareview pool --help`) and passes a bool as it is
                param.default = False
            values = choices_of(path, param)
            if values is not None:
                param._custom_shell_complete = _completer(values)
                if len("|".join(values)) > _WIDTH:
                    # a long list goes into the help text, not the metavar column
                    param.metavar = _LONG_LISTS.get(param.name, param.name.strip("_").upper())
                    if not all(v in (param.help or "") for v in values):
                        param.help = f"{param.help or ''} Values: {', '.join(values)}.".strip()
                else:
                    param.metavar = "[" + "|".join(values) + "]"
            elif param.metavar is None:
                param.metavar = _metavar(param)
            if _is_argument(param):
                # the name column already names an argument; its type column would repeat typer's <path>
                param.display_type_rich = lambda ctx=None: None
                param._usage_display_name = _usage_name(param)
    return command


_WIDTH = 20  # longer value lists are given in the help text
_LONG_LISTS = {"method_tau2": "CODE", "model_glmm": "MODEL"}
