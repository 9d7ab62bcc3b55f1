"""The ``metareview`` command line.

Each subcommand lives in its own module ``metareview.cli.cmd_<name>`` that defines
``register(app)``; modules are discovered (``_tree``) so that adding a command touches no
other file.  Command modules import their heavy dependencies inside the command
function, and a command's options are built only when it runs or shows its help, which
keeps ``metareview pool`` quick to start; ``metareview --version`` and ``metareview --help`` are
answered before typer is imported (``_root_help``).
"""

from __future__ import annotations

import importlib
import sys

from ..base.exceptions import MetaReviewError

#: Exit codes of every command (docs/exit-codes.md).
EXIT_OK = 0
EXIT_FINDINGS = 1      # metareview check: the data have errors
EXIT_USER_ERROR = 2    # bad input, a bad option, a path that cannot be read or written
EXIT_INTERNAL = 3      # anything unexpected: a bug; the traceback is saved to a file
EXIT_INTERRUPTED = 130

EXIT_CODES_HELP = ("Exit codes: 0 success; 1 findings (check found errors in the data); 2 bad input, "
                   "option or path (one-line message); 3 unexpected internal error (one line and the path "
                   "of a saved traceback); 130 interrupted.")

#: The root's help text and its ``--version``'s (``_root_help`` prints them without typer).
ABOUT = "Systematic reviews and meta-analysis, with numbers that match R meta and metafor."
ROOT_HELP = f"{ABOUT}\n\n{EXIT_CODES_HELP}"
VERSION_HELP = "Print the version of metareview and exit."

_APP = None


def _build_app(root_class=None):
    """The typer application with every ``cmd_*`` module's command declared (built on first use,
    so that ``metareview --version`` answers without importing typer); with ``root_class``, the
    root alone, of that class."""
    import typer

    from ._tree import SETTINGS, cmd_modules, registered

    def print_version(value: bool) -> None:
        if value:
            from ..base.version import __version__
            typer.echo(f"metareview {__version__}")
            raise typer.Exit()

    app = typer.Typer(name="metareview", help=ROOT_HELP, no_args_is_help=True,
                      add_completion=True, cls=root_class, **SETTINGS)

    @app.callback()
    def _root(
        version: bool = typer.Option(False, "--version", callback=print_version, is_eager=True,
                                     help=VERSION_HELP),
    ) -> None:
        """Systematic reviews and meta-analysis, with numbers that match R meta and metafor."""

    if root_class is None:
        commands = registered(cmd_modules())
        app.registered_commands, app.registered_groups = commands.registered_commands, commands.registered_groups
    return app


