"""Reading search exports into records: format detection, decoding, and one parser per format.

:func:`parse_bytes` is the single entry point: it decodes the file (see
:mod:`._text`), recognises the format from its content (or the name given), and
returns every record found, malformed ones included and flagged with their line.
Input that holds no records at all raises :class:`~metareview.base.exceptions.DataError`.
:func:`open_export` does the same in two steps, the records given one by one as they are
read (an import stores the first while the rest are read, see :mod:`..aside`).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ...base.collector import collector_paused
from ...base.exceptions import DataError, SettingsError
from ..records import ParseResult, Record
from ._text import decode, unify_newlines
from .bibtex import looks_like_bibtex, parse_bibtex
from .covidence import parse_covidence
from .csljson import looks_like_csljson, parse_csljson
from .endnote_xml import looks_like_endnote_xml, parse_endnote_xml
from .medline import iter_medline, looks_like_medline
from .rayyan import parse_rayyan
from .ris import iter_ris, looks_like_ris
from .tabular import TABLE_FIELDS, iter_table
from .wos import looks_like_wos, parse_wos

__all__ = ["FORMATS", "TOOL_READERS", "Export", "open_export", "parse_bytes", "parse_file", "detect_format", "decode",
           "TABLE_FIELDS"]

FORMATS = ("medline", "ris", "wos", "bibtex", "endnote", "csljson", "csv")
_ALIASES = {"nbib": "medline", "pubmed": "medline", "tsv": "csv", "table": "csv", "ciw": "wos", "isi": "wos",
            "webofscience": "wos", "bib": "bibtex", "biblatex": "bibtex", "xml": "endnote", "endnotexml": "endnote",
            "endnote-xml": "endnote", "csl": "csljson", "csl-json": "csljson", "json": "csljson"}
# MEDLINE and RIS are read from the text with ``\n`` line ends, in C, without splitting it into lines
_TEXT_PARSERS = {"medline": iter_medline, "ris": iter_ris}
# the others take the text as decoded, its lines, the column mapping and the progress callback
_PARSERS: dict[str, Callable[..., Iterator[Record] | list[Record]]] = {
    "wos": lambda text, lines, mapping, progress: parse_wos(lines),
    "bibtex": lambda text, lines, mapping, progress: parse_bibtex(text, lines),
    "endnote": lambda text, lines, mapping, progress: parse_endnote_xml(text, lines),
    "csljson": lambda text, lines, mapping, progress: parse_csljson(text, lines),
    "csv": iter_table}
#: how many lines :func:`detect_format` reads at most (BibTeX's comments may run long)
_HEAD_LINES = 200


def _head(flat: str) -> list[str]:
    """The first :data:`_HEAD_LINES` lines, or all of them if those are blank (a table's header may
    come after many blank lines)."""
    end = -1
    for _ in range(_HEAD_LINES):
        end = flat.find("\n", end + 1)
        if end < 0:
            return flat.split("\n")
    head = flat[:end].split("\n")
    return head if any(line.strip() for line in head) else flat.split("\n")
#: Screening tools whose exports of decisions are read (see :mod:`metareview.review.tool_decisions`).
TOOL_READERS = {"rayyan": parse_rayyan, "covidence": parse_covidence}


def detect_format(lines: list[str], filename: str = "") -> str:
    """One of :data:`FORMATS`, from the first non-blank line, else the file's extension."""
    if looks_like_medline(lines):
        return "medline"
    if looks_like_ris(lines):
        return "ris"
    if looks_like_wos(lines):
        return "wos"
    if looks_like_bibtex(lines):
        return "bibtex"
    if looks_like_endnote_xml(lines):
        return "endnote"
    if looks_like_csljson(lines):
        return "csljson"
    suffix = Path(filename).suffix.lower().lstrip(".")
    if suffix in {"csv", "tsv"}:
        return "csv"
    first = next((line for line in lines if line.strip()), "")
    if first.count(",") + first.count(";") + first.count("\t") >= 2:
        return "csv"
    raise DataError(f"cannot tell the format of {filename or 'the input'}: it is not MEDLINE (starts with "
                    f"'PMID- '), RIS (starts with 'TY  - '), Web of Science plain text (starts with 'FN ' or "
                    f"'PT '), BibTeX (starts with '@'), EndNote XML, CSL-JSON or a table with a header row; "
                    f"pass --format",
                    rule="format")


