"""``metareview review user ...`` and ``metareview serve`` as a user types them."""

from __future__ import annotations

import io
import json
from pathlib import Path

from metareview.cli import main
from metareview.review import Project
from metareview.web.auth import verify_password


def _run(capsys, monkeypatch, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_accounts_from_the_command_line(tmp_path: Path, capsys, monkeypatch):
    path = tmp_path / "r.mrv"
    Project.init(path).close()
    code, out, _ = _run(capsys, monkeypatch, "review", "user", "add", "--json", "olivia", "--role", "owner",
                        "-p", str(path), "--password-stdin", stdin="a long passphrase\n")
    assert code == 0 and json.loads(out)["role"] == "owner"
    with Project.open(path) as p:
        stored = p.store.user("olivia")["password_hash"]
        assert stored.startswith("$argon2id$") and verify_password(stored, "a long passphrase")
        assert "a long passphrase" not in path.read_bytes().decode("latin-1")
    code, _, err = _run(capsys, monkeypatch, "review", "user", "add", "--json", "ann", "--role", "boss",
                        "-p", str(path), "--password-stdin", stdin="a long passphrase\n")
    assert code == 2 and "unknown role 'boss'" in err and "Traceback" not in err
    code, _, err = _run(capsys, monkeypatch, "review", "user", "add", "--json", "ann", "--role", "reviewer",
                        "-p", str(path), "--password-stdin", stdin="short\n")
    assert code == 2 and "at least 8 characters" in err
    _run(capsys, monkeypatch, "review", "user", "add", "--json", "ann", "--role", "reviewer", "-p", str(path),
         "--password-stdin", stdin="another passphrase\n")
    code, out, _ = _run(capsys, monkeypatch, "review", "user", "remove", "--json", "ann", "-p", str(path))
    assert code == 0 and json.loads(out)["removed_at"]
    code, out, _ = _run(capsys, monkeypatch, "review", "user", "list", "--json", "-p", str(path))
    assert [(u["name"], u["removed_at"] is None) for u in json.loads(out)] == [("olivia", True), ("ann", False)]
    code, _, err = _run(capsys, monkeypatch, "review", "user", "remove", "--json", "olivia", "-p", str(path))
    assert code == 2 and "only owner" in err


def test_serve_refuses_what_it_cannot_serve(tmp_path: Path, capsys, monkeypatch):
    code, _, err = _run(capsys, monkeypatch, "serve", str(tmp_path / "missing.mrv"))
    assert code == 2 and "no such file" in err
    path = tmp_path / "r.mrv"
    Project.init(path).close()
    code, _, err = _run(capsys, monkeypatch, "serve", str(path))
    assert code == 2 and "no accounts yet" in err and "review user add" in err


def test_serve_takes_a_database_url_from_the_environment_and_never_shows_its_password(pg_url: str, tmp_path: Path,
                                                                                      capsys, monkeypatch):
    url = pg_url.replace("postgres@", "postgres:s3cret-pw@")
    Project.init(url).close()
    monkeypatch.setenv("METAREVIEW_PROJECT", url)
    code, _, err = _run(capsys, monkeypatch, "serve")
    assert code == 2 and "no accounts yet" in err and "-p postgresql://postgres:***@127.0.0.1" in err
    assert "s3cret" not in err
    code, _, err = _run(capsys, monkeypatch, "serve", "--files", str(tmp_path / "nowhere"))
    assert code == 2 and "--files" in err and "no such folder" in err
    code, out, _ = _run(capsys, monkeypatch, "review", "user", "add", "olivia", "--role", "owner",
                        "--password-stdin", stdin="a long passphrase\n")
    assert code == 0 and "s3cret" not in out
    with Project.open(pg_url) as p:
        assert [u["name"] for u in p.store.users()] == ["olivia"]
