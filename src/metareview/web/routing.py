"""How a URL becomes a call: each page is a plain function run in a worker thread.

:func:`page` wraps a handler ``handler(request, user, form) -> Response`` into a
Starlette route that, in this order, checks that the user may perform the route's
action (:func:`~metareview.web.auth.require`), reads the form of a write, checks its
CSRF token, and runs the handler in the thread pool, because the store is synchronous
and a write may wait for another writer's lock.  Each worker thread keeps its own open
project (SQLite connections are not shared between threads).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..review.accounts import User
from .auth import current_user, require
from .csrf import check_csrf
from .projects import ProjectPool, project

__all__ = ["page", "project", "Handler", "ProjectPool"]

Handler = Callable[[Request, "User | None", "FormData | None"], Response]


def page(path: str, handler: Handler, *, action: str | None, methods: Sequence[str] = ("GET",),
         name: str | None = None) -> Route:
    """A route running ``handler`` for users allowed ``action`` (None: open to everyone, e.g. the login page).

    The route keeps its action as ``route.action``, which the security tests read.
    """
    methods = tuple(m.upper() for m in methods)

    async def endpoint(request: Request) -> Response:
        if action is None:
            user = await run_in_threadpool(current_user, request)
        else:
            user = await run_in_threadpool(require, request, action)
        form = None
        if request.method not in ("GET", "HEAD"):
            form = await request.form(max_files=20, max_fields=2000)
            check_csrf(request, form)
        try:
            return await run_in_threadpool(handler, request, user, form)
        finally:
            if form is not None:
                await form.close()

    route = Route(path, endpoint, methods=list(methods), name=name or handler.__name__)
    route.action = action  # type: ignore[attr-defined]
    return route
