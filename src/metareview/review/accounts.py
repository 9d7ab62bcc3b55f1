"""The review team's accounts: who may sign in to the workspace, and in which role.

An account is never deleted, only marked removed, so that every name in the decision
log keeps pointing at a person.  The store keeps a password hash only; hashing is the
caller's business (:mod:`metareview.web.auth` uses Argon2id, RFC 9106), so that this
module, like the rest of the review package, needs no web library.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..base.exceptions import DataError, SettingsError
from .project import Project

__all__ = ["ROLES", "User", "add_user", "get_user", "list_users", "remove_user", "check_name", "check_role",
           "password_hash"]

ROLES = ("owner", "reviewer", "adjudicator")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


@dataclass(frozen=True)
class User:
    """A signed-in person: the name the decision log records, and the role that says what they may do."""

    name: str
    role: str
    created_at: str
    created_by: str | None = None
    removed_at: str | None = None

    @property
    def active(self) -> bool:
        return self.removed_at is None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "created_at": self.created_at,
                "created_by": self.created_by, "removed_at": self.removed_at}


def _user(row: dict[str, Any]) -> User:
    return User(name=row["name"], role=row["role"], created_at=row["created_at"], created_by=row["created_by"],
                removed_at=row["removed_at"])


def check_name(name: str) -> str:
    """An account name is what the decision log records: letters, digits and ``. _ @ -``, at most 64."""
    name = (name or "").strip()
    if not _NAME.fullmatch(name):
        raise DataError(f"account name {name!r} must start with a letter or digit and use only letters, digits "
                        f"and . _ @ - (at most 64 characters)", column="name", rule="account-name")
    return name


def check_role(role: str) -> str:
    role = (role or "").strip().lower()
    if role not in ROLES:
        raise SettingsError(f"unknown role {role!r}; roles are {list(ROLES)}")
    return role


def add_user(project: Project, name: str, *, role: str, password_hash: str, by: str | None = None) -> User:
    """Create an account; a name once used (even by a removed account) is never given again."""
    name = check_name(name)
    role = check_role(role)
    if not password_hash:
        raise DataError("an account needs a password", column="password", rule="password")
    with project.store.transaction():
        existing = project.store.user(name)
        if existing is not None:
            state = "a removed account" if existing["removed_at"] else "an account"
            raise DataError(f"{name!r} is already {state} in this project; names in the decision log must stay "
                            f"unique, choose another", column="name", rule="account-name")
        project.store.add_user(name, role, password_hash, by)
    return get_user(project, name)  # type: ignore[return-value]


def get_user(project: Project, name: str) -> User | None:
    """The account called ``name`` (removed or not), or None."""
    row = project.store.user((name or "").strip())
    return None if row is None else _user(row)


def password_hash(project: Project, name: str) -> str | None:
    """The stored hash of an active account, for checking a password at sign-in."""
    row = project.store.user((name or "").strip())
    return None if row is None or row["removed_at"] else str(row["password_hash"])


def list_users(project: Project, *, include_removed: bool = True) -> list[User]:
    return [u for u in map(_user, project.store.users()) if include_removed or u.active]


def remove_user(project: Project, name: str) -> User:
    """Mark an account removed: it can no longer sign in; its decisions stay in the log under its name."""
    with project.store.transaction():
        user = get_user(project, name)
        if user is None:
            raise DataError(f"there is no account {name!r} in this project", column="name", rule="account-name")
        if not user.active:
            raise DataError(f"account {name!r} was already removed on {(user.removed_at or '')[:10]}",
                            column="name", rule="account-name")
        owners = [u for u in list_users(project, include_removed=False) if u.role == "owner"]
        if user.role == "owner" and len(owners) == 1:
            raise DataError(f"{name!r} is the project's only owner; add another owner first", column="name",
                            rule="last-owner")
        project.store.mark_user_removed(user.name)
    return get_user(project, user.name)  # type: ignore[return-value]
