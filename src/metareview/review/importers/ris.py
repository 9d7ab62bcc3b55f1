"""RIS, as exported by Embase, Scopus, Web of Science, EndNote and most reference managers.

A record runs from ``TY  - `` to ``ER  - ``; each line is a two-character tag, two
spaces, a hyphen and a space.  Exporters bend this in known ways, all read here:

* Embase (Embase.com and Ovid) writes the abstract in ``N2``, the year as ``2020//``,
  authors as ``A1``, the journal as ``JF``/``T2``, and untagged lines such as
  "Link to the Ovid Full Text or citation:" followed by a bare URL; untagged lines
  are read as continuations of the field above.
* Scopus starts the file with a byte-order mark, writes the PubMed id in ``C2`` and
  puts "Export Date" and citation counts in ``N1``.
* Web of Science writes its accession number in ``AN`` (``WOS:...``); PubMed-derived
  EndNote exports put the PMID there.
* EndNote writes ``Y1  - 2019/01/01/`` and may prefix DOIs with ``doi:`` or a resolver URL.

Tag names beyond the common fields come from :data:`rispy.TAG_KEY_MAPPING`, so
``extra`` uses the names other Python tools know.  The tag list follows the RIS
specification (Research Information Systems, "RIS Format Specifications", 2011).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache

from ..normalize import clean_doi, clean_pmid, expand_pages, parse_year
from ..records import Record
from ._text import TagValues, read_progress

__all__ = ["parse_ris", "iter_ris", "looks_like_ris"]

#: the tags read into a record's own fields; the others go to its extra fields
_KNOWN = frozenset({"TY", "TI", "T1", "AB", "N2", "AU", "A1", "PY", "Y1", "VL", "IS", "SP", "EP", "DO", "KW"})

_TAG = re.compile(r"^([A-Z][A-Z0-9]) {1,2}-(?: (.*))?$")
_TAGS = re.compile(_TAG.pattern, re.MULTILINE)  # the tagged lines of a whole record, in one pass
# the same with the newline before each: a search then tries only the starts of lines, not every
# character (a record is searched with a newline in front)
_NEWLINE_TAGS = re.compile(r"\n([A-Z][A-Z0-9]) {1,2}-(?: (.*))?(?=\n|\Z)")
# the lines that open and close a record: the first line of the text, then any line after a newline
_BOUNDARY = re.compile(r"(TY|ER) {1,2}-(?: .*)?(?=\n|\Z)")
_NEWLINE_BOUNDARY = re.compile(r"\n(TY|ER) {1,2}-(?: .*)?(?=\n|\Z)")
_NOT_BLANK = re.compile(r"^[^\S\n]*\S", re.MULTILINE)
_LINE_BOM = re.compile(r"^\ufeff+", re.MULTILINE)
_ACCESSION_PMID = re.compile(r"\d{6,9}")  # an accession number that is a PMID
_PMID_NOTE = re.compile(r"PMID:?\s*(\d{5,9})", re.IGNORECASE)


def looks_like_ris(lines: list[str]) -> bool:
    for line in lines[:50]:
        if line.strip():
            match = _TAG.match(line.strip("\ufeff"))
            return bool(match) and match.group(1) == "TY"
    return False


@cache
def _tag_name(tag: str) -> str:
    from rispy import TAG_KEY_MAPPING  # names other RIS tools use for the same tag
    return TAG_KEY_MAPPING.get(tag, tag)


def _record(start: int, raw: str, *, terminated: bool) -> Record:
    rec = Record(line=start, raw=raw)
    # each field as its tag and its value (the tagged line's value, then each untagged line after
    # it); lines before the first tag belong to no field.  split() gives, after the text before
    # the first tag, the tag, the tagged line's value and the text up to the next tag, in C
    split = _NEWLINE_TAGS.split("\n" + raw)
    fields: list[tuple[str, str]] = []
    for at in range(1, len(split), 3):
        value, between = (split[at + 1] or "").strip(), split[at + 2]
        if between.strip():
            value = " ".join([value, *(line.strip() for line in between.split("\n") if line.strip())]).strip()
        fields.append((split[at], value))
    values = TagValues(fields, skip=("ER",))
    one = values.first

    if not fields or fields[0][0] != "TY":
        rec.mark_malformed(f"record on line {start} does not start with a 'TY  - ' line")
    if not terminated:
        rec.mark_malformed(f"record starting on line {start} is not closed by 'ER  - ' (truncated file?)")
    rec.type = one("TY")
    rec.title = one("TI", "T1", "CT", "BT")
    rec.abstract = one("AB", "N2")
    rec.authors = values.get("AU") or values.get("A1") or []
    rec.year = parse_year(one("PY", "Y1", "DA"))
    rec.journal = one("T2", "JF", "JO", "JA", "J2")
    if rec.type in {"BOOK", "CHAP"} and one("T2") and rec.title == one("T2"):
        rec.journal = None
    rec.volume = one("VL")
    rec.issue = one("IS")
    start_page, end_page = one("SP"), one("EP")
    if start_page and end_page and "-" not in start_page:
        rec.pages = expand_pages(f"{start_page}-{end_page}")
    else:
        rec.pages = expand_pages(start_page)
    if one("C7") and not rec.pages:  # Scopus and WoS put article numbers in C7
        rec.pages = one("C7")
    for tag in ("DO", "M3", "L2", "UR", "N1"):
        for value in values.get(tag, []):
            if rec.doi is None and ("10." in value):
                rec.doi = clean_doi(value)
    database = (one("DB") or "").lower()
    accession = one("AN") or ""
    if "scopus" in database and one("C2"):
        rec.pmid = clean_pmid(one("C2"))
    elif _ACCESSION_PMID.fullmatch(accession.strip()):
        rec.pmid = clean_pmid(accession)
    else:
        for tag in ("N1", "M1", "AN"):
            for value in values.get(tag, []):
                match = _PMID_NOTE.search(value)
                if match and rec.pmid is None:
                    rec.pmid = clean_pmid(match.group(1))
    rec.keywords = values.get("KW", [])
    rec.extra = {_tag_name(tag): (vals if len(vals) > 1 else vals[0])
                 for tag, vals in values.items() if tag not in _KNOWN}
    if rec.status == "ok" and not rec.title and not rec.doi:
        rec.mark_malformed(f"record on line {start} has neither a title nor a DOI")
    return rec


def _boundaries(text: str) -> Iterator[tuple[str, int, int]]:
    """The ``TY`` and ``ER`` lines of the text in order, each as its tag, where it starts and where it
    ends (before its newline): what ``^(TY|ER) {1,2}-(?: .*)?$`` with re.MULTILINE finds, looking
    only where lines start."""
    first = _BOUNDARY.match(text)
    if first is not None:
        yield first.group(1), 0, first.end()
    for match in _NEWLINE_BOUNDARY.finditer(text):
        yield match.group(1), match.start() + 1, match.end()


def parse_ris(text: str, progress=None) -> list[Record]:
    """Records of a RIS file: :func:`iter_ris`'s, in a list."""
    return list(iter_ris(text, progress))


