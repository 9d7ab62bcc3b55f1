"""Fixtures of the workspace tests: a project with the sample exports and a team, and signed-in clients.

The app is called in-process (Starlette's TestClient over httpx), so these tests need
no network and no browser; the browser tests live in ``tests/web/browser/``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from metareview.review import Project, run_dedupe
from metareview.review.accounts import add_user

EXPORTS = Path(__file__).resolve().parents[1] / "data" / "exports"
SOURCES = [("pubmed.nbib", "PubMed"), ("embase.ris", "Embase"), ("scopus.ris", "Scopus"),
           ("table_latin1.csv", "Web of Science")]
PASSWORD = "correct horse battery"
TEAM = {"olivia": "owner", "ann": "reviewer", "bob": "reviewer", "cat": "adjudicator"}
_HASH: dict[str, str] = {}


def password_hash() -> str:
    """One Argon2 hash of :data:`PASSWORD` for every test account (hashing is slow on purpose)."""
    if not _HASH:
        from metareview.web.auth import hash_password
        _HASH["h"] = hash_password(PASSWORD)
    return _HASH["h"]


def add_team(project: Project, team: dict[str, str] = TEAM) -> None:
    for name, role in team.items():
        add_user(project, name, role=role, password_hash=password_hash())


@pytest.fixture
def project_path(location: str) -> str:
    """A project with the four sample exports imported and de-duplicated, and the team of :data:`TEAM`; once
    as a SQLite file and once on the PostgreSQL test server (``location``)."""
    path = location
    with Project.init(path, name="MRgFUS bone metastases") as p:
        for name, source in SOURCES:
            p.import_file(EXPORTS / name, source=source)
        run_dedupe(p.store)
        add_team(p)
    return path


def files_for(project_path: str, tmp_path: Path) -> Path | None:
    """Where the workspace keeps full texts: beside a file; for a database, a folder as ``serve --files`` gives."""
    from metareview.review.backends import is_url
    return tmp_path / "review.mrv.files" if is_url(project_path) else None


@pytest.fixture
def app(project_path: str, tmp_path: Path):
    from metareview.web import create_app
    return create_app(project_path, secret_key=b"test secret key, not for production",
                      files=files_for(project_path, tmp_path))


class Client:
    """A browser stand-in: a cookie jar, the current CSRF token, and helpers to sign in and post forms."""

    def __init__(self, app: Any):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Starlette's note about httpx in its TestClient
            from starlette.testclient import TestClient
            self.http = TestClient(app, base_url="http://127.0.0.1")
        self.http.__enter__()
        self.token = ""

    def close(self) -> None:
        self.http.__exit__(None, None, None)

    def remember_token(self, html: str) -> None:
        found = re.search(r'name="csrf-token" content="([^"]+)"', html)
        if found:
            self.token = found.group(1)

    def get(self, url: str, **kwargs: Any):
        resp = self.http.get(url, **kwargs)
        self.remember_token(resp.text)
        return resp

    def post(self, url: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kwargs: Any):
        data = dict(data or {})
        if csrf:
            if not self.token:
                self.get("/login")
            data.setdefault("csrf_token", self.token)
        resp = self.http.post(url, data=data, **kwargs)
        self.remember_token(resp.text)
        return resp

    def login(self, name: str, password: str = PASSWORD) -> Client:
        self.get("/login")
        resp = self.post("/login", {"username": name, "password": password}, follow_redirects=False)
        assert resp.status_code == 303, resp.text
        self.get("/")
        return self


@pytest.fixture
def client(app) -> Iterator[Client]:
    """A client nobody has signed in on yet."""
    c = Client(app)
    yield c
    c.close()


@pytest.fixture
def signed_in(app) -> Iterator[Any]:
    """``signed_in("ann")`` is a client signed in as ann."""
    clients: list[Client] = []

    def make(name: str) -> Client:
        c = Client(app).login(name)
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()
