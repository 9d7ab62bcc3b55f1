"""Screening decisions in a Covidence CSV export.

Covidence identifies each record by its ``Covidence #`` and lists the bibliographic
columns (``Title``, ``Authors``, ``Published Year``, ``DOI``, ``Accession Number``).
The screening export read here has one row per vote: ``Reviewer Name`` (Covidence writes
``Consensus`` for the decision that settled a conflict) and the vote in ``Vote`` or
``Decision`` (Covidence's ``Yes``/``No``/``Maybe``, or ``Include``/``Exclude``), with the
full-text ``Exclusion Reason`` where there is one.  A ``Consensus`` row is recorded as a
resolution; every other row is that reviewer's vote.
"""

from __future__ import annotations

import re

from ...base.exceptions import DataError
from .._csv import dict_rows
from ..normalize import clean_doi, clean_pmid, parse_year
from .decisions import ToolRow, ToolVote

__all__ = ["parse_covidence", "COVIDENCE_DECISIONS"]

COVIDENCE_DECISIONS = {"yes": "include", "include": "include", "included": "include", "no": "exclude",
                       "exclude": "exclude", "excluded": "exclude", "irrelevant": "exclude", "maybe": "maybe"}
_REVIEWER = ("reviewer name", "reviewer")
_VOTE = ("vote", "decision")
_REASON = ("exclusion reason", "reason for exclusion", "reason")


def parse_covidence(text: str) -> list[ToolRow]:
    """The votes of a Covidence screening export, one :class:`ToolRow` per row."""
    header, rows = dict_rows(text, "Covidence export")
    columns = {h.lower(): h for h in header}

    def find(names):
        return next((columns[n] for n in names if n in columns), None)

    reviewer_col, vote_col, reason_col = find(_REVIEWER), find(_VOTE), find(_REASON)
    if "covidence #" not in columns or reviewer_col is None or vote_col is None:
        raise DataError(f"this is not a Covidence screening export: it needs the columns 'Covidence #', "
                        f"'Reviewer Name' and 'Vote'; columns are {header}", column="Covidence #", rule="columns")

    def cell(row, column):
        value = (row.get(column) or "").strip() if column else ""
        return value or None

    out = []
    for line, row in rows:
        name, label = cell(row, reviewer_col), cell(row, vote_col)
        if not name and not label:
            continue
        if not name:
            raise DataError(f"line {line}: a vote without a reviewer", column=reviewer_col, rule="reviewer")
        decision = COVIDENCE_DECISIONS.get((label or "").lower())
        if decision is None:
            raise DataError(f"line {line}: vote {label!r} is not one of Covidence's Yes, No, Maybe "
                            f"(or Include, Exclude)", column=vote_col, rule="decision")
        reason = cell(row, reason_col)
        consensus = name.lower() == "consensus"
        accession = cell(row, columns.get("accession number")) or ""
        out.append(ToolRow(line=line, title=cell(row, columns.get("title")),
                           doi=clean_doi(cell(row, columns.get("doi"))),
                           pmid=clean_pmid(accession) if re.fullmatch(r"\d{5,9}", accession) else None,
                           year=parse_year(cell(row, columns.get("published year")) or cell(row, columns.get("year"))),
                           tool_id=cell(row, columns["covidence #"]),
                           votes=[ToolVote(name=name, decision=decision,
                                           reasons=[reason] if reason and decision == "exclude" else [],
                                           note=cell(row, columns.get("notes")), resolution=consensus)]))
    return out
