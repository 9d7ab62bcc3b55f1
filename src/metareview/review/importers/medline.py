"""PubMed's MEDLINE format (``.nbib``, "Save > Format: PubMed").

Each field is a tag padded to four characters, a hyphen and a space
(``TI  - ``, ``PMID- ``), with continuation lines indented by six spaces; records
are separated by blank lines and start with ``PMID-``.  Quirks handled: DOIs live in
``LID``/``AID`` with a ``[doi]`` suffix next to ``[pii]`` entries, page ranges are
abbreviated (``1021-9``), translated titles are in square brackets, and dates read
``2019 Mar-Apr``.  Field definitions: NLM, "MEDLINE/PubMed Data Element (Field)
Descriptions".
"""

from __future__ import annotations

import re

from ._text import TagValues
from ..normalize import clean_doi, clean_pmid, expand_pages, parse_year
from ..records import Record

__all__ = ["parse_medline", "looks_like_medline"]

_TAG = re.compile(r"^([A-Z][A-Z0-9]{1,3}) {0,3}- ?(.*)$")
_CONTINUATION = re.compile(r"^ {2,}\S")
# a field with its continuation lines, matched on a whole record at once (the tag and
# continuation patterns above, joined)
_FIELD = re.compile(r"^([A-Z][A-Z0-9]{1,3}) {0,3}- ?(.*)((?:\n {2,}\S.*)*)", re.MULTILINE)


def looks_like_medline(lines: list[str]) -> bool:
    for line in lines[:50]:
        if line.strip():
            return line.startswith("PMID-") or bool(re.match(r"^PMID\s*-", line))
    return False


def _blocks(lines: list[str]) -> list[tuple[int, list[str]]]:
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 0
    for number, line in enumerate(lines, start=1):
        if line.strip() == "":
            if current:
                blocks.append((start, current))
                current = []
            continue
        if line.startswith("PMID-") and current:
            # a missing blank line still starts a new record at PMID
            blocks.append((start, current))
            current = []
        if not current:
            start = number
        current.append(line)
    if current:
        blocks.append((start, current))
    return blocks


def _fields(raw: str) -> list[tuple[str, list[str]]] | None:
    """The fields of a record whose every line is a field or a continuation, in one pass of
    :data:`_FIELD`; ``None`` when some line is neither (then the lines are read one by one)."""
    parts: list[tuple[str, list[str]]] = []
    end = -1
    for match in _FIELD.finditer(raw):
        if match.start() != end + 1:
            return None
        end = match.end()
        more = match.group(3)
        pieces = [match.group(2).strip()]
        if more:
            pieces.extend(line.strip() for line in more[1:].split("\n"))
        parts.append((match.group(1), pieces))
    return parts if end == len(raw) else None


def _record(start: int, block: list[str]) -> Record:
    rec = Record(line=start, raw="\n".join(block))
    # each field as its tag and its pieces (the first line's value, then each continuation line)
    parts = _fields(rec.raw)
    if parts is None:
        parts = []
        for offset, line in enumerate(block):
            match = None if line[:1] == " " else _TAG.match(line)
            if match:
                parts.append((match.group(1), [match.group(2).strip()]))
            elif parts and _CONTINUATION.match(line):
                parts[-1][1].append(line.strip())
            else:
                rec.mark_malformed(f"line {start + offset} is neither a MEDLINE field nor a continuation: "
                                   f"{line[:60]!r}")
    values = TagValues((tag, pieces[0] if len(pieces) == 1 else " ".join(pieces)) for tag, pieces in parts)
    one = values.first

    rec.pmid = clean_pmid(one("PMID"))
    title = one("TI") or one("BTI")
    rec.title = title
    rec.abstract = one("AB")
    rec.authors = values.get("FAU") or values.get("AU") or []
    if not rec.authors and values.get("CN"):
        rec.authors = list(values["CN"])
    rec.year = parse_year(one("DP") or one("DEP") or one("EDAT"))
    rec.journal = one("JT") or one("TA")
    rec.volume = one("VI")
    rec.issue = one("IP")
    rec.pages = expand_pages(one("PG"))
    for tag in ("LID", "AID"):
        for value in values.get(tag, []):
            if value.endswith("[doi]") and rec.doi is None:
                rec.doi = clean_doi(value[:-5])
    pub_types = values.get("PT", [])
    rec.type = pub_types[0] if pub_types else None
    rec.keywords = values.get("OT", []) + values.get("MH", [])
    known = {"PMID", "TI", "BTI", "AB", "FAU", "AU", "CN", "DP", "JT", "TA", "VI", "IP", "PG", "PT", "OT", "MH"}
    rec.extra = {tag: (vals if len(vals) > 1 else vals[0]) for tag, vals in values.items() if tag not in known}
    if rec.status == "ok":
        if rec.pmid is None:
            rec.mark_malformed(f"record starting on line {start} has no PMID field")
        elif not rec.title:
            rec.mark_malformed(f"record PMID {rec.pmid} (line {start}) has no title (TI)")
    return rec


def parse_medline(lines: list[str]) -> list[Record]:
    """Records of a MEDLINE file; malformed blocks are kept and flagged, never dropped."""
    return [_record(start, block) for start, block in _blocks(lines)]
