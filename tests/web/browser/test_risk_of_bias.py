"""Risk of bias in real browsers: the owner chooses RoB 2, two assessors answer it blinded in two browser
contexts (one a phone), a discrepancy appears, the adjudicator settles it, and the settled figures show.

The settled table the page offers equals ``metareview review rob export``'s; every page is
photographed at laptop and phone size (``METAREVIEW_SCREENSHOTS=DIR`` keeps the pictures).
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from .conftest import PHONE, metareview, screened_project, serve, sign_in
from .test_team_review import camera  # noqa: F401  (the fixture)

#: RoB 2 answers the guidance's algorithms judge "Low" in every domain.
LOW = {"1.1": "Y", "1.2": "Y", "1.3": "N", "2.1": "N", "2.2": "N", "2.6": "Y", "3.1": "Y", "4.1": "N", "4.2": "N",
       "4.3": "N", "5.1": "Y", "5.2": "N", "5.3": "N"}
STUDIES = ("Namba 2019", "Tsai 2019", "Wang 2019")
#: What both assessors answer: concealment of Tsai's allocation not reported (some concerns in D1).
AGREED = {s: {**LOW, "1.2": "NI"} if s == "Tsai 2019" else LOW for s in STUDIES}


def _assess(page: Any, url: str, study: str, answers: dict[str, str], quote: str) -> None:
    page.goto(url + "rob/assess?study=" + study.replace(" ", "%20"))
    for item, value in answers.items():
        page.select_option(f"[name='answer:{item}']", value)
    page.fill("[name='quote:1.1']", quote)
    # the script asks the server for the proposals as the answers change, before anything is saved
    expect(page.locator("output[data-proposed-for=Overall]")).to_have_text(
        "High" if answers["5.2"] == "Y" else "Some concerns" if answers["1.2"] == "NI" else "Low")
    page.click("form.rob-form button.primary")
    expect(page.locator("main")).to_contain_text(f"{study}: ")


def test_two_assessors_an_adjudicator_and_the_settled_figures(tmp_path, new_context, camera):  # noqa: F811
    project = screened_project(tmp_path / "review.mrv", {"olivia": "owner", "ann": "reviewer", "bob": "reviewer",
                                                         "cat": "adjudicator"})
    with serve(project) as url:
        olivia = sign_in(new_context(), url, "olivia")
        olivia.click("nav >> text=Risk of bias")
        olivia.check("input[name=tool][value=rob2]")
        olivia.click("form[action='/rob/tool'] button")
        expect(olivia.locator("main")).to_contain_text("the project's risk-of-bias tool is RoB 2")

        ann = sign_in(new_context(), url, "ann")
        bob = sign_in(new_context(viewport=PHONE), url, "bob")
        for study in STUDIES:
            _assess(ann, url, study, AGREED[study], f"ann on {study}: computer-generated list")
        camera(ann, "rob-assess")
        for study in STUDIES:
            differs = {**LOW, "5.1": "N", "5.2": "Y"} if study == "Wang 2019" else AGREED[study]
            _assess(bob, url, study, differs, f"bob on {study}: random numbers table")
        bob.goto(url + "rob/assess?study=Wang%202019")
        assert "ann on" not in bob.content()  # blinded: ann's quotes are not in bob's page
        bob.goto(url + "rob")
        assert bob.locator("svg").count() == 0 and "once every judgment is settled" in bob.inner_text("main")

        cat = sign_in(new_context(), url, "cat")
        cat.goto(url + "rob/adjudicate")
        assert cat.locator("td.value.differ").count() == 8  # 5.1, 5.2, D5, Overall for ann and bob
        wang = cat.locator("tr.differ", has_text="Wang 2019")
        expect(wang).to_have_count(4)
        assert "bob on Wang 2019" not in cat.inner_text("main")  # quotes of 1.1, where they agree, are not open
        camera(cat, "rob-adjudication")
        for item, value in (("5.1", "Y"), ("5.2", "N")):
            row = cat.locator("tr.differ.question", has_text="Wang 2019").filter(has_text=f"{item} ")
            row.locator("select[name=value]").select_option(value)
            row.locator("input[name=reason]").fill("the protocol names one pain scale")
            row.locator("button").click()
            expect(cat.locator("main")).to_contain_text(f"Wang 2019, {item}: settled")
        expect(cat.locator("main")).to_contain_text("Nothing left to adjudicate")

        cat.goto(url + "rob")
        expect(cat.locator("figure.rob svg")).to_have_count(2)
        camera(cat, "rob")
        web = cat.request.get(url + "rob/robvis.csv").text()
        assert web == metareview("review", "rob", "export", "-p", project).stdout
        assert web.splitlines()[1:] == ["Namba 2019,Low,Low,Low,Low,Low,Low",
                                        "Tsai 2019,Some concerns,Low,Low,Low,Low,Some concerns",
                                        "Wang 2019,Low,Low,Low,Low,Low,Low"]
