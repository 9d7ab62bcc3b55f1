"""The content pages work with JavaScript switched off: plain forms, answered by whole pages."""

from __future__ import annotations

from metareview.review import Project, run_dedupe
from metareview.review.extraction import load_form, set_form

from .._review import review_helpers
from .conftest import PASSWORD, metareview, serve, sign_in


def test_full_text_extraction_and_adjudication_without_javascript(tmp_path, new_context):
    helpers = review_helpers()
    project = tmp_path / "review.mrv"
    with Project.init(project, name="no script") as p:
        for name, source in helpers.SOURCES:
            p.import_file(helpers.EXPORTS / name, source=source)
        run_dedupe(p.store)
        helpers.screen_all(p)
        set_form(p, load_form((helpers.EXPORTS / "extraction_form.toml").read_text(encoding="utf-8")))
    for name, role in (("ann", "reviewer"), ("cat", "adjudicator")):
        metareview("review", "user", "add", "--json", name, "--role", role, "--password-stdin", "-p", project,
                   input=PASSWORD + "\n")
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
