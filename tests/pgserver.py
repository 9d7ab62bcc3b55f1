"""A throwaway PostgreSQL cluster for the tests and the benchmarks, made with Debian's binaries.

``initdb`` builds a cluster in a temporary folder, ``pg_ctl`` starts it listening on
127.0.0.1 on a free port (and on a Unix socket inside the folder), and :meth:`Cluster.stop`
stops it and removes the folder.  PostgreSQL refuses to run as root, so under root (CI)
the cluster belongs to the unprivileged system user ``postgres`` that Debian's package
creates, and its commands run through ``runuser``.  Only 127.0.0.1 and the socket are
trusted; nothing listens on another address.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["Cluster", "find_bindir"]


def find_bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/N/bin`` that has ``initdb`` and ``pg_ctl``, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    for initdb in reversed(found):
        bindir = Path(initdb).parent
        if (bindir / "pg_ctl").is_file():
            return bindir
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    """A PostgreSQL cluster of its own; ``durable=False`` turns fsync off (tests), True keeps it (benchmarks)."""

    def __init__(self, bindir: Path, *, durable: bool = False, max_connections: int = 200):
        self.bindir = bindir
        self.durable = durable
        self.max_connections = max_connections
        self.folder = Path(tempfile.mkdtemp(prefix="metareview-pg-"))
        self.data = self.folder / "data"
        self.port = 0
        self.user = "postgres" if os.geteuid() == 0 else None
        self._n = 0

    def _run(self, *args: str) -> None:
        cmd = [str(a) for a in args]
        if self.user is not None:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr.strip() or done.stdout.strip()}")

    def start(self) -> "Cluster":
        if self.user is not None:
            shutil.chown(self.folder, self.user, self.user)
        os.chmod(self.folder, 0o700)
        self._run(self.bindir / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "--encoding=UTF8",
                  "--locale=C", "--no-sync")
        self.port = _free_port()
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} "
                   f"-c max_connections={self.max_connections}")
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(self.bindir / "pg_ctl", "-D", self.data, "-o", options, "-l", self.folder / "server.log",
                  "-w", "-t", "60", "start")
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        import psycopg
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql)

    def new_database(self, prefix: str = "t") -> str:
        """A fresh, empty database; returns its URL."""
        self._n += 1
        name = f"{prefix}{os.getpid()}_{self._n}_{int(time.time() * 1000) % 100000}"
        self.admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            if self.data.exists():
                self._run(self.bindir / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
