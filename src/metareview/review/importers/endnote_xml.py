"""EndNote XML (File > Export > XML), which EndNote writes and Zotero and Mendeley read.

The file is ``<xml><records><record>...`` with one element per field; every text sits
inside ``<style>`` elements that carry EndNote's fonts, so a field's text is the text of
all its descendants.  EndNote puts the DOI in ``electronic-resource-num``, the PubMed id
(for records from PubMed) in ``accession-num``, the journal in ``secondary-title`` or
``periodical/full-title``.  Parsed with lxml in recovery mode, without entities or
network access; each record keeps its line, and a record the parser had to repair, or
text it could not place in any record, is kept and flagged with the line of the error.
"""

from __future__ import annotations

import re

from ...base.exceptions import DataError
from ..normalize import clean_doi, clean_pmid, expand_pages, parse_year
from ..records import Record

__all__ = ["parse_endnote_xml", "looks_like_endnote_xml"]

_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")


def looks_like_endnote_xml(lines: list[str]) -> bool:
    head = "\n".join(lines[:20]).lstrip("\ufeff \t\r\n")
    return head.startswith("<") and ("<records" in head or "<record>" in head or "<xml>" in head)


def _text(element) -> str | None:
    if element is None:
        return None
    value = " ".join("".join(element.itertext()).split())
    return value or None


def _record(el, raw: str) -> Record:
    rec = Record(line=el.sourceline or 1, raw=raw)

    def one(*paths: str) -> str | None:
        for path in paths:
            value = _text(el.find(path))
            if value:
                return value
        return None

    def many(path: str) -> list[str]:
        return [v for v in (_text(e) for e in el.findall(path)) if v]

    ref_type = el.find("ref-type")
    rec.type = ref_type.get("name") if ref_type is not None and ref_type.get("name") else _text(ref_type)
    rec.title = one("titles/title")
    abstract = el.find("abstract")
    rec.abstract = "".join(abstract.itertext()).strip() or None if abstract is not None else None
    rec.authors = many("contributors/authors/author")
    rec.year = parse_year(one("dates/year", "dates/pub-dates/date"))
    rec.journal = one("titles/secondary-title", "periodical/full-title", "periodical/abbr-1", "titles/alt-title")
    rec.volume = one("volume")
    rec.issue = one("number", "issue")
    rec.pages = expand_pages(one("pages"))
    rec.doi = clean_doi(one("electronic-resource-num"))
    if rec.doi is None:
        for url in many("urls/related-urls/url") + many("urls/web-urls/url"):
            if "10." in url:
                rec.doi = clean_doi(url)
                break
    accession = one("accession-num") or ""
    rec.pmid = clean_pmid(accession) if re.fullmatch(r"\d{5,9}", accession) else None
    rec.keywords = many("keywords/keyword")
    known = {"ref-type", "titles", "abstract", "contributors", "dates", "periodical", "volume", "number", "issue",
             "pages", "electronic-resource-num", "keywords"}
    extra: dict[str, object] = {}
    for child in el:
        tag = child.tag if isinstance(child.tag, str) else None
        if tag is None or tag in known:
            continue
        if tag == "urls":
            urls = many("urls/related-urls/url") + many("urls/web-urls/url") + many("urls/pdf-urls/url")
            if urls:
                extra["urls"] = urls
            continue
        value = _text(child)
        if value:
            extra[tag] = value
    for tag in ("secondary-authors", "tertiary-authors", "subsidiary-authors"):
        names = many(f"contributors/{tag}/author")
        if names:
            extra[tag] = names
    rec.extra = extra
    if not rec.title and not rec.doi:
        rec.mark_malformed(f"record on line {rec.line} has neither a title nor a DOI")
    return rec


def parse_endnote_xml(text: str, lines: list[str]) -> list[Record]:
    """Records of an EndNote XML export; records the XML parser repaired are flagged with its message."""
    from lxml import etree

    body = _DECLARATION.sub(lambda m: " " * len(m.group(0)), text.lstrip("\ufeff"), count=1)
    parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True, huge_tree=False,
                             remove_comments=True, remove_pis=True)
    try:
        root = etree.fromstring(body.encode("utf-8"), parser)
    except etree.XMLSyntaxError as exc:
        raise DataError(f"line {exc.lineno}: not readable as XML: {exc.msg}", rule="format") from None
    if root is None:
        raise DataError("not readable as EndNote XML (no elements)", rule="format")
    elements = [el for el in root.iter("record")]
    records = []
    starts = [el.sourceline or 1 for el in elements]
    for i, el in enumerate(elements):
        end = (starts[i + 1] - 1) if i + 1 < len(starts) else len(lines)
        raw = "\n".join(lines[starts[i] - 1:end]).strip() or etree.tostring(el, encoding="unicode")
        records.append(_record(el, raw))
    for error in parser.error_log:
        line = max(error.line, 1)
        owner = None
        for i, start in enumerate(starts):
            if start <= line:
                owner = records[i]
        problem = f"line {line}: the XML is broken here ({error.message.strip()})"
        if owner is not None:
            if owner.problem is None or problem not in owner.problem:
                owner.mark_malformed(problem)
        elif lines[line - 1:line] and lines[line - 1].strip():
            rec = Record(line=line, raw=lines[line - 1])
            rec.mark_malformed(problem)
            records.insert(0, rec)
    return records