def __getattr__(name: str):
    global _APP
    if name == "app":
        if _APP is None:
            _APP = _build_app()
        return _APP
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def command():
    """The click command tree of ``metareview``, with conventional metavars and choices (``_help``);
    each subcommand is built when first looked up (``_tree``)."""
    import typer.main

    from ._help import dress
    from ._tree import Commands, Root

    root = typer.main.get_command(_build_app(Root))
    root.commands = Commands()
    return dress(root, subcommands=False)


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit code.

    Errors caused by input (:class:`~metareview.base.exceptions.MetaReviewError`, an OS error on
    a path the user gave, a full disk) are printed as one line on standard error with exit
    code 2, usage errors as click reports them (2).  Anything else is a bug: one line naming
    the error and the file its traceback was saved to, exit code 3.  Never a raw traceback.
    """
    args = sys.argv[1:] if argv is None else list(argv)
    if args == ["--version"]:  # answered before typer is imported
        from ..base.version import __version__
        sys.stdout.write(f"metareview {__version__}\n")
        return EXIT_OK
    if args in ([], ["--help"]):  # the commands' listing, printed before typer is imported
        from ._root_help import answers
        if answers(args):
            return _print_root_help(args)
    from ..base.collector import collector_paused
    from ..base.lazy_imports import defer_imports
    from ..base.library_docs import keep_docstrings

    defer_imports()     # what numpy and matplotlib import for nothing, loaded if ever used
    keep_docstrings()   # scipy's notes on array libraries, not appended to its docstrings at import
    # typer and the command tree: objects for the life of the process, nothing for the collector to
    # find (not frozen here: a command that forks workers, run, freezes what they inherit itself)
    with collector_paused():
        import typer
        import typer.core

    # the click that typer runs on (typer may vendor its own copy)
    click = getattr(typer.core, "_click", None) or importlib.import_module("click")
    exits = tuple({typer.Exit, getattr(click.exceptions, "Exit", typer.Exit)})
    aborts = tuple({typer.Abort, getattr(click.exceptions, "Abort", typer.Abort)})

    try:
        with collector_paused():
            root = command()
        code = root.main(args=args, prog_name="metareview", standalone_mode=False)
        if code == EXIT_INTERRUPTED:
            # typer turns Ctrl-C into an exit with this code, which click returns (not raises)
            # when it is not the one that exits the process
            _error("interrupted")
            return EXIT_INTERRUPTED
    except MetaReviewError as exc:
        _error(str(exc))
        return EXIT_USER_ERROR
    except exits as exc:
        return exc.exit_code
    except aborts:
        _error("interrupted")
        return EXIT_INTERRUPTED
    except click.exceptions.ClickException as exc:
        # a group run without a command answers with its help, on standard output (click: standard error)
        exc.show(sys.stdout if isinstance(exc, getattr(click.exceptions, "NoArgsIsHelpError", ())) else None)
        return exc.exit_code
    except SystemExit as exc:  # metareview check raises SystemExit(1) on findings
        code = exc.code
        if code is None:
            return EXIT_OK
        return code if isinstance(code, int) else EXIT_USER_ERROR
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_INTERRUPTED
    except OSError as exc:
        return _os_failure(exc)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: never a raw traceback
        import sqlite3
        if isinstance(exc, sqlite3.DatabaseError):
            message = _database_error(exc)
            if message is not None:
                _error(message)
                return EXIT_USER_ERROR
        message = _server_error(exc)
        if message is not None:
            _error(message)
            return EXIT_USER_ERROR
        return _internal(exc, _error)
    return EXIT_OK


def _print_root_help(args: list[str]) -> int:
    """Print the help of ``metareview`` (``_root_help``) as typer does: for ``--help`` exit code 0, for no
    command 2 (click's usage error); a closed pipe ends it with 1 and nothing on standard error."""
    import errno

    from ._root_help import page

    code = EXIT_OK if args else EXIT_USER_ERROR
    # without standard output, click prints a usage error's help on standard error and --help's nowhere
    stream = sys.stdout if sys.stdout is not None or args else sys.stderr
    if stream is None:
        return code
    try:
        stream.write(page(ROOT_HELP, VERSION_HELP) + "\n")
        stream.flush()
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            return _os_failure(exc)
        # what is left in the buffer goes nowhere, so that closing the stream raises nothing
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
        return 1
    return code


def _os_failure(exc: OSError) -> int:
    """The exit code of an OS error, its one-line message printed (a bug's when it is not the user's)."""
    message = _os_error(exc)
    if message is None:
        return _internal(exc, _error)
    _error(message)
    return EXIT_USER_ERROR


def _error(message: str) -> None:
    """Print an error as one line (``output.error``; imported when there is one to print)."""
    from .output import error as print_error

    print_error(message)


def _os_error(exc: OSError) -> str | None:
    """The one-line message of an OS error on a user's path, or None when it is not one."""
    import errno

    from ..base.outputs import os_error_message

    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        where = exc.filename or "the output"
        return f"the disk holding {where} is full; free some space and try again"
    if exc.filename is not None and exc.errno is not None:
        return os_error_message(exc, exc.filename, "use")
    if isinstance(exc, (BrokenPipeError,)):
        return "the output pipe was closed"
    return None


def _database_error(exc) -> str | None:
    """SQLite's errors that the store passes up unchanged: a full disk, a damaged file."""
    text = str(exc)
    if "disk is full" in text:
        return "the disk holding the review project is full (database or disk is full); nothing was saved " \
               "by the interrupted command; free some space and try again"
    if "malformed" in text or "not a database" in text or "disk I/O error" in text:
        return f"the review project file is damaged ({text}); restore it from a backup copy"
    return None


def _server_error(exc: BaseException) -> str | None:
    """A PostgreSQL server that went away or kept the project busy: one line, nothing was saved."""
    import sys
    psycopg = sys.modules.get("psycopg")  # not loaded: the error cannot be one of its
    if psycopg is None or not isinstance(exc, psycopg.Error):
        return None
    detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if isinstance(exc, psycopg.errors.LockNotAvailable):
        return f"the review project stayed busy with another writer for too long ({detail}); nothing was saved " \
               f"by the interrupted command; try again"
    if isinstance(exc, psycopg.OperationalError):
        return f"the connection to the database server was lost ({detail}); nothing was saved by the " \
               f"interrupted command; try again"
    return None


def _internal(exc: BaseException, error) -> int:
    """Save the traceback of an unexpected error to a file and say where, in one line."""
    import datetime
    import os
    import tempfile
    import traceback
    from pathlib import Path

    from ..base.version import __version__

    text = "".join(traceback.format_exception(exc))
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    saved = None
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    for folder in (Path(cache) / "metareview" / "crashes", Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"metareview-crash-{stamp}-{os.getpid()}.txt"
            path.write_text(f"metareview {__version__}\nargv: {sys.argv!r}\n\n{text}", encoding="utf-8")
            saved = path
            break
        except OSError:
            continue
    where = f"the traceback was saved to {saved}" if saved else "the traceback could not be saved"
    summary = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
    error(f"unexpected internal error ({summary}); this is a bug in metareview, please report it; {where}")
    return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
