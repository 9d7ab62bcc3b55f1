"""Records out as CSV, in the columns the CSV importer reads back without a mapping.

Exporting a project's records and importing the file into another project gives the
same bibliographic fields (title, authors, year, journal, volume, issue, pages, DOI,
PMID, abstract, keywords, type); the record's origin (source, batch, id, status) goes
into columns that land in ``extra`` on the way back in, and so does the raw text of a
record that could not be parsed.
"""

from __future__ import annotations

import csv
import io

from ..outputs import spreadsheet_safe
from .dedupe import clusters
from .project import Project

__all__ = ["export_records", "EXPORT_COLUMNS"]

EXPORT_COLUMNS = ("title", "authors", "year", "journal", "volume", "issue", "pages", "doi", "pmid", "abstract",
                  "keywords", "type", "record_id", "source", "batch", "status", "problem", "primary_id", "raw")


def export_records(project: Project, *, primaries_only: bool = False) -> str:
    """All records (or one per cluster) as CSV text; lists are joined with ``"; "``."""
    cl = clusters(project.store)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for rec in project.store.iter_records():
        if primaries_only and cl.primary[rec["id"]] != rec["id"]:
            continue
        writer.writerow({key: spreadsheet_safe(value) for key, value in {
            "title": rec["title"] or "", "authors": "; ".join(rec["authors"]), "year": rec["year"] or "",
            "journal": rec["journal"] or "", "volume": rec["volume"] or "", "issue": rec["issue"] or "",
            "pages": rec["pages"] or "", "doi": rec["doi"] or "", "pmid": rec["pmid"] or "",
            "abstract": rec["abstract"] or "", "keywords": "; ".join(rec["keywords"]), "type": rec["type"] or "",
            "record_id": rec["id"], "source": rec["source"], "batch": rec["batch_id"], "status": rec["status"],
            "problem": rec["problem"] or "", "primary_id": cl.primary[rec["id"]],
            "raw": rec["raw"] if rec["status"] == "malformed" else ""}.items()})
    return buf.getvalue()
