"""Screening in Chromium: single keys with the workspace's script, plain forms without it."""

from __future__ import annotations

import re
from pathlib import Path

from metareview.review import Project

from ..conftest import EXPORTS
from .conftest import PASSWORD, metareview, serve, sign_in


def _project(tmp_path: Path) -> Path:
    path = tmp_path / "review.mrv"
    metareview("review", "init", "--json", path)
    metareview("review", "import", "--json", EXPORTS / "pubmed.nbib", "--source", "PubMed", "-p", path)
    metareview("review", "dedupe", "--json", "--no-progress", "-p", path)
    metareview("review", "user", "add", "--json", "ann", "--role", "reviewer", "-p", path, "--password-stdin",
               input=PASSWORD + "\n")
    return path


def _record(page) -> int:
    found = re.search(r"Record (\d+)", page.locator(".record .meta").first.inner_text())
    assert found
    return int(found.group(1))


def _after_key(page, key: str, before: int) -> int:
    from playwright.sync_api import expect
    page.keyboard.press(key)
    expect(page.locator(".record .meta").first).not_to_contain_text(f"Record {before} ")
    return _record(page)


def test_screening_from_the_keyboard(tmp_path, new_context):
    path = _project(tmp_path)
    with serve(path) as url:
        page = sign_in(new_context(), url, "ann")
        page.goto(url + "screen/title_abstract")
        first = _record(page)
        second = _after_key(page, "i", first)
        page.keyboard.press("1")  # the first exclusion reason
        third = _after_key(page, "e", second)
        fourth = _after_key(page, "m", third)
        assert len({first, second, third, fourth}) == 4
        page.keyboard.press("u")  # takes back the "maybe" and shows that record again
        page.wait_for_url(re.compile(rf"record={third}"))
        assert _record(page) == third and "You have not decided on this record yet" in page.content()
        page.keyboard.press("n")
        page.keyboard.type("i e m typed in the note are text, not shortcuts")
        page.keyboard.press("Escape")
        assert _record(page) == third
        page.keyboard.press("?")
        assert page.locator("#shortcuts").is_visible()
    with Project.open(path) as p:
        active = [(r["record_id"], r["decision"], r["reason"]) for r in p.store.decision_log(active=True)]
        reasons = p.reasons("ta")
        assert active == [(first, "include", None), (second, "exclude", reasons[0])]
        assert [r["decision"] for r in p.store.decision_log()] == ["include", "exclude", "maybe"]


def test_screening_works_without_javascript(tmp_path, new_context):
    path = _project(tmp_path)
    with serve(path) as url:
        page = sign_in(new_context(java_script_enabled=False), url, "ann")
        page.goto(url + "screen/title_abstract")
        first = _record(page)
        page.get_by_role("button", name=re.compile("Include")).click()
        page.wait_for_load_state()
        assert _record(page) != first
        page.get_by_role("button", name=re.compile("Undo")).click()
        page.wait_for_url(re.compile(rf"record={first}"))
    with Project.open(path) as p:
        assert [r["decision"] for r in p.store.decision_log()] == ["include"]
        assert p.store.decision_log(active=True) == []
