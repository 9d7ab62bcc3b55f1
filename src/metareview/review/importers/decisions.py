"""What a screening tool's export says about one record: the shape the Rayyan and Covidence readers share."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ToolVote", "ToolRow"]


@dataclass
class ToolVote:
    """One person's vote on a record, in the tool's words mapped to ours."""

    name: str                       # the person as the tool names them
    decision: str                   # include | exclude | maybe
    reasons: list[str] = field(default_factory=list)
    note: str | None = None
    resolution: bool = False        # the tool's consensus/final decision, not a reviewer's vote


@dataclass
class ToolRow:
    """A record of the tool's export: how to find it in the project, and the votes on it."""

    line: int
    title: str | None
    doi: str | None
    pmid: str | None
    year: int | None
    tool_id: str | None
    votes: list[ToolVote]
