"""Spreadsheet exports (CSV or tab-separated), with a mapping from our fields to columns.

Scopus, Web of Science, Covidence, Rayyan and reference managers all export tables,
each with its own column names.  Common names are recognised on their own (Scopus's
"Source title", "Page start"/"Page end", "Author Keywords"; Web of Science's two-letter
``TI``/``AU``/``PY`` headers); anything else is mapped explicitly
(``{"title": "Article Title"}``).  Each row keeps its raw text and the line it starts on
(quoted fields may span lines).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

from ...base.exceptions import DataError, SettingsError
from ...base.outputs import from_spreadsheet
from ..normalize import clean_doi, clean_pmid, expand_pages, parse_year
from ..records import Record
from ._text import read_progress

__all__ = ["parse_table", "iter_table", "TABLE_FIELDS", "COLUMN_SYNONYMS"]

TABLE_FIELDS = ("title", "abstract", "authors", "year", "journal", "volume", "issue", "pages", "page_start",
                "page_end", "doi", "pmid", "keywords", "type")

COLUMN_SYNONYMS: dict[str, tuple[str, ...]] = {
    "title": ("title", "article title", "document title", "primary title", "ti"),
    "abstract": ("abstract", "ab"),
    "authors": ("authors", "author", "author full names", "author names", "au"),
    "year": ("year", "publication year", "pubyear", "py", "date"),
    "journal": ("journal", "source title", "journal/book", "publication title", "journal title", "source", "so",
                "secondary title"),
    "volume": ("volume", "vl"),
    "issue": ("issue", "number", "is"),
    "pages": ("pages", "page", "pg"),
    "page_start": ("page start", "start page", "bp"),
    "page_end": ("page end", "end page", "ep"),
    "doi": ("doi", "di"),
    "pmid": ("pmid", "pubmed id", "pubmed_id", "pm"),
    "keywords": ("keywords", "author keywords", "de"),
    "type": ("document type", "type", "publication type", "pt"),
}

# Scopus: "Smith J., Jones K.L., Brown A." (a comma after an initial separates authors)
_AFTER_INITIAL = re.compile(r"(?<=\.),\s+")
_KEYWORD_SEPARATOR = re.compile(r"[;|]")


def _delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def _split_authors(value: str) -> list[str]:
    value = value.strip()
    if not value:
        return []
    if ";" in value:
        return [a.strip() for a in value.split(";") if a.strip()]
    if "|" in value:
        return [a.strip() for a in value.split("|") if a.strip()]
    parts = _AFTER_INITIAL.split(value)
    return [a.strip() for a in parts if a.strip()]


def _split_keywords(value: str) -> list[str]:
    return [k.strip() for k in _KEYWORD_SEPARATOR.split(value) if k.strip()]


def parse_table(text: str, lines: list[str], mapping: dict[str, str] | None = None) -> list[Record]:
    """Records of a table; ``mapping`` maps our field names to the file's column names."""
    return list(iter_table(text, lines, mapping))


def iter_table(text: str, lines: list[str], mapping: dict[str, str] | None = None,
               progress=None) -> Iterator[Record]:
    """The records of :func:`parse_table`, each as soon as its row is read; ``progress(percent, 100)``
    is told how far into the lines it has read."""
    mapping = dict(mapping or {})
    unknown = sorted(set(mapping) - set(TABLE_FIELDS))
    if unknown:
        raise SettingsError(f"unknown field(s) {unknown} in the column mapping; fields are {list(TABLE_FIELDS)}")
    first = next((line for line in lines if line.strip()), "")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first))
    try:
        header = next(reader)
    except StopIteration:
        raise DataError("the table is empty (no header row)", rule="format") from None
    except csv.Error as exc:
        raise DataError(f"line 1: the header row cannot be read as CSV: {exc}", rule="format") from None
    header = [h.strip().lstrip("\ufeff") for h in header]
    index = {h.lower(): i for i, h in reversed(list(enumerate(header)))}
    columns: dict[str, int] = {}
    for fieldname, column in mapping.items():
        if column.lower() not in index:
            raise DataError(f"the mapping names column {column!r} for {fieldname!r} but the table has no such "
                            f"column; columns are {header}", column=column, rule="mapping")
        columns[fieldname] = index[column.lower()]
    for fieldname, names in COLUMN_SYNONYMS.items():
        if fieldname not in columns:
            for name in names:
                if name in index:
                    columns[fieldname] = index[name]
                    break
    if "title" not in columns and "doi" not in columns:
        raise DataError(f"no title or DOI column among {header}; map one, e.g. --map title=COLUMN",
                        column="title", rule="mapping")
    mapped = set(columns.values())
    places = list(columns.items())
    tick = read_progress(progress, len(lines))
    previous_end = reader.line_num
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise DataError(f"line {reader.line_num}: {exc}", rule="format") from None
        start, end = previous_end + 1, reader.line_num
        previous_end = end
        if not any(cell.strip() for cell in row):
            continue
        rec = Record(line=start, raw="\n".join(lines[start - 1:end]))
        if len(row) > len(header):
            rec.mark_malformed(f"line {start}: the row has {len(row)} fields but the header has {len(header)}")
        elif len(row) < len(header):
            rec.mark_malformed(f"line {start}: the row has {len(row)} fields but the header has {len(header)} "
                               f"(truncated row?)")

        # the mapped cells of the row that hold something, cleaned once (one pass, not a call per field)
        cells: dict[str, str] = {}
        width = len(row)
        for fieldname, i in places:
            if i < width:
                value = row[i].strip()
                if value[:1] == "'":  # only such a cell may be one metareview protected from spreadsheets
                    value = from_spreadsheet(value)
                if value:
                    cells[fieldname] = value
        cell = cells.get

        rec.title = cell("title")
        rec.abstract = cell("abstract")
        rec.authors = _split_authors(cell("authors") or "")
        year = cell("year")
        rec.year = parse_year(year)
        rec.journal = cell("journal")
        rec.volume = cell("volume")
        rec.issue = cell("issue")
        pages = cell("pages")
        if pages is None and cell("page_start"):
            pages = f"{cell('page_start')}-{cell('page_end')}" if cell("page_end") else cell("page_start")
        rec.pages = expand_pages(pages)
        rec.doi = clean_doi(cell("doi"))
        rec.pmid = clean_pmid(cell("pmid"))
        rec.keywords = _split_keywords(cell("keywords") or "")
        rec.type = cell("type")
        rec.extra = {header[i]: row[i] for i in range(min(len(row), len(header)))
                     if i not in mapped and row[i].strip()}
        if rec.status == "ok" and not rec.title and not rec.doi:
            rec.mark_malformed(f"line {start}: the row has neither a title nor a DOI")
        yield rec
        if tick is not None:
            tick(end)
