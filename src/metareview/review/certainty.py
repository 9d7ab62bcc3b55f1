"""GRADE ratings of the review's outcomes, kept in the project as an append-only log.

A reviewer rates a domain of an outcome (GRADE's five domains, see :mod:`metareview.appraisal.grade`)
with a reason; the latest rating of each outcome and domain is current, the earlier ones
stay in the log.  ``metareview grade --project`` and the report use these ratings in
place of the suggestions computed from the numbers.
"""

from __future__ import annotations

from typing import Any

from ..appraisal.grade import DOMAINS, RATINGS
from ..base.exceptions import DataError, SettingsError
from .project import Project

__all__ = ["rate", "ratings", "overrides"]


def rate(project: Project, *, outcome: str, domain: str, rating: str, reason: str, by: str) -> dict[str, Any]:
    """Log one rating of one domain of one outcome, with who rated it and why."""
    outcome = (outcome or "").strip()
    if not outcome:
        raise DataError("name the outcome (--outcome)", column="outcome", rule="outcome")
    domain = domain.strip().lower().replace(" ", "_").replace("-", "_")
    if domain not in DOMAINS:
        raise SettingsError(f"unknown GRADE domain {domain!r}; domains are {', '.join(DOMAINS)}")
    if rating not in RATINGS:
        raise SettingsError(f"rating {rating!r} is not one of {', '.join(RATINGS)}")
    if not (reason or "").strip():
        raise DataError("say why (--reason)", column=domain, rule="reason")
    if not (by or "").strip():
        raise DataError("name who rates it (--by)", column=domain, rule="who")
    project.store.add_grade_rating(outcome, domain, rating, reason.strip(), by.strip())
    return {"outcome": outcome, "domain": domain, "rating": rating, "reason": reason.strip(), "rated_by": by.strip()}


def ratings(project: Project, outcome: str | None = None) -> list[dict[str, Any]]:
    """The current rating of each outcome's domains."""
    return project.store.current_grade_ratings(outcome)


def overrides(project: Project, outcome: str) -> dict[str, tuple[str, str, str]]:
    """The current ratings of ``outcome`` in the form :func:`metareview.appraisal.grade.grade` takes."""
    return {r["domain"]: (r["rating"], r["reason"], r["rated_by"]) for r in ratings(project, outcome)}
