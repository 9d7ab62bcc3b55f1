"""Load and faults against a real ``metareview serve``: reviewers posting screening decisions at once.

Used by ``tests/web/test_load.py`` (a bounded run) and ``benchmarks/web_load.py`` (5
reviewers x 2,000 decisions).  Everything runs on 127.0.0.1: the server is a subprocess
started as a user starts it, each reviewer a thread with its own HTTP client, signed in
through the login form and posting as ``app.js`` does (CSRF token in the header, JSON
answer).  A decision counts as acknowledged when the server answered 200.
"""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from metareview.review import Project
from metareview.review.accounts import add_user
from metareview.web.auth import hash_password

PASSWORD = "load test password"
_MAIN = "import sys; from metareview.cli import main; sys.exit(main())"


def make_project(path: str | Path, n_records: int, reviewers: list[str]) -> str | Path:
    """A project of ``n_records`` distinct records (one CSV batch) and an account per reviewer."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["title", "abstract", "authors", "year", "journal", "doi"])
    for k in range(n_records):
        writer.writerow([f"Trial {k} of treatment {k * 7919 % 1000} in condition {k % 37}",
                         "Background. " + "Pain after treatment was measured at four weeks. " * 12,
                         "Smith A; Jones B", 2000 + k % 20, "J Test", f"10.1000/load.{k}"])
    digest = hash_password(PASSWORD)
    with Project.init(path, name="load") as project:
        project.import_bytes(buf.getvalue().encode(), filename="load.csv", source="Load")
        for name in reviewers:
            add_user(project, name, role="reviewer", password_hash=digest)
    return path


class Server:
    """``metareview serve PROJECT --port 0`` in a subprocess, which can be killed and started again.

    What the server writes is read as it comes, by a thread per stream, into :attr:`log`: a
    pipe nobody reads fills up (64 KiB on Linux), and a server blocked writing a warning or a
    traceback into it stops answering, which a load test would report as timeouts far from
    their cause.  :meth:`output` gives the log for a failure's message.
    """

    def __init__(self, project: str | Path):
        self.project = project
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.log: list[str] = []
        self._readers: list[threading.Thread] = []

    def _read(self, stream: Any, name: str) -> None:
        for line in stream:
            self.log.append(f"[{name}] {line.rstrip()}")

    def start(self, timeout: float = 60.0) -> str:
        self.proc = subprocess.Popen([sys.executable, "-c", _MAIN, "serve", str(self.project), "--port", "0"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        self._readers = [threading.Thread(target=self._read, args=(stream, name), daemon=True)
                         for stream, name in ((self.proc.stdout, "stdout"), (self.proc.stderr, "stderr"))]
        for reader in self._readers:
            reader.start()
        found = re.search(r"http://127\.0\.0\.1:\d+/", line)
        if not found:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"metareview serve did not say where it listens: {line!r}\n{self.output()}")
        self.url = found.group(0).rstrip("/")
        started = time.monotonic()
        deadline = started + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/login", timeout=5).status_code == 200:
                    return self.url
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"metareview serve does not answer at {self.url} after {timeout:.0f} s "
                           f"({machine_load()})\n{self.output()}")

    def output(self, lines: int = 60) -> str:
        """The last ``lines`` lines the server wrote (stdout and stderr), for a failure's message."""
        for reader in self._readers:  # a stopped server's last lines
            if self.proc is not None and self.proc.poll() is not None:
                reader.join(timeout=5)
        tail = self.log[-lines:]
        return "server output" + (f" (last {lines} of {len(self.log)} lines)" if len(self.log) > lines else "") + \
            ":\n" + ("\n".join(tail) if tail else "(none)")

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, as when the machine loses power."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


#: seconds a client keeps an idle connection: well inside the server's keep-alive timeout
KEEPALIVE_EXPIRY = 1.0


def sign_in(url: str, name: str) -> tuple[httpx.Client, str]:
    """A client signed in as ``name`` through the login form, and its CSRF token."""
    # an idle connection let go of before the server's keep-alive timeout (uvicorn's 5 s, which is also httpx's
    # default expiry): otherwise a reviewer signed in first, idle while the others sign in, can send its first
    # decision on the connection the server is closing at that moment, and get a reset for it
    client = httpx.Client(base_url=url, timeout=120, follow_redirects=True,
                          limits=httpx.Limits(keepalive_expiry=KEEPALIVE_EXPIRY))
    token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/login").text)
    assert token is not None
    resp = client.post("/login", data={"username": name, "password": PASSWORD, "csrf_token": token.group(1)})
    assert resp.status_code == 200, resp.text[:200]  # redirected to the dashboard
    token = re.search(r'name="csrf-token" content="([^"]+)"', resp.text)
    assert token is not None
    return client, token.group(1)


