"""The workspace guide says what each role may do exactly as the permissions table does, and shows real pictures."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGE = DOCS / "howto" / "workspace.md"


def test_the_role_table_is_the_permissions_table():
    from metareview.web.permissions import ACTIONS, ROLES
    text = PAGE.read_text(encoding="utf-8")
    header = next(line for line in text.splitlines() if line.startswith("| action |"))
    roles = [cell.strip() for cell in header.strip("|").split("|")][2:]
    assert sorted(roles) == sorted(ROLES)
    table = {}
    for line in text.splitlines():
        m = re.match(r"\| `(\w+)` \|", line)
        if m:
            cells = [cell.strip() for cell in line.strip("|").split("|")][2:]
            table[m.group(1)] = tuple(r for r, cell in zip(roles, cells) if cell == "yes")
    assert table.keys() == ACTIONS.keys()
    for action, allowed in ACTIONS.items():
        assert set(table[action]) == set(allowed), action


def test_every_picture_of_the_guide_exists():
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", PAGE.read_text(encoding="utf-8"))
    assert len(pictures) >= 5
    for rel in pictures:
        path = (PAGE.parent / rel).resolve()
        assert path.is_file() and path.stat().st_size > 10_000, rel