class Export:
    """An export decoded and its format recognised, its records not yet read: :meth:`records` reads them."""

    def __init__(self, *, format: str, encoding: str, filename: str, text: str, flat: str,
                 mapping: dict[str, str] | None):
        self.format, self.encoding, self.filename, self.mapping = format, encoding, filename, mapping
        self._text: tuple[str, str] | None = (text, flat)

    def records(self, progress=None) -> Iterator[Record]:
        """Each record as it is read, malformed ones included (once: the export lets go of its text when
        this is called).  ``progress(percent, 100)`` is told how far the reading is (as it goes for
        MEDLINE, RIS and tables, at the end for the others).  Raises :class:`DataError` at the end if
        there was no record."""
        if self._text is None:
            raise RuntimeError("the records of an export are read once")
        text, flat = self._text
        self._text = None
        return self._read(text, flat, progress)

    def _read(self, text: str, flat: str, progress) -> Iterator[Record]:
        name = self.filename or "the input"
        found = 0
        records: Iterable[Record]
        try:
            if self.format in _TEXT_PARSERS:
                del text
                records = _TEXT_PARSERS[self.format](flat, progress)
            else:
                lines = flat.split("\n")
                del flat  # held as lines now: one copy of the text less
                records = _PARSERS[self.format](text, lines, self.mapping, progress)
            for found, record in enumerate(records, start=1):  # noqa: B007 - the count is read below
                yield record
        except RecursionError:  # pragma: no cover - defensive: parsers are iterative
            raise DataError(f"{name} is too deeply nested to read", rule="format") from None
        except csv.Error as exc:
            raise DataError(f"{name}: {exc}", rule="format") from None
        if not found:
            raise DataError(f"no {self.format} records found in {name}", rule="format")
        if progress is not None:
            progress(100, 100)


def open_export(data: bytes, *, filename: str = "", format: str | None = None,
                mapping: dict[str, str] | None = None) -> Export:
    """Decode an export held in memory and recognise its format (``format`` is one of :data:`FORMATS`, or
    detected); its records are read by :meth:`Export.records`."""
    text, encoding = decode(data, name=filename or "the input")
    flat = unify_newlines(text)
    if format is None:
        fmt = detect_format(_head(flat), filename)
    else:
        fmt = _ALIASES.get(format.lower(), format.lower())
        if fmt not in FORMATS:
            raise SettingsError(f"unknown format {format!r}; formats are {list(FORMATS)}")
    if mapping and fmt != "csv":
        raise SettingsError(f"a column mapping applies to CSV files only, but this file is {fmt}")
    return Export(format=fmt, encoding=encoding, filename=filename, text=text, flat=flat, mapping=mapping)


def parse_bytes(data: bytes, *, filename: str = "", format: str | None = None,
                mapping: dict[str, str] | None = None, progress=None) -> ParseResult:
    """Parse an export held in memory.  ``format`` is one of :data:`FORMATS` (or detected).
    ``progress(percent, 100)`` is told how far the reading is (as it goes for MEDLINE, RIS and
    tables, the largest exports; at the end for the others)."""
    export = open_export(data, filename=filename, format=format, mapping=mapping)
    with collector_paused():
        records = list(export.records(progress))
    return ParseResult(format=export.format, encoding=export.encoding, records=records)


def parse_file(path: str | Path, *, format: str | None = None,
               mapping: dict[str, str] | None = None) -> ParseResult:
    """Parse an export file; see :func:`parse_bytes`."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror}", rule="file") from None
    return parse_bytes(data, filename=path.name, format=format, mapping=mapping)
