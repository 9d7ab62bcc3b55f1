"""A review team in real browsers, from search exports to the adjudicated analysis and the PRISMA counts.

The tutorial's review (docs/tutorial.md), done in the workspace only: the owner imports the
PubMed and Embase exports and settles the duplicates queue; Ann and Bob screen in two browser
contexts, blinded to each other, on single keys; the conflict they make is resolved by Cat,
the adjudicator; full texts are retrieved (or not), uploaded and decided; the owner sets the
extraction form, Ann and Bob extract in duplicate, Cat settles the discrepancies and runs the
analysis plan.  At the end the dashboard's PRISMA counts and the analysis table equal what the
command line derives from the same project, and every page has been photographed at laptop
and phone size (``METAREVIEW_SCREENSHOTS=DIR`` keeps the pictures).
"""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import LAPTOP, PASSWORD, PHONE, metareview, serve, sign_in

ROOT = Path(__file__).resolve().parents[3]
EXPORTS = ROOT / "tests" / "data" / "exports"
SHEETS = ROOT / "docs" / "tutorial"
TEAM = {"olivia": "owner", "ann": "reviewer", "bob": "reviewer", "cat": "adjudicator"}

PLAN = """
[review]
title = "MRgFUS for painful bone metastases: the team's sample review"

[data.extracted]
title = "The adjudicated extraction table"
file = "team.mrv.files/analysis.csv"

[defaults]
method = "Inverse"
method_tau2 = "DL"
random_ci = "wald"
prediction = "t"
common = true
random = true

[analysis.response]
title = "Treatment response"
outcome = "Patients with a complete or partial pain response"
data = "extracted"
columns = { events = "responders", n = "n" }
measure = "PLO"
study_ci = "CP"
figures = ["forest"]
"""


def _sheet(name: str) -> dict[int, tuple[str, str]]:
    with open(SHEETS / name, newline="", encoding="utf-8") as fh:
        return {int(r["record_id"]): (r["decision"], r["reason"]) for r in csv.DictReader(fh)}


def _extraction(name: str) -> dict[str, dict[str, str]]:
    with open(SHEETS / name, newline="", encoding="utf-8") as fh:
        return {r.pop("study"): r for r in csv.DictReader(fh)}


def _pdf(path: Path, text: str) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig = plt.figure(figsize=(8.27, 11.69))
    fig.text(0.1, 0.9, text, fontsize=16)
    fig.text(0.1, 0.85, "Table 2: 10 patients treated; 8 responded.", fontsize=11)
    fig.savefig(path, format="pdf")
    plt.close(fig)
    return path