def iter_ris(text: str, progress=None) -> Iterator[Record]:
    """Records of a RIS file (its text with ``\\n`` line ends, see
    :func:`~metareview.review.importers._text.unify_newlines`); text outside ``TY``...``ER``
    and unterminated records are kept as malformed records with their line numbers.

    Only the lines that open and close records (``TY``, ``ER``) are looked for, by one regular
    expression over the whole text; what lies between is sliced, not split into lines.
    ``progress(percent, 100)`` is told how far it has read.  Each record is given as soon as it is read.
    """
    tick = read_progress(progress, len(text))
    if "\ufeff" in text:
        text = _LINE_BOM.sub("", text)  # a byte-order mark may open any line of a concatenated file
    start = -1  # where the open block starts (-1: none is open)
    start_line = 0
    line, counted = 1, 0  # the number of the line at offset ``counted``

    def line_at(offset: int) -> int:
        nonlocal line, counted
        line += text.count("\n", counted, offset)
        counted = offset
        return line

    previous_end = 0  # offset just after the last TY/ER line (before its newline)
    for tag, begin, finish in _boundaries(text):
        if start < 0:
            # text after the last record: its first line that is not blank opens a block
            outside = _NOT_BLANK.search(text, previous_end, begin)
            if outside is not None:
                start, start_line = outside.start(), line_at(outside.start())
        if tag == "TY":
            if start >= 0:
                yield _record(start_line, text[start:begin - 1], terminated=False)
            start, start_line = begin, line_at(begin)
        else:
            if start < 0:
                start, start_line = begin, line_at(begin)
            yield _record(start_line, text[start:finish], terminated=True)
            start = -1
            if tick is not None:
                tick(finish)
        previous_end = finish
    if start < 0:
        outside = _NOT_BLANK.search(text, previous_end)
        if outside is not None:
            start, start_line = outside.start(), line_at(outside.start())
    if start >= 0:
        block = text[start:]
        if _TAGS.search(block):
            yield _record(start_line, block, terminated=False)
        else:
            rec = Record(line=start_line, raw=block)
            last = start_line + block.count("\n")
            rec.mark_malformed(f"text on lines {start_line}-{last} is outside any RIS record")
            yield rec
