"""Fixtures shared by every test folder: a throwaway PostgreSQL server for the review store's second backend.

The server (:mod:`tests.pgserver`) is started once per session, the first time a test asks
for it, and stopped at the end.  Each test gets a schema of its own in one database (a
project lives in the connection's current schema), which is much faster than a database
per test.  Without Debian's PostgreSQL binaries the PostgreSQL half of the tests is
skipped on a workstation, and fails under CI (``CI=true``), which installs them.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pgserver import Cluster, find_bindir  # noqa: E402

BACKENDS = ("sqlite", "postgresql")


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI installs it: apt-get install postgresql)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    bindir = find_bindir()
    if bindir is None:
        _missing("PostgreSQL's server binaries (/usr/lib/postgresql/N/bin/initdb) are not installed: "
                 "apt-get install postgresql")
    if importlib.util.find_spec("psycopg") is None:
        _missing("psycopg is not installed: pip install 'metareview[postgres]'")
    cluster = Cluster(bindir).start()
    cluster.admin("CREATE DATABASE tests")
    try:
        yield cluster
    finally:
        cluster.stop()


_schemas = iter(range(1, 10**9))


@pytest.fixture
def pg_urls(pg_cluster: Cluster) -> Callable[[], str]:
    """Makes empty schemas of their own on the test server; each call returns the URL of a new one."""
    import psycopg

    def new() -> str:
        name = f"t{next(_schemas)}"
        with psycopg.connect(pg_cluster.url("tests"), autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {name}")
        return f"{pg_cluster.url('tests')}?options=-csearch_path%3D{name}"
    return new


@pytest.fixture
def pg_url(pg_urls: Callable[[], str]) -> str:
    """The URL of an empty schema of its own on the test server."""
    return pg_urls()


@pytest.fixture(params=BACKENDS)
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a new project goes: a file in ``tmp_path``, or an empty schema on the test server."""
    if request.param == "postgresql":
        return request.getfixturevalue("pg_url")
    return str(tmp_path / "review.mrv")
