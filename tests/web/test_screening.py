"""The screening page: one record at a time, decisions recorded as the signed-in reviewer, blinding, undo."""

from __future__ import annotations

from metareview.review import Project
from metareview.review.screening import states

JSON = {"Accept": "application/json"}


def _current(client, stage="title_abstract", **params):
    resp = client.get(f"/screen/{stage}", params=params, headers=JSON)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_decisions_are_logged_under_the_signed_in_account(signed_in, project_path):
    ann = signed_in("ann")
    first = _current(ann)["record"]["id"]
    resp = ann.post("/screen/title_abstract/decide", {"record_id": first, "decision": "include", "note": "adults"},
                    follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == "/screen/title_abstract"
    assert _current(ann)["record"]["id"] != first  # the next record comes up
    with Project.open(project_path) as p:
        log = p.store.decision_log()
        assert [(r["record_id"], r["reviewer"], r["decision"], r["note"]) for r in log] == \
            [(first, "ann", "include", "adults")]


def test_a_reviewer_cannot_decide_in_someone_elses_name(signed_in, project_path):
    ann = signed_in("ann")
    first = _current(ann)["record"]["id"]
    ann.post("/screen/title_abstract/decide", {"record_id": first, "decision": "exclude", "reviewer": "bob"})
    with Project.open(project_path) as p:
        assert {r["reviewer"] for r in p.store.decision_log()} == {"ann"}


def test_blinded_reviewers_never_see_each_others_decisions(signed_in, project_path):
    ann, bob, olivia = signed_in("ann"), signed_in("bob"), signed_in("olivia")
    first = _current(ann)["record"]["id"]
    resp = ann.post("/screen/title_abstract/decide", {"record_id": first, "decision": "exclude",
                                                      "note": "ANN-SECRET-NOTE"}, headers=JSON)
    assert resp.json() == {"recorded": True, "record_id": first, "decision": "exclude"}
    page = bob.get(f"/screen/title_abstract?record={first}")
    assert "ANN-SECRET-NOTE" not in page.text and ">ann<" not in page.text and "ann:" not in page.text
    assert _current(bob, record=first)["others"] == []
    # bob disagrees: the answer does not tell him it became a conflict
    resp = bob.post("/screen/title_abstract/decide", {"record_id": first, "decision": "include"}, headers=JSON)
    assert "conflict" not in resp.text
    assert _current(bob, record=first, show="mine")["others"] == []
    # the owner switches blinding off: now both see each other's decisions
    olivia.get("/users")
    assert olivia.post("/users/settings", {"blinded": "off"}, follow_redirects=False).status_code == 303
    others = _current(bob, record=first, show="mine")["others"]
    assert [(o["reviewer"], o["decision"], o["note"]) for o in others] == [("ann", "exclude", "ANN-SECRET-NOTE")]
    assert "ANN-SECRET-NOTE" in bob.get(f"/screen/title_abstract?record={first}&show=mine").text


def test_settled_records_show_every_decision(signed_in):
    ann, bob = signed_in("ann"), signed_in("bob")
    first = _current(ann)["record"]["id"]
    ann.post("/screen/title_abstract/decide", {"record_id": first, "decision": "include"})
    bob.post("/screen/title_abstract/decide", {"record_id": first, "decision": "include"})
    assert [o["reviewer"] for o in _current(bob, record=first, show="mine")["others"]] == ["ann"]


def test_undo_takes_back_the_latest_decision_and_keeps_it_in_the_log(signed_in, project_path):
    ann = signed_in("ann")
    first = _current(ann)["record"]["id"]
    ann.post("/screen/title_abstract/decide", {"record_id": first, "decision": "include"})
    before = _current(ann)["remaining"]
    resp = ann.post("/screen/title_abstract/undo", follow_redirects=False)
    assert resp.headers["location"] == f"/screen/title_abstract?record={first}"
    again = _current(ann)
    assert again["remaining"] == before + 1 and again["record"]["id"] == first and again["mine"] is None
    with Project.open(project_path) as p:
        assert len(p.store.decision_log()) == 1 and p.store.decision_log(active=True) == []
        assert "ann" not in states(p, "ta")[first].votes
    assert ann.post("/screen/title_abstract/undo").status_code == 400  # nothing left to undo


def test_bad_decisions_are_refused_on_the_page(signed_in):
    ann = signed_in("ann")
    first = _current(ann)["record"]["id"]
    resp = ann.post("/screen/title_abstract/decide", {"record_id": first, "decision": "perhaps"})
    assert resp.status_code == 400 and "&#39;perhaps&#39; is not a decision" in resp.text
    assert f"Record {first}" in resp.text  # the same record stays on screen
    resp = ann.post("/screen/title_abstract/decide", {"record_id": "x1", "decision": "include"}, headers=JSON)
    assert resp.status_code == 400 and "record_id" in resp.json()["error"]
    assert ann.get("/screen/nowhere").status_code == 400


def test_search_filters_and_keyword_highlighting(signed_in, project_path):
    with Project.open(project_path) as p:
        p.set_keywords(include=["ultrasound"], exclude=["rat"])
    ann = signed_in("ann")
    found = _current(ann, q="focused ultrasound")
    assert found["matching"] >= 1 and "ultrasound" in (found["record"]["title"] + found["record"]["abstract"]).lower()
    assert _current(ann, q="zzzz-not-a-word")["record"] is None
    page = ann.get("/screen/title_abstract", params={"q": "ultrasound"}).text
    assert '<mark class="inc">' in page
