"""The open project of a running workspace: one :class:`Project` per worker thread.

Neither SQLite nor PostgreSQL connections are shared between threads, so each worker
thread opens the project once and keeps it; all are closed together at shutdown.
"""

from __future__ import annotations

import os
import threading

from starlette.requests import Request

from ..review.project import Project

__all__ = ["ProjectPool", "project"]


class ProjectPool:
    """One open :class:`Project` per worker thread, all closed together at shutdown."""

    def __init__(self, path: str | os.PathLike, *, files: str | os.PathLike | None = None):
        self.path = str(path)
        self.files = files
        self._local = threading.local()
        self._open: list[Project] = []
        self._lock = threading.Lock()

    def get(self) -> Project:
        proj = getattr(self._local, "project", None)
        if proj is None:
            proj = self._local.project = Project.open(self.path, files=self.files)
            with self._lock:
                self._open.append(proj)
        return proj

    def close(self) -> None:
        with self._lock:
            for proj in self._open:
                proj.close()
            self._open.clear()
        self._local = threading.local()


def project(request: Request) -> Project:
    """The project this server works on, opened for the calling thread."""
    pool: ProjectPool = request.app.state.projects
    return pool.get()
