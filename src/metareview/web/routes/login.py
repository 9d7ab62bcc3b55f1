"""Signing in and out (``/login``, ``/logout``)."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ...review.accounts import User
from ..auth import sign_in, sign_out
from ..render import render
from ..responses import Refusal
from ..routing import page


def _safe_next(target: str | None) -> str:
    """Only a path on this server: an open redirect to another site would make the login page a phishing aid."""
    target = target or "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def login_form(request: Request, user: User | None, form: FormData | None) -> Response:
    return render(request, "login.html", user=user, next=_safe_next(request.query_params.get("next")), error=None,
                  username="")


def login(request: Request, user: User | None, form: FormData | None) -> Response:
    assert form is not None
    name = str(form.get("username") or "")
    target = _safe_next(str(form.get("next") or "/"))
    try:
        sign_in(request, name, str(form.get("password") or ""))
    except Refusal as exc:
        return render(request, "login.html", user=None, next=target, error=exc.message, username=name,
                      status=exc.status)
    return RedirectResponse(target, status_code=303)


def logout(request: Request, user: User | None, form: FormData | None) -> Response:
    sign_out(request)
    return RedirectResponse("/login", status_code=303)


routes = [
    page("/login", login_form, action=None, name="login"),
    page("/login", login, action=None, methods=["POST"], name="login_post"),
    page("/logout", logout, action=None, methods=["POST"], name="logout"),
]
