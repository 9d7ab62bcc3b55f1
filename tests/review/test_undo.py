"""Undo: a screener takes back a decision; the log keeps it, the state forgets it."""

from __future__ import annotations

import pytest

from metareview.base.exceptions import DataError
from metareview.review.screening import decide, export_decisions, states, undo


def test_undo_restores_the_earlier_decision_and_keeps_the_log(deduped):
    unit = min(states(deduped, "ta"))
    decide(deduped, unit, stage="ta", reviewer="ann", decision="exclude")
    decide(deduped, unit, stage="ta", reviewer="ann", decision="include")
    decide(deduped, unit, stage="ta", reviewer="bob", decision="include")
    assert states(deduped, "ta")[unit].state == "included"
    taken = undo(deduped, stage="ta", reviewer="ann")
    assert taken["decision"] == "include"
    st = states(deduped, "ta")[unit]
    assert st.state == "conflict" and st.votes["ann"]["decision"] == "exclude"
    assert len(deduped.store.decision_log()) == 3 and len(deduped.store.decision_log(active=True)) == 2
    assert "exclude" in export_decisions(deduped) and export_decisions(deduped).count("\n") == 3  # header + 2
    undo(deduped, stage="ta", reviewer="ann")
    assert "ann" not in states(deduped, "ta")[unit].votes
    with pytest.raises(DataError, match="no decision at title_abstract left to undo"):
        undo(deduped, stage="ta", reviewer="ann")
