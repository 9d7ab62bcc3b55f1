"""Worker processes forked as a small tree: the first loads what drawing needs, then forks the others.

Why this is written here rather than taken from :mod:`concurrent.futures`: a
``ProcessPoolExecutor`` forks every worker from the calling process, so the modules the
workers need and the caller does not (matplotlib, its backends, the plotting modules: about
half of a review run's start-up) must either be loaded by the caller before it forks, which
puts them on the serial path of the run while the other cores wait, or by every worker, which
loads them once per worker on cores that are busy drawing (docs/benchmarks.md has both
measured).  Here the caller forks one worker as soon as it has loaded what both sides need; that
worker loads the rest while the caller goes on (reading the data, pooling), and then forks the
other workers, which start with everything loaded.  The modules are loaded once, beside the
caller's work.  The second worker is a child of the first, which ``concurrent.futures`` cannot
do.

Each worker has two pipes of its own, jobs in and results out (pickles, through
:class:`multiprocessing.connection.Connection`).  A worker says it is ready once it has loaded,
then takes one job at a time.  The caller receives results on a thread of its own, so that a
worker that finishes is given its next job while the caller is busy.  A worker that ends
(killed, out of memory) closes its result pipe: the thread hears it at once, and the job it
held, and when no worker is left every job waiting, fails with :class:`WorkerStopped`.
Workers ignore Ctrl-C (the caller stops them) and leave by ``os._exit``, running none of the
caller's exit handlers.
"""

from __future__ import annotations

import gc
import importlib
import os
import pickle
import signal
import threading
import traceback
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..base.collector import collector_paused

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

__all__ = ["WorkerTree", "WorkerStopped", "WorkerTraceback"]


class WorkerStopped(RuntimeError):
    """A worker process ended before it returned the result of its job."""


class WorkerTraceback(Exception):
    """The traceback of an error raised in a worker (set as the ``__cause__`` of that error
    in the calling process, as :mod:`concurrent.futures` does)."""


class WorkerTree:
    """``count`` worker processes that run ``work(*job)`` for the jobs given to them.

    The first worker is forked at once (the caller should have loaded what it shares with the
    workers), calls ``prepare`` (when given), imports ``modules``, calls ``initializer``, and
    forks the others.  Each worker
    then reports ``hello()`` (anything that pickles) and serves jobs until :meth:`close`.

    ``on_ready(worker, hello)``, ``on_result(worker, value)``, ``on_error(worker, exc)`` (an
    exception raised by ``work``, or by loading, which ends that worker) and
    ``on_stopped(worker, exc)`` (the worker has ended: after this it takes no jobs) are called
    on the thread that receives the results.
    """

    def __init__(self, count: int, modules: Sequence[str], initializer: Callable[[], None],
                 hello: Callable[[], Any], work: Callable[..., Any], *,
                 on_ready: Callable[[int, Any], None], on_result: Callable[[int, Any], None],
                 on_error: Callable[[int, BaseException], None],
                 on_stopped: Callable[[int, BaseException], None],
                 prepare: Callable[[], None] | None = None):
        from multiprocessing.connection import Pipe

        self.count = count
        self._callbacks = (on_ready, on_result, on_error, on_stopped)
        jobs = [Pipe(duplex=False) for _ in range(count)]          # (worker reads, caller writes)
        results = [Pipe(duplex=False) for _ in range(count)]       # (caller reads, worker writes)
        self.pids: list[int | None] = [None] * count
        # What the first worker inherits is frozen for its garbage collector (and that of the
        # workers it forks): their collections leave the loaded modules alone and touch, hence
        # copy, fewer pages they share with this process.  This process keeps collecting what
        # it had not set aside itself (the collector unfreezes all or nothing: a process that
        # had frozen objects, such as the command line after its imports, keeps these frozen too).
        unfreeze = gc.get_freeze_count() == 0
        gc.freeze()
        try:
            pid = os.fork()
            if pid == 0:
                _first_worker(jobs, results, prepare, modules, initializer, hello, work)   # does not return
        finally:
            if unfreeze:
                gc.unfreeze()
        self._first = pid
        self.pids[0] = pid
        for reader, _ in jobs:
            reader.close()
        for _, writer in results:
            writer.close()
        self._jobs = [writer for _, writer in jobs]
        self._sending = threading.Lock()        # a job is sent whole, and never after close
        self._closed = False
        self._results = [reader for reader, _ in results]
        self._receiver = threading.Thread(target=self._receive, name="metareview-workers", daemon=True)
        self._receiver.start()

    def give(self, worker: int, job: tuple) -> None:
        """Send ``job`` (the arguments of ``work``) to ``worker`` (one that is ready and idle).
        A worker that has ended is reported through ``on_stopped``, not raised here; a job that
        does not pickle raises here (and nothing is sent)."""
        with self._sending:
            if self._closed:
                return
            try:
                self._jobs[worker].send(job)
            except OSError:     # it has ended: the receiving thread reports it
                pass

    def release(self) -> None:
        """Take no more jobs: each worker leaves once it has finished its job, while the caller goes on
        (:meth:`close` then waits for them)."""
        with self._sending:
            self._closed = True
            for conn in self._jobs:
                conn.close()

    def close(self, stop: bool = False) -> None:
        """End the workers: at once (SIGTERM) with ``stop``, else once they finish their job."""
        self.release()
        if stop:
            for pid in self.pids:
                if pid is not None:
                    try:
                        os.kill(pid, signal.SIGTERM)
                    except ProcessLookupError:
                        pass
        self._receiver.join()
        os.waitpid(self._first, 0)

    def _receive(self) -> None:
        open_: dict[Connection, int] = {conn: i for i, conn in enumerate(self._results)}
        try:
            self._receive_from(open_)
        except BaseException as exc:  # noqa: BLE001 - a failing callback: nobody may wait for ever
            for worker in open_.values():
                try:
                    self._callbacks[3](worker, exc)
                except BaseException:  # noqa: BLE001, S110 - reporting the first error is what matters
                    pass

    def _receive_from(self, open_: dict[Connection, int]) -> None:
        from multiprocessing.connection import wait

        on_ready, on_result, on_error, on_stopped = self._callbacks
        broken: BaseException | None = None    # why the first worker could not start, if so
        while open_:
            ready = wait(list(open_))
            for conn, worker in list(open_.items()):
                if conn not in ready:
                    continue
                try:
                    kind, value = conn.recv()
                except (EOFError, OSError):
                    del open_[conn]
                    conn.close()
                    pid = self.pids[worker]
                    on_stopped(worker, broken or WorkerStopped(
                        f"figure worker {worker + 1}" + (f" (process {pid})" if pid else "")
                        + " ended before it finished its figure"))
                    continue
                except Exception as exc:  # noqa: BLE001 - a result that does not unpickle here
                    kind, value = "error", (exc, "".join(traceback.format_exception(exc)))
                if kind == "ready":
                    self.pids[worker], hello = value
                    on_ready(worker, hello)
                elif kind == "done":
                    on_result(worker, value)
                else:                   # "error" or "broken": an exception and its traceback
                    error, text = value
                    if error.__cause__ is None:
                        error.__cause__ = WorkerTraceback(text)
                    if kind == "broken":
                        broken = error
                    on_error(worker, error)


