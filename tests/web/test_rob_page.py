"""The risk-of-bias page in-process: the owner's tool, two blinded assessors, adjudication, the settled table."""

from __future__ import annotations

# ruff: noqa: F811  (the fixtures imported from test_content_pages are parameters of the tests)
import re

from metareview.cli import main as cli_main
from metareview.review import Project
from metareview.review.assessment import discrepancies, enter_answers, set_tool
from metareview.review.screening import assign_study, study_labels

from .test_content_pages import app, screened_path  # noqa: F401  (the screened project and its workspace)

XSS = "<script>alert(1)</script>"
#: RoB 2 answers that the guidance's algorithms judge "Low" in every domain.
LOW = {"1.1": "Y", "1.2": "Y", "1.3": "N", "2.1": "N", "2.2": "N", "2.6": "Y", "3.1": "Y", "4.1": "N", "4.2": "N",
       "4.3": "N", "5.1": "Y", "5.2": "N", "5.3": "N"}
STUDIES = ("Namba 2019", "Tsai 2019", "Wang 2019")


def answer(client, study: str, answers: dict[str, str], **extra: str):
    data = {"study": study, **{f"answer:{k}": v for k, v in answers.items()}, **extra}
    return client.post("/rob/assess", data, follow_redirects=True)


def assess_all(client, answers=LOW, **extra):
    for s in STUDIES:
        assert answer(client, s, answers, **extra).status_code == 200


def test_the_owner_chooses_among_the_tool_files_and_others_may_not(signed_in, screened_path):
    olivia, ann = signed_in("olivia"), signed_in("ann")
    page = olivia.get("/rob").text
    assert "no risk-of-bias tool yet" in page
    for tool in ("rob2", "robins-i", "quadas-2", "jbi-case-series"):
        assert f'value="{tool}"' in page
    assert 'value="generic"' not in page  # no signalling questions of its own: not offered
    assert "owner chooses it" in ann.get("/rob").text and 'action="/rob/tool"' not in ann.get("/rob").text
    assert ann.post("/rob/tool", {"tool": "rob2"}).status_code == 403
    resp = olivia.post("/rob/tool", {"tool": "no-such-tool"})
    assert resp.status_code == 400 and "unknown risk-of-bias tool" in resp.text
    resp = olivia.post("/rob/tool", {"tool": "rob2"}, follow_redirects=True)
    assert "risk-of-bias tool is RoB 2" in resp.text and 'href="/rob/assess?study=Namba%202019"' in resp.text
    with Project.open(screened_path) as p:
        assert p.store.get_setting("rob_tool")["tool"] == "rob2"


def test_the_form_groups_questions_by_domain_and_shows_the_algorithms_proposal(signed_in, screened_path):
    with Project.open(screened_path) as p:
        set_tool(p, "rob2")
    ann = signed_in("ann")
    page = ann.get("/rob/assess?study=Tsai%202019").text
    assert page.count("<fieldset class=\"domain\">") == 6  # five domains and the overall judgment
    assert "Was the allocation sequence random?" in page and '<option value="PY">PY: Probably yes</option>' in page
    assert "(not asked)" in page  # conditional questions may stay blank
    resp = answer(ann, "Tsai 2019", LOW, **{"quote:1.1": "computer-generated list", "page:1.1": "4"})
    assert resp.status_code == 200 and "13 entries saved" in resp.text
    assert resp.text.count('class="rob-j">Low</output>') == 6
    assert 'value="computer-generated list"' in resp.text and 'value="4"' in resp.text
    # the domain judgment follows the answers: concealment unknown and baseline imbalance -> high
    resp = answer(ann, "Tsai 2019", {**LOW, "1.2": "NI", "1.3": "Y"},
                  **{"quote:1.1": "computer-generated list", "page:1.1": "4"})
    assert "2 entries saved" in resp.text  # only what changed is logged
    assert re.search(r'data-proposed-for="D1"[^>]*>High<', resp.text)
    assert re.search(r'data-proposed-for="Overall" [^>]*>High<', resp.text)
    # the script asks for the same proposal without saving
    js = ann.post("/rob/propose", {"study": "Tsai 2019", "answer:1.1": "Y", "answer:1.2": "Y", "answer:1.3": "N"},
                  headers={"Accept": "application/json"}).json()
    assert js["proposed"]["D1"] == "Low" and js["proposed"]["D2"] == "" and js["proposed"]["Overall"] == ""
    # an assessor's own judgment replaces the proposal in the overall rule
    resp = answer(ann, "Tsai 2019", {"D1": "Some concerns"})
    assert re.search(r'data-proposed-for="Overall"[^>]*>Some concerns<', resp.text)
    assert "<option selected>Some concerns</option>" in resp.text
    # withdrawn, the proposal stands again; so does a conditional question's "not asked"
    resp = answer(ann, "Tsai 2019", {"D1": "", "2.3": "PN"})
    assert re.search(r'data-proposed-for="Overall"[^>]*>High<', resp.text) and "2 entries saved" in resp.text
    resp = answer(ann, "Tsai 2019", {"2.3": ""})
    item = resp.text.split('name="answer:2.3"')[1][:600]
    assert "1 entry saved" in resp.text and '<option value="PN" selected>' not in item
    resp = answer(ann, "Tsai 2019", {"1.1": ""})
    assert resp.status_code == 422 and "an entry needs an answer" in resp.text
    resp = answer(ann, "Tsai 2019", {"D2": ""}, **{"quote:D2": "why not"})
    assert resp.status_code == 422 and "a quote or page without an answer" in resp.text


