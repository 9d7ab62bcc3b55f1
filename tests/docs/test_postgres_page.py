"""The PostgreSQL guide runs against the test server: its SQL creates the roles and the database, its commands
run as the owner and as the workspace's role, and that role may add rows but never delete one."""

from __future__ import annotations

import pytest


def test_postgres_guide_runs_and_its_roles_hold(page_runner, pg_cluster, monkeypatch):
    import psycopg
    owner = pg_cluster.url("mrgfus").replace("postgres@", "mrgfus_owner@")
    app = pg_cluster.url("mrgfus").replace("postgres@", "mrgfus_app@")
    # the guide's SQL blocks, in order: the administrator, the administrator in the new database, the owner
    connections = iter([pg_cluster.url("postgres"), pg_cluster.url("mrgfus"), owner])

    def run_sql(code: str) -> None:
        with psycopg.connect(next(connections), autocommit=True) as conn:
            for statement in code.split(";"):
                if statement.strip():
                    conn.execute(statement)

    page_runner.sql = run_sql
    monkeypatch.setenv("OWNER_URL", owner)
    monkeypatch.setenv("METAREVIEW_PROJECT", app)
    page_runner.run("howto/postgresql.md")
    assert page_runner.commands >= 6 and next(connections, None) is None
    with psycopg.connect(app, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM records").fetchone() == (19,)
        for statement in ("DELETE FROM decisions", "TRUNCATE pair_decisions", "DROP TABLE records"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
