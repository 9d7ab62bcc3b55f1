"""Web of Science "Plain text file" exports (the tagged format also read as ``.ciw``/``.isi``).

Each field is a two-character tag, a space and the value; continuation lines are
indented by three spaces; a record runs from ``PT`` to ``ER`` and the file starts
with ``FN``/``VR`` and ends with ``EF``.  Authors come one per line (``AU`` short,
``AF`` full), keywords ``;``-separated in ``DE``, the journal in upper case in ``SO``,
pages in ``BP``/``EP`` or an article number in ``AR``, the PMID in ``PM``.  Field
names for ``extra`` come from :data:`rispy.config.WOK_TAG_KEY_MAPPING`.
"""

from __future__ import annotations

import re

from ..normalize import clean_doi, clean_pmid, expand_pages, parse_year
from ..records import Record
from ._text import TagValues

__all__ = ["parse_wos", "looks_like_wos"]

_FIELD = re.compile(r"^([A-Z][A-Z0-9]) (.*)$")
_CONTINUATION = re.compile(r"^ {3}(.*)$")


def looks_like_wos(lines: list[str]) -> bool:
    for line in lines[:50]:
        text = line.lstrip("\ufeff")
        if text.strip():
            return text.startswith(("FN ", "PT ")) and not text.startswith("PT  -")
    return False


def _record(start: int, block: list[str], *, terminated: bool) -> Record:
    from rispy.config import WOK_TAG_KEY_MAPPING

    rec = Record(line=start, raw="\n".join(block))
    fields: list[tuple[str, str]] = []
    for offset, line in enumerate(block):
        if line.strip() in ("ER", ""):
            continue
        match = _FIELD.match(line)
        cont = _CONTINUATION.match(line)
        if match and not line.startswith(" "):
            fields.append((match.group(1), match.group(2).strip()))
        elif cont and fields:
            tag, value = fields[-1]
            if tag in _LINE_LISTS:
                fields.append((tag, cont.group(1).strip()))
            else:
                fields[-1] = (tag, f"{value} {cont.group(1).strip()}")
        else:
            rec.mark_malformed(f"line {start + offset} is neither a Web of Science field nor a continuation: "
                               f"{line[:60]!r}")
    values = TagValues(fields)
    one = values.first

    if not fields or fields[0][0] != "PT":
        rec.mark_malformed(f"record on line {start} does not start with a 'PT' line")
    if not terminated:
        rec.mark_malformed(f"record starting on line {start} is not closed by 'ER' (truncated file?)")
    rec.type = one("DT", "PT")
    rec.title = one("TI")
    rec.abstract = one("AB")
    rec.authors = values.get("AF") or values.get("AU") or []
    rec.year = parse_year(one("PY", "PD", "EY"))
    rec.journal = one("SO", "JI", "J9")
    rec.volume = one("VL")
    rec.issue = one("IS")
    start_page, end_page = one("BP"), one("EP")
    rec.pages = expand_pages(f"{start_page}-{end_page}" if start_page and end_page else start_page) or one("AR")
    rec.doi = clean_doi(one("DI"))
    rec.pmid = clean_pmid(one("PM"))
    rec.keywords = [k.strip() for v in values.get("DE", []) for k in v.split(";") if k.strip()]
    known = {"PT", "DT", "TI", "AB", "AF", "AU", "PY", "SO", "VL", "IS", "BP", "EP", "DI", "PM", "DE"}
    rec.extra = {WOK_TAG_KEY_MAPPING.get(tag, tag): (vals if len(vals) > 1 else vals[0])
                 for tag, vals in values.items() if tag not in known}
    if rec.status == "ok" and not rec.title and not rec.doi:
        rec.mark_malformed(f"record on line {start} has neither a title (TI) nor a DOI (DI)")
    return rec


# fields whose continuation lines are further entries (one author, address or reference a line)
_LINE_LISTS = {"AU", "AF", "BA", "BF", "CA", "BE", "C1", "CR", "RP", "EM"}


def parse_wos(lines: list[str]) -> list[Record]:
    """Records of a Web of Science plain-text export; text outside ``PT``...``ER`` is kept as malformed."""
    records: list[Record] = []
    block: list[str] = []
    start = 0
    for number, raw_line in enumerate(lines, start=1):
        line = raw_line.lstrip("\ufeff")
        tag = line[:3]
        if not block and (tag in ("FN ", "VR ") or line.strip() in ("EF", "")):
            continue
        if line.strip() == "EF":  # end of file: a record still open was cut off
            if block:
                records.append(_record(start, block, terminated=False))
                block = []
            continue
        if tag == "PT ":
            if block:
                records.append(_record(start, block, terminated=False))
            block, start = [line], number
        elif line.strip() == "ER":
            if not block:
                start = number
            block.append(line)
            records.append(_record(start, block, terminated=True))
            block = []
        elif block:
            block.append(line)
        else:
            block, start = [line], number
    if block:
        records.append(_record(start, block, terminated=False))
    return records
