"""Reading analysis tables: the one reader behind ``pool``, ``check``, ``forest``, ``funnel``,
``batch`` and ``run``, so that every command reads a file the same way.

The rules:

* **Encoding** decided once per file by :mod:`metareview.tables.decoding` (UTF-8, UTF-8 with a
  byte-order mark, UTF-16 with a byte-order mark, Windows-1252; stray non-UTF-8 bytes
  repaired one by one), the decision kept in :attr:`TableFile.note`.
* **Delimiter**: tab for ``.tsv``; otherwise comma, or semicolon or tab when the header
  line has them and no comma.
* **No comment lines**: a line starting with ``#`` is a row like any other (a study may
  be called "#1 Smith").  Blank lines are skipped.
* **One cell per column**: a row with more or fewer cells than the header is an error
  naming its line (an unquoted "Smith, 2019" would otherwise shift every value after it).
* **Whole numbers** where counts are expected: :func:`check_counts`.

CSV and TSV are read with the standard library (fast start-up for the command line);
XLSX with pandas/openpyxl and Parquet with pyarrow, imported only when needed.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence

from ..base.exceptions import DataError
from .decoding import TextStream, decode

__all__ = ["SUFFIXES", "TableFile", "read_table_file", "read_table", "read_text_frame", "iter_pieces",
           "table_columns", "table_rows", "check_counts", "parse_col_maps", "COUNT_ROLES"]

SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xls")
_EXCEL = (".xlsx", ".xlsm", ".xls")
_PARQUET = (".parquet", ".pq")

#: Roles that hold counts (events and sample sizes): whole numbers only.
COUNT_ROLES = ("events", "n", "events_e", "n_e", "events_c", "n_c")


@dataclass(frozen=True)
class TableFile:
    """A table as read: columns of cells (text for CSV/TSV), the encoding chosen and a note
    when that choice is worth telling (see :mod:`metareview.tables.decoding`)."""

    path: Path
    columns: dict[str, list] = field(repr=False)
    encoding: str = "utf-8"
    note: str | None = None

    @property
    def n_rows(self) -> int:
        return len(next(iter(self.columns.values()), []))


def _read_bytes(path: Path) -> bytes:
    return _check_readable(path, read=True)


def _check_readable(path: Path, *, read: bool = False) -> bytes | None:
    """Refuse a missing, folder or unreadable path with one line; with ``read``, its bytes."""
    from ..base.outputs import os_error_message

    if not path.exists():
        raise DataError(f"file not found: {path}", rule="file exists")
    if path.is_dir():
        raise DataError(f"{path} is a folder; give the table file", rule="file exists")
    try:
        if read:
            return path.read_bytes()
        with open(path, "rb") as fh:
            fh.read(1)
        return None
    except OSError as exc:
        raise DataError(os_error_message(exc, path, "read"), rule="readable file") from None


def _delimiter(header: str, suffix: str) -> str:
    if suffix == ".tsv":
        return "\t"
    if "," in header:
        return ","
    if ";" in header:
        return ";"
    if "\t" in header:
        return "\t"
    return ","


def _header(row: list[str], path: Path) -> list[str]:
    header = [h.strip() for h in row]
    if not any(header):
        raise DataError(f"{path}: the header line is empty", rule="header row")
    empty = [i + 1 for i, h in enumerate(header) if not h]
    if empty:
        raise DataError(f"{path}: column {empty[0]} of the header has no name", rule="named columns")
    if len(set(header)) != len(header):
        dup = sorted({h for h in header if header.count(h) > 1})
        raise DataError(f"{path}: duplicate column name(s) {', '.join(dup)}", column=dup[0], rule="unique columns")
    return header


def _cell_count_error(path: Path, line_no: int, row: list[str], header: list[str]) -> DataError:
    first = row[0].strip() if row else ""
    hint = ""
    if len(row) > len(header):
        hint = "; a cell holding the delimiter (such as \"Smith, 2019\") must be quoted"
    if first.startswith("#"):
        hint += "; lines starting with # are rows, not comments: remove the line"
    return DataError(f"{path}, line {line_no}: {len(row)} cells for {len(header)} columns{hint}",
                     rule="one cell per column")


def read_table_file(path: str | Path) -> TableFile:
    """Read a CSV, TSV or XLSX study table into columns (cells as text for CSV/TSV)."""
    import io

    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in _EXCEL:
        frame = _read_excel(p)
        return TableFile(p, {str(c): frame[c].tolist() for c in frame.columns}, encoding="xlsx")
    if suffix in _PARQUET:
        frame = _read_parquet(p)
        return TableFile(p, {str(c): frame[c].tolist() for c in frame.columns}, encoding="parquet")
    decoded = decode(_read_bytes(p), name=str(p))
    header, rows = _parse(io.StringIO(decoded.text, newline=""), p)
    cols: dict[str, list] = {h: [] for h in header}
    for _, row in rows:
        for h, cell in zip(header, row):
            cols[h].append(cell.strip())
    return TableFile(p, cols, decoded.encoding, decoded.note)


def _parse(lines: Iterable[str], p: Path) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """The header of a text table and an iterator of its rows with their line numbers; blank
    lines are skipped and every row is checked to have one cell per column."""
    source = iter(lines)
    skipped = 0
    for head_line in source:
        if head_line.strip():
            break
        skipped += 1
    else:
        raise DataError(f"{p} is empty", rule="non-empty file")
    delim = _delimiter(head_line, p.suffix.lower())
    try:
        header = _header(next(csv.reader([head_line], delimiter=delim)), p)
    except csv.Error as exc:
        raise DataError(f"{p}, line {skipped + 1}: {exc}", rule="CSV syntax") from None
    width = len(header)
    reader = csv.reader(source, delimiter=delim)
    base = skipped + 1  # the header's line

    def rows() -> Iterator[tuple[int, list[str]]]:
        while True:
            line_no = base + reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise DataError(f"{p}, line {base + reader.line_num}: {exc}", rule="CSV syntax") from None
            if not row or not any(c.strip() for c in row):
                continue
            if len(row) != width:
                raise _cell_count_error(p, line_no, row, header)
            yield line_no, row

    return header, rows()


def read_table(path: str | Path) -> dict[str, list]:
    """Columns of a study table as lists (cells as text for CSV/TSV); see :func:`read_table_file`."""
    return read_table_file(path).columns


def read_text_frame(path: str | Path, *, sheet: str | int | None = None):
    """The table as a DataFrame of text cells (for the printed-table parser and the data checks);
    the encoding note, if any, is in ``frame.attrs["encoding_note"]``."""
    import pandas as pd

    p = Path(path)
    suffix = p.suffix.lower()
    if sheet is not None and suffix not in _EXCEL:
        raise DataError(f"{p.name}: sheet= applies to Excel workbooks only", rule="option")
    if suffix in _EXCEL:
        return _read_excel(p, sheet=sheet, text=True)
    if suffix not in (".csv", ".tsv", ".tab", ".txt"):
        raise DataError(f"{p.name}: unsupported file type {suffix!r}; use .csv, .tsv or .xlsx", rule="file")
    table = read_table_file(p)
    frame = pd.DataFrame({c: pd.Series(v, dtype=str) for c, v in table.columns.items()})
    frame.attrs["encoding"] = table.encoding
    frame.attrs["encoding_note"] = table.note
    return frame


def _read_excel(p: Path, *, sheet=None, text: bool = False):
    import pandas as pd

    _check_readable(p)
    try:
        if text:
            # keep_default_na=False: "N/A" or "NA" printed in a cell is text, as in the CSV reader
            frame = pd.read_excel(p, sheet_name=0 if sheet is None else sheet, dtype=str,
                                  keep_default_na=False).fillna("")
        else:
            frame = pd.read_excel(p)
    except Exception as exc:  # noqa: BLE001 - openpyxl and xlrd raise many kinds
        raise DataError(f"cannot read {p} as a spreadsheet: {' '.join(str(exc).split())}",
                        rule="readable file") from None
    if frame.shape[1] == 0:
        raise DataError(f"{p} is empty", rule="non-empty file")
    return frame


def _parquet_file(p: Path):
    import pyarrow.parquet as pq

    _check_readable(p)
    try:
        return pq.ParquetFile(p)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises ArrowInvalid, OSError, ...
        raise DataError(f"cannot read {p} as a Parquet file: {' '.join(str(exc).split())}",
                        rule="readable file") from None


def _read_parquet(p: Path):
    return _parquet_file(p).read().to_pandas()


def table_columns(path: str | Path) -> list[str]:
    """The column names of a table file, read from its header only."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in _PARQUET:
        return list(_parquet_file(p).schema_arrow.names)
    if suffix in _EXCEL:
        return [str(c) for c in _read_excel(p).columns]
    _check_readable(p)
    with TextStream(p) as stream:
        if stream.empty:
            raise DataError(f"{p} is empty", rule="non-empty file")
        header, _ = _parse(stream.file, p)
    return header


