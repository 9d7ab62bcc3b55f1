"""Dashboard, import, duplicates, conflicts and team pages, through the same functions as the command line."""

from __future__ import annotations

import json

from metareview.cli import main
from metareview.review import Project
from metareview.review.dedupe import review_queue
from metareview.review.screening import decide, states

from .conftest import EXPORTS

JSON = {"Accept": "application/json"}


def test_dashboard_counts_equal_the_command_lines(signed_in, project_path, capsys):
    with Project.open(project_path) as p:
        for unit in states(p, "ta"):
            for who in ("ann", "bob"):
                decide(p, unit, stage="ta", reviewer=who, decision="include" if unit % 3 else "exclude")
    olivia = signed_in("olivia")
    shown = olivia.get("/", headers=JSON).json()
    assert main(["review", "prisma", "-p", str(project_path), "--partial"]) == 0
    assert shown["counts"] == json.loads(capsys.readouterr().out)
    page = olivia.get("/").text
    assert '<svg role="img" aria-label="PRISMA 2020 flow diagram"' in page
    assert "records_screened" in page
    ta = shown["stages"][0]
    assert ta["by_reviewer"] == {"ann": ta["units"], "bob": ta["units"]}
    assert ta["agreement"][0]["percent_agreement"] == 100.0


def test_dashboard_hides_outcomes_from_blinded_reviewers(signed_in, project_path):
    with Project.open(project_path) as p:
        unit = min(states(p, "ta"))
        decide(p, unit, stage="ta", reviewer="ann", decision="include")
        decide(p, unit, stage="ta", reviewer="bob", decision="exclude")
    bob = signed_in("bob").get("/", headers=JSON).json()["stages"][0]
    assert "states" not in bob and "agreement" not in bob and bob["by_reviewer"] == {"ann": 1, "bob": 1}
    cat = signed_in("cat").get("/", headers=JSON).json()["stages"][0]
    assert cat["states"]["conflict"] == 1 and cat["by_reviewer"] == {"ann": 1, "bob": 1}


def test_import_page_lists_malformed_records_with_their_line(signed_in, project_path):
    olivia = signed_in("olivia")
    olivia.get("/import")
    data = (EXPORTS / "scopus.ris").read_bytes()
    resp = olivia.post("/import", {"source": "Scopus", "allow_reimport": "on"},
                       files={"file": ("../../etc/scopus again.ris", data, "application/x-research-info-systems")})
    assert resp.status_code == 200, resp.text
    assert "Imported scopus again.ris" in resp.text  # the upload's own name, without its folders
    assert '<td class="num">115</td><td>record starting on line 115 is not closed' in resp.text
    with Project.open(project_path) as p:
        batch = p.store.batches()[-1]
        assert (batch["filename"], batch["imported_by"], batch["n_malformed"]) == ("scopus again.ris", "olivia", 1)
    again = olivia.post("/import", {"source": "Scopus"}, files={"file": ("scopus.ris", data, "text/plain")})
    assert again.status_code == 400 and "already imported" in again.text
    empty = olivia.post("/import", {"source": "Scopus"}, files={"file": ("e.ris", b"", "text/plain")})
    assert empty.status_code == 400 and "is empty" in empty.text


def test_uploads_larger_than_the_limit_are_refused(project_path):
    from metareview.web import create_app

    from .conftest import Client
    small = Client(create_app(project_path, secret_key=b"k" * 32, max_body=4096)).login("olivia")
    resp = small.post("/import", {"source": "Scopus"}, files={"file": ("big.ris", b"x" * 10_000, "text/plain")})
    assert resp.status_code == 413 and "larger than this server accepts" in resp.text

    def chunks():  # no Content-Length: the body is counted as it arrives
        for _ in range(10):
            yield b"x" * 1000

    streamed = small.http.post("/import", content=chunks(),
                               headers={"X-CSRF-Token": small.token,
                                        "Content-Type": "multipart/form-data; boundary=b"})
    assert streamed.status_code == 413
    small.close()


def test_duplicates_queue_side_by_side_and_decisions_link(signed_in, project_path):
    with Project.open(project_path) as p:
        queue = review_queue(p.store)
    cat = signed_in("cat")
    page = cat.get("/duplicates").text
    if not queue:
        assert "0 pair(s) to decide" in page
        return
    first = queue[0]
    assert f"Record {first['record_a']}" in page and 'class="diff"' in page
    resp = cat.post("/duplicates/decide", {"a": first["record_a"], "b": first["record_b"], "verdict": "primary_b"},
                    follow_redirects=False)
    assert resp.status_code == 303
    with Project.open(project_path) as p:
        assert (first["record_a"], first["record_b"]) not in {(c["record_a"], c["record_b"])
                                                              for c in review_queue(p.store)}
        assert p.store.primary_choices()[-1]["record_id"] == first["record_b"]
        assert p.store.pair_decision_log()[-1]["decided_by"] == "cat"
    assert cat.post("/duplicates/decide", {"a": "1", "b": "2", "verdict": "maybe"}).status_code == 400


def test_conflicts_are_resolved_by_an_adjudicator_with_a_reason(signed_in, project_path):
    with Project.open(project_path) as p:
        unit = min(states(p, "ta"))
        decide(p, unit, stage="ta", reviewer="ann", decision="include", note="ann's note")
        decide(p, unit, stage="ta", reviewer="bob", decision="exclude", reason="wrong population")
    cat = signed_in("cat")
    page = cat.get("/conflicts/title_abstract").text
    assert "ann&#39;s note" in page and "wrong population" in page
    no_reason = cat.post("/conflicts/title_abstract/resolve", {"record_id": unit, "decision": "include"})
    assert no_reason.status_code == 400 and "say why" in no_reason.text
    ok = cat.post("/conflicts/title_abstract/resolve", {"record_id": unit, "decision": "include",
                                                        "note": "adults in the cohort"}, follow_redirects=False)
    assert ok.status_code == 303
    with Project.open(project_path) as p:
        st = states(p, "ta")[unit]
        assert st.state == "included" and st.resolution["reviewer"] == "cat"
        assert st.resolution["note"] == "adults in the cohort"
    assert cat.get("/conflicts/title_abstract", headers=JSON).json()["conflicts"] == []


def test_team_page_adds_and_removes_accounts(signed_in, project_path):
    olivia = signed_in("olivia")
    olivia.get("/users")
    resp = olivia.post("/users/add", {"name": "dan", "role": "reviewer", "password": "long enough pass"})
    assert resp.status_code == 200 and "Account dan (reviewer) created" in resp.text
    assert olivia.post("/users/add", {"name": "eve", "role": "reviewer", "password": "short"}).status_code == 400
    assert olivia.post("/users/remove", {"name": "dan"}).status_code == 200
    with Project.open(project_path) as p:
        from metareview.review.accounts import get_user
        assert get_user(p, "dan").created_by == "olivia" and not get_user(p, "dan").active
        assert get_user(p, "eve") is None
