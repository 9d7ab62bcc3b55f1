"""Records out: CSV for spreadsheets and other projects, RIS and BibTeX for reference managers.

Any set of records can be written: all of them, one per cluster of duplicates, or the
reports of the studies included at a stage (what goes into the reference manager of the
paper).  Each format is read back by its own importer without a mapping and gives the
same bibliographic fields (title, authors, year, journal, volume, issue, pages, DOI,
PMID, abstract, keywords):

* CSV also keeps the record's origin (source, batch, id, status) in columns that land
  in ``extra`` on the way back in, and the raw text of a record that could not be parsed;
* RIS (Research Information Systems, "RIS Format Specifications", 2011) writes the
  PMID in ``AN``, the record id in ``ID``, a type that is not a RIS code in ``M3``, and
  fields a RIS import kept in ``extra`` under their own tags; a line break inside a
  field becomes a space, as RIS has no way to write one;
* BibTeX escapes LaTeX's special characters (:func:`~.importers.bibtex.text_to_latex`)
  and keeps the citation key of a record that came from BibTeX.

Records that could not be parsed have no fields a reference manager could use: RIS and
BibTeX leave them out (and say how many), CSV keeps them.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from typing import Any

from ..base.exceptions import SettingsError
from ..base.outputs import spreadsheet_safe
from .dedupe import clusters
from .project import Project, parse_stage

__all__ = ["export_records", "select_records", "records_to_csv", "records_to_ris", "records_to_bibtex",
           "EXPORT_COLUMNS", "EXPORT_FORMATS"]

EXPORT_COLUMNS = ("title", "authors", "year", "journal", "volume", "issue", "pages", "doi", "pmid", "abstract",
                  "keywords", "type", "record_id", "source", "batch", "status", "problem", "primary_id", "raw")
EXPORT_FORMATS = ("csv", "ris", "bibtex")

# Reference types: the RIS code, the BibTeX entry type, and the names other formats use for them
# (EndNote XML's ref-type names, CSL types, PubMed's publication type).
_TYPES = [
    ("JOUR", "article", {"jour", "article", "journal article", "article-journal", "journal", "review",
                         "letter", "editorial", "comment", "ejour"}),
    ("CONF", "inproceedings", {"conf", "cpaper", "inproceedings", "conference", "conference paper",
                               "conference proceedings", "paper-conference", "abst", "conference abstract"}),
    ("CHAP", "incollection", {"chap", "incollection", "inbook", "book section", "chapter"}),
    ("BOOK", "book", {"book", "ebook", "edbook"}),
    ("THES", "phdthesis", {"thes", "thesis", "phdthesis", "mastersthesis", "dissertation"}),
    ("RPRT", "techreport", {"rprt", "report", "techreport"}),
    ("ELEC", "online", {"elec", "online", "webpage", "web page", "post-weblog"}),
    ("GEN", "misc", {"gen", "misc", "generic"}),
]


def _types(value: str | None) -> tuple[str, str, bool]:
    """(RIS code, BibTeX type, whether ``value`` was recognised); unknown types are journal articles."""
    key = (value or "").strip().lower()
    for ris, bibtex, names in _TYPES:
        if key in names:
            return ris, bibtex, True
    return "JOUR", "article", not key


# -- which records -----------------------------------------------------------------------------------------
def select_records(project: Project, *, included: str | None = None,
                   primaries_only: bool = False) -> list[dict[str, Any]]:
    """Records in id order: all, one per cluster (``primaries_only``), or the primary records of the
    clusters included at stage ``included`` (``"ta"``/``"ft"``)."""
    cl = clusters(project.store)
    if included is not None:
        from .screening import states
        stage = parse_stage(included)
        wanted = sorted(u for u, s in states(project, stage, cl=cl).items() if s.state == "included")
        return list(project.store.iter_records(ids=wanted))
    out = []
    for rec in project.store.iter_records():
        if primaries_only and cl.primary[rec["id"]] != rec["id"]:
            continue
        rec["primary_id"] = cl.primary[rec["id"]]
        out.append(rec)
    return out


def export_records(project: Project, *, format: str = "csv", included: str | None = None,
                   primaries_only: bool = False) -> str:
    """The selected records (see :func:`select_records`) as CSV, RIS or BibTeX text."""
    fmt = {"bib": "bibtex"}.get(format.lower(), format.lower())
    if fmt not in EXPORT_FORMATS:
        raise SettingsError(f"unknown export format {format!r}; formats are {list(EXPORT_FORMATS)}")
    records = select_records(project, included=included, primaries_only=primaries_only)
    if fmt == "csv":
        if included is not None:
            cl = clusters(project.store)
            for rec in records:
                rec["primary_id"] = cl.primary[rec["id"]]
        return records_to_csv(records)
    return records_to_ris(records) if fmt == "ris" else records_to_bibtex(records)


# -- CSV -----------------------------------------------------------------------------------------------------
def records_to_csv(records: Iterable[dict[str, Any]]) -> str:
    """Records as CSV in the columns the CSV importer reads back; lists are joined with ``"; "``."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for rec in records:
        writer.writerow({key: spreadsheet_safe(value) for key, value in {
            "title": rec["title"] or "", "authors": "; ".join(rec["authors"]), "year": rec["year"] or "",
            "journal": rec["journal"] or "", "volume": rec["volume"] or "", "issue": rec["issue"] or "",
            "pages": rec["pages"] or "", "doi": rec["doi"] or "", "pmid": rec["pmid"] or "",
            "abstract": rec["abstract"] or "", "keywords": "; ".join(rec["keywords"]), "type": rec["type"] or "",
            "record_id": rec["id"], "source": rec["source"], "batch": rec["batch_id"], "status": rec["status"],
            "problem": rec["problem"] or "", "primary_id": rec.get("primary_id", rec["id"]),
            "raw": rec["raw"] if rec["status"] == "malformed" else ""}.items()})
    return buf.getvalue()