def table_rows(path: str | Path) -> int | None:
    """The number of rows when the file format stores it (Parquet), else None."""
    p = Path(path)
    if p.suffix.lower() in _PARQUET:
        return int(_parquet_file(p).metadata.num_rows)
    return None


def _text_pieces(p: Path, rows_per_piece: int, notes: list | None = None
                 ) -> Iterator[tuple[int, list[str], list[list[str]]]]:
    """(line of the first row, header, rows) of a CSV/TSV file, ``rows_per_piece`` rows at a
    time, decoded as it is read; the encoding note, if any, is appended to ``notes`` at the end."""
    with TextStream(p) as stream:
        if stream.empty:
            raise DataError(f"{p} is empty", rule="non-empty file")
        header, rows = _parse(stream.file, p)
        piece: list[list[str]] = []
        start = None
        for line_no, row in rows:
            if start is None:
                start = line_no
            piece.append(row)
            if len(piece) >= rows_per_piece:
                yield start, header, piece
                start, piece = None, []
        yield start or 0, header, piece
        if notes is not None and stream.note:
            notes.append(stream.note)


def iter_pieces(path: str | Path, rows_per_piece: int, *, columns: Sequence[str] | None = None,
                text_columns: Sequence[str] = (), counts: Sequence[str] = (), study: str | None = None,
                notes: list | None = None) -> Iterator:
    """A table file as DataFrames of ``rows_per_piece`` rows, read as it streams (for ``batch``).

    CSV/TSV cells are read by the rules of this module and converted to numbers, except the
    ``text_columns``; ``counts`` are checked to be whole numbers.  ``columns`` selects the
    columns kept.  The encoding note, if any, is appended to ``notes`` once the file is read.
    """
    import pandas as pd

    p = Path(path)
    suffix = p.suffix.lower()
    keep = list(columns) if columns is not None else None
    if suffix in _PARQUET:
        pf = _parquet_file(p)
        for rb in pf.iter_batches(batch_size=rows_per_piece, columns=keep):
            frame = rb.to_pandas()
            check_counts({c: frame[c] for c in counts if c in frame}, frame[study] if study in frame else None, p)
            yield frame
        return
    if suffix in _EXCEL:
        frame = _read_excel(p)
        frame = frame[keep] if keep else frame
        check_counts({c: frame[c] for c in counts if c in frame}, frame[study] if study in frame else None, p)
        yield frame
        return
    if suffix not in (".csv", ".tsv", ".txt"):
        raise DataError(f"{p}: unknown table format {suffix!r}; use .csv, .tsv, .parquet or .xlsx",
                        rule="table format")
    _check_readable(p)
    for start, header, rows in _text_pieces(p, rows_per_piece, notes):
        names = keep if keep is not None else header
        index = {h: i for i, h in enumerate(header)}
        by_column = list(zip(*rows)) if rows else [()] * len(header)
        data = {}
        for name in names:
            cells = by_column[index[name]]
            if name in text_columns:
                data[name] = pd.Series([c.strip() for c in cells], dtype=object)
            else:
                data[name] = _numbers(cells)
        frame = pd.DataFrame(data)
        check_counts({c: frame[c] for c in counts if c in frame},
                     frame[study] if study in frame else None, p, first_line=start)
        yield frame


