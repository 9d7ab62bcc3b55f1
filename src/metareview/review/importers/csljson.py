"""CSL-JSON, the citation format of Zotero, Mendeley, Pandoc and the DOI resolver.

A file is a JSON array of items (Citation Style Language 1.0.2 schema, ``csl-data.json``):
``title``, ``author`` as ``{"family", "given"}`` or ``{"literal"}``, ``issued`` as
``{"date-parts": [[2019, 3]]}`` (or ``raw``/``literal``), ``container-title``, ``volume``,
``issue``, ``page``, ``DOI``, ``PMID``, ``abstract``, ``keyword``.  Each item keeps its
exact text and the line it starts on; an item that is not an object, or has neither a
title nor a DOI, is kept as a malformed record.  A file that is not JSON at all is refused
with the line and column of the first error.
"""

from __future__ import annotations

import json
from typing import Any

from ...base.exceptions import DataError
from ..normalize import clean_doi, clean_pmid, expand_pages, parse_year
from ..records import Record

__all__ = ["parse_csljson", "looks_like_csljson", "csl_name"]


def looks_like_csljson(lines: list[str]) -> bool:
    first = next((line.strip().lstrip("\ufeff") for line in lines[:50] if line.strip().lstrip("\ufeff")), "")
    return first.startswith("[") or (first.startswith("{") and not first.startswith("{\\rtf"))


def csl_name(person: Any) -> str | None:
    """``"Family, Given"`` (or the literal name) of a CSL name object."""
    if isinstance(person, str):
        return person.strip() or None
    if not isinstance(person, dict):
        return None
    if person.get("literal"):
        return str(person["literal"]).strip()
    family = " ".join(str(person.get(k, "")).strip() for k in ("non-dropping-particle", "family") if person.get(k))
    given = str(person.get("given", "")).strip()
    if family and given:
        return f"{family}, {given}"
    return family or given or None


def _string(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        value = value[0] if value else None
        if value is None:
            return None
    value = str(value).strip()
    return value or None


def _year(issued: Any) -> int | None:
    if isinstance(issued, dict):
        parts = issued.get("date-parts")
        if isinstance(parts, list) and parts and isinstance(parts[0], list) and parts[0]:
            return parse_year(str(parts[0][0]))
        return parse_year(_string(issued.get("raw")) or _string(issued.get("literal")))
    return parse_year(_string(issued))


_KNOWN = {"type", "title", "abstract", "author", "issued", "container-title", "volume", "issue", "page", "DOI",
          "PMID", "keyword"}


def _record(item: Any, line: int, raw: str) -> Record:
    rec = Record(line=line, raw=raw)
    if not isinstance(item, dict):
        rec.mark_malformed(f"item on line {line} is a JSON {type(item).__name__}, not an object")
        return rec
    rec.type = _string(item.get("type"))
    rec.title = _string(item.get("title"))
    rec.abstract = _string(item.get("abstract"))
    authors = item.get("author")
    rec.authors = [n for n in (csl_name(p) for p in authors) if n] if isinstance(authors, list) else []
    rec.year = _year(item.get("issued"))
    rec.journal = _string(item.get("container-title"))
    rec.volume = _string(item.get("volume"))
    rec.issue = _string(item.get("issue"))
    rec.pages = expand_pages(_string(item.get("page")))
    rec.doi = clean_doi(_string(item.get("DOI")))
    rec.pmid = clean_pmid(_string(item.get("PMID")))
    keywords = item.get("keyword")
    if isinstance(keywords, str):
        sep = ";" if ";" in keywords else ","
        rec.keywords = [k.strip() for k in keywords.split(sep) if k.strip()]
    elif isinstance(keywords, list):
        rec.keywords = [str(k).strip() for k in keywords if str(k).strip()]
    rec.extra = {k: v for k, v in item.items() if k not in _KNOWN and v not in (None, "", [], {})}
    if not rec.title and not rec.doi:
        rec.mark_malformed(f"item on line {line} has neither a title nor a DOI")
    return rec


def parse_csljson(text: str, lines: list[str]) -> list[Record]:
    """Records of a CSL-JSON file (an array of items, or one item, or ``{"items": [...]}``)."""
    body = text.lstrip("\ufeff")
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise DataError(f"line {exc.lineno}, column {exc.colno}: not valid JSON: {exc.msg}", rule="format") from None
    except RecursionError:
        raise DataError("the JSON is nested too deeply to read", rule="format") from None
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        return [_record(item, 1, json.dumps(item, ensure_ascii=False)) for item in data["items"]]
    if not isinstance(data, list):
        return [_record(data, 1, body.strip())]
    # walk the array again to find where each item starts and ends
    decoder = json.JSONDecoder()
    records = []
    at = body.index("[") + 1
    for item in data:
        while body[at] in " \t\r\n,":
            at += 1
        _, end = decoder.raw_decode(body, at)
        records.append(_record(item, body.count("\n", 0, at) + 1, body[at:end]))
        at = end
    return records
