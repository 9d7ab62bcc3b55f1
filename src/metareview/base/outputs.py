"""Writing what metareview makes: every file and folder a command writes goes through here.

Three promises, kept in one place so that no command can forget them:

* **Never onto an input.**  A target that is one of the command's inputs (the same
  resolved path, or the same file by device and inode, e.g. a hard link), or that is a
  SQLite database such as a review project, or a PostgreSQL URL, is refused before
  anything is written.
* **Whole or not at all.**  A file is written beside its target (``.NAME.<random>.part``)
  and renamed over it when complete, so a failed or killed command leaves the old file
  (or none), never half of one.  A full disk is reported as such.
* **Only what metareview made is replaced.**  A folder written by :func:`write_folder`
  carries a marker file (:data:`MARKER`); an existing folder is replaced only when asked
  (``force``) and only when it carries the marker.  The new folder is built beside the
  old one and swapped in by renames; the old one is removed only after the swap.

The API::

    check_output(path, inputs=())            # before the work: raises OutputError
    write_file(path, data, inputs=())        # bytes or str (UTF-8), atomically
    with open_output(path, "w", inputs=()) as fh: ...   # streamed, atomically
    check_folder(out, inputs=(), force=False)
    write_folder(out, {"rel/path": bytes}, inputs=(), force=False, command="run")

``inputs`` lists every file (or folder) the command reads, the project file included.
Errors are :class:`~metareview.base.exceptions.OutputError` (a ``MetaReviewError``), one line
naming the path.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any, Iterable, Iterator, Mapping

from .exceptions import OutputError

__all__ = ["MARKER", "check_output", "write_file", "open_output", "check_folder", "write_folder",
           "os_error_message", "spreadsheet_safe", "from_spreadsheet"]

#: The file that marks a folder as written by metareview (and so replaceable with ``--force``).
MARKER = ".metareview-output"

_SQLITE_HEADER = b"SQLite format 3\x00"
# a PostgreSQL project's URL given as an output (a path collapses its "//", so the scheme is what is left)
_DATABASE_URL = ("postgresql:", "postgres:")

PathLike = str | os.PathLike


def os_error_message(exc: OSError, path: PathLike, action: str) -> str:
    """One line for an OS error on a user's path: what failed, where, and what to do."""
    path = str(path)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"the disk holding {path} is full; free some space and try again (nothing was written)"
    if exc.errno == errno.EROFS:
        return f"cannot {action} {path}: the file system is read-only; choose another location"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"cannot {action} {path}: permission denied"
    if exc.errno == errno.ENOENT:
        return f"cannot {action} {path}: the folder does not exist"
    if exc.errno == errno.ENOTDIR:
        return f"cannot {action} {path}: a part of the path is a file, not a folder"
    if exc.errno == errno.EISDIR:
        return f"cannot {action} {path}: it is a folder, not a file"
    return f"cannot {action} {path}: {exc.strerror or exc}"


# A cell starting with one of these is run as a formula by Excel, LibreOffice and Google Sheets
# ("CSV injection", e.g. a title "=HYPERLINK(...)" from a search export).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def spreadsheet_safe(value):
    """A cell for a CSV or XLSX file that people open: text that a spreadsheet would run as a
    formula gets a leading apostrophe (shown as text, never run); numbers such as ``-3.2``
    and everything else are left alone.  :func:`from_spreadsheet` undoes it on import."""
    if isinstance(value, str) and len(value) > 1 and value.startswith(_FORMULA_START) and not _is_number(value):
        return "'" + value
    return value


def from_spreadsheet(value):
    """Undo :func:`spreadsheet_safe` on a cell read back from a file metareview wrote."""
    if isinstance(value, str) and value.startswith("'") and len(value) > 2 and \
            value[1:].startswith(_FORMULA_START) and not _is_number(value[1:]):
        return value[1:]
    return value


def _stat(path: Path):
    try:
        return path.stat()
    except OSError:
        return None


def _same(a: Path, b: Path) -> bool:
    """True when ``a`` and ``b`` are one file or folder (resolved path, or device and inode)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    sa, sb = _stat(a), _stat(b)
    return sa is not None and sb is not None and (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def _inside(child: Path, folder: Path) -> bool:
    try:
        Path(os.path.realpath(child)).relative_to(os.path.realpath(folder))
        return True
    except ValueError:
        return False


def _is_database(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(16) == _SQLITE_HEADER
    except OSError:
        return False


def check_output(path: PathLike, inputs: Iterable[PathLike | None] = ()) -> Path:
    """Refuse a file target that would destroy something, before any work is done.

    Raises :class:`OutputError` when ``path`` is one of ``inputs`` or lies inside an input
    folder, is a database (a review project), is a folder, or lies in a folder that does not
    exist or cannot be written.
    """
    if str(path).lower().startswith(_DATABASE_URL):
        raise OutputError("the output names a database (a postgresql:// URL, a review project?), not a file; "
                          "metareview never writes over one, choose an output file")
    path = Path(path)
    for source in inputs:
        if source is not None and _same(path, Path(source)):
            raise OutputError(f"{path} is an input of this command; writing there would destroy it, "
                              f"choose another output file")
        if source is not None and Path(source).is_dir() and _inside(path, Path(source)):
            raise OutputError(f"{path} lies inside {source}, an input of this command; choose another place")
    if path.is_dir():
        raise OutputError(f"{path} is a folder; give a file name for the output")
    if path.exists() and _is_database(path):
        raise OutputError(f"{path} is a database (a review project?); metareview never writes over one, "
                          f"choose another output file")
    parent = path.parent
    if not parent.exists():
        raise OutputError(f"cannot write {path}: the folder {parent} does not exist")
    if not parent.is_dir():
        raise OutputError(f"cannot write {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {path}: the folder {parent} is not writable")
    return path


@contextlib.contextmanager
def open_output(path: PathLike, mode: str = "w", *, inputs: Iterable[PathLike | None] = (),
                encoding: str | None = "utf-8", newline: str | None = None) -> Iterator[IO]:
    """Open ``path`` for writing through a temporary file beside it that replaces it on success.

    ``mode`` is ``"w"`` (text) or ``"wb"`` (bytes).  If the block raises, the target is left
    as it was and the temporary file is removed.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', not {mode!r}")
    path = check_output(path, inputs)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as exc:
        raise OutputError(os_error_message(exc, path, "write")) from None
    tmp = Path(tmp_name)
    with _removed_on_failure(tmp, path):
        kwargs: dict[str, Any] = {} if mode == "wb" else {"encoding": encoding, "newline": newline}
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():
            # keep the permissions of the file being replaced
            shutil.copymode(path, tmp)
        else:
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)