def _first_worker(jobs, results, prepare, modules, initializer, hello, work) -> None:
    """The first worker: prepare, load ``modules``, fork the others, serve; never returns."""
    code = 1
    try:
        gc.enable()             # the caller may fork with its collector paused (while it imports)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for _, writer in jobs:
            writer.close()
        for reader, _ in results:
            reader.close()
        try:
            if prepare is not None:
                prepare()
            with collector_paused():
                for name in modules:
                    importlib.import_module(name)
            initializer()
        except BaseException as exc:  # noqa: BLE001 - reported to the caller, which raises it
            _send(results[0][1], "broken", exc)
            return
        gc.freeze()             # the modules just loaded, for this worker and those it forks
        children = []
        for i in range(1, len(jobs)):
            pid = os.fork()
            if pid == 0:
                for j in range(len(jobs)):
                    if j != i:
                        jobs[j][0].close()
                        results[j][1].close()
                _serve(jobs[i][0], results[i][1], hello, work)
                os._exit(0)
            children.append(pid)
        for j in range(1, len(jobs)):
            jobs[j][0].close()
            results[j][1].close()
        _serve(jobs[0][0], results[0][1], hello, work)
        for pid in children:
            os.waitpid(pid, 0)
        code = 0
    finally:
        os._exit(code)


def _serve(jobs, results, hello, work) -> None:
    """Say ready, then run each job received until the caller closes the job pipe."""
    if not _send(results, "ready", (os.getpid(), hello())):
        return
    while True:
        try:
            job = jobs.recv()
        except (EOFError, OSError):
            return
        except Exception as exc:  # noqa: BLE001 - a job that does not unpickle: its error is the result
            sent = _send(results, "error", exc)
        else:
            try:
                value = work(*job)
            except Exception as exc:  # noqa: BLE001 - re-raised by the caller
                sent = _send(results, "error", exc)
            else:
                sent = _send(results, "done", value)
        if not sent:
            return


def _send(conn, kind: str, value) -> bool:
    """Send a message (an exception with its traceback for "error" and "broken"); False when the
    caller is gone."""
    if kind in ("error", "broken"):
        value = (value, "".join(traceback.format_exception(value)))
    try:
        try:
            conn.send((kind, value))
        except (pickle.PicklingError, TypeError, AttributeError) as exc:   # a value that does not pickle
            error = RuntimeError(f"{type(exc).__name__}: {exc}")
            conn.send(("error", (error, "".join(traceback.format_exception(exc)))))
    except OSError:             # the caller is gone (a broken pipe)
        return False
    return True
