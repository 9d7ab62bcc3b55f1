"""Normalisation of bibliographic fields, so that exports of one article from different
databases compare equal.

PubMed, Embase, Scopus and Web of Science write the same article differently: DOIs
with or without ``https://doi.org/``, titles with HTML tags or PubMed's square brackets
around translated titles, abbreviated page ranges (``100-10``), author names as
``Smith J``, ``Smith, J.`` or ``Smith, John``, and journals abbreviated or in full.
These helpers reduce each field to a comparable key; the raw values stay in the store.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

__all__ = ["clean_doi", "clean_pmid", "norm_text", "norm_title", "norm_titles", "first_author_key", "first_page",
           "journal_key", "journals_match", "parse_year", "expand_pages"]

_DOI_PREFIX = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*|doi\s+)", re.IGNORECASE)
_DOI_SHAPE = re.compile(r"10\.\d{4,9}/\S+")
_TAGS = re.compile(r"<[^>]{1,40}>")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_FIRST_PAGE = re.compile(r"\s*([A-Za-z]*\d+)")
_FUNCTION_WORDS = frozenset({"of", "the", "and", "for", "in", "on", "de", "la", "a"})
_NOT_DIGIT = re.compile(r"\D")
_PAGE_RANGE = re.compile(r"([A-Za-z]*)(\d+)\s*[-\u2013]\s*([A-Za-z]*)(\d+)")
_YEAR = re.compile(r"(?<!\d)(1[5-9]\d\d|20\d\d|21\d\d)(?!\d)")


def clean_doi(value: str | None) -> str | None:
    """Lower-cased bare DOI (``10.x/y``), or ``None`` if ``value`` holds no DOI.

    DOIs are case-insensitive (DOI Handbook, section 2.4), so lower case is the key.
    """
    if not value:
        return None
    text = _DOI_PREFIX.sub("", value.strip())
    match = _DOI_SHAPE.search(text)
    if match is None:
        return None
    doi = match.group(0).rstrip(".,;)]").lower()
    return doi or None


def clean_pmid(value: str | None) -> str | None:
    """Digits of a PubMed identifier (``PMID: 123``, ``123``), or ``None``."""
    if not value:
        return None
    digits = _NOT_DIGIT.sub("", str(value))
    return digits.lstrip("0") or None if digits else None


def norm_text(value: str | None) -> str:
    """Lower case ASCII words separated by single spaces (accents and markup removed)."""
    if not value:
        return ""
    text = _TAGS.sub(" ", value) if "<" in value else value
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.lower()
    return _NON_ALNUM.sub(" ", text).strip()


def _unbracketed(value: str | None) -> str:
    """The title stripped, without PubMed's brackets around a translated title and their period."""
    text = value.strip() if value else ""
    if text.startswith("[") and (text.endswith("].") or text.endswith("]")):
        text = text.lstrip("[").rstrip(".").rstrip("]")
    return text


def norm_title(value: str | None) -> str:
    """Title key: PubMed's brackets around translated titles and a trailing period removed."""
    return norm_text(_unbracketed(value))


# the bulk form of _TAGS: the same, except that it does not reach across a NUL, which separates the
# texts of norm_titles when they are read as one
_TAGS_JOINED = re.compile(r"<[^>\x00]{1,40}>")
# ASCII in lower case, every character but letters, digits and NUL made a space
_ASCII_KEY = str.maketrans({chr(i): (chr(i).lower() if chr(i).isalnum() or i == 0 else " ") for i in range(128)})


def norm_titles(values: Sequence[str | None]) -> list[str]:
    """:func:`norm_title` of each value, the same texts, in a few passes over all of them at once.

    ASCII titles (nearly all) are joined by NUL characters and made lower case, with every other
    character a space, as one text; each title's spaces are then made single.  Titles with
    other characters (accents to remove) or a NUL of their own get :func:`norm_text` one by one.
    """
    texts = [_unbracketed(v) for v in values]
    plain = [i for i, text in enumerate(texts) if text.isascii() and "\x00" not in text]
    out = list(texts)
    if len(plain) < len(texts):
        for i in sorted(set(range(len(texts))) - set(plain)):
            out[i] = norm_text(texts[i])
    joined = "\x00".join([texts[i] for i in plain])
    if "<" in joined:
        joined = _TAGS_JOINED.sub(" ", joined)
    # only spaces separate words now (split() would also split at \x1c-\x1f, made spaces above)
    for i, piece in zip(plain, joined.translate(_ASCII_KEY).split("\x00")):
        out[i] = " ".join(piece.split())
    return out


def first_author_key(authors: list[str] | None) -> str:
    """Surname of the first author, normalised (``Smith, J.``, ``Smith JA`` -> ``smith``)."""
    if not authors:
        return ""
    return _surname_key(authors[0])


@lru_cache(maxsize=65_536)
def _surname_key(name: str) -> str:
    """:func:`first_author_key` of one name (prolific authors lead many records: each name is read once)."""
    name = name.strip()
    if "," in name:
        surname = name.split(",", 1)[0]
    else:
        parts = name.split()
        # "Smith JA" (MEDLINE) keeps the surname first; "John Smith" puts it last.
        if len(parts) > 1 and (parts[-1].isupper() or parts[-1].rstrip(".").isupper()) and len(parts[-1]) <= 4:
            surname = " ".join(parts[:-1])
        elif len(parts) > 1:
            surname = parts[-1]
        else:
            surname = name
    return norm_text(surname).replace(" ", "")


def expand_pages(value: str | None) -> str | None:
    """Page range with an abbreviated end written out (MEDLINE ``1021-9`` -> ``1021-1029``)."""
    if not value:
        return None
    text = value.strip()
    match = _PAGE_RANGE.fullmatch(text)
    if not match:
        return text or None
    prefix, start, prefix2, end = match.groups()
    if len(end) < len(start):
        end = start[: len(start) - len(end)] + end
    return f"{prefix}{start}-{prefix2 or prefix}{end}"


def first_page(value: str | None) -> str:
    """First page as a comparable key (``e123``, ``100``), empty if unknown."""
    if not value:
        return ""
    match = _FIRST_PAGE.match(value)
    return match.group(1).lower().lstrip("0") if match else ""


@lru_cache(maxsize=65_536)
def journal_key(value: str | None) -> str:
    """Journal name as a comparable key (a search's records come from a few hundred journals,
    so each name is normalised once)."""
    return norm_text(value).replace(" and ", " ")


def journals_match(a: str, b: str) -> bool:
    """True if two normalised journal names are equal or one abbreviates the other.

    PubMed writes ``N Engl J Med`` where Embase writes ``New England Journal of
    Medicine``: each word of the full name, short function words aside, must be
    abbreviated by the word in the same place (so ``Radiology`` does not match
    ``European Radiology``).
    """
    if not a or not b:
        return False
    if a == b:
        return True
    short, full = (a, b) if len(a) <= len(b) else (b, a)
    words = [w for w in full.split() if w not in _FUNCTION_WORDS]
    abbrev = [w for w in short.split() if w not in _FUNCTION_WORDS]
    return len(abbrev) == len(words) and all(w.startswith(x) for x, w in zip(abbrev, words))


def parse_year(value: str | None) -> int | None:
    """Year of publication from dates as exports write them (``2019 Mar``, ``2019//``, ``03/2019``)."""
    if value is None:
        return None
    match = _YEAR.search(str(value))
    return int(match.group(1)) if match else None
