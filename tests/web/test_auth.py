"""Accounts, signing in and out, sessions and throttling."""

from __future__ import annotations

import pytest

from metareview.base.exceptions import DataError, SettingsError
from metareview.review import Project
from metareview.review.accounts import add_user, get_user, list_users, remove_user
from metareview.web.auth import Throttle, hash_password, verify_password

from .conftest import PASSWORD, password_hash


def test_password_hash_is_argon2_and_verifies():
    digest = password_hash()
    assert digest.startswith("$argon2id$") and PASSWORD not in digest
    assert verify_password(digest, PASSWORD)
    assert not verify_password(digest, PASSWORD + "x")
    assert not verify_password(None, PASSWORD)
    with pytest.raises(DataError, match="at least 8"):
        hash_password("short")


def test_accounts_are_marked_removed_never_deleted(project_path):
    with Project.open(project_path) as p:
        remove_user(p, "bob")
        bob = get_user(p, "bob")
        assert bob is not None and not bob.active
        assert [u.name for u in list_users(p)] == ["olivia", "ann", "bob", "cat"]
        assert "bob" not in [u.name for u in list_users(p, include_removed=False)]
        with pytest.raises(DataError, match="removed account"):
            add_user(p, "bob", role="reviewer", password_hash=password_hash())
        with pytest.raises(DataError, match="only owner"):
            remove_user(p, "olivia")
        with pytest.raises(SettingsError, match="roles are"):
            add_user(p, "dan", role="boss", password_hash=password_hash())
        with pytest.raises(DataError, match="account name"):
            add_user(p, "<script>", role="reviewer", password_hash=password_hash())


def test_login_sets_a_signed_httponly_samesite_cookie(client):
    client.get("/login")
    resp = client.post("/login", {"username": "ann", "password": PASSWORD}, follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == "/"
    cookie = resp.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert PASSWORD.lower() not in cookie
    assert client.get("/").status_code == 200


def test_wrong_password_and_unknown_account_look_the_same(client):
    a = client.post("/login", {"username": "ann", "password": "wrong password"})
    b = client.post("/login", {"username": "nobody", "password": "wrong password"})
    assert a.status_code == b.status_code == 401
    assert "wrong account name or password" in a.text and "wrong account name or password" in b.text


def test_login_redirects_only_to_this_server(client):
    for target, expected in (("/screen/title_abstract", "/screen/title_abstract"), ("https://evil.example/", "/"),
                             ("//evil.example/x", "/"), ("/\\evil.example", "/")):
        client.get("/login")
        resp = client.post("/login", {"username": "ann", "password": PASSWORD, "next": target},
                           follow_redirects=False)
        assert resp.headers["location"] == expected


def test_logout_needs_csrf_and_ends_the_session(signed_in):
    ann = signed_in("ann")
    assert ann.post("/logout", csrf=False).status_code == 403
    assert ann.get("/", follow_redirects=False).status_code == 200
    assert ann.post("/logout", follow_redirects=False).status_code == 303
    assert ann.get("/", follow_redirects=False).status_code == 303


def test_a_removed_account_is_signed_out_at_once(signed_in, project_path):
    bob = signed_in("bob")
    assert bob.get("/", follow_redirects=False).status_code == 200
    with Project.open(project_path) as p:
        remove_user(p, "bob")
    assert bob.get("/", follow_redirects=False).status_code == 303
    bob.get("/login")
    assert bob.post("/login", {"username": "bob", "password": PASSWORD}).status_code == 401


def test_failed_logins_are_throttled_per_account(client):
    for _ in range(5):
        assert client.post("/login", {"username": "ann", "password": "nope nope"}).status_code == 401
    resp = client.post("/login", {"username": "ann", "password": PASSWORD})
    assert resp.status_code == 429 and "too many failed sign-ins" in resp.text


def test_one_address_may_fail_more_often_than_one_account(client):
    for i in range(5):
        client.post("/login", {"username": f"nobody{i}", "password": "nope nope"})
    # five different names from one address: ann, from the same address, can still sign in
    assert client.post("/login", {"username": "ann", "password": PASSWORD}, follow_redirects=False).status_code == 303
    t = Throttle(limit=2, address_limit=3, clock=lambda: 0.0)
    t.fail("name:a", "addr:x")
    t.fail("name:a", "addr:x")
    assert t.wait("name:c", "addr:x") == 0 and t.wait("name:a") > 0
    t.fail("name:c", "addr:x")
    assert t.wait("name:d", "addr:x") > 0


def test_throttle_forgets_after_its_window():
    now = [0.0]
    t = Throttle(limit=3, window=60, clock=lambda: now[0])
    for _ in range(3):
        assert t.wait("k") == 0
        t.fail("k")
    assert t.wait("k") == pytest.approx(60)
    now[0] = 59.0
    assert t.wait("k") == pytest.approx(1)
    now[0] = 60.0
    assert t.wait("k") == 0
