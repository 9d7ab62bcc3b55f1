"""Decoding export files: UTF-8, UTF-8 with a byte-order mark, UTF-16 with a byte-order mark, or Latin-1.

Databases disagree on encodings: Scopus and Embase write UTF-8 with a BOM, PubMed
plain UTF-8, EndNote and Excel write UTF-16 with a byte-order mark when asked for "Unicode",
and reference managers on Windows still write Windows-1252/Latin-1.
Bytes that are not valid UTF-8 are read as Windows-1252 where it defines the byte
and Latin-1 otherwise, so no file is refused for its encoding and the choice is
recorded with the batch.
"""

from __future__ import annotations

from ...exceptions import DataError

__all__ = ["decode", "split_lines"]


def decode(data: bytes, *, name: str = "file") -> tuple[str, str]:
    """Return ``(text, encoding)``; line endings are left to :func:`split_lines`."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") and not data.startswith(b"\xff\xfe\x00\x00"):
        # what EndNote and Excel write when asked for "Unicode"
        encoding = "utf-16-le" if data[:2] == b"\xff\xfe" else "utf-16-be"
        try:
            return data[2:].decode(encoding), "utf-16"
        except UnicodeDecodeError as exc:
            raise DataError(f"{name} starts with a UTF-16 byte-order mark but its bytes {exc.start + 2}-"
                            f"{exc.end + 1} are not UTF-16 ({exc.reason})", rule="encoding") from None
    if b"\x00" in data[:4096]:
        raise DataError(f"{name} looks binary (it contains NUL bytes), not a text export", rule="encoding")
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise DataError(f"{name} starts with a UTF-8 byte-order mark but byte {exc.start + 3} is not "
                            f"UTF-8", rule="encoding") from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def split_lines(text: str) -> list[str]:
    """Lines without their endings (``\\r\\n``, ``\\r`` and ``\\n`` all end a line)."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


class TagValues(dict):
    """The values of a tagged record (MEDLINE, RIS, Web of Science) by tag, in file order;
    empty values and the tags in ``skip`` (such as RIS's end-of-record ``ER``) are left out."""

    def __init__(self, fields, skip=()):
        super().__init__()
        for tag, value in fields:
            if value and tag not in skip:
                self.setdefault(tag, []).append(value)

    def first(self, *tags: str) -> str | None:
        """The first value of the first of ``tags`` that has one."""
        for tag in tags:
            if self.get(tag):
                return self[tag][0]
        return None
