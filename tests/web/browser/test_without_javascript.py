"""The content pages work with JavaScript switched off: plain forms, answered by whole pages."""

from __future__ import annotations

from metareview.review import Project
from metareview.review.extraction import load_form, set_form

from .._review import review_helpers
from .conftest import screened_project, serve, sign_in


def test_full_text_extraction_and_adjudication_without_javascript(tmp_path, new_context):
    project = screened_project(tmp_path / "review.mrv", {"ann": "reviewer", "cat": "adjudicator"}, name="no script")
    with Project.open(project) as p:
        set_form(p, load_form((review_helpers().EXPORTS / "extraction_form.toml").read_text(encoding="utf-8")))
    pdf = tmp_path / "paper.pdf"
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
    with serve(project) as url:
        ann = sign_in(new_context(java_script_enabled=False), url, "ann")
        ann.goto(url + "fulltext/3")
        ann.set_input_files("#pdf", str(pdf))
        ann.click("form[action$='/upload'] button")
        assert "paper.pdf uploaded" in ann.inner_text("main")
        ann.check("input[name=decision][value=exclude]")
        ann.click("form[action$='/decision'] button")
        assert "excluding a full text needs a reason" in ann.inner_text("p.error")
        ann.goto(url + "extract/entry?study=Tsai%202019")
        ann.fill("[name='value:n']", "0")
        ann.click("form.extraction button.primary")
        assert "below the minimum 1 patients" in ann.inner_text("[data-field=n]")
        ann.fill("[name='value:n']", "31")
        ann.fill("[name='value:baseline_mean']", "5.6")
        ann.select_option("[name='value:design']", "retrospective cohort")
        ann.fill("[name='where:n']", "p. 2")
        ann.click("form.extraction button.primary")
        assert "Tsai 2019: 6 value(s) saved" in ann.inner_text("main")
        cat = sign_in(new_context(java_script_enabled=False), url, "cat")
        cat.goto(url + "extract/adjudicate")
        row = cat.locator("tr", has_text="Tsai 2019").filter(has_text="Patients treated")
        assert "page 2" in row.inner_text()  # where ann found it, beside her value
        row.locator("input[name=value][value='31']").check()
        row.locator("input[name=reason]").fill("Methods, p. 2")
        row.locator("button").click()
        assert "Tsai 2019, n: settled" in cat.inner_text("main")


def test_risk_of_bias_without_javascript(tmp_path, new_context):
    project = screened_project(tmp_path / "review.mrv", {"olivia": "owner", "ann": "reviewer", "cat": "adjudicator"},
                               name="no script")
    with serve(project) as url:
        olivia = sign_in(new_context(java_script_enabled=False), url, "olivia")
        olivia.goto(url + "rob")
        olivia.check("input[name=tool][value=jbi-case-series]")
        olivia.click("form[action='/rob/tool'] button")
        assert "risk-of-bias tool is JBI" in olivia.inner_text("main")
        ann = sign_in(new_context(java_script_enabled=False), url, "ann")
        ann.goto(url + "rob/assess?study=Tsai%202019")
        ann.select_option("[name='answer:1']", "Unclear")
        ann.fill("[name='quote:1']", "inclusion criteria not stated")
        ann.select_option("[name='answer:Overall']", "High")
        ann.click("form.rob-form button.primary")
        main = ann.inner_text("main")
        assert "Tsai 2019: 2 entries saved" in main and "leaves the overall judgment to the assessor" in main
        assert ann.input_value("[name='quote:1']") == "inclusion criteria not stated"
        cat = sign_in(new_context(java_script_enabled=False), url, "cat")
        cat.goto(url + "rob/adjudicate")
        row = cat.locator("tr", has_text="Tsai 2019").filter(has_text="Overall risk of bias")
        assert "High" in row.inner_text()
        row.locator("select[name=value]").select_option("High")
        row.locator("input[name=reason]").fill("only one assessor in this test")
        row.locator("button").click()
        assert "Tsai 2019, Overall: settled" in cat.inner_text("main")
