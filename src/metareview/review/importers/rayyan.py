"""Screening decisions in a Rayyan export (Rayyan: Ouzzani et al., Syst Rev 2016;5:210).

Rayyan's CSV export (``articles.csv``) has one row per record with its bibliographic
columns (``key``, ``title``, ``authors``, ``journal``, ``year``, ``doi``, ``pubmed_id``,
...) and the screening in the ``notes`` column, as sections separated by `` | ``::

    RAYYAN-INCLUSION: {"Ann"=>"Included", "Bob"=>"Excluded"} | RAYYAN-EXCLUSION-REASONS: wrong population,foreign language | RAYYAN-LABELS: RCT

Each reviewer's ``Included``/``Excluded``/``Maybe`` becomes a vote; the exclusion
reasons belong to the record, not to a reviewer, so they go with every ``Excluded``
vote.  Rows with no ``RAYYAN-INCLUSION`` section (not screened) give no votes; a
section that cannot be read is an error naming its line.
"""  # noqa: E501 (the notes cell above is quoted as Rayyan writes it, on one line)

from __future__ import annotations

import re

from ...base.exceptions import DataError
from .._csv import dict_rows
from ..normalize import clean_doi, clean_pmid, parse_year
from .decisions import ToolRow, ToolVote

__all__ = ["parse_rayyan", "RAYYAN_DECISIONS"]

RAYYAN_DECISIONS = {"included": "include", "excluded": "exclude", "maybe": "maybe", "undecided": "maybe"}
_SECTION = re.compile(r"(?:^|\s*\|\s*)([A-Z][A-Z-]+):\s*")
_PAIR = re.compile(r'"((?:[^"\\]|\\.)*)"\s*=>\s*"((?:[^"\\]|\\.)*)"')


def _sections(notes: str) -> dict[str, str]:
    """``RAYYAN-INCLUSION``, ``RAYYAN-EXCLUSION-REASONS``, ... of a notes cell, by name."""
    out: dict[str, str] = {}
    matches = list(_SECTION.finditer(notes))
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(notes)
        out[m.group(1)] = notes[m.end():end].strip()
    return out


def parse_rayyan(text: str) -> list[ToolRow]:
    """The records of a Rayyan CSV export with their reviewers' votes."""
    header, rows = dict_rows(text, "Rayyan export")
    columns = {h.lower(): h for h in header}
    if "notes" not in columns or not ({"title", "doi"} & set(columns)):
        raise DataError(f"this is not a Rayyan export: it needs a 'notes' column and a 'title' or 'doi' column; "
                        f"columns are {header}", column="notes", rule="columns")

    def cell(row, name):
        key = columns.get(name)
        value = (row.get(key) or "").strip() if key else ""
        return value or None

    out = []
    for line, row in rows:
        sections = _sections(cell(row, "notes") or "")
        votes: list[ToolVote] = []
        inclusion = sections.get("RAYYAN-INCLUSION")
        if inclusion:
            pairs = _PAIR.findall(inclusion)
            if not pairs:
                raise DataError(f"line {line}: RAYYAN-INCLUSION {inclusion!r} is not a list of \"name\"=>\"decision\"",
                                column="notes", rule="rayyan")
            reasons = [r.strip() for r in (sections.get("RAYYAN-EXCLUSION-REASONS") or "").split(",") if r.strip()]
            for name, label in pairs:
                decision = RAYYAN_DECISIONS.get(label.strip().lower())
                if decision is None:
                    raise DataError(f"line {line}: {name!r} decided {label!r}; Rayyan's decisions are Included, "
                                    f"Excluded and Maybe", column="notes", rule="rayyan")
                votes.append(ToolVote(name=name.strip(), decision=decision,
                                      reasons=reasons if decision == "exclude" else []))
        out.append(ToolRow(line=line, title=cell(row, "title"), doi=clean_doi(cell(row, "doi")),
                           pmid=clean_pmid(cell(row, "pubmed_id") or cell(row, "pmid")),
                           year=parse_year(cell(row, "year")), tool_id=cell(row, "key"), votes=votes))
    return out
