"""Security, route by route: every route of the app against anonymous, reviewer, adjudicator and owner.

The table of routes is the application's own: each route is made by
:func:`metareview.web.routing.page` and carries the action it needs, so a page added
later is checked here without anyone remembering to add it.
"""

from __future__ import annotations

import re

import pytest
from starlette.routing import Mount, Route

from metareview.review import Project, run_dedupe
from metareview.review.screening import decide, states
from metareview.web import create_app
from metareview.web.permissions import ACTIONS, allowed
from metareview.web.routes import routes as ALL_ROUTES

from .conftest import EXPORTS, SOURCES, Client, add_team

JSON = {"Accept": "application/json"}
SAMPLE = {"stage": "title_abstract", "record_id": "1", "fulltext_id": "1", "name": "forest.svg"}
ROLES = {"anonymous": None, "reviewer": "ann", "adjudicator": "cat", "owner": "olivia"}
TABLE = sorted({(method, r.path, r.action) for r in ALL_ROUTES if isinstance(r, Route)
                for method in r.methods - {"HEAD"}})
PROTECTED = [row for row in TABLE if row[2] is not None]
WRITES = [row for row in TABLE if row[0] == "POST"]
XSS = "<script>alert(1)</script>"


def url(path: str) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: SAMPLE[m.group(1)], path)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """One project with a hostile record, its app, and a client per role (module-wide: signing in is slow)."""
    folder = tmp_path_factory.mktemp("security")
    path = folder / "review.mrv"
    hostile = (f"TY  - JOUR\nTI  - {XSS} focused ultrasound\nAU  - <img src=x onerror=alert(2)>\nPY  - 2020\n"
               f"AB  - Pain {XSS} relief\nER  - \n").encode()
    with Project.init(path, name=f"Review {XSS}") as p:
        for name, source in SOURCES:
            p.import_file(EXPORTS / name, source=source)
        p.import_bytes(hostile, filename=f"{XSS}.ris", source=f"Source {XSS}")
        run_dedupe(p.store)
        add_team(p)
    app = create_app(path, secret_key=b"security tests key")
    clients = {role: (Client(app).login(name) if name else Client(app)) for role, name in ROLES.items()}
    yield {"path": path, "app": app, "clients": clients}
    for c in clients.values():
        c.close()


def test_every_route_is_in_the_table_with_a_known_action():
    from metareview.web.routes import routes
    for r in routes:
        assert isinstance(r, (Route, Mount))
        assert hasattr(r, "action"), f"{r.path} was not made with page(): its permission is not declared"
        assert r.action is None or r.action in ACTIONS
    public = {(m, p) for m, p, a in TABLE if a is None}
    assert public == {("GET", "/login"), ("POST", "/login"), ("POST", "/logout")}


