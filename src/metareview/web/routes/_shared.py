"""Small helpers the content pages share (not a page: modules starting with ``_`` are not collected)."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote

from markupsafe import escape
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ...base.exceptions import DataError
from ...review.accounts import User
from ...review.project import Project
from ...review.screening import UnitState
from ..render import render

__all__ = ["text", "blinded_votes", "inline_svg", "adjudication_page", "settle_and_return"]


def text(form: FormData, name: str) -> str | None:
    """A text field of a form, stripped; None when absent or empty (a file where text is expected is absent)."""
    value = form.get(name)
    if not isinstance(value, str):
        return None
    return value.strip() or None


def blinded_votes(project: Project, user: User, state: UnitState) -> dict[str, dict[str, Any]]:
    """The votes on a record that ``user`` may see: their own only while blinded and the record is unsettled."""
    if state.decided or not project.blinded:
        return dict(state.votes)
    return {name: vote for name, vote in state.votes.items() if name == user.name}


def inline_svg(figure: Any, label: str, salt: str) -> str:
    """A matplotlib figure as an ``<svg>`` element to put inside a page: text kept as text (which
    matplotlib's SVG writer escapes), ids stable from one rendering to the next, no XML prolog."""
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": salt}):
        figure.savefig(buf, format="svg")
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    return re.sub(r"<svg ", f'<svg role="img" aria-label="{escape(label)}" ', svg, count=1)


#: How a value of an adjudication report stands: every person's value alike, different, missing, settled.
ADJUDICATION_STATUSES = ("differ", "incomplete", "agree", "adjudicated")


def adjudication_page(request: Request, template: str, user: User, report: Sequence[dict[str, Any]],
                      rows: list[dict[str, Any]], *, show: str, error: str | None, status: int,
                      statuses: Sequence[str] = ADJUDICATION_STATUSES, suffix: str = "", **context: Any) -> Response:
    """An adjudication page (a template extending ``adjudicate.html``): the ``rows`` of the ``report`` shown, the
    people who entered values (the page's columns), the count of each status, and the page's notice."""
    people = sorted({name for r in report for name in r["values"]})
    counts = {s: sum(r["status"] == s for r in report) for s in statuses}
    return render(request, template, user=user, rows=rows, people=people, show=show, suffix=suffix, counts=counts,
                  error=error, status=status, notice=request.session.pop("notice", None), **context)


def settle_and_return(request: Request, form: FormData, settle: Callable[[], Any], *, what: str, page: str,
                      again: Callable[[str], Response], suffix: str = "") -> Response:
    """Run ``settle()`` (one adjudication); when it refuses, the adjudication page ``again`` with its message,
    otherwise back to ``page`` (with the form's filter and ``suffix``) saying ``what`` was settled."""
    try:
        settle()
    except DataError as exc:
        return again(str(exc))
    request.session["notice"] = f"{what}: settled"
    return RedirectResponse(f"{page}?show={quote(text(form, 'show') or 'open')}{suffix}", status_code=303)
