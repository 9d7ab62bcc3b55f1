"""The ``metareview`` command line.

Each subcommand lives in its own module ``metareview.cli.cmd_<name>`` that defines
``register(app)``; modules are discovered here so that adding a command touches no
other file.  Command modules import their heavy dependencies inside the command
function, which keeps ``metareview --help`` and ``metareview pool`` quick to start.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer

from ..exceptions import MetaReviewError

app = typer.Typer(
    name="metareview",
    help="Systematic reviews and meta-analysis, with numbers that match R meta and metafor.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_commands() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("cmd_"):
            module = importlib.import_module(f"{__name__}.{info.name}")
            module.register(app)


_register_commands()


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit code.

    Errors caused by input (:class:`~metareview.exceptions.MetaReviewError`) are printed
    as one message on standard error with exit code 2, never as a traceback; usage errors
    are reported by click with its own exit code (2).
    """
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        app(args=args, prog_name="metareview", standalone_mode=True)
    except MetaReviewError as exc:
        from .output import error
        error(str(exc))
        return 2
    except SystemExit as exc:  # click's standalone mode ends every run with SystemExit
        code = exc.code
        if code is None:
            return 0
        return code if isinstance(code, int) else 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