# -- RIS -----------------------------------------------------------------------------------------------------
def _split_pages(pages: str) -> tuple[str, str | None]:
    match = re.fullmatch(r"([^-,;\s]+)-([^-,;\s]+)", pages)
    return (match.group(1), match.group(2)) if match else (pages, None)


def _one_line(value: Any) -> str:
    return " ".join(str(value).split())


def records_to_ris(records: Iterable[dict[str, Any]]) -> str:
    """Records that could be parsed, as RIS (CRLF line ends, as reference managers write it)."""
    from rispy import TAG_KEY_MAPPING

    tag_of = {name: tag for tag, name in TAG_KEY_MAPPING.items()}
    lines: list[str] = []

    def put(tag: str, value: Any) -> None:
        if value not in (None, ""):
            lines.append(f"{tag}  - {_one_line(value)}")

    for rec in records:
        if rec["status"] != "ok":
            continue
        ris_type, _, known = _types(rec["type"])
        put("TY", ris_type)
        put("TI", rec["title"])
        for author in rec["authors"]:
            put("AU", author)
        put("PY", rec["year"])
        put("T2", rec["journal"])
        put("VL", rec["volume"])
        put("IS", rec["issue"])
        if rec["pages"]:
            start, end = _split_pages(rec["pages"])
            put("SP", start)
            put("EP", end)
        put("DO", rec["doi"])
        put("AN", rec["pmid"])
        put("AB", rec["abstract"])
        for keyword in rec["keywords"]:
            put("KW", keyword)
        written = {"TY", "TI", "AU", "PY", "T2", "VL", "IS", "SP", "EP", "DO", "AB", "KW", "ID", "M3", "ER"}
        if not known:
            put("M3", rec["type"])
        for name, value in (rec.get("extra") or {}).items():
            tag = tag_of.get(name, name if re.fullmatch(r"[A-Z][A-Z0-9]", name) else None)
            if tag is None or tag in written:
                continue
            for item in value if isinstance(value, list) else [value]:
                if tag == "AN" and str(item) == (rec["pmid"] or ""):
                    continue  # written above; another accession number (WOS:...) follows the PMID
                put(tag, item)
        put("ID", rec["id"])
        lines.append("ER  - ")
        lines.append("")
    return "\r\n".join(lines) + ("\r\n" if lines else "")


# -- BibTeX --------------------------------------------------------------------------------------------------
_FIELD_NAME = re.compile(r"[a-z][a-z0-9_-]*")


def _citation_key(rec: dict[str, Any], taken: set[str]) -> str:
    from .normalize import first_author_key

    key = str((rec.get("extra") or {}).get("key") or "")
    if not re.fullmatch(r"[A-Za-z0-9_:.+/-]+", key):
        key = f"{first_author_key(rec['authors']) or 'record'}{rec['year'] or ''}"
        key = re.sub(r"[^A-Za-z0-9]", "", key) or f"record{rec['id']}"
    base, n = key, 0
    while key in taken:
        n += 1
        key = f"{base}{chr(ord('a') + n - 1) if n <= 26 else n}"
    taken.add(key)
    return key


def _name(author: str) -> str:
    from .importers.bibtex import text_to_latex

    escaped = text_to_latex(author)
    # a name that holds the word "and" would be split into two authors: keep it in one group
    return "{" + escaped + "}" if re.search(r"\sand\s", author, re.IGNORECASE) else escaped


def records_to_bibtex(records: Iterable[dict[str, Any]]) -> str:
    """Records that could be parsed, as BibTeX entries (UTF-8, LaTeX's special characters escaped)."""
    from .importers.bibtex import text_to_latex

    taken: set[str] = set()
    entries = []
    for rec in records:
        if rec["status"] != "ok":
            continue
        _, entry_type, known = _types(rec["type"])
        if rec["type"] and re.fullmatch(r"[a-z]+", rec["type"]) and "key" in (rec.get("extra") or {}):
            entry_type = rec["type"]  # the entry type the record came with
        fields: list[tuple[str, str]] = []

        def put(name: str, value: Any, fields: list[tuple[str, str]] = fields) -> None:
            if value not in (None, "", []):
                fields.append((name, text_to_latex(str(value))))

        if rec["authors"]:
            fields.append(("author", " and ".join(_name(a) for a in rec["authors"])))
        put("title", rec["title"])
        put("booktitle" if entry_type in {"inproceedings", "incollection"} else "journal", rec["journal"])
        put("year", rec["year"])
        put("volume", rec["volume"])
        put("number", rec["issue"])
        if rec["pages"]:
            start, end = _split_pages(rec["pages"])
            fields.append(("pages", text_to_latex(start) + (f"--{text_to_latex(end)}" if end else "")))
        put("doi", rec["doi"])
        put("pmid", rec["pmid"])
        put("abstract", rec["abstract"])
        if rec["keywords"]:
            put("keywords", "; ".join(rec["keywords"]))
        if not known:
            put("type", rec["type"])
        names = {name for name, _ in fields} | {"key", "issue", "journaltitle", "date", "booktitle", "journal"}
        if "key" in (rec.get("extra") or {}):  # fields a BibTeX import kept
            for name, value in rec["extra"].items():
                if name not in names and _FIELD_NAME.fullmatch(name) and isinstance(value, str):
                    put(name, value)
        body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
        entries.append(f"@{entry_type}{{{_citation_key(rec, taken)},\n{body}\n}}\n")
    return "\n".join(entries)
