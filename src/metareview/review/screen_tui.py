"""The interactive screening screen: one record at a time, one key per decision.

Title and abstract are shown with the project's keywords highlighted (inclusion
terms in green, exclusion terms in red; ``random*`` matches any word starting with
``random``), so that the words that decide most records catch the eye first.
Keys: ``i`` include, ``e`` exclude (then a digit for
the reason), ``m`` maybe, ``s`` skip, ``u`` undo the last decision (re-decide it),
``q`` quit.  Every key press that decides writes one entry to the decision log at once,
so quitting, or a crash, loses nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from .dedupe import clusters
from .project import Project, parse_stage
from .screening import decide, pending_for

__all__ = ["run_screen", "highlight", "keyword_pattern"]

_STAGE_NAMES = {"title_abstract": "title/abstract", "full_text": "full text"}


def keyword_pattern(words: Sequence[str]) -> re.Pattern[str] | None:
    """One case-insensitive pattern for the keywords; ``*`` at the end of a word matches any ending."""
    parts = []
    for word in words:
        word = word.strip()
        if not word:
            continue
        stem = word.rstrip("*")
        body = re.escape(stem) + (r"\w*" if word.endswith("*") else r"\b")
        parts.append(r"\b" + body)
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


def highlight(text: str, include: Sequence[str], exclude: Sequence[str]):
    """A rich Text with the keywords styled."""
    from rich.text import Text

    out = Text(text)
    for words, style in ((include, "bold green"), (exclude, "bold red")):
        pattern = keyword_pattern(words)
        if pattern is not None:
            for match in pattern.finditer(text):
                out.stylize(style, match.start(), match.end())
    return out


def _show(console: Any, rec: dict[str, Any], *, index: int, total: int, stage: str, reviewer: str,
          include: Sequence[str], exclude: Sequence[str]) -> None:
    from rich.panel import Panel
    from rich.text import Text

    console.clear()
    head = Text(f"record {rec['id']} · {index} of {total} to screen · {_STAGE_NAMES[stage]} · {reviewer}",
                style="dim")
    body = Text()
    if rec["status"] == "malformed":
        body.append(f"This record could not be parsed ({rec['problem']}). Raw text:\n\n", style="yellow")
        body.append_text(highlight(rec["raw"], include, exclude))
    else:
        body.append_text(highlight(rec["title"] or "(no title)", include, exclude))
        body.stylize("bold", 0, len(body))
        meta = " · ".join(x for x in ("; ".join(rec["authors"][:3]) + (" et al." if len(rec["authors"]) > 3 else ""),
                                      rec["journal"] or "", str(rec["year"] or ""), rec["doi"] or "") if x)
        body.append("\n" + meta + "\n\n", style="cyan")
        body.append_text(highlight(rec["abstract"] or "(no abstract)", include, exclude))
    console.print(head)
    console.print(Panel(body, expand=True))
    console.print("[bold]i[/] include  [bold]e[/] exclude  [bold]m[/] maybe  [bold]s[/] skip  "
                  "[bold]u[/] undo  [bold]q[/] quit")


def run_screen(project: Project, *, stage: str, reviewer: str, console: Any = None,
               getchar: Callable[[], str] | None = None, keywords: dict[str, list[str]] | None = None
               ) -> dict[str, int]:
    """Screen the records ``reviewer`` has not decided yet; returns counts of what was done."""
    from rich.console import Console

    stage = parse_stage(stage)
    console = console or Console()
    if getchar is None:
        import click
        getchar = click.getchar
    kw = keywords if keywords is not None else project.keywords
    include, exclude = kw.get("include", []), kw.get("exclude", [])
    reasons = project.reasons(stage)
    queue = pending_for(project, stage, reviewer)
    cl = clusters(project.store)  # duplicates do not change while screening
    done = {"include": 0, "exclude": 0, "maybe": 0, "skipped": 0}
    history: list[int] = []
    position = 0
    while position < len(queue):
        record_id = queue[position]
        rec = project.store.record(record_id)
        _show(console, rec, index=position + 1, total=len(queue), stage=stage, reviewer=reviewer,
              include=include, exclude=exclude)
        key = getchar().lower()
        if key == "q":
            break
        if key == "s":
            done["skipped"] += 1
            position += 1
            continue
        if key == "u":
            if history:
                position = history.pop()
            else:
                console.print("[yellow]nothing to undo[/]")
            continue
        decision = {"i": "include", "e": "exclude", "m": "maybe"}.get(key)
        if decision is None:
            console.print(f"[yellow]unknown key {key!r}[/]")
            continue
        reason = None
        if decision == "exclude" and reasons:
            for n, text in enumerate(reasons[:9], start=1):
                console.print(f"  [bold]{n}[/] {text}")
            optional = stage == "title_abstract"
            console.print("reason: press its number" + (", 0 for none" if optional else "") + ", any other key cancels")
            pick = getchar()
            if pick.isdigit() and 1 <= int(pick) <= min(9, len(reasons)):
                reason = reasons[int(pick) - 1]
            elif not (optional and pick == "0"):
                continue
        decide(project, record_id, stage=stage, reviewer=reviewer, decision=decision, reason=reason, cl=cl)
        done[decision] += 1
        history.append(position)
        position += 1
    console.print(f"screened: {done['include']} included, {done['exclude']} excluded, {done['maybe']} maybe, "
                  f"{done['skipped']} skipped")
    return done
