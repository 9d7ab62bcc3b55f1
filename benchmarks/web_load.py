"""The workspace under load: reviewers screening at once through a real ``metareview serve``.

Run with ``python benchmarks/web_load.py [REVIEWERS] [DECISIONS_EACH] [sqlite|postgresql]`` (default
5 x 2,000 on SQLite; the PostgreSQL figures in docs/benchmarks.md are ``20 1000`` on each backend).
A project of as many records as each reviewer decides is made in a temporary folder
(or, for ``postgresql``, in a throwaway cluster started with Debian's binaries by
``tests/pgserver.py``, with fsync on, as a server that keeps its data runs);
the server runs on 127.0.0.1 in a subprocess; every reviewer signs in through the login
form and decides every record, all reviewers at once.  Reported: decisions per second,
median and 95th-percentile latency of one decision as the reviewer's client saw it, and
whether the log holds exactly the acknowledged decisions.  Then the same load again with
the server killed (SIGKILL) a third of the way through and restarted: every acknowledged
decision must be in the log.  The harness is ``tests/web/load.py``, which the bounded
test in ``tests/web/test_load.py`` also uses.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "web"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import load as harness  # noqa: E402

import pgserver  # noqa: E402
from metareview.review import Project  # noqa: E402


def main(n_reviewers: int = 5, each: int = 2000, backend: str = "sqlite") -> dict:
    if backend not in ("sqlite", "postgresql"):
        raise SystemExit(f"backend is sqlite or postgresql, not {backend!r}")
    reviewers = [f"reviewer{i + 1}" for i in range(n_reviewers)]
    out: dict = {"backend": backend, "reviewers": n_reviewers, "decisions_each": each,
                 "python": platform.python_version(), "cpus": os.cpu_count()}
    cluster = None
    if backend == "postgresql":
        bindir = pgserver.find_bindir()
        if bindir is None:
            raise SystemExit("PostgreSQL's server binaries are not installed: apt-get install postgresql")
        cluster = pgserver.Cluster(bindir, durable=True).start()
    try:
        return _run(out, reviewers, each, cluster)
    finally:
        if cluster is not None:
            cluster.stop()


def _run(out: dict, reviewers: list[str], each: int, cluster) -> dict:
    n_reviewers = len(reviewers)

    def location(tmp: str, name: str):
        return cluster.new_database(name) if cluster is not None else Path(tmp) / f"{name}.mrv"

    with tempfile.TemporaryDirectory() as tmp:
        project = harness.make_project(location(tmp, "load"), each, reviewers)
        with Project.open(project) as p:
            ids = p.store.record_ids()
        server = harness.Server(project)
        try:
            load = harness.screen(server.start(), reviewers, ids)
        finally:
            server.stop()
        log = harness.logged(project)
        counts = Counter((r, i) for r, i, _ in log)
        out["load"] = load.summary()
        out["load"]["lost"] = len(set(load.acknowledged) - set(log))
        out["load"]["duplicated"] = sum(n - 1 for n in counts.values())
        out["load"]["logged"] = len(log)

        project2 = harness.make_project(location(tmp, "kill"), each, reviewers)
        server = harness.Server(project2)
        try:
            killed = harness.screen(server.start(), reviewers, ids, stop_after=n_reviewers * each // 3,
                                    on_stop=server.kill)
            acknowledged = set(killed.acknowledged)
            after_kill = set(harness.logged(project2))
            server.start()
            resumed = harness.screen(server.url, reviewers, ids, killed)
        finally:
            server.stop()
        final = harness.logged(project2)
        out["kill"] = {"acknowledged_before_kill": len(acknowledged),
                       "lost_at_kill": len(acknowledged - after_kill),
                       "written_but_unacknowledged": len(after_kill - acknowledged),
                       "complete_after_restart": {(r, i) for r, i, _ in final} == {(r, i) for r in reviewers
                                                                                   for i in ids},
                       "lost_after_restart": len(set(resumed.acknowledged) - set(final))}
    return out


if __name__ == "__main__":
    numbers = [int(a) for a in sys.argv[1:3]]
    print(json.dumps(main(*numbers, *sys.argv[3:4]), indent=2))