@contextlib.contextmanager
def _removed_on_failure(tmp: Path, target: Path) -> Iterator[None]:
    """Remove the temporary ``tmp`` if the block fails; an OS error becomes one line about ``target``."""
    try:
        yield
    except OSError as exc:
        _remove(tmp)
        raise OutputError(os_error_message(exc, target, "write")) from None
    except BaseException:
        _remove(tmp)
        raise


def write_file(path: PathLike, data: bytes | str, *, inputs: Iterable[PathLike | None] = (),
               encoding: str = "utf-8") -> Path:
    """Write ``data`` (text is encoded as ``encoding``) to ``path`` atomically; return the path."""
    payload = data.encode(encoding) if isinstance(data, str) else data
    with open_output(path, "wb", inputs=inputs) as fh:
        fh.write(payload)
    return Path(path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def _has_marker(folder: Path) -> bool:
    marker = folder / MARKER
    if not marker.is_file():
        return False
    try:
        return json.loads(marker.read_text(encoding="utf-8")).get("tool") == "metareview"
    except (OSError, ValueError, AttributeError):
        return False


def check_folder(out: PathLike, inputs: Iterable[PathLike | None] = (), *, force: bool = False) -> Path:
    """Refuse an output folder that may not be (re)written, before any work is done.

    An existing non-empty folder is replaced only with ``force`` and only when it carries
    :data:`MARKER`; a folder that is, or holds, one of ``inputs`` is never replaced.
    """
    out = Path(out)
    for source in inputs:
        if source is None:
            continue
        source = Path(source)
        if _same(out, source) or _inside(source, out):
            raise OutputError(f"output folder {out} holds {source}, an input of this command; "
                              f"choose another output folder with -o OUT")
    if out.exists() or out.is_symlink():
        if not out.is_dir() or out.is_symlink():
            raise OutputError(f"{out} exists and is not a folder; choose another output with -o OUT")
        try:
            empty = next(out.iterdir(), None) is None
        except OSError as exc:
            raise OutputError(os_error_message(exc, out, "read")) from None
        if not empty:
            if not _has_marker(out):
                raise OutputError(f"{out} exists and was not written by metareview (it has no {MARKER} "
                                  f"file); refusing to replace it even with --force: remove it yourself or "
                                  f"choose another output folder with -o OUT")
            if not force:
                raise OutputError(f"output folder {out} already exists; use --force to replace it, or -o OUT "
                                  f"to write elsewhere")
    parent = out.absolute().parent
    probe = parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise OutputError(f"cannot write {out}: {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {out}: the folder {probe} is not writable")
    return out


def write_folder(out: PathLike, files: Mapping[str, bytes], *, inputs: Iterable[PathLike | None] = (),
                 force: bool = False, command: str = "metareview") -> list[Path]:
    """Write ``files`` (relative path -> bytes) as the folder ``out``, with :data:`MARKER`.

    The folder is built beside ``out`` and renamed into place; an existing ``out`` (see
    :func:`check_folder`) is first renamed aside and removed only once the new folder is in
    place, and put back if the swap fails.  Returns the paths written (the marker excluded).
    """
    from .version import __version__

    out = check_folder(out, inputs, force=force)
    for rel in files:
        if rel == MARKER or Path(rel).is_absolute() or ".." in Path(rel).parts:
            raise ValueError(f"not a relative output path: {rel!r}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".new", dir=out.parent))
    except OSError as exc:
        raise OutputError(os_error_message(exc, out, "write")) from None
    old: Path | None = None
    with _removed_on_failure(tmp, out):
        for rel, data in sorted(files.items()):
            p = tmp / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
        (tmp / MARKER).write_text(json.dumps({"tool": "metareview", "version": __version__,
                                              "command": command}) + "\n", encoding="utf-8")
        os.chmod(tmp, 0o777 & ~_umask())
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            os.rename(out, old / "folder")
        try:
            os.rename(tmp, out)
        except BaseException:
            if old is not None:
                os.rename(old / "folder", out)
                _remove(old)
                old = None
            raise
    if old is not None:
        _remove(old)
    return [out / rel for rel in sorted(files)]
