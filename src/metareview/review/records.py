"""A bibliographic record as the importers hand it to the store.

Every format is parsed into this one shape; what a format has beyond it stays in
``extra`` (keyed by the field's name) and the record's text exactly as it was in the
file stays in ``raw``, so nothing a database exported is lost.  A record that could not
be parsed is still a record: ``status`` is ``"malformed"``, ``problem`` says why and
``line`` says where, and it is counted and screened like any other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Record", "ParseResult", "RECORD_FIELDS"]

# Bibliographic fields shared by every format, in the order exports list them.
RECORD_FIELDS = ("type", "title", "abstract", "authors", "year", "journal", "volume", "issue", "pages",
                 "doi", "pmid", "keywords")


@dataclass
class Record:
    """One record of an export, with the line it starts on (1-based) and its raw text."""

    line: int
    raw: str
    type: str | None = None
    title: str | None = None
    abstract: str | None = None
    authors: list[str] = field(default_factory=list)
    year: int | None = None
    journal: str | None = None
    volume: str | None = None
    issue: str | None = None
    pages: str | None = None
    doi: str | None = None
    pmid: str | None = None
    keywords: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    status: str = "ok"
    problem: str | None = None

    def mark_malformed(self, problem: str) -> None:
        """Keep the record but flag it, so it is reviewed rather than dropped."""
        self.status = "malformed"
        self.problem = problem if self.problem is None else f"{self.problem}; {problem}"


@dataclass
class ParseResult:
    """What a parser found in one file: the records (malformed ones included)."""

    format: str
    encoding: str
    records: list[Record]

    @property
    def malformed(self) -> list[Record]:
        return [r for r in self.records if r.status == "malformed"]
