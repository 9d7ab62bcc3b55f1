"""Small helpers the content pages share (not a page: modules starting with ``_`` are not collected)."""

from __future__ import annotations

import io
import re
from typing import Any

from markupsafe import escape
from starlette.datastructures import FormData

from ...review.accounts import User
from ...review.project import Project
from ...review.screening import UnitState

__all__ = ["text", "blinded_votes", "inline_svg"]


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
