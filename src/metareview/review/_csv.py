"""Reading CSV files people filled in (decision sheets, extraction sheets) with clear errors."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from ..base.exceptions import DataError
from ..base.outputs import from_spreadsheet

__all__ = ["dict_rows"]


def dict_rows(text: str, what: str) -> tuple[list[str], Iterator[tuple[int, dict[str, str | None]]]]:
    """The header and an iterator of ``(line, row)``; CSV syntax errors become DataErrors with the line."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    try:
        fields = [f.strip() for f in (reader.fieldnames or []) if f is not None]
    except csv.Error as exc:
        raise DataError(f"line 1 of the {what}: {exc}", rule="format") from None
    reader.fieldnames = fields or None

    def rows() -> Iterator[tuple[int, dict[str, str | None]]]:
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise DataError(f"line {reader.line_num} of the {what}: {exc}", rule="format") from None
            # cells metareview protected from spreadsheets ('=...) are read back as written
            yield reader.line_num, {k: from_spreadsheet(v) for k, v in row.items()}

    return fields, rows()
