"""Cross-site request forgery: a secret token per session, sent back with every write.

The synchroniser-token pattern (OWASP Cross-Site Request Forgery Prevention Cheat
Sheet): the token lives in the signed session cookie, every form carries it in a hidden
``csrf_token`` field and every script request in the ``X-CSRF-Token`` header; a write
whose token does not match is refused before anything is read from its form.  The
SameSite=Lax cookie is a second line, not the only one.
"""

from __future__ import annotations

import hmac
import secrets

from starlette.datastructures import FormData
from starlette.requests import Request

from .responses import Refusal

__all__ = ["FIELD", "HEADER", "token", "rotate", "check_csrf"]

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def token(request: Request) -> str:
    """This session's token, created on first use."""
    value = request.session.get(FIELD)
    if not value:
        value = request.session[FIELD] = secrets.token_urlsafe(32)
    return str(value)


def rotate(request: Request) -> str:
    """A new token (at sign-in, so a token seen before it is worth nothing after)."""
    request.session[FIELD] = secrets.token_urlsafe(32)
    return str(request.session[FIELD])


def check_csrf(request: Request, form: FormData | None) -> None:
    """Refuse (403) a write that does not carry this session's token in its header or form."""
    if request.method in SAFE_METHODS:
        return
    expected = request.session.get(FIELD)
    sent = request.headers.get(HEADER)
    if sent is None and form is not None:
        value = form.get(FIELD)
        sent = value if isinstance(value, str) else None
    if not expected or not sent or not hmac.compare_digest(str(expected), sent):
        raise Refusal(403, "the form's security token is missing or out of date; reload the page and try again")