def test_a_wrong_answer_is_refused_naming_the_question_and_nothing_is_saved(signed_in, screened_path):
    with Project.open(screened_path) as p:
        set_tool(p, "rob2")
    ann = signed_in("ann")
    resp = answer(ann, "Tsai 2019", {"1.1": "Y", "3.2": "NI"})
    assert resp.status_code == 422 and "is not an answer to question 3.2" in resp.text
    with Project.open(screened_path) as p:
        assert p.store.current_rob_answers("rob2", "") == []
    assert ann.get("/rob/assess?study=Nobody%202020").status_code == 404


def test_assessors_are_blinded_to_each_other_in_html_and_json(signed_in, screened_path, app):
    from starlette.routing import Route

    from metareview.web.routes import routes
    with Project.open(screened_path) as p:
        set_tool(p, "rob2")
    marker = "ANN-ROB-QUOTE-5521"
    ann, bob = signed_in("ann"), signed_in("bob")
    answer(ann, "Tsai 2019", {"1.1": "PN", "1.2": "NI"}, **{"quote:1.1": marker, "page:D1": marker})
    gets = sorted({r.path for r in routes if isinstance(r, Route) and "GET" in r.methods and r.path.startswith("/rob")
                   and "{" not in r.path})
    assert {"/rob", "/rob/assess", "/rob/adjudicate", "/rob/robvis.csv"} <= set(gets)
    for path in gets:
        for params in ({}, {"study": "Tsai 2019"}, {"show": "all"}):
            for headers in ({}, {"Accept": "application/json"}):
                body = bob.http.get(path, params=params, headers=headers).text
                assert marker not in body and 'value="PN" selected' not in body, (path, params, headers)
    js = bob.post("/rob/propose", {"study": "Tsai 2019"}, headers={"Accept": "application/json"}).text
    assert marker not in js and "High" not in js
    assert marker in ann.get("/rob/assess?study=Tsai%202019").text
    assert marker in signed_in("cat").get("/rob/adjudicate").text  # who settles sees both


def test_discrepancies_are_highlighted_settled_with_a_reason_and_the_table_is_the_clis(signed_in, screened_path,
                                                                                     tmp_path, capsys):
    with Project.open(screened_path) as p:
        set_tool(p, "rob2")
    ann, bob, cat = signed_in("ann"), signed_in("bob"), signed_in("cat")
    assess_all(ann)
    assess_all(bob)
    answer(bob, "Wang 2019", {"5.1": "N", "5.2": "Y"}, **{"quote:5.2": "several pain scales, one reported"})
    assert bob.get("/rob/adjudicate").status_code == 403
    page = cat.get("/rob/adjudicate").text
    assert '<tr class="differ question">' in page and '<tr class="differ judgment">' in page
    assert page.count('<td class="value differ"') == 2 * 4  # 5.1, 5.2, D5 and Overall, ann's and bob's
    assert "several pain scales, one reported" in page
    assert "figures appear here once every judgment is settled" in cat.get("/rob").text
    assert cat.get("/rob/robvis.csv").status_code == 409
    resp = cat.post("/rob/adjudicate", {"study": "Wang 2019", "item": "5.1", "value": "Y"})
    assert resp.status_code == 400 and "say why" in resp.text
    for item, value in (("5.1", "Y"), ("5.2", "N")):
        resp = cat.post("/rob/adjudicate", {"study": "Wang 2019", "item": item, "value": value,
                                            "reason": "protocol p. 2 names one scale"}, follow_redirects=True)
        assert resp.status_code == 200 and f"Wang 2019, {item}: settled" in resp.text
    assert "Nothing left to adjudicate" in resp.text  # D5 and Overall follow from the settled answers
    with Project.open(screened_path) as p:
        rows = {(r["study"], r["item"]): r for r in discrepancies(p)}
    assert rows[("Wang 2019", "D5")]["status"] == "derived" and rows[("Wang 2019", "5.1")]["adjudicator"] == "cat"
    overview = ann.get("/rob").text
    assert overview.count("<svg") == 2 and "Traffic-light plot" in overview and "Summary plot" in overview
    web = ann.get("/rob/robvis.csv")
    assert web.headers["content-type"].startswith("text/csv")
    out = tmp_path / "rob.csv"
    assert cli_main(["review", "rob", "export", "-p", str(screened_path), "-o", str(out)]) == 0
    assert web.text == out.read_text(encoding="utf-8")
    assert web.text.splitlines()[0] == "Study,D1,D2,D3,D4,D5,Overall"


