"""Fixtures of the browser tests: Debian's Chromium driven by Playwright, and a real ``metareview serve``.

The browser is the system's own (``/usr/bin/chromium``, installed by ``.ci/run`` when it is
missing), never one Playwright downloads.  Without it the tests are skipped on a workstation
and fail under CI (``CI=true``).  The server is started the way a user starts it, as a
subprocess on 127.0.0.1 and a free port, on a project made with the command line.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# --headless=new: Chromium's headless mode with the browser's own PDF viewer (the old one shows an empty frame)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--headless=new"]
PASSWORD = "correct horse battery"
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
_MAIN = "import sys; from metareview.cli import main; sys.exit(main())"


def metareview(*args: Any, input: str | None = None, check: bool = True,
               cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the command line in a subprocess, as a user at a terminal would."""
    proc = subprocess.run([sys.executable, "-c", _MAIN, *map(str, args)], input=input, capture_output=True,
                          text=True, cwd=cwd, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"metareview {' '.join(map(str, args))} exited {proc.returncode}: {proc.stderr}")
    return proc


@contextmanager
def serve(project: Path, *extra: Any) -> Iterator[str]:
    """``metareview serve PROJECT --port 0`` in a subprocess; yields the URL it says it listens on."""
    proc = subprocess.Popen([sys.executable, "-c", _MAIN, "serve", str(project), "--port", "0", *map(str, extra)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        found = re.search(r"http://127\.0\.0\.1:\d+/", line)
        if not found:
            proc.kill()
            raise AssertionError(f"metareview serve did not say where it listens: {line!r} {proc.communicate()[1]}")
        url = found.group(0)
        import httpx
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "login", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise AssertionError(f"metareview serve does not answer at {url}")
            time.sleep(0.2)
        yield url
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def screened_project(path: Path, team: dict[str, str], name: str = "MRgFUS bone metastases") -> Path:
    """The sample exports imported, de-duplicated and screened to the end (studies Namba 2019, Tsai 2019 and
    Wang 2019 included), with ``team`` (name -> role) added on the command line."""
    from metareview.review import Project, run_dedupe

    from .._review import review_helpers

    helpers = review_helpers()
    with Project.init(path, name=name) as p:
        for export, source in helpers.SOURCES:
            p.import_file(helpers.EXPORTS / export, source=source)
        run_dedupe(p.store)
        helpers.screen_all(p)
    for user, role in team.items():
        metareview("review", "user", "add", user, "--role", role, "--password-stdin", "-p", path,
                   input=PASSWORD + "\n")
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; .ci/run installs Debian's chromium package")
        pytest.skip(f"Debian's Chromium ({CHROMIUM}) is not installed: apt-get install chromium")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def new_context(browser) -> Iterator[Any]:
    """``new_context(viewport=LAPTOP)``: a fresh browser profile (its own cookies), closed after the test."""
    contexts = []

    def make(**kwargs: Any) -> Any:
        ctx = browser.new_context(**{"viewport": LAPTOP, **kwargs})
        ctx.set_default_timeout(60_000)
        contexts.append(ctx)
        return ctx

    yield make
    for ctx in contexts:
        ctx.close()


def sign_in(context: Any, url: str, name: str, password: str = PASSWORD) -> Any:
    """A page of ``context`` signed in as ``name`` through the login form."""
    page = context.new_page()
    page.goto(url + "login")
    page.fill("#username", name)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"^(?!.*/login).*$"))
    return page
