"""Decoding export files and splitting them into lines.

Databases disagree on encodings: Scopus and Embase write UTF-8 with a BOM, PubMed
plain UTF-8, Excel's "Unicode text" UTF-16, and reference managers on Windows still
write Windows-1252/Latin-1.  Decoding follows :mod:`metareview.tables.decoding`, as for
analysis tables, so no file is refused for its encoding (a binary file is) and the
choice is recorded with the batch."""

from __future__ import annotations

from ...tables.decoding import decode as decode_file

__all__ = ["decode", "unify_newlines", "split_lines", "read_progress"]


def decode(data: bytes, *, name: str = "file") -> tuple[str, str]:
    """Return ``(text, encoding)`` by the rules of :mod:`metareview.tables.decoding` (the same as the
    analysis tables'); line endings are left to :func:`split_lines`."""
    decoded = decode_file(data, name=name)
    return decoded.text, decoded.encoding


def unify_newlines(text: str) -> str:
    """The text with every line ending (``\\r\\n``, ``\\r`` or ``\\n``) written ``\\n``."""
    if "\r" not in text:  # one quick scan: most exports end their lines with \n only
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def split_lines(text: str) -> list[str]:
    """Lines without their endings (``\\r\\n``, ``\\r`` and ``\\n`` all end a line)."""
    return unify_newlines(text).split("\n")


class TagValues(dict):
    """The values of a tagged record (MEDLINE, RIS, Web of Science) by tag, in file order;
    empty values and the tags in ``skip`` (such as RIS's end-of-record ``ER``) are left out."""

    def __init__(self, fields, skip=()):
        super().__init__()
        get = self.get
        for tag, value in fields:
            if value and tag not in skip:
                found = get(tag)
                if found is None:
                    self[tag] = [value]
                else:
                    found.append(value)

    def first(self, *tags: str) -> str | None:
        """The first value of the first of ``tags`` that has one."""
        for tag in tags:
            if self.get(tag):
                return self[tag][0]
        return None


def read_progress(progress, size: int, every: int = 2000):
    """A ``tick(position)`` for a parser that reads records in order: every ``every`` records it
    tells ``progress(percent, 100)`` how far into the export (``position`` of ``size``, in
    characters or lines) it has read, never 100 before the parser is done; None when no
    ``progress`` is asked for."""
    if progress is None:
        return None
    count = 0

    def tick(position: int) -> None:
        nonlocal count
        count += 1
        if count % every == 0:
            progress(min(99, 100 * position // max(size, 1)), 100)
    return tick