class Camera:
    """Screenshots of each page at laptop and phone size; a page wider than the phone's screen is a failure."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.taken: list[Path] = []

    def __call__(self, page: Any, name: str) -> None:
        for label, size in (("laptop", LAPTOP), ("phone", PHONE)):
            page.set_viewport_size(size)
            target = self.folder / f"{name}-{label}.png"
            page.screenshot(path=str(target), full_page=True)
            self.taken.append(target)
            if label == "phone":
                overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 1, f"{name}: {overflow}px wider than a 390px phone screen"
        page.set_viewport_size(LAPTOP)


@pytest.fixture
def camera(tmp_path: Path) -> Camera:
    return Camera(Path(os.environ.get("METAREVIEW_SCREENSHOTS") or tmp_path / "screenshots"))


def _record_on_screen(page: Any) -> int | None:
    field = page.query_selector("form[action$='/decide'] input[name=record_id]")
    return int(field.get_attribute("value")) if field else None


def _screen_all(page: Any, url: str, decisions: dict[int, tuple[str, str]]) -> list[int]:
    """Screen every record shown, on single keys (i / e), until the page says nothing is left."""
    page.goto(url + "screen/title_abstract")
    seen = []
    while True:
        record = _record_on_screen(page)
        if record is None:
            assert "Nothing left for you to screen" in page.inner_text("main")
            return seen
        seen.append(record)
        page.keyboard.press("i" if decisions[record][0] == "include" else "e")
        page.wait_for_function(
            "r => { const f = document.querySelector(\"form[action$='/decide'] input[name=record_id]\");"
            " return !f || f.value !== String(r); }", arg=record)


def test_a_team_takes_the_tutorial_review_from_exports_to_analysis_in_the_browser(tmp_path, new_context, camera):
    project = tmp_path / "team.mrv"
    metareview("review", "init", "--json", project, "--name", "MRgFUS bone metastases")
    for name, role in TEAM.items():
        metareview("review", "user", "add", "--json", name, "--role", role, "--password-stdin", "-p", project,
                   input=PASSWORD + "\n")
    (tmp_path / "review.toml").write_text(PLAN, encoding="utf-8")
    pdf = _pdf(tmp_path / "namba-2019.pdf", "Namba et al. 2019: MRgFUS for painful bone metastases")

    with serve(project) as url:
        # -- the owner imports the exports and settles the duplicates queue ------------------------------------
        visitor = new_context().new_page()
        visitor.goto(url)  # anyone not signed in is sent to the sign-in page
        assert "/login" in visitor.url
        camera(visitor, "login")
        olivia = sign_in(new_context(), url, "olivia")
        camera(olivia, "dashboard-empty")
        olivia.goto(url + "users")
        camera(olivia, "team")
        for name, source in (("pubmed.nbib", "PubMed"), ("embase.ris", "Embase")):
            olivia.goto(url + "import")
            olivia.set_input_files("#file", str(EXPORTS / name))
            olivia.fill("#source", source)
            olivia.click("form[action='/import'] button[type=submit]")
            olivia.wait_for_load_state()
            if source == "PubMed":
                main = olivia.inner_text("main")
                assert "10 record(s) from PubMed" in main and "165" in main  # the cut-off record, with its line
                camera(olivia, "import")
        olivia.goto(url + "duplicates")
        olivia.click("form[action='/duplicates/run'] button")
        olivia.wait_for_load_state()
        camera(olivia, "duplicates")
        pairs = olivia.locator("form[action='/duplicates/decide']")
        expect(pairs).to_have_count(2)
        for left in (1, 0):  # the tutorial's two pairs are different articles
            olivia.locator("button[name=verdict][value=distinct]").first.click()
            expect(pairs).to_have_count(left)

        # -- two reviewers screen, blinded, in two browser contexts ------------------------------------------------
        ann = sign_in(new_context(), url, "ann")
        bob = sign_in(new_context(viewport=PHONE), url, "bob")
        ann_ta, bob_ta = _sheet("screening-ann.csv"), _sheet("screening-bob.csv")
        ann.goto(url + "screen/title_abstract")
        camera(ann, "screening")
        assert sorted(_screen_all(ann, url, ann_ta)) == sorted(ann_ta)
        bob.goto(url + "screen/title_abstract?show=all&q=")
        assert "include" not in bob.inner_text("section[aria-label='Decisions so far']")  # ann's vote is hidden
        assert sorted(_screen_all(bob, url, bob_ta)) == sorted(bob_ta)

        # -- the conflict appears and the adjudicator resolves it ----------------------------------------------
        cat = sign_in(new_context(), url, "cat")
        cat.goto(url + "conflicts/title_abstract")
        assert cat.query_selector_all("article[id^=record-]") and cat.query_selector("#record-4")
        camera(cat, "conflicts")
        cat.fill("#why-4", "half of the series are bone metastases")
        cat.click("#record-4 button[value=include]")
        expect(cat.locator("main")).to_contain_text("No conflicts to settle")

        # -- full texts: retrieval, a PDF beside the form, decisions with PRISMA reasons ---------------------
        ann.goto(url + "fulltext/10")
        ann.check("input[name=retrieved][value=no]")
        ann.fill("#retrieval-note", "not held by any library")
        ann.click("form[action$='/retrieval'] button")
        ann.wait_for_load_state()
        assert "recorded as not retrieved" in ann.inner_text("main")
        ann.goto(url + "fulltext/1")
        ann.set_input_files("#pdf", str(pdf))
        ann.click("form[action$='/upload'] button")
        ann.wait_for_load_state()
        assert "namba-2019.pdf uploaded" in ann.inner_text("main")
        frame = ann.query_selector("iframe[src^='/fulltext/file/']")
        pdf_response = ann.request.get(url + frame.get_attribute("src").lstrip("/"))
        assert pdf_response.headers["content-type"] == "application/pdf" and pdf_response.body()[:5] == b"%PDF-"
        for page, who in ((ann, "ann"), (bob, "bob")):
            for record in (1, 2, 3, 4):
                page.goto(url + f"fulltext/{record}")
                if page is bob:  # from the keyboard: i (include), s (save)
                    page.keyboard.press("i")
                    with page.expect_navigation():
                        page.keyboard.press("s")
                else:
                    page.check("input[name=decision][value=include]")
                    page.click("form[action$='/decision'] button")
                page.wait_for_load_state()
                assert "your decision is recorded" in page.inner_text("main")
            page.goto(url + "fulltext/6")
            page.check("input[name=decision][value=exclude]")
            page.select_option("#reason", "wrong study design" if who == "ann" else "wrong population")
            page.click("form[action$='/decision'] button")
            page.wait_for_load_state()
        ann.goto(url + "fulltext/1")
        ann.wait_for_timeout(3000)  # the PDF viewer draws the first page (for the picture only)
        camera(ann, "fulltext-report")
        ann.goto(url + "fulltext")
        camera(ann, "fulltext")
        cat.goto(url + "conflicts/full_text")
        cat.fill("#why-6", "a case series without a comparison: design, not population")
        cat.select_option("#reason-6", "wrong study design")
        cat.click("#record-6 button[value=exclude]")
        expect(cat.locator("main")).to_contain_text("No conflicts to settle")

        # -- the PRISMA counts of the dashboard are the command line's -------------------------------------------
        olivia.goto(url)
        camera(olivia, "dashboard")
        counts = olivia.evaluate("fetch('/', {headers: {Accept: 'application/json'}}).then(r => r.json())")["counts"]
        cli = json.loads(metareview("review", "prisma", "-p", project).stdout)
        assert counts == cli
        assert cli["studies_included"] == 4 and cli["reports_not_retrieved"] == 1
        assert cli["reports_excluded"] == {"wrong study design": 1}
        for key in ("records_screened", "records_excluded", "reports_assessed", "studies_included"):
            shown = olivia.locator("section.prisma tr", has=olivia.locator(f"th:text-is('{key}')")).locator("td")
            assert shown.text_content().strip() == str(cli[key])

        # -- the owner sets the form; two extractors fill it; the adjudicator settles -----------------------------
        olivia.goto(url + "extract")
        olivia.fill("#form_text", (SHEETS / "extraction_form.toml").read_text(encoding="utf-8"))
        olivia.click("form[action='/extract/form'] button")
        olivia.wait_for_load_state()
        assert "extraction form saved" in olivia.inner_text("main")
        for page, sheet in ((ann, "extraction-ann.csv"), (bob, "extraction-bob.csv")):
            for study, values in _extraction(sheet).items():
                page.goto(url + "extract")
                page.click(f"a:text-is('{study}')")
                for field, value in values.items():
                    selector = f"[name='value:{field}']"
                    if page.eval_on_selector(selector, "e => e.tagName") == "SELECT":
                        page.select_option(selector, value)
                    else:
                        page.fill(selector, value)
                page.fill("[name='where:responders']", "Table 2")
                if study == "Tsai 2019" and page is ann:
                    page.fill("[name='value:baseline_sd']", "12")  # out of range: said beside the field at once
                    page.press("[name='value:baseline_sd']", "Tab")
                    expect(page.locator("[data-error-for=baseline_sd]")).to_contain_text("above the maximum 10")
                    expect(page.locator("[data-error-for=n]")).to_be_hidden()
                    page.click("form.extraction button.primary")  # and refused by the server when saved
                    page.wait_for_load_state()
                    assert "above the maximum 10 NRS 0-10" in page.inner_text("[data-field=baseline_sd]")
                    camera(page, "extraction-entry")
                    page.fill("[name='value:baseline_sd']", values["baseline_sd"])
                page.click("form.extraction button.primary")
                page.wait_for_load_state()
                assert f"{study}: 7 value(s) saved" in page.inner_text("main")
        ann.goto(url + "extract")
        camera(ann, "extraction")
        bob.goto(url + "extract/entry?study=Tsai%202019")
        assert bob.input_value("[name='value:responders']") == "28"  # his own value, never ann's
        cat.goto(url + "extract/adjudicate")
        camera(cat, "extraction-adjudication")
        assert len(cat.query_selector_all("tr.differ")) == 2
        for study, field, value, reason in (("Tsai 2019", "responders", "26", "Results: 26 of 31"),
                                            ("Wang 2019", "pain_3mo_sd", "0.96", "Table 3")):
            row = cat.locator("tr.differ", has_text=study)
            row.locator(f"input[name=value][value='{value}']").check()
            row.locator("input[name=reason]").fill(reason)
            row.locator("button").click()
            cat.wait_for_load_state()
        assert "Nothing left to adjudicate" in cat.inner_text("main")
        web_table = cat.request.get(url + "extract/analysis.csv").text()
        metareview("review", "export", "--json", "-p", project, "-o", tmp_path / "cli-analysis.csv")
        assert web_table == (tmp_path / "cli-analysis.csv").read_text(encoding="utf-8")

        # -- the adjudicator runs the plan; the analysis page shows the forest plot --------------------------------
        cat.goto(url + "analysis")
        cat.click("form[action='/analysis/run'] button")
        cat.wait_for_load_state()
        assert "the plan ran" in cat.inner_text("main")
        img = cat.wait_for_selector("img[src='/analysis/figures/response_forest.svg']")
        assert cat.evaluate("i => i.complete && i.naturalWidth > 100", img)
        numbers = cat.inner_text("section.analysis table.numbers")
        assert "Studies\t4" in numbers
        camera(cat, "analysis")
        report = cat.request.get(url + "analysis/report")
        assert report.status == 200 and "Treatment response" in report.text()
        ann.goto(url + "analysis")
        assert ann.query_selector("form[action='/analysis/run']") is None  # reviewers read, adjudicators run
    assert len(camera.taken) >= 20
    assert all(p.stat().st_size > 5000 for p in camera.taken)
    # the numbers on the page are the command line's for the same table
    pooled = json.loads(metareview("pool", tmp_path / "cli-analysis.csv", "--col", "events=responders", "--json",
                                   "--method-tau2", "DL").stdout)
    assert re.search(r"\d", numbers)
    random = pooled["backtransformed"]["random"]
    assert f"{random['estimate']:.4f} [{random['ci_low']:.4f}; {random['ci_high']:.4f}]" in numbers