def test_study_labels_and_quotes_are_escaped_in_every_rob_page(signed_in, screened_path):
    with Project.open(screened_path) as p:
        set_tool(p, "rob2")
        assign_study(p, 3, XSS)
        others = [s for s in study_labels(p).values() if s != XSS]
        for who in ("ann", "bob"):
            for s in others:
                enter_answers(p, assessor=who, study=s, entries=[(k, v, None, None) for k, v in LOW.items()])
    ann, bob, cat = signed_in("ann"), signed_in("bob"), signed_in("cat")
    for who, val in ((ann, "Y"), (bob, "N")):
        resp = answer(who, XSS, {**LOW, "1.1": val}, **{"quote:1.1": XSS, "page:1.1": XSS})
        assert resp.status_code == 200
    for client, path in ((ann, "/rob"), (ann, f"/rob/assess?study={XSS}"), (cat, "/rob/adjudicate")):
        html = client.get(path).text
        assert XSS not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path
    resp = cat.post("/rob/adjudicate", {"study": XSS, "item": "1.1", "value": "Y", "reason": XSS},
                    follow_redirects=True)
    assert f"{XSS}, 1.1: settled" not in resp.text and "1.1: settled" in resp.text
    html = ann.get("/rob").text  # the label in the figures, whose text is kept as text
    assert html.count("<svg") == 2 and XSS not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html[html.index("<svg"):]
    assert XSS not in cat.get("/rob/adjudicate?show=all").text


def test_assessments_per_outcome_are_kept_apart_and_exported_as_the_cli_does(signed_in, screened_path, tmp_path):
    with Project.open(screened_path) as p:
        set_tool(p, "rob2")
    pain = "Pain at 3 months"
    ann, bob, cat = signed_in("ann"), signed_in("bob"), signed_in("cat")
    for who in (ann, bob):
        for s in STUDIES:
            resp = answer(who, s, {**LOW, "4.1": "Y"} if who is bob and s == "Tsai 2019" else LOW, outcome=pain)
            assert resp.status_code == 200 and "Pain at 3 months" in resp.text
    with Project.open(screened_path) as p:
        assert p.store.rob_outcomes("rob2") == [pain]
    overview = ann.get("/rob").text
    assert "not started" in overview and 'href="/rob?outcome=Pain%20at%203%20months"' in overview
    page = cat.get("/rob/adjudicate?outcome=Pain%20at%203%20months").text
    assert page.count('<tr class="differ') == 3  # 4.1, D4 and Overall of Tsai
    assert '<tr class="differ' not in cat.get("/rob/adjudicate").text  # the per-study assessment has none
    resp = cat.post("/rob/adjudicate", {"study": "Tsai 2019", "item": "4.1", "value": "N", "reason": "blinded outcome",
                                        "outcome": pain}, follow_redirects=True)
    assert "Tsai 2019, 4.1: settled" in resp.text and "outcome=Pain%20at%203%20months" in str(resp.url)
    web = ann.get("/rob/robvis.csv?outcome=Pain%20at%203%20months")
    assert web.status_code == 200 and ann.get("/rob/robvis.csv").status_code == 409
    out = tmp_path / "pain.csv"
    assert cli_main(["review", "rob", "export", "-p", str(screened_path), "--outcome", pain, "-o", str(out)]) == 0
    assert web.text == out.read_text(encoding="utf-8")
