"""BibTeX, as Zotero, Mendeley, JabRef, Google Scholar and EndNote export it.

Entries are split by bibtexparser 2 (``@string`` macros resolved, quoted and braced
values both read); what an entry means is read here.  Values are LaTeX: the escapes
and accents reference managers write (``{\\"u}``, ``\\'e``, ``\\&``, ``\\%``, protective
braces around ``{DNA}``) are turned into text by :func:`latex_to_text`, the exact
inverse of :func:`text_to_latex` used by the BibTeX export, so that export and import
give back the same text.  An entry bibtexparser cannot read is kept as a malformed
record with its line; a repeated citation key is read and flagged.  Field names follow
BibTeX (Patashnik, "BibTeXing", 1988) and BibLaTeX (``journaltitle``, ``date``,
``eprinttype = {pubmed}``).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from ...base.exceptions import DataError
from ..normalize import clean_doi, clean_pmid, expand_pages, parse_year
from ..records import Record

__all__ = ["parse_bibtex", "looks_like_bibtex", "latex_to_text", "text_to_latex"]


def looks_like_bibtex(lines: list[str]) -> bool:
    for line in lines[:200]:
        stripped = line.strip().lstrip("\ufeff")
        if stripped and not stripped.startswith("%"):
            return bool(re.match(r"@\s*[A-Za-z]+\s*[{(]", stripped))
    return False


# -- LaTeX <-> text ------------------------------------------------------------------------------------
_SPECIAL = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
            "_": r"\_", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
_NAMED = {"textbackslash": "\\", "textasciitilde": "~", "textasciicircum": "^", "ss": "ß", "o": "ø", "O": "Ø",
          "ae": "æ", "AE": "Æ", "oe": "œ", "OE": "Œ", "aa": "å", "AA": "Å", "l": "ł", "L": "Ł", "i": "ı",
          "j": "ȷ", "textendash": "–", "textemdash": "—", "textquoteright": "’", "textquoteleft": "‘"}
# accent commands and the Unicode combining mark each one stands for
_ACCENTS = {'"': "\u0308", "'": "\u0301", "`": "\u0300", "^": "\u0302", "~": "\u0303", "=": "\u0304",
            ".": "\u0307", "u": "\u0306", "v": "\u030c", "H": "\u030b", "c": "\u0327", "k": "\u0328",
            "r": "\u030a", "d": "\u0323", "b": "\u0331"}
_LATEX = re.compile(r"""
    \\(?P<escaped>[{}&%$\#_])                                             # \{ \& \% ...
  | \\(?P<accent>["'`^~=.])\s*(?:\{(?P<a1>\\?[A-Za-z]?)\}|(?P<a2>\\?[A-Za-z]))  # \"u \"{u} \'{\i}
  | \\(?P<laccent>[uvHckrdb])(?:\s*\{(?P<l1>\\?[A-Za-z]?)\}|\s+(?P<l2>[A-Za-z]))  # \v{s} \c c
  | \\(?P<named>[A-Za-z]+)(?:\{\}|\s?)                                    # \ss \o \textbackslash{}
  | (?P<brace>[{}])                                                       # protective braces
  | (?P<tilde>~)                                                          # a tie is a space
""", re.VERBOSE)


def _base(letter: str) -> str:
    if letter.startswith("\\"):
        return _NAMED.get(letter[1:], letter[1:])
    return letter


def latex_to_text(value: str) -> str:
    """Text of a BibTeX value: escapes, accents and protective braces resolved (NFC)."""
    if not any(c in value for c in "\\{}~"):
        return value

    def sub(m: re.Match) -> str:
        if m.group("escaped"):
            return m.group("escaped")
        if m.group("accent"):
            return _base(m.group("a1") if m.group("a1") is not None else m.group("a2")) + _ACCENTS[m.group("accent")]
        if m.group("laccent"):
            letter = m.group("l1") if m.group("l1") is not None else m.group("l2")
            return _base(letter) + _ACCENTS[m.group("laccent")]
        if m.group("named"):
            name = m.group("named")
            return _NAMED.get(name, m.group(0))  # an unknown command stays as written
        if m.group("brace"):
            return ""
        return " "

    return unicodedata.normalize("NFC", _LATEX.sub(sub, value))


def text_to_latex(value: str) -> str:
    """A BibTeX value holding ``value`` exactly: LaTeX's special characters escaped, the rest UTF-8."""
    return "".join(_SPECIAL.get(c, c) for c in value)


# -- entries ---------------------------------------------------------------------------------------------
def _split_names(value: str) -> list[str]:
    """Names of an ``author`` field: split on `` and `` outside braces (``{World Health Organization}``)."""
    names, depth, start, i = [], 0, 0, 0
    while i < len(value):
        c = value[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth = max(depth - 1, 0)
        elif depth == 0 and value[i:i + 5].lower() == " and " :
            names.append(value[start:i])
            start = i + 5
            i += 5
            continue
        i += 1
    names.append(value[start:])
    return [_unwrap(latex_to_text(n)) for n in names if n.strip()]


def _unwrap(value: str) -> str:
    return re.sub(r"[ \t]*\r?\n\s*", " ", value).strip()


def _keywords(value: str) -> list[str]:
    sep = ";" if ";" in value else ","
    return [k.strip() for k in value.split(sep) if k.strip()]


_KNOWN = {"author", "title", "abstract", "year", "date", "journal", "journaltitle", "booktitle", "volume", "number",
          "issue", "pages", "doi", "pmid", "keywords"}


def _record(entry: Any, problem: str | None = None) -> Record:
    line = (entry.start_line or 0) + 1
    rec = Record(line=line, raw=entry.raw or "")
    raw_fields: dict[str, str] = {}
    for name, fld in entry.fields_dict.items():
        value = fld.value if isinstance(fld.value, str) else str(fld.value)
        raw_fields.setdefault(name.lower(), value)
    # a value wrapped over several lines in the file is one line of text; an abstract keeps its lines
    text = {name: latex_to_text(v).strip() if name == "abstract" else _unwrap(latex_to_text(v))
            for name, v in raw_fields.items()}

    def one(*names: str) -> str | None:
        for name in names:
            if text.get(name):
                return text[name]
        return None

    rec.type = entry.entry_type.lower()
    rec.title = one("title")
    rec.abstract = one("abstract")
    rec.authors = _split_names(raw_fields["author"]) if raw_fields.get("author") else []
    rec.year = parse_year(one("year", "date"))
    rec.journal = one("journal", "journaltitle")
    if rec.journal is None and rec.type in {"inproceedings", "incollection", "conference"}:
        rec.journal = one("booktitle")
    rec.volume = one("volume")
    rec.issue = one("number", "issue")
    pages = one("pages")
    rec.pages = expand_pages(re.sub(r"\s*[-–—]+\s*", "-", pages)) if pages else None
    rec.doi = clean_doi(one("doi"))
    rec.pmid = clean_pmid(one("pmid"))
    if rec.pmid is None and (one("eprinttype") or "").lower() == "pubmed":
        rec.pmid = clean_pmid(one("eprint"))
    rec.keywords = _keywords(text.get("keywords", ""))
    rec.extra = {"key": entry.key, **{name: value for name, value in text.items() if name not in _KNOWN and value}}
    if problem:
        rec.mark_malformed(problem)
    if rec.status == "ok" and not rec.title and not rec.doi:
        rec.mark_malformed(f"entry on line {line} has neither a title nor a DOI")
    return rec


def parse_bibtex(text: str, lines: list[str]) -> list[Record]:
    """Records of a BibTeX file, malformed entries included with their lines."""
    import logging

    import bibtexparser
    from bibtexparser.model import DuplicateBlockKeyBlock

    # the splitter logs every broken entry; here each becomes a malformed record instead
    log = logging.getLogger("bibtexparser.splitter")
    was_disabled, log.disabled = log.disabled, True
    try:
        library = bibtexparser.parse_string(text)
    except Exception as exc:  # the splitter's own state errors, on input it cannot make sense of
        raise DataError(f"not readable as BibTeX: {exc}", rule="format") from None
    finally:
        log.disabled = was_disabled
    found: list[tuple[int, Record]] = []
    for entry in library.entries:
        found.append((entry.start_line or 0, _record(entry)))
    for block in library.failed_blocks:
        start = block.start_line or 0
        if isinstance(block, DuplicateBlockKeyBlock) and block.ignore_error_block is not None:
            duplicate = block.ignore_error_block
            found.append((start, _record(duplicate, f"entry on line {start + 1} repeats the citation key "
                                                    f"{getattr(duplicate, 'key', '')!r}")))
            continue
        line = start + 1
        rec = Record(line=line, raw=(block.raw or "").rstrip())
        reason = str(getattr(block.error, "abort_reason", "") or block.error or "").strip().splitlines()
        why = reason[0].strip() if reason else ""
        if "found `@" in why:
            why += " (the entry is not closed before the next one starts)"
        rec.mark_malformed(f"entry on line {line} cannot be read as BibTeX" + (f": {why}" if why else ""))
        found.append((start, rec))
    return [rec for _, rec in sorted(found, key=lambda item: item[0])]
