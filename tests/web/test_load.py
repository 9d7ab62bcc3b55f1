"""Deliverable 5, bounded: reviewers posting at once through a real server lose nothing and duplicate nothing,
and a server killed mid-load keeps every decision it acknowledged; on a project file and on PostgreSQL.
``benchmarks/web_load.py`` runs the full 5 x 2,000 (or 20 x 1,000, ``--backend postgresql``) and reports the
latencies."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from metareview.review import Project

from .load import Load, Server, diagnosis, logged, make_project, screen

REVIEWERS = ["r1", "r2", "r3", "r4", "r5"]


def _loader(location: str) -> Iterator[Any]:
    servers: list[Server] = []

    def make(n: int, reviewers: list[str] = REVIEWERS) -> tuple[str, list[int], Server]:
        project = make_project(location, n, reviewers)
        with Project.open(project) as p:
            ids = p.store.record_ids()
        servers.append(Server(project))
        return project, ids, servers[-1]

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def loaded(location: str) -> Iterator[Any]:
    """``loaded(n)``: a project of ``n`` records with the five reviewers (or ``reviewers``), its record ids, and its
    server (not started; stopped after the test); once as a file, once on the PostgreSQL test server."""
    yield from _loader(location)


@pytest.fixture
def loaded_on_server(pg_url: str) -> Iterator[Any]:
    """``loaded`` on the PostgreSQL test server only."""
    yield from _loader(pg_url)


def test_concurrent_reviewers_lose_and_duplicate_nothing(loaded):
    project, ids, server = loaded(60)
    load = screen(server.start(), REVIEWERS, ids)
    log = logged(project)
    assert load.errors == [] and len(load.acknowledged) == 5 * 60, diagnosis(load, server, log)
    assert Counter((r, i) for r, i, _ in log) == Counter((r, i) for r, i, _ in load.acknowledged)
    assert max(Counter((r, i) for r, i, _ in log).values()) == 1
    assert sorted(log) == sorted(load.acknowledged)  # and each with the decision that was sent


def test_a_server_killed_mid_load_keeps_every_acknowledged_decision(loaded):
    project, ids, server = loaded(80)
    load = screen(server.start(), REVIEWERS, ids, stop_after=100, on_stop=server.kill)
    assert server.proc is not None and server.proc.returncode == -9
    acknowledged = set(load.acknowledged)
    assert 100 <= len(acknowledged) < 5 * 80
    log = logged(project)
    assert acknowledged <= set(log)  # nothing acknowledged was lost
    # beyond them, at most the requests in flight when the server died (one per reviewer) were written
    assert set(log) - acknowledged <= set(load.in_flight) and len(log) == len(set(log))
    # restarted, the server shows the same decisions and takes the rest
    url = server.start()
    resumed = screen(url, REVIEWERS, ids, load)
    final = logged(project)
    assert acknowledged <= set(final) and set(resumed.acknowledged) <= set(final)
    assert {(r, i) for r, i, _ in final} == {(r, i) for r in REVIEWERS for i in ids}


def test_twenty_reviewers_at_once_on_postgresql_lose_nothing(loaded_on_server):
    """Twenty concurrent reviewers on a server project, bounded to 15 decisions each (the benchmark makes 1,000;
    signing twenty people in, Argon2 on purpose, is most of this test's time)."""
    reviewers = [f"reviewer{k}" for k in range(1, 21)]
    project, ids, server = loaded_on_server(15, reviewers)
    load = screen(server.start(), reviewers, ids)
    log = logged(project)
    # on failure, the timing, the machine's load, each failed request, the log against the acknowledgements and
    # the server's output: enough to tell a timeout under load from a lost or doubled write
    assert load.errors == [] and len(load.acknowledged) == 20 * 15, diagnosis(load, server, log)
    assert sorted(log) == sorted(load.acknowledged), diagnosis(load, server, log)


def test_a_failed_load_says_what_went_wrong():
    """The message of a failed load test: failed requests with their time, lost, unacknowledged and doubled
    writes, the machine's load and the server's output."""
    load = Load(acknowledged=[("r1", 1, "include"), ("r1", 2, "exclude"), ("r2", 1, "maybe")],
                errors=["r2 2: ReadTimeout after 120.0 s: timed out"], elapsed=3.0, latencies=[0.1, 0.2, 0.3])
    server = Server("unused")
    server.log = ["[stderr] Traceback (most recent call last):", "[stderr] psycopg.errors.LockNotAvailable"]
    log = [("r1", 1, "include"), ("r2", 1, "maybe"), ("r2", 1, "maybe"), ("r3", 5, "include")]
    text = diagnosis(load, server, log)
    assert "ReadTimeout after 120.0 s" in text and "load average" in text
    assert "acknowledged but not in the log (1): [('r1', 2, 'exclude')]" in text
    assert "in the log but not acknowledged (2): [('r2', 1, 'maybe'), ('r3', 5, 'include')]" in text
    assert "in the log more than once (1): [('r2', 1, 'maybe')]" in text
    assert "LockNotAvailable" in text and "'decisions': 3" in text
