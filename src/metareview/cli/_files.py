"""Where the commands of risk of bias and GRADE write: one place, so that every file they write
is first checked against the files they read."""

from __future__ import annotations

from pathlib import Path

from ..exceptions import SettingsError


def refuse_inputs(output: Path, *inputs: Path | None) -> Path:
    """``output``, unless it is one of ``inputs`` (the data, a table read, the project file)."""
    target = Path(output).resolve()
    for path in inputs:
        if path is not None and Path(path).resolve() == target:
            raise SettingsError(f"{output} is an input of this command; write the output to another file")
    return Path(output)


def write_text(output: Path, text: str, *inputs: Path | None) -> None:
    refuse_inputs(output, *inputs).write_text(text, encoding="utf-8")


def write_bytes(output: Path, data: bytes, *inputs: Path | None) -> None:
    refuse_inputs(output, *inputs).write_bytes(data)
