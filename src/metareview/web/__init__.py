"""The review team's workspace in the browser (``metareview serve``).

A Starlette application over the same project store as the command line: pages are
rendered on the server from the review package's functions and work without
JavaScript; ``static/app.js`` adds keyboard shortcuts and partial updates.  The web
layer never speaks SQL, so that any backend of :mod:`metareview.review.store` serves it.
"""

from .app import create_app

__all__ = ["create_app"]
