"""Decoding text files: one decision per file, reported, and the same for every reader.

Study tables and search exports come as UTF-8 (with or without a byte-order mark),
UTF-16 with a byte-order mark (Excel's "Unicode text"), or Windows-1252 (reference
managers and spreadsheets on Windows).  The rules, in order:

1. a UTF-8 byte-order mark: UTF-8;  a UTF-16 byte-order mark: UTF-16;
2. NUL bytes without a UTF-16 mark: not a text file (refused);
3. valid UTF-8: UTF-8;
4. mostly UTF-8 (it holds valid multi-byte sequences) with a few stray bytes, as when
   a Latin-1 value was pasted into a UTF-8 export: UTF-8, each stray byte read as the
   Windows-1252 character it stands for, and the lines where this happened reported;
5. otherwise Windows-1252 (Latin-1 for the five bytes it leaves undefined).

A file is never decoded wholesale as Windows-1252 because of one bad byte (that would
garble every accented character of a UTF-8 file).
"""

from __future__ import annotations

import codecs
import contextvars
import re
from dataclasses import dataclass

from ..base.exceptions import DataError

__all__ = ["Decoded", "decode", "detect_encoding", "TextStream"]

# a valid UTF-8 sequence of two to four bytes
_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")

_repairs: contextvars.ContextVar[list | None] = contextvars.ContextVar("metareview_repairs", default=None)


def _stray_byte(exc: UnicodeError):
    """Error handler: a byte that is not UTF-8 is read as Windows-1252 (else Latin-1)."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    raw = exc.object[exc.start:exc.start + 1]
    log = _repairs.get()
    if log is not None:
        log.append((exc.object, exc.start))
    try:
        char = raw.decode("cp1252")
    except UnicodeDecodeError:
        char = raw.decode("latin-1")
    return char, exc.start + 1


def _latin1_fallback(exc: UnicodeError):
    """Error handler for Windows-1252: its five undefined bytes are read as Latin-1."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return exc.object[exc.start:exc.end].decode("latin-1"), exc.end


codecs.register_error("metareview.stray-byte", _stray_byte)
codecs.register_error("metareview.latin-1", _latin1_fallback)


@dataclass(frozen=True)
class Decoded:
    """A decoded file: its ``text``, the ``encoding`` chosen and, when the choice is worth
    telling (anything but plain UTF-8), a ``note`` saying what was done."""

    text: str
    encoding: str
    note: str | None = None


def detect_encoding(sample: bytes, *, name: str = "file") -> str:
    """The encoding of a file from its first bytes (see the module's rules): ``utf-8-sig``,
    ``utf-16``, ``utf-8`` or ``cp1252``.  Raises :class:`DataError` for a binary file."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return "utf-16"
    if b"\x00" in sample[:65536]:
        raise DataError(f"{name} looks binary (it contains NUL bytes), not a text file; save it as CSV "
                        f"(UTF-8) and try again", rule="encoding")
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(sample) - 3 and exc.reason == "unexpected end of data":
            return "utf-8"  # a sample cut inside a character
    return "utf-8" if _MULTIBYTE.search(sample) else "cp1252"


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _repair_note(name: str, lines: list[int]) -> str:
    shown = ", ".join(map(str, lines[:10])) + (f" and {len(lines) - 10} more" if len(lines) > 10 else "")
    return (f"{name} is UTF-8 but {len(lines)} line(s) hold a byte that is not (line {shown}); "
            f"each such byte was read as the Windows-1252 character it stands for")


def decode(data: bytes, *, name: str = "file") -> Decoded:
    """Decode a whole file by the module's rules; see :class:`Decoded`."""
    encoding = detect_encoding(data, name=name)
    if encoding == "utf-16":
        try:
            return Decoded(data.decode("utf-16"), "utf-16", f"{name} was read as UTF-16 (it has a UTF-16 "
                                                            f"byte-order mark)")
        except UnicodeDecodeError as exc:
            raise DataError(f"{name} has a UTF-16 byte-order mark but byte {exc.start} is not UTF-16",
                            rule="encoding") from None
    if encoding == "cp1252":
        return Decoded(data.decode("cp1252", errors="metareview.latin-1"), "cp1252",
                       f"{name} is not UTF-8; it was read as Windows-1252 (Latin-1)")
    body = data[3:] if encoding == "utf-8-sig" else data
    log: list = []
    token = _repairs.set(log)
    try:
        text = body.decode("utf-8", errors="metareview.stray-byte")
    finally:
        _repairs.reset(token)
    if not log:
        return Decoded(text, encoding)
    lines = sorted({_line_of(body, offset) for _, offset in log})
    return Decoded(text, encoding + "+cp1252", _repair_note(name, lines))


class TextStream:
    """A text file opened for streaming, its encoding decided on its first megabyte by the
    rules above; iterate over :attr:`file` (lines, endings kept as in the file), then read
    :attr:`note` to learn what was done."""

    _count = 0

    def __init__(self, path, *, name: str | None = None, sample_size: int = 1 << 20):
        import io

        self.name = name or str(path)
        self._raw = open(path, "rb")
        try:
            sample = self._raw.read(sample_size)
            self.encoding = detect_encoding(sample, name=self.name)
            self._raw.seek(0)
        except BaseException:
            self._raw.close()
            raise
        self.empty = not sample.strip()
        self.stray = 0
        if self.encoding in ("utf-8", "utf-8-sig"):
            # a handler of its own, so that each stream counts its own repairs
            TextStream._count += 1
            errors = f"metareview.stray-byte.{TextStream._count}"

            def handler(exc, _stream=self):
                _stream.stray += 1
                return _stray_byte(exc)
            codecs.register_error(errors, handler)
        elif self.encoding == "cp1252":
            errors = "metareview.latin-1"
        else:
            errors = "strict"
        self.file = io.TextIOWrapper(self._raw, encoding=self.encoding, errors=errors, newline="")

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> "TextStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def note(self) -> str | None:
        if self.encoding == "utf-16":
            return f"{self.name} was read as UTF-16 (it has a UTF-16 byte-order mark)"
        if self.encoding == "cp1252":
            return f"{self.name} is not UTF-8; it was read as Windows-1252 (Latin-1)"
        if self.stray:
            return (f"{self.name} is UTF-8 but {self.stray} byte(s) in it are not; each was read as the "
                    f"Windows-1252 character it stands for")
        return None
