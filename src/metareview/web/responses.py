"""How the workspace says no: one exception for every refusal, and how a request wants its answer."""

from __future__ import annotations

from starlette.requests import Request

__all__ = ["Refusal", "wants_json", "is_script"]


class Refusal(Exception):
    """Stop handling a request and answer with ``status`` (401, 403, 404, 413, 429) and a one-line reason."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def wants_json(request: Request) -> bool:
    """A script request (``app.js`` or any client asking for JSON) rather than a page load.

    Such requests get their errors as JSON; a page load gets an HTML page explaining them.
    """
    return "application/json" in request.headers.get("accept", "")


def is_script(request: Request) -> bool:
    """A request made by a script (it asks for JSON, or sends the CSRF header as ``app.js`` does)."""
    return wants_json(request) or "x-csrf-token" in request.headers
