"""Deliverable 5, bounded: reviewers posting at once through a real server lose nothing and duplicate nothing,
and a server killed mid-load keeps every decision it acknowledged.  ``benchmarks/web_load.py`` runs the full
5 x 2,000 and reports the latencies."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from metareview.review import Project

from .load import Server, logged, make_project, screen

REVIEWERS = ["r1", "r2", "r3", "r4", "r5"]


@pytest.fixture
def loaded(tmp_path: Path) -> Iterator[Any]:
    """``loaded(n)``: a project of ``n`` records with the five reviewers, its record ids, and its server (not started;
    stopped after the test)."""
    servers: list[Server] = []

    def make(n: int) -> tuple[Path, list[int], Server]:
        project = make_project(tmp_path / "load.mrv", n, REVIEWERS)
        with Project.open(project) as p:
            ids = p.store.record_ids()
        servers.append(Server(project))
        return project, ids, servers[-1]

    yield make
    for server in servers:
        server.stop()


def test_concurrent_reviewers_lose_and_duplicate_nothing(loaded):
    project, ids, server = loaded(60)
    load = screen(server.start(), REVIEWERS, ids)
    assert load.errors == []
    assert len(load.acknowledged) == 5 * 60
    log = logged(project)
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
