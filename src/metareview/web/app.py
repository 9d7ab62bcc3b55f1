"""The workspace application: :func:`create_app` builds it for one project file."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..base.exceptions import MetaReviewError
from ..review.project import Project
from .auth import Throttle, current_user
from .projects import ProjectPool
from .render import render
from .responses import Refusal, is_script, wants_json

__all__ = ["create_app", "MAX_BODY", "SESSION_HOURS"]

MAX_BODY = 50 * 1024 * 1024
"""Largest request body accepted (an upload of a search export or a PDF), in bytes."""
SESSION_HOURS = 12
_SECRET_SETTING = "web_session_secret"

# scripts only from this server (no inline script, no third party); frames only of this server's own PDFs
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "object-src 'self'; frame-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'self'")


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Refuse (413) a request body larger than ``limit`` bytes, whether or not it announces its length."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await self._refuse(send)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except _TooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        mb = self.limit / (1024 * 1024)
        body = f"the upload is larger than this server accepts ({mb:g} MB)".encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    """Headers that keep pages from being framed elsewhere, sniffed, or running scripts from anywhere else."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                for key, value in ((b"content-security-policy", _CSP), (b"x-content-type-options", "nosniff"),
                                   (b"referrer-policy", "same-origin"), (b"x-frame-options", "SAMEORIGIN"),
                                   (b"cache-control", "no-store")):
                    if key not in present:
                        headers.append((key, value.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def _session_secret(path: str) -> str:
    """The key that signs session cookies, made on first start and kept in the project's settings, so that a
    restarted server keeps its users signed in."""
    with Project.open(path) as proj:
        with proj.store.transaction():
            secret = proj.store.get_setting(_SECRET_SETTING)
            if not secret:
                secret = secrets.token_hex(32)
                proj.store.set_setting(_SECRET_SETTING, secret)
        return str(secret)


def _project_name(path: str) -> str:
    with Project.open(path) as proj:
        return proj.name


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refusal)
    if wants_json(request) or (exc.status == 401 and is_script(request)):
        return JSONResponse({"error": exc.message}, status_code=exc.status)
    if exc.status == 401:
        # back to the page after signing in; a form's target cannot be opened with GET, so writes go home
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target = target if request.method in ("GET", "HEAD") else "/"
        from urllib.parse import urlencode
        return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)
    return await _error_page(request, exc.status, exc.message)


async def _bad_input(request: Request, exc: Exception) -> Response:
    if wants_json(request):
        return JSONResponse({"error": str(exc)}, status_code=400)
    return await _error_page(request, 400, str(exc))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if wants_json(request):
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
    return await _error_page(request, exc.status_code, str(exc.detail))


async def _error_page(request: Request, status: int, message: str) -> Response:
    from starlette.concurrency import run_in_threadpool
    user = await run_in_threadpool(current_user, request)
    return render(request, "error.html", user=user, status=status, code=status, message=message)


def _lifespan(pool: ProjectPool):
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        pool.close()
    return lifespan


def create_app(project: str | os.PathLike, *, secret_key: bytes | str | None = None, max_body: int = MAX_BODY,
               throttle: Throttle | None = None, plan: str | os.PathLike | None = None,
               files: str | os.PathLike | None = None) -> Starlette:
    """The workspace for the project file (or ``postgresql://`` URL) ``project``.

    ``secret_key`` signs the session cookies; by default it is generated on first start and kept in the
    project's settings.  ``throttle`` decides how many failed sign-ins are tolerated (default: 5 per
    account name and per client address in 15 minutes).  ``plan`` is the analysis plan (``review.toml``) the
    analysis page runs; by default the ``review.toml`` beside the project file, when there is one.  ``files``
    is the folder of uploaded full texts (by default ``<project file>.files``; see
    :func:`~metareview.review.fulltext.files_folder`).
    """
    from .routes import routes
    path = str(project)
    Project.open(path).close()  # refuse a missing or foreign file now, with the store's message
    if isinstance(secret_key, bytes):
        secret_key = secret_key.hex()
    secret = secret_key if secret_key is not None else _session_secret(path)
    pool = ProjectPool(path, files=files)
    static = StaticFiles(packages=[("metareview.web", "static")])
    app = Starlette(
        routes=[*routes, Mount("/static", app=static, name="static")],
        middleware=[Middleware(SecurityHeaders), Middleware(BodyLimit, limit=max_body),
                    Middleware(SessionMiddleware, secret_key=secret, session_cookie="metareview_session",
                               max_age=SESSION_HOURS * 3600, same_site="lax", https_only=False)],
        exception_handlers={Refusal: _refused, MetaReviewError: _bad_input, HTTPException: _http_error},
        lifespan=_lifespan(pool),
    )
    app.state.project_path = path
    app.state.projects = pool
    app.state.project_name = _project_name(path)
    app.state.throttle = throttle or Throttle()
    app.state.max_body = max_body
    app.state.plan = Path(plan) if plan is not None else None
    return app
