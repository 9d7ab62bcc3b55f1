"""Pages from Jinja2 templates, escaped by default.

Every template sees the signed-in ``user``, the session's ``csrf_token`` (forms put it
in a hidden field with ``{{ csrf_field() }}``), the ``nav`` entries this user may open and
the ``project_name``.  Autoescaping is on for every template; the only markup built in
code (:func:`highlight`) escapes the text before it adds its own tags.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from ..review.accounts import User
from . import csrf
from .permissions import allowed

__all__ = ["NAV", "environment", "render", "highlight", "navigation"]

NAV: tuple[tuple[str, str, str, dict[str, str]], ...] = (
    # (label, route name, action, path parameters)
    ("Dashboard", "dashboard", "view", {}),
    ("Import", "import_page", "import", {}),
    ("Duplicates", "duplicates", "dedupe", {}),
    ("Screening", "screen", "screen", {"stage": "title_abstract"}),
    ("Conflicts", "conflicts", "resolve", {"stage": "title_abstract"}),
    ("Full text", "fulltext", "fulltext", {}),
    ("Extraction", "extract", "extract", {}),
    ("Risk of bias", "rob", "assess", {}),
    ("Analysis", "analysis", "view", {}),
    ("Team", "users", "manage", {}),
)
"""The navigation bar: an entry shows when its route exists and the user may perform its action."""


def highlight(text: str | None, include: Iterable[str] = (), exclude: Iterable[str] = ()) -> Markup:
    """``text`` escaped, with each include keyword in ``<mark class="inc">`` and each exclude keyword in
    ``<mark class="exc">`` (case-insensitive, whole text searched; longer keywords win)."""
    text = text or ""
    words = [(w.strip(), "inc") for w in include if w.strip()] + [(w.strip(), "exc") for w in exclude if w.strip()]
    if not words:
        return escape(text)
    words.sort(key=lambda w: -len(w[0]))
    kind = {w.lower(): k for w, k in reversed(words)}
    pattern = re.compile("|".join(re.escape(w) for w, _ in words), re.IGNORECASE)
    out: list[str] = []
    last = 0
    for m in pattern.finditer(text):
        out.append(str(escape(text[last:m.start()])))
        out.append(f'<mark class="{kind[m.group(0).lower()]}">{escape(m.group(0))}</mark>')
        last = m.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("metareview.web", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["highlight"] = highlight
    return env


environment = _environment()


def navigation(request: Request, user: User | None) -> list[dict[str, Any]]:
    names = {getattr(r, "name", None) for r in request.app.routes}
    out = []
    for label, name, action, params in NAV:
        if name in names and allowed(user, action):
            url = str(request.url_for(name, **params).path)
            section = "/" + url.strip("/").split("/")[0]
            current = request.url.path == url or (url != "/" and request.url.path.startswith(section))
            out.append({"label": label, "url": url, "current": current})
    return out


def render(request: Request, template: str, *, user: User | None = None, status: int = 200,
           headers: dict[str, str] | None = None, **context: Any) -> HTMLResponse:
    """The page ``template`` rendered for ``user`` with ``context``."""
    token = csrf.token(request)
    project_name = request.app.state.project_name
    html = environment.get_template(template).render(
        request=request, user=user, csrf_token=token, nav=navigation(request, user), project_name=project_name,
        csrf_field=lambda: Markup(f'<input type="hidden" name="{csrf.FIELD}" value="{escape(token)}">'),
        **context)
    return HTMLResponse(html, status_code=status, headers=headers)
