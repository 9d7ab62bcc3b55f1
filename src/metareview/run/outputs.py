"""Writing a review run: results.json, report.html, figures and CSV tables.

Everything is computed before the folder is touched; the folder is written by
:func:`metareview.base.outputs.write_folder`, so a failed run never leaves half an output,
an existing folder is replaced only when asked (``force``) and only when metareview
wrote it, and no input of the run (the plan, its data) can be inside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from ..base.exceptions import OutputError
from ..base.outputs import check_folder, write_folder

__all__ = ["OutputExistsError", "check_target", "write_output"]


class OutputExistsError(OutputError):
    """The output folder exists and overwriting it was not asked for (or is not allowed)."""


def check_target(out: Path, force: bool, inputs: Iterable[Path] = ()) -> None:
    """Stop before any work when ``out`` exists and may not be replaced."""
    try:
        check_folder(out, inputs, force=force)
    except OutputError as exc:
        raise OutputExistsError(str(exc)) from None


def write_output(out: Path, files: dict[str, bytes], force: bool, inputs: Iterable[Path] = ()) -> list[Path]:
    """Write ``files`` (relative path -> bytes) as the folder ``out``; return the paths written."""
    inputs = list(inputs)
    check_target(out, force, inputs)
    return write_folder(out, files, inputs=inputs, force=force, command="run")
