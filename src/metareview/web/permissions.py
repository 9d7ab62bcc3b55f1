"""Who may do what in the workspace: one table of actions by role, and one function that reads it.

Every route names the action it needs and asks :func:`allowed`; nothing else in the
web layer decides permissions, so the table below is the whole policy (and the
security tests walk it route by route).  The roles follow the division of work in a
Cochrane review team: reviewers screen, extract and assess risk of bias, an adjudicator settles what two
reviewers disagree on, the owner sets the project up and manages the team.
"""

from __future__ import annotations

from ..review.accounts import ROLES, User

__all__ = ["ACTIONS", "ROLES", "allowed"]

ACTIONS: dict[str, tuple[str, ...]] = {
    "view": ("owner", "reviewer", "adjudicator"),        # dashboard, PRISMA counts, analysis
    "screen": ("owner", "reviewer", "adjudicator"),      # one's own screening decisions
    "fulltext": ("owner", "reviewer", "adjudicator"),    # upload reports, retrieval status
    "extract": ("owner", "reviewer", "adjudicator"),     # one's own extracted values
    "assess": ("owner", "reviewer", "adjudicator"),      # one's own risk-of-bias answers
    "resolve": ("owner", "adjudicator"),                 # screening conflicts
    "adjudicate": ("owner", "adjudicator"),              # extraction and risk-of-bias discrepancies
    "dedupe": ("owner", "adjudicator"),                  # the queue of uncertain duplicates
    "import": ("owner",),                                # search exports
    "manage": ("owner",),                                # accounts, blinding, keywords, reasons
}
"""Each action and the roles allowed to perform it."""

assert all(set(roles) <= set(ROLES) for roles in ACTIONS.values())


def allowed(user: User | None, action: str) -> bool:
    """Whether ``user`` (None when nobody is signed in) may perform ``action``.

    An unknown action is a programming error, not a refusal, so that a typo in a route
    cannot silently lock everyone out or let everyone in.
    """
    if action not in ACTIONS:
        raise KeyError(f"unknown action {action!r}; actions are {sorted(ACTIONS)}")
    return user is not None and user.active and user.role in ACTIONS[action]
