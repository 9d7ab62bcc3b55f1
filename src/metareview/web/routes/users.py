"""The team (``/users``, owner only): accounts, and the settings that shape screening (blinding, keywords)."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ...base.exceptions import MetaReviewError
from ...review import accounts
from ...review.accounts import User
from ..auth import hash_password
from ..render import render
from ..routing import page, project
from ._shared import text


def _lines(value: str | None) -> list[str]:
    return [w.strip() for chunk in (value or "").splitlines() for w in chunk.split(";") if w.strip()]


def _page(request: Request, user: User, *, error: str | None = None, notice: str | None = None,
          status: int = 200, entered: dict[str, str] | None = None) -> Response:
    proj = project(request)
    return render(request, "users.html", user=user, status=status, error=error, notice=notice,
                  users=accounts.list_users(proj), roles=accounts.ROLES, blinded=proj.blinded,
                  keywords=proj.keywords, entered=entered or {})


def users(request: Request, user: User | None, form: FormData | None) -> Response:
    assert user is not None
    return _page(request, user)


def add(request: Request, user: User | None, form: FormData | None) -> Response:
    assert user is not None and form is not None
    name, role = text(form, "name") or "", text(form, "role") or ""
    try:
        accounts.check_name(name)
        accounts.check_role(role)
        digest = hash_password(str(form.get("password") or ""))
        accounts.add_user(project(request), name, role=role, password_hash=digest, by=user.name)
    except MetaReviewError as exc:
        return _page(request, user, error=str(exc), status=400, entered={"name": name, "role": role})
    return _page(request, user, notice=f"Account {name} ({role}) created.")


def remove(request: Request, user: User | None, form: FormData | None) -> Response:
    assert user is not None and form is not None
    name = text(form, "name") or ""
    try:
        accounts.remove_user(project(request), name)
    except MetaReviewError as exc:
        return _page(request, user, error=str(exc), status=400)
    return _page(request, user, notice=f"Account {name} removed; its decisions stay in the log.")


def settings(request: Request, user: User | None, form: FormData | None) -> Response:
    assert user is not None and form is not None
    proj = project(request)
    with proj.store.transaction():
        if "blinded" in form:
            proj.set_blinded(text(form, "blinded") != "off")
        if "include" in form or "exclude" in form:
            proj.set_keywords(include=_lines(text(form, "include")), exclude=_lines(text(form, "exclude")))
    return RedirectResponse("/users", status_code=303)


routes = [
    page("/users", users, action="manage", name="users"),
    page("/users/add", add, action="manage", methods=["POST"], name="users_add"),
    page("/users/remove", remove, action="manage", methods=["POST"], name="users_remove"),
    page("/users/settings", settings, action="manage", methods=["POST"], name="users_settings"),
]
