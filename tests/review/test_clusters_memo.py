"""Clusters are derived once per state of the links, and never served stale."""

from __future__ import annotations

import pytest

from metareview.review.dedupe import clusters


def test_clusters_follow_every_new_link_and_forget_rolled_back_ones(imported):
    store = imported.store
    a, b, c, d = store.record_ids()[:4]
    before = clusters(store)
    assert before.primary[a] != before.primary[b]
    before.members.clear()  # a caller's copy: changing it changes nothing for the next caller
    assert clusters(store).primary[a] == a
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.add_pair_decisions([(a, b, True, "manual", None, None, "ann", None)])
            inside = clusters(store)
            assert inside.primary[a] == inside.primary[b]
            raise RuntimeError("rolled back")
    # the next link reuses the rolled-back row's id: the clusters must still be recomputed
    store.add_pair_decisions([(c, d, True, "manual", None, None, "ann", None)])
    after = clusters(store)
    assert after.primary[a] != after.primary[b] and after.primary[c] == after.primary[d]
