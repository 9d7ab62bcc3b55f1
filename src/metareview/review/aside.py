"""An export read in a forked process while the importing process stores the records already read.

Why this is written here: reading a large export (its fields, its names, its pages) and storing
its records (SQLite's inserts and the writes to disk) each take a few seconds of one core, one
after the other.  A process forked once the text is decoded reads the records and sends them back
in pickled chunks through a pipe (:class:`multiprocessing.connection.Connection`); the importing
process stores each chunk while the next is read, on the other core.  Only the importing process
touches the store, inside its one transaction, so a process killed half-way leaves what a killed
import always left: nothing.  A thread would not do: both halves hold the GIL.

The reading process owns nothing: it has only the pipe's sending end, so when the importing process
ends (finished, failed or killed) its next send fails and it leaves; it ignores Ctrl-C (the importing
process ends it) and leaves by ``os._exit``, running none of the importing process's exit handlers.
An error it meets (a row that cannot be read, no records at all) is sent back and raised by the
importing process where the records are consumed, so the import's transaction is rolled back as
if the reading had failed in-process.

Nothing is sent to the reading process: it starts with a copy of the importing process's memory (the
decoded text, the parsers loaded), and runs only the parser, so a lock that another thread of the
importing process held at the fork (the progress bars' refresh) is never wanted in it.  Where
``os.fork`` is missing the importing process reads the export itself.
"""

from __future__ import annotations

import functools
import os
import pickle
import signal
import traceback
from collections.abc import Callable, Iterator
from dataclasses import fields
from itertools import starmap
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from ..base.collector import collector_paused
from .records import Record

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from .importers import Export

__all__ = ["ReadAside", "ASIDE_FROM", "can_fork"]

#: exports of at least this many bytes are read aside (a smaller one is read before a fork pays back)
ASIDE_FROM = 4 * 2**20
#: a record is sent as its fields, in the order :class:`~.records.Record` takes them (a tuple pickles and
#: unpickles in about two thirds of the time of the object)
_FIELDS = tuple(f.name for f in fields(Record))
#: records per message (about 0.8 MB of a large export's records: less than the pipe holds), and the pipe's size
_CHUNK = 250
_PIPE_BYTES = 2**20


def can_fork() -> bool:
    """Whether work can be done aside (``os.fork`` exists: not on Windows)."""
    return hasattr(os, "fork")


def _send_error(out: Connection, exc: BaseException) -> None:
    try:
        pickle.dumps(exc)
    except Exception:  # noqa: BLE001 - an error that does not pickle is sent as its text
        exc = RuntimeError("".join(traceback.format_exception(exc)))
    try:
        out.send(("error", exc, None))
    except (BrokenPipeError, ConnectionError):
        pass


def _widen(pipe: Connection) -> None:
    """Let the pipe hold a megabyte (Linux's default is 64 KiB) where the system allows it, so that a
    message is written in one go rather than one piece per turn of the receiving process on a busy core."""
    import fcntl
    try:
        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
    except (AttributeError, OSError):  # not Linux, or a smaller limit: the default size does too
        pass


def _fork(work: Callable[[Connection], None]) -> tuple[int, Connection]:
    """A forked process that runs ``work`` with the sending end of a pipe and leaves; its pid and the
    receiving end."""
    from multiprocessing.connection import Pipe

    incoming, out = Pipe(duplex=False)
    _widen(out)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the forked process (its coverage is not collected)
        code = 0
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            incoming.close()
            with collector_paused():
                work(out)
            out.close()
        except BaseException:  # noqa: BLE001 - nothing may escape into a copy of the caller
            code = 1
        finally:
            os._exit(code)
    out.close()
    return pid, incoming


def _end(pid: int, incoming: Connection) -> None:
    """Close the pipe and end the process (it has sent everything and left, or it is no longer needed)."""
    incoming.close()
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:  # pragma: no cover - already reaped elsewhere
        pass
    os.waitpid(pid, 0)


def _received(incoming: Connection) -> tuple[str, Any, Any]:
    try:
        kind, value, extra = incoming.recv()
    except EOFError:
        raise ChildProcessError("the process reading the export ended before it had read it "
                                "(killed, or out of memory?)") from None
    if kind == "error":
        raise value
    return kind, value, extra


def _read(records: Iterator[Record], percent: list[int], out: Connection) -> None:
    """The reading process: every chunk of records, with how far the reading is (``percent[0]``), then
    the end or an error."""
    fields = attrgetter(*_FIELDS)
    chunk: list[tuple[Any, ...]] = []
    try:
        for record in records:
            chunk.append(fields(record))
            if len(chunk) == _CHUNK:
                out.send(("records", chunk, percent[0]))
                chunk = []
        out.send(("records", chunk, percent[0]))
        out.send(("end", None, None))
    except (BrokenPipeError, ConnectionError):
        pass  # the importing process has ended or given up: nobody is waiting
    except BaseException as exc:  # noqa: BLE001 - every error is the importing process's to raise
        _send_error(out, exc)


class ReadAside:
    """The records of ``export``, read in a forked process; iterate it once, inside ``with``.

    ``progress(percent, 100)`` is told how far the reading is as chunks arrive; :attr:`count` is how
    many records have been read so far (all of them once the iteration has ended).  Leaving the
    ``with`` block ends the reading process if it is still running.
    """

    def __init__(self, export: Export, progress: Callable[[int, int], None] | None = None):
        self._export = export
        self._progress = progress
        self.count = 0
        self._pid: int | None = None
        self._incoming: Connection | None = None

    def __enter__(self) -> ReadAside:
        percent = [0]

        def progress(done: int, total: int) -> None:
            percent[0] = done

        # taken before the fork: the export lets go of its text, which the reading process keeps
        records = self._export.records(progress)
        self._export = None  # type: ignore[assignment]
        self._pid, self._incoming = _fork(functools.partial(_read, records, percent))
        del records  # the reading process's now: this process lets go of its copy of the text
        return self

    def __iter__(self) -> Iterator[Record]:
        if self._incoming is None:
            raise RuntimeError("read the records inside `with ReadAside(...)`")
        shown = -1
        while True:
            kind, value, percent = _received(self._incoming)
            if kind == "end":
                if self._progress is not None:
                    self._progress(100, 100)
                return
            self.count += len(value)
            if self._progress is not None and percent != shown:
                self._progress(percent, 100)
                shown = percent
            yield from starmap(Record, value)

    def __exit__(self, *exc: object) -> None:
        if self._pid is not None and self._incoming is not None:
            _end(self._pid, self._incoming)
        self._pid = self._incoming = None