def decision_for(reviewer: str, record_id: int) -> str:
    return ("include", "exclude", "maybe")[(record_id * 31 + sum(map(ord, reviewer))) % 3]


@dataclass
class Load:
    """What the reviewers sent and what the server acknowledged."""

    latencies: list[float] = field(default_factory=list)
    acknowledged: list[tuple[str, int, str]] = field(default_factory=list)
    in_flight: list[tuple[str, int, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies)
        return {"decisions": len(self.acknowledged), "elapsed_s": round(self.elapsed, 2),
                "per_second": round(len(self.acknowledged) / self.elapsed, 1) if self.elapsed else None,
                "median_ms": round(1000 * statistics.median(lat), 1) if lat else None,
                "p95_ms": round(1000 * lat[int(0.95 * (len(lat) - 1))], 1) if lat else None,
                "max_ms": round(1000 * lat[-1], 1) if lat else None, "errors": len(self.errors)}


def screen(url: str, reviewers: list[str], record_ids: list[int], load: Load | None = None, *,
           stop_after: int | None = None, on_stop: Any = None) -> Load:
    """Every reviewer decides every record in ``record_ids`` at once, each in their own thread.

    With ``stop_after``, ``on_stop()`` is called (e.g. to kill the server) once that many
    decisions were acknowledged; reviewers then stop at their first failed request.
    """
    load = load or Load()
    done = {(r, i) for r, i, _ in load.acknowledged}
    stopped = threading.Event()
    clients = {name: sign_in(url, name) for name in reviewers}
    start = threading.Barrier(len(reviewers))
    stopper: list[threading.Thread] = []

    def work(name: str) -> None:
        client, token = clients[name]
        start.wait()
        for rid in record_ids:
            if (name, rid) in done:
                continue
            decision = decision_for(name, rid)
            with load.lock:
                load.in_flight.append((name, rid, decision))
            t0 = time.perf_counter()
            try:
                resp = client.post("/screen/title_abstract/decide", data={"record_id": rid, "decision": decision},
                                   headers={"X-CSRF-Token": token, "Accept": "application/json"})
            except httpx.HTTPError as exc:
                with load.lock:
                    load.errors.append(f"{name} {rid}: {type(exc).__name__} after "
                                       f"{time.perf_counter() - t0:.1f} s: {exc}")
                if stopped.is_set():
                    return
                continue
            took = time.perf_counter() - t0
            with load.lock:
                load.in_flight.remove((name, rid, decision))
                if resp.status_code == 200 and resp.json().get("recorded"):
                    load.acknowledged.append((name, rid, decision))
                    load.latencies.append(took)
                else:
                    load.errors.append(f"{name} {rid}: {resp.status_code} after {took:.1f} s: {resp.text[:300]}")
                if stop_after is not None and not stopped.is_set() and len(load.acknowledged) >= stop_after:
                    stopped.set()
                    stopper.append(threading.Thread(target=on_stop))
                    stopper[0].start()

    threads = [threading.Thread(target=work, args=(name,)) for name in reviewers]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for t in stopper:  # started by a reviewer thread, so known only once they are done
        t.join()
    load.elapsed += time.perf_counter() - t0
    for client, _ in clients.values():
        client.close()
    return load


def machine_load() -> str:
    """The load averages (1, 5, 15 minutes) and the number of CPUs, for a failure's message."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} CPUs"


def diagnosis(load: Load, server: Server, log: list[tuple[str, int, str]] | None = None) -> str:
    """What a failed load test needs said to be understood after the fact: the timing and the
    machine's load, every failed request with how long it took, what the log holds beyond
    or short of what was acknowledged, and the server's own output."""
    parts = [f"load: {load.summary()}; {machine_load()}"]
    if load.errors:
        parts.append(f"{len(load.errors)} failed request(s):\n" + "\n".join(load.errors[:40]))
    if log is not None:
        acked, logged_ = Counter(load.acknowledged), Counter(log)
        lost = sorted((acked - logged_).elements())
        extra = sorted((logged_ - acked).elements())
        twice = sorted(d for d, n in logged_.items() if n > 1)
        parts.append(f"acknowledged but not in the log ({len(lost)}): {lost[:20]}\n"
                     f"in the log but not acknowledged ({len(extra)}): {extra[:20]}\n"
                     f"in the log more than once ({len(twice)}): {twice[:20]}")
    parts.append(server.output())
    return "\n".join(parts)


def logged(project: str | Path) -> list[tuple[str, int, str]]:
    """The decisions in the project's log, read from the file (or database) as the command line reads it."""
    with Project.open(project) as p:
        assert p.store.integrity() == "ok"
        return [(r["reviewer"], r["record_id"], r["decision"]) for r in p.store.decision_log(active=True)]
