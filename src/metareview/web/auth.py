"""Signing in: password hashes, sessions, and throttling of failed attempts.

Passwords are hashed with Argon2id (Biryukov, Dinu and Khovratovich, RFC 9106, 2021),
a memory-hard function, through argon2-cffi with its default parameters (RFC 9106's
low-memory profile); only the hash is stored, and no password is ever logged.  The
session is Starlette's signed cookie, holding the account name and the CSRF token;
the account is looked up on every request, so removing it signs its holder out at once.

Failed sign-ins are throttled per account name and per client address, as OWASP's
Authentication Cheat Sheet advises: after :attr:`Throttle.limit` failures for one name (or
:attr:`Throttle.address_limit` from one address, which is higher because a team behind one
proxy or network address shares it) within :attr:`Throttle.window` seconds, further attempts
are refused until the oldest ages out.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from starlette.requests import Request

from ..review import accounts
from ..review.accounts import User
from . import csrf
from .permissions import allowed
from .responses import Refusal

__all__ = ["hash_password", "verify_password", "Throttle", "current_user", "require", "sign_in", "sign_out",
           "MIN_PASSWORD"]

MIN_PASSWORD = 8
_HASHER = PasswordHasher()
# verified against when the account does not exist, so that a wrong name takes as long as a wrong password
_DUMMY = _HASHER.hash("metareview: no such account")


def hash_password(password: str) -> str:
    """The Argon2id hash of ``password`` (at least :data:`MIN_PASSWORD` characters)."""
    from ..base.exceptions import DataError
    if len(password or "") < MIN_PASSWORD:
        raise DataError(f"a password needs at least {MIN_PASSWORD} characters", column="password", rule="password")
    return _HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(stored or _DUMMY, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


class Throttle:
    """Failed sign-ins remembered per key (an account name, a client address) in this process."""

    def __init__(self, limit: int = 5, window: float = 900.0, *, address_limit: int = 20,
                 clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.address_limit = address_limit
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _prune(self, key: str, now: float) -> deque[float]:
        times = self._failures[key]
        while times and now - times[0] >= self.window:
            times.popleft()
        return times

    def wait(self, *keys: str) -> float:
        """Seconds to wait before another attempt for any of ``keys`` is considered (0 when none)."""
        now = self.clock()
        with self._lock:
            waits = [self.window - (now - times[0]) for key in keys
                     if len(times := self._prune(key, now)) >= self._limit(key)]
        return max(waits, default=0.0)

    def _limit(self, key: str) -> int:
        return self.address_limit if key.startswith("addr:") else self.limit

    def fail(self, *keys: str) -> None:
        now = self.clock()
        with self._lock:
            for key in keys:
                self._prune(key, now).append(now)

    def succeed(self, name_key: str) -> None:
        with self._lock:
            self._failures.pop(name_key, None)


def current_user(request: Request) -> User | None:
    """The signed-in, active account, or None."""
    from .projects import project
    name = request.session.get("user")
    if not name:
        return None
    user = accounts.get_user(project(request), name)
    return user if user is not None and user.active else None


def require(request: Request, action: str) -> User:
    """The signed-in user if they may perform ``action``; otherwise refuse: 401 when nobody is signed in
    (pages redirect to the login page instead), 403 when the role does not allow it."""
    user = current_user(request)
    if user is None:
        raise Refusal(401, "sign in first")
    if not allowed(user, action):
        raise Refusal(403, f"a {user.role} may not do this ({action}); ask the project's owner")
    return user


def sign_in(request: Request, name: str, password: str) -> User:
    """Check the password and start a session, or refuse (401 wrong name or password, 429 throttled)."""
    from .projects import project
    throttle: Throttle = request.app.state.throttle
    name = (name or "").strip()
    keys = (f"name:{name.lower()}", f"addr:{request.client.host if request.client else '-'}")
    wait = throttle.wait(*keys)
    if wait > 0:
        raise Refusal(429, f"too many failed sign-ins; try again in {int(wait // 60) + 1} minute(s)")
    stored = accounts.password_hash(project(request), name)
    if not verify_password(stored, password or ""):
        throttle.fail(*keys)
        raise Refusal(401, "wrong account name or password")
    throttle.succeed(keys[0])
    request.session.clear()
    request.session["user"] = name
    csrf.rotate(request)
    return accounts.get_user(project(request), name)  # type: ignore[return-value]


def sign_out(request: Request) -> None:
    request.session.clear()
