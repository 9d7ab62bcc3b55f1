"""The content pages in-process: full text, extraction and analysis, as each role sees them."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from metareview.review import Project
from metareview.review.backends import is_url
from metareview.review.extraction import load_form, set_form

from ._review import review_helpers
from .conftest import EXPORTS, files_for

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def screened_path(project_path: Path) -> Path:
    """The sample project screened to the end (studies Namba 2019, Tsai 2019, Wang 2019 included)."""
    with Project.open(project_path) as p:
        review_helpers().screen_all(p)
    return project_path


@pytest.fixture
def app(screened_path: str, tmp_path: Path):
    """The workspace on the screened project (``signed_in`` of conftest.py signs in to this one)."""
    from metareview.web import create_app
    return create_app(screened_path, secret_key=b"test secret key, not for production",
                      files=files_for(screened_path, tmp_path))


def _upload(client, record_id: int, data: bytes, name: str = "paper.pdf"):
    if not client.token:
        client.get("/fulltext")
    return client.http.post(f"/fulltext/{record_id}/upload", data={"csrf_token": client.token},
                            files={"pdf": (name, data, "application/pdf")}, follow_redirects=True)


# -- full text ---------------------------------------------------------------------------------------------
def test_fulltext_lists_the_reports_sought_with_their_status(signed_in):
    html = signed_in("ann").get("/fulltext").text
    for record_id in (1, 2, 3, 6, 8, 10):
        assert f'href="/fulltext/{record_id}"' in html
    assert "not retrieved" in html and "excluded" in html and "Namba 2019" in html


def test_a_pdf_upload_is_shown_inline_from_a_generated_name(signed_in, screened_path, tmp_path):
    ann = signed_in("ann")
    resp = _upload(ann, 1, PDF, name="../../../escape.pdf")
    assert resp.status_code == 200 and "escape.pdf uploaded" in resp.text
    file_id = int(re.search(r'<iframe src="/fulltext/file/(\d+)"', resp.text).group(1))
    got = ann.get(f"/fulltext/file/{file_id}")
    assert got.status_code == 200 and got.content == PDF
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["content-disposition"].startswith("inline;")
    stored = list((tmp_path / "review.mrv.files").iterdir())
    assert len(stored) == 1 and re.fullmatch(r"[0-9a-f]{32}\.pdf", stored[0].name)
    assert not (tmp_path.parent / "escape.pdf").exists()


@pytest.mark.parametrize("data, message", [(b"<script>alert(1)</script>", "not a PDF"), (b"", "paper.pdf is empty")])
def test_what_is_not_a_pdf_is_refused_with_a_message(signed_in, screened_path, data, message, tmp_path):
    resp = _upload(signed_in("ann"), 1, data)
    assert resp.status_code == 400 and message in resp.text
    assert "<script>alert(1)</script>" not in resp.text
    folder = tmp_path / "review.mrv.files"
    assert not folder.exists() or not any(folder.iterdir())


def test_an_upload_over_the_server_limit_is_refused(screened_path):
    from metareview.web import create_app

    from .conftest import Client
    c = Client(create_app(screened_path, secret_key=b"k" * 32, max_body=2000)).login("ann")
    resp = c.http.post("/fulltext/1/upload", data={"csrf_token": c.token},
                       files={"pdf": ("big.pdf", PDF + b"0" * 5000, "application/pdf")})
    assert resp.status_code == 413
    c.close()


def test_fulltext_decisions_are_blinded_until_settled(signed_in):
    ann, bob = signed_in("ann"), signed_in("bob")
    # both included record 3; ann changes her mind, which makes it a conflict again
    resp = ann.post("/fulltext/3/decision", {"decision": "exclude", "reason": "wrong population",
                                             "note": "secret-note-of-ann"}, follow_redirects=True)
    assert resp.status_code == 200 and "your decision is recorded" in resp.text
    page = bob.get("/fulltext/3").text
    assert "secret-note-of-ann" not in page and "wrong population</li>" not in page
    assert "conflict" not in page and "awaiting decisions" in page  # a conflict would tell him ann's vote
    assert "conflict" not in bob.get("/fulltext").text
    assert "secret-note-of-ann" in ann.get("/fulltext/3").text
    assert "conflict" in signed_in("cat").get("/fulltext/3").text  # who settles conflicts sees them


def test_fulltext_exclusion_needs_a_prisma_reason_and_study_labels_are_escaped(signed_in):
    ann = signed_in("ann")
    resp = ann.post("/fulltext/3/decision", {"decision": "exclude"})
    assert resp.status_code == 400 and "needs a reason" in resp.text
    resp = ann.post("/fulltext/3/study", {"study": "<script>alert(1)</script>"}, follow_redirects=True)
    assert resp.status_code == 200
    assert "<script>alert(1)</script>" not in resp.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in resp.text


def test_not_retrieved_and_unknown_reports(signed_in):
    ann = signed_in("ann")
    assert ann.get("/fulltext/9999").status_code == 404
    resp = ann.post("/fulltext/1/retrieval", {"retrieved": "no", "note": "library says no"}, follow_redirects=True)
    assert "recorded as not retrieved" in resp.text and "library says no" in resp.text
    assert ann.get("/fulltext").text.count("not retrieved") >= 2


# -- extraction ------------------------------------------------------------------------------------------------
FORM = (EXPORTS / "extraction_form.toml").read_text(encoding="utf-8")
VALUES = {"n": "31", "baseline_mean": "5.6", "pain_3mo_mean": "", "design": "retrospective cohort",
          "blinded": "false", "fus_system": "InSightec"}


def _entry(study: str, values: dict[str, str], where: dict[str, str] | None = None) -> dict[str, str]:
    data = {"study": study, **{f"value:{k}": v for k, v in values.items()}}
    data.update({f"where:{k}": v for k, v in (where or {}).items()})
    return data


def test_the_owner_sets_the_form_and_a_reviewer_may_not(signed_in):
    ann, olivia = signed_in("ann"), signed_in("olivia")
    assert "no extraction form yet" in ann.get("/extract").text
    assert ann.post("/extract/form", {"form_text": FORM}).status_code == 403
    bad = olivia.post("/extract/form", {"form_text": "[[field]]\nname = 'x'\ntype = 'date'"})
    assert bad.status_code == 400 and "not one of" in bad.text
    resp = olivia.post("/extract/form", {"form_text": FORM}, follow_redirects=True)
    assert "extraction form saved" in resp.text and "Tsai 2019" in resp.text


@pytest.fixture
def with_form(screened_path):
    with Project.open(screened_path) as p:
        set_form(p, load_form(FORM))
    return screened_path


def test_entries_are_checked_field_by_field_and_nothing_is_saved_on_error(with_form, signed_in):
    ann = signed_in("ann")
    page = ann.get("/extract/entry?study=Tsai%202019")
    assert page.status_code == 200 and 'name="value:baseline_mean"' in page.text and "NRS 0-10" in page.text
    resp = ann.post("/extract/entry", _entry("Tsai 2019", {**VALUES, "n": "0", "baseline_mean": "eleven"},
                                             {"design": "chapter 2"}))
    assert resp.status_code == 422
    assert "below the minimum 1 patients" in resp.text and "&#39;eleven&#39; is not a number" in resp.text
    assert "not a page, table or figure" in resp.text
    with Project.open(with_form) as p:
        assert p.store.current_values() == []
    check = ann.http.post("/extract/check", data=_entry("Tsai 2019", {**VALUES, "n": "abc"}),
                          headers={"X-CSRF-Token": ann.token, "Accept": "application/json"})
    assert check.status_code == 200 and set(check.json()["errors"]) == {"n"}


def test_two_extractors_are_blinded_and_the_adjudicator_settles_their_discrepancies(with_form, signed_in):
    ann, bob, cat = signed_in("ann"), signed_in("bob"), signed_in("cat")
    for who, base in ((ann, "5.6"), (bob, "5.8")):
        for study in ("Namba 2019", "Tsai 2019", "Wang 2019"):
            resp = who.post("/extract/entry", _entry(study, {**VALUES, "baseline_mean": base if study == "Tsai 2019"
                                                             else "6"}, {"baseline_mean": "Table 2"}),
                            follow_redirects=True)
            assert resp.status_code == 200 and "6 value(s) saved" in resp.text
    bob_page = bob.get("/extract/entry?study=Tsai%202019").text
    assert 'value="5.8"' in bob_page and "5.6" not in bob_page
    assert bob.get("/extract/adjudicate").status_code == 403
    assert cat.get("/extract/analysis.csv").status_code == 409
    page = cat.get("/extract/adjudicate").text
    assert "1 differ" in page and '<tr class="differ">' in page and "table 2" in page
    resp = cat.post("/extract/adjudicate", {"study": "Tsai 2019", "field": "baseline_mean", "value": "5.6",
                                            "reason": ""})
    assert resp.status_code == 400 and "say why" in resp.text
    resp = cat.post("/extract/adjudicate", {"study": "Tsai 2019", "field": "baseline_mean", "value": "__other__",
                                            "other": "5.7", "reason": "Table 2, rounded"}, follow_redirects=True)
    assert "Nothing left to adjudicate" in resp.text
    table = cat.get("/extract/analysis.csv")
    assert table.status_code == 200 and table.headers["content-type"].startswith("text/csv")
    rows = {r["study"]: r for r in csv.DictReader(io.StringIO(table.text))}
    assert rows["Tsai 2019"]["baseline_mean"] == "5.7"
    prov = {(r["study"], r["field"]): r for r in csv.DictReader(io.StringIO(
        ann.get("/extract/analysis.provenance.csv").text))}
    assert prov[("Tsai 2019", "baseline_mean")]["adjudicator"] == "cat"
    assert prov[("Tsai 2019", "baseline_mean")]["locations"] == "ann=table 2 | bob=table 2"


# -- analysis -----------------------------------------------------------------------------------------------------
PLAN = """
[review]
title = "Team review"

