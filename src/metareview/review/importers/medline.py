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
from collections.abc import Iterator

from ..normalize import clean_doi, clean_pmid, expand_pages, parse_year
from ..records import Record
from ._text import TagValues, read_progress

__all__ = ["parse_medline", "iter_medline", "looks_like_medline"]

#: the tags read into a record's own fields; the others go to its extra fields
_KNOWN = frozenset({"PMID", "TI", "BTI", "AB", "FAU", "AU", "CN", "DP", "JT", "TA", "VI", "IP", "PG", "PT", "OT", "MH"})

_TAG = re.compile(r"^([A-Z][A-Z0-9]{1,3}) {0,3}- ?(.*)$")
_CONTINUATION = re.compile(r"^ {2,}\S")
# a field with its continuation lines, matched on a whole record at once (the tag and
# continuation patterns above, joined), with the newline before it: the record is searched with a
# newline in front, so that the search tries only the starts of lines, not every character.  A line
# is a field's (a capital letter first) or a continuation (a space first), never both, so the lines
# of a record are read one way only: the repetitions are possessive (``*+``), which match what the
# greedy ones match without keeping the places to go back to (a fifth of the time of these searches)
_FIELD = re.compile(r"\n([A-Z][A-Z0-9]{1,3}) {0,3}- ?(.*)((?:\n {2,}\S.*)*+)")
# a record made of such fields only, one after another
_ONE_FIELD = r"[A-Z][A-Z0-9]{1,3} {0,3}- ?.*(?:\n {2,}\S.*)*+"
_RECORD = re.compile(rf"{_ONE_FIELD}(?:\n{_ONE_FIELD})*+")


def looks_like_medline(lines: list[str]) -> bool:
    for line in lines[:50]:
        if line.strip():
            return line.startswith("PMID-") or bool(re.match(r"^PMID\s*-", line))
    return False


# a record's lines: a run of lines that are not blank (whitespace only), matched on the whole file
_BLOCK = re.compile(r"^[^\S\n]*\S.*(?:\n[^\S\n]*\S.*)*", re.MULTILINE)


def _blocks(text: str) -> Iterator[tuple[int, str]]:
    """Each record's first line number and its text: records are separated by blank lines, and a
    ``PMID-`` line also starts a new record when the blank line before it is missing."""
    line, counted = 1, 0
    for match in _BLOCK.finditer(text):
        line += text.count("\n", counted, match.start())
        counted = match.start()
        block = match.group()
        cut = block.find("\nPMID-")
        while cut >= 0:
            yield line, block[:cut]
            line += block.count("\n", 0, cut + 1)
            block = block[cut + 1:]
            cut = block.find("\nPMID-")
        yield line, block
        line += block.count("\n")
        counted = match.end()


def _fields(raw: str) -> TagValues | None:
    """The values of a record whose every line is a field or a continuation, grouped by tag (see
    :class:`~._text.TagValues`), with the continuation lines joined to the first by spaces; ``None``
    when some line is neither (then the lines are read one by one).  Two passes in C, one checking
    the whole record and one taking the fields, then one Python step per field that cleans its
    value as :class:`~._text.TagValues` files it under its tag."""
    if _RECORD.fullmatch(raw) is None:
        return None
    return TagValues((tag, first.strip() if not more else " ".join(
        [first.strip(), *(line.strip() for line in more[1:].split("\n"))]))
        for tag, first, more in _FIELD.findall("\n" + raw))


def _record(start: int, raw: str) -> Record:
    rec = Record(line=start, raw=raw)
    # each field as its tag and its value (the first line's value, then each continuation line)
    values = _fields(raw)
    if values is None:
        parts: list[tuple[str, list[str]]] = []
        for offset, line in enumerate(raw.split("\n")):
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
    rec.extra = {tag: (vals if len(vals) > 1 else vals[0]) for tag, vals in values.items() if tag not in _KNOWN}
    if rec.status == "ok":
        if rec.pmid is None:
            rec.mark_malformed(f"record starting on line {start} has no PMID field")
        elif not rec.title:
            rec.mark_malformed(f"record PMID {rec.pmid} (line {start}) has no title (TI)")
    return rec


def parse_medline(text: str, progress=None) -> list[Record]:
    """Records of a MEDLINE file (its text with ``\\n`` line ends, see
    :func:`~metareview.review.importers._text.unify_newlines`); malformed blocks are kept and
    flagged, never dropped.  ``progress(percent, 100)`` is told how far it has read."""
    if progress is None:
        return [_record(start, raw) for start, raw in _blocks(text)]
    return list(iter_medline(text, progress))


def iter_medline(text: str, progress=None) -> Iterator[Record]:
    """The records of :func:`parse_medline`, each as soon as it is read."""
    tick = read_progress(progress, text.count("\n") + 1)
    for start, raw in _blocks(text):
        yield _record(start, raw)
        if tick is not None:
            tick(start)