def _numbers(cells: Sequence[str]):
    """A text column as floats (empty cells missing); a column of text is kept as text, for
    the pooling code to report the first cell that is not a number with its study."""
    import numpy as np
    import pandas as pd

    try:
        return np.array(cells, dtype=float)  # numpy parses the text itself: the fast path
    except ValueError:
        pass
    cells = [c.strip() for c in cells]
    try:
        return np.array([float(c) if c else np.nan for c in cells], dtype=float)
    except ValueError:
        return pd.Series(cells, dtype=object)


def check_counts(columns: Mapping[str, Iterable], labels=None, path: Path | None = None, *,
                 first_line: int | None = None) -> None:
    """Refuse a count (events, sample size) that is not a whole number, naming the study.

    Cells that are empty or not numbers at all are left to the pooling code, which reports
    them with their study."""
    import numpy as np

    for name, values in columns.items():
        arr = np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) else values
        if arr.dtype.kind in "iub":
            continue
        if arr.dtype.kind == "f":
            x = arr
        else:
            x = np.full(arr.shape, np.nan)
            for i, v in enumerate(arr):
                try:
                    x[i] = float(v)
                except (TypeError, ValueError):
                    pass
        with np.errstate(invalid="ignore"):
            bad = np.isfinite(x) & (x != np.floor(x))
        if not bad.any():
            continue
        i = int(np.argmax(bad))
        label = None
        if labels is not None:
            label = str(labels.iloc[i]) if hasattr(labels, "iloc") else str(list(labels)[i])
        where = f"{path}: " if path is not None else ""
        if label is None:
            where += f"row {i + 1}: " if first_line is None else f"the row {i + 1} from line {first_line}: "
        raise DataError(f"{where}{arr[i]!r} is not a whole number; {name} counts people or events",
                        study=label, column=name, rule="whole number")


def parse_col_maps(items: list[str] | None) -> dict[str, str]:
    """``ROLE=COLUMN`` strings from the command line as a mapping."""
    out: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            raise DataError(f"--col takes ROLE=COLUMN, not {item!r}", rule="ROLE=COLUMN")
        role, col = item.split("=", 1)
        out[role.strip()] = col.strip()
    return out