[data.extracted]
file = "review.mrv.files/analysis.csv"

[defaults]
method = "Inverse"
method_tau2 = "DL"

[analysis.baseline]
title = "Baseline pain"
outcome = "Mean pain score at baseline"
data = "extracted"
columns = { mean = "baseline_mean", sd = "sd", n = "n" }
measure = "MN"
figures = ["forest"]
"""


def test_analysis_without_a_plan_says_where_to_put_one(signed_in):
    assert "There is no analysis plan yet" in signed_in("ann").get("/analysis").text
    assert signed_in("cat").post("/analysis/run").status_code == 409


def test_the_plan_runs_on_the_adjudicated_table_and_shows_numbers_and_forest_plot(with_form, signed_in, tmp_path):
    form = FORM.replace('[[field]]\nname = "pain_3mo_mean"', '[[field]]\nname = "sd"\ntype = "number"\nmin = 0\n'
                        '\n[[field]]\nname = "pain_3mo_mean"')
    with Project.open(with_form) as p:
        set_form(p, load_form(form))
        rows = []
        for study, (n, mean, sd) in {"Namba 2019": (10, 6.0, 1.5), "Tsai 2019": (31, 5.6, 2.0),
                                     "Wang 2019": (30, 6.6, 1.1)}.items():
            for who in ("ann", "bob"):
                rows += [(study, "n", who, str(n), "web"), (study, "baseline_mean", who, repr(mean), "web"),
                         (study, "sd", who, repr(sd), "web"), (study, "design", who, "RCT", "web")]
                rows += [(study, name, who, None, "web") for name in ("pain_3mo_mean", "blinded", "fus_system")]
        p.store.add_values(rows)
    (tmp_path / "review.toml").write_text(PLAN, encoding="utf-8")
    if is_url(with_form):  # no folder beside a database: the plan is given, as 'serve --plan' gives it
        from metareview.web import create_app

        from .conftest import Client
        app = create_app(with_form, secret_key=b"k" * 32, plan=tmp_path / "review.toml",
                         files=files_for(with_form, tmp_path))
        ann, cat = Client(app).login("ann"), Client(app).login("cat")
    else:
        ann, cat = signed_in("ann"), signed_in("cat")
    assert "has not been run yet" in ann.get("/analysis").text
    assert ann.post("/analysis/run").status_code == 403
    resp = cat.post("/analysis/run", follow_redirects=True)
    assert resp.status_code == 200, resp.text
    assert "the plan ran" in resp.text and "Baseline pain" in resp.text
    import metareview as mr
    res = mr.metamean(n=[10, 31, 30], mean=[6.0, 5.6, 6.6], sd=[1.5, 2.0, 1.1],
                      studlab=["Namba 2019", "Tsai 2019", "Wang 2019"], method_tau2="DL")
    d = res.to_dict()
    assert f"{d['random']['estimate']:.4f}" in resp.text and f"{d['heterogeneity']['i2']:.1f}" in resp.text
    src = re.search(r'<img src="(/analysis/figures/baseline_forest\.svg)"', resp.text).group(1)
    svg = ann.get(src)
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert "sandbox" in svg.headers["content-security-policy"] and b"<svg" in svg.content
    assert ann.get("/analysis/report").status_code == 200
    assert ann.get("/analysis/figures/..%2Fresults.json").status_code == 404
    assert (tmp_path / "review.mrv.files" / "analysis.provenance.csv").is_file()
    assert not (tmp_path / "output").exists()  # nothing written into the plan's folder


def test_a_plan_given_to_the_server_is_the_one_the_page_runs(screened_path, tmp_path, capsys):
    from metareview.cli import main
    from metareview.web import create_app

    from .conftest import Client
    elsewhere = tmp_path / "plans" / "mine.toml"
    elsewhere.parent.mkdir()
    elsewhere.write_text(PLAN.replace('file = "review.mrv.files/analysis.csv"', 'file = "missing.csv"'),
                         encoding="utf-8")
    c = Client(create_app(screened_path, secret_key=b"k" * 32, plan=elsewhere,
                          files=files_for(screened_path, tmp_path))).login("cat")
    assert "<code>mine.toml</code>" in c.get("/analysis").text
    resp = c.post("/analysis/run")
    assert resp.status_code == 400 and "missing.csv" in resp.text and "does not exist" in resp.text
    c.close()
    assert main(["serve", str(screened_path), "--plan", str(tmp_path / "nowhere.toml")]) == 2
    assert "nowhere.toml: no such file" in capsys.readouterr().err


def test_a_server_project_without_a_files_folder_says_where_to_give_one(screened_path, tmp_path):
    """On PostgreSQL without ``serve --files``: the analysis page and an upload say what to do; nothing is written."""
    if not is_url(screened_path):
        pytest.skip("a project file always has its folder beside it")
    from metareview.web import create_app

    from .conftest import Client
    app = create_app(screened_path, secret_key=b"k" * 32)
    cat = Client(app).login("cat")
    page = cat.get("/analysis")
    assert page.status_code == 200 and "no folder was given for them" in page.text
    assert "Start the server with <code>--plan</code>" in page.text and "postgresql://" not in page.text
    resp = _upload(Client(app).login("ann"), 1, PDF)
    assert resp.status_code == 400 and "--files DIR" in resp.text
    with Project.open(screened_path) as p:
        assert p.store.fulltexts() == []
