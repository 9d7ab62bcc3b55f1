"""Guarding outputs: no command writes onto its own input or onto the project file."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from .exceptions import SettingsError

__all__ = ["refuse_input_as_output"]


def refuse_input_as_output(output: str | os.PathLike, inputs: Iterable[str | os.PathLike | None]) -> None:
    """Raise :class:`SettingsError` when ``output`` is one of ``inputs`` (or lies inside an input folder),
    compared by resolved path, so ``./a.csv``, ``a.csv`` and a symbolic link to it are one file."""
    target = Path(output).resolve()
    for item in inputs:
        if item is None:
            continue
        source = Path(item).resolve()
        if target == source or (source.is_dir() and source in target.parents):
            raise SettingsError(f"refusing to write {output}: it is an input of this command ({item}); "
                                f"choose another output")