@pytest.mark.parametrize("method,path,action", PROTECTED)
def test_anonymous_requests_are_refused(world, method, path, action):
    client = world["clients"]["anonymous"]
    client.get("/login")  # an anonymous session with a valid CSRF token: refused all the same
    send = client.http.get if method == "GET" else (
        lambda u, **k: client.http.post(u, data={"csrf_token": client.token}, **k))
    page = send(url(path), follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login?next=")
    if method == "POST":
        assert page.headers["location"] == "/login?next=%2F"
    assert send(url(path), headers=JSON, follow_redirects=False).status_code == 401
    assert send(url(path), headers={"X-CSRF-Token": client.token}, follow_redirects=False).status_code == 401


@pytest.mark.parametrize("role", ["reviewer", "adjudicator", "owner"])
@pytest.mark.parametrize("method,path,action", PROTECTED)
def test_each_role_gets_what_the_table_allows(world, role, method, path, action):
    client = world["clients"][role]
    user = type("U", (), {"role": role, "active": True})()
    if method == "GET":
        resp = client.http.get(url(path), follow_redirects=False)
    else:
        resp = client.http.post(url(path), data={"csrf_token": client.token}, follow_redirects=False)
    if allowed(user, action):  # type: ignore[arg-type]
        assert resp.status_code not in (401, 403) and resp.status_code < 500, (resp.status_code, resp.text[:300])
    else:
        assert resp.status_code == 403 and "may not do this" in resp.text and "<h1>Not allowed</h1>" in resp.text


def test_reviewers_are_kept_off_adjudication_and_account_pages(world):
    ann = world["clients"]["reviewer"]
    for path in ("/conflicts/title_abstract", "/conflicts/full_text", "/extract/adjudicate", "/users", "/import",
                 "/duplicates"):
        assert ann.http.get(path).status_code == 403, path
    for path, data in (("/conflicts/title_abstract/resolve", {"record_id": "1", "decision": "include", "note": "x"}),
                       ("/users/add", {"name": "mallory", "role": "owner", "password": "12345678910"}),
                       ("/users/settings", {"blinded": "off"})):
        assert ann.http.post(path, data={**data, "csrf_token": ann.token}).status_code == 403, path
    with Project.open(world["path"]) as p:
        assert p.blinded and p.store.user("mallory") is None


@pytest.mark.parametrize("method,path,action", WRITES)
def test_writes_without_the_csrf_token_are_refused(world, method, path, action):
    client = world["clients"]["owner"]
    with Project.open(world["path"]) as p:
        before = (len(p.store.decision_log()), len(p.store.users()), len(p.store.batches()))
    assert client.http.post(url(path), data={"record_id": "1", "decision": "include"}).status_code == 403
    forged = client.http.post(url(path), data={"record_id": "1", "decision": "include", "csrf_token": "forged"},
                              headers={"X-CSRF-Token": "forged"})
    assert forged.status_code == 403
    assert client.http.post(url(path), data={}, headers={**JSON, "X-CSRF-Token": "forged"}).json()["error"]
    with Project.open(world["path"]) as p:
        assert (len(p.store.decision_log()), len(p.store.users()), len(p.store.batches())) == before


def test_a_token_from_another_session_is_refused(world):
    ann, cat = world["clients"]["reviewer"], world["clients"]["adjudicator"]
    resp = ann.http.post("/screen/title_abstract/decide", data={"record_id": "1", "decision": "include",
                                                                "csrf_token": cat.token})
    assert resp.status_code == 403


def test_record_text_is_escaped_everywhere(world):
    owner = world["clients"]["owner"]
    with Project.open(world["path"]) as p:
        hostile = [r["id"] for r in p.store.iter_records(("id", "title")) if XSS in (r["title"] or "")][0]
        p.set_keywords(include=["ultrasound", "<script>"], exclude=["relief"])
        unit = next(u for u in states(p, "ta") if u == hostile)
        decide(p, unit, stage="ta", reviewer="ann", decision="include", note=XSS)
        decide(p, unit, stage="ta", reviewer="bob", decision="maybe", note=XSS)
    pages = ["/", f"/screen/title_abstract?record={hostile}", "/screen/title_abstract?q=script",
             "/conflicts/title_abstract", "/import", "/duplicates", "/users"]
    for path in pages:
        html = owner.http.get(path).text
        assert XSS not in html and "<img src=x" not in html, path
    screen = owner.http.get(f"/screen/title_abstract?record={hostile}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in screen or '<mark class="inc">&lt;script&gt;</mark>' in screen
    assert "&lt;img src=x onerror=alert(2)&gt;" in screen
    conflicts = owner.http.get("/conflicts/title_abstract").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in conflicts


def test_pages_forbid_scripts_from_elsewhere_and_framing(world):
    resp = world["clients"]["owner"].http.get("/")
    csp = resp.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'self'" in csp
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in resp.text.replace('<script src="/static/app.js" defer></script>', "")


def test_blinded_decisions_never_reach_another_reviewer(world):
    marker = "ANN-PRIVATE-NOTE-7731"
    with Project.open(world["path"]) as p:
        unit = min(u for u, s in states(p, "ta").items() if not s.votes)
        decide(p, unit, stage="ta", reviewer="ann", decision="exclude", reason="wrong population", note=marker)
    bob = Client(world["app"]).login("bob")
    try:
        for method, path, _action in TABLE:
            if method != "GET":
                continue
            for stage in ("title_abstract", "full_text"):
                target = re.sub(r"\{(\w+)(?::\w+)?\}",
                                lambda m: {**SAMPLE, "stage": stage, "record_id": str(unit)}[m.group(1)],  # noqa: B023
                                path)
                for params in ({}, {"record": str(unit)}, {"record": str(unit), "show": "mine"}, {"q": "a"}):
                    for headers in ({}, JSON):
                        body = bob.http.get(target, params=params, headers=headers).text
                        assert marker not in body, (target, params, headers)
        resp = bob.http.post("/screen/title_abstract/decide", data={"record_id": unit, "decision": "include",
                                                                    "csrf_token": bob.token}, headers=JSON)
        assert resp.json() == {"recorded": True, "record_id": unit, "decision": "include"}
        assert marker not in bob.http.get(f"/screen/title_abstract?record={unit}&show=mine").text
    finally:
        bob.close()
