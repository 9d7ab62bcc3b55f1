"""Shared console helpers for the command line: one place for errors, JSON and tables."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ..base.jsondoc import clean, dumps

# Escape sequences (CSI ... final byte, OSC ... BEL/ST) and single control characters other
# than tab and newline, C1 controls, and the bidirectional overrides that reorder what a
# terminal shows: text from a data file must not move the cursor, recolour or retitle the
# terminal, or disguise itself.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b.?")
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` without terminal escape sequences and control characters (tab and newline kept)."""
    return _CONTROLS.sub("", _ESCAPES.sub("", text))


def print_json(document: Any) -> None:
    sys.stdout.write(dumps(document) + "\n")



def _cell(value: Any) -> str:
    """One value as a person reads it: 4 significant digits, -- for nothing, lists joined."""
    value = clean(value)
    if value is None:
        return "--"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.4g}" if abs(value) >= 1e-4 else f"{value:.3e}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_cell(v)}" for k, v in value.items()) or "--"
    if isinstance(value, list):
        return ", ".join(_cell(v) for v in value) or "--"
    return printable(str(value))


def _label(key: str) -> str:
    return str(key).replace("_", " ")


def _table(rows: list, title: str | None = None, columns: list[str] | None = None, width: int = 80):
    from rich.table import Table
    from rich.text import Text

    columns = columns or list(dict.fromkeys(k for row in rows for k in row))
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widest = [max([len(_label(c))] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    short = [w <= _SHORT for w in widest]
    # ids, counts, codes and dates keep their width; long text shares what is left, cut with an ellipsis
    room = width - 2 * (len(columns) - 1) - sum(w for w, s in zip(widest, short) if s)
    n_long = len(columns) - sum(short)
    long_width = max(_SHORT // 2, room // n_long) if n_long else 0
    table = Table(title=title, title_justify="left", box=None, header_style="bold", pad_edge=False)
    for c, w, s in zip(columns, widest, short):
        if s:
            table.add_column(_label(c), no_wrap=True, min_width=w)
        else:
            table.add_column(_label(c), no_wrap=True, overflow="ellipsis", max_width=long_width)
    for r in cells:
        table.add_row(*(Text(v) for v in r))
    return table


_SHORT = 24  # widest cell that a table never cuts


def show(document: Any, as_json: bool = False, *, columns: list[str] | None = None) -> None:
    """Print a result for people (a short summary or a table), or with ``as_json`` the JSON document.

    The summary is drawn from the same document the JSON is, so the two never disagree: scalars
    as ``key: value`` lines, lists of records as tables (``columns``: the ones shown of a list),
    numbers to 4 significant digits.
    """
    if as_json:
        print_json(document)
        return
    from rich.console import Console
    from rich.text import Text

    console = Console(highlight=False, soft_wrap=False)
    document = clean(document)
    if isinstance(document, list):
        if not document:
            console.print("(none)")
        elif all(isinstance(r, dict) for r in document):
            console.print(_table(document, columns=columns, width=console.width))
        else:
            for item in document:
                console.print(Text(_cell(item)))
        return
    if not isinstance(document, dict):
        console.print(Text(_cell(document)))
        return
    tables = {k: v for k, v in document.items()
              if isinstance(v, list) and v and all(isinstance(r, dict) for r in v)}
    width = max((len(_label(k)) for k in document if k not in tables), default=0)
    for key, value in document.items():
        if key not in tables:
            console.print(Text(f"{_label(key) + ':':<{width + 1}} {_cell(value)}"))
    for key, rows in tables.items():
        console.print()
        console.print(_table(rows, title=_label(key), width=console.width))


def error(message: str) -> None:
    """Print an input error without a traceback."""
    from rich.console import Console
    from rich.markup import escape
    message = " ".join(printable(message).split("\n"))
    Console(stderr=True, highlight=False).print(f"[bold red]error:[/] {escape(message)}", markup=True,
                                                soft_wrap=True)


def warn(message: str) -> None:
    """Print a warning on standard error, one line, without control characters."""
    from rich.console import Console
    from rich.markup import escape
    message = " ".join(printable(message).split("\n"))
    Console(stderr=True, highlight=False).print(f"[bold yellow]warning:[/] {escape(message)}", markup=True,
                                                soft_wrap=True)


def wrote(path) -> None:
    """Announce a file (or folder) a command wrote: ``wrote PATH`` on standard error."""
    sys.stderr.write(f"wrote {printable(str(path))}\n")



@contextmanager
def stage_bars(show: bool) -> Iterator[Callable[[str, int, int], None] | None]:
    """One progress bar per stage of a long command, on standard error, or ``None`` when not ``show``.

    The callback takes ``(stage, done, total)``; a stage gets its bar the first time it is named.
    """
    if not show:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description:<16}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=False) as bar:
        tasks: dict[str, Any] = {}

        def advance(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=max(total, 1))
            # a stage with nothing to do (no links to write) is done, not stuck at 0/1
            bar.update(tasks[stage], completed=done if total else 1, total=max(total, 1))

        yield advance


def echo(text: str, *, err: bool = False, nl: bool = True) -> None:
    """Print text that may hold data (study labels, titles) with control characters removed."""
    stream = sys.stderr if err else sys.stdout
    stream.write(printable(text) + ("\n" if nl else ""))
