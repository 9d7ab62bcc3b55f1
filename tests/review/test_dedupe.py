"""De-duplication: exact and fuzzy links, the review queue, manual merge/split, measured accuracy."""

from __future__ import annotations

import time

import pytest

from metareview.base.exceptions import DataError, SettingsError
from metareview.review import (
    DedupeSettings,
    Project,
    choose_primary,
    clusters,
    merge,
    resolve_pair,
    review_queue,
    run_dedupe,
    split,
)
from metareview.review.dedupe import compare_records, prepare

from . import synthetic
from .conftest import labels


def _truth(project: Project) -> dict[int, str]:
    names = {b["id"]: b["filename"] for b in project.store.batches()}
    lab = labels()
    return {r["id"]: lab[(names[r["batch_id"]], r["position"])]
            for r in project.store.iter_records(("id", "batch_id", "position"))}


def _synthetic_project(path, data) -> Project:
    """A project holding generated records, one batch per database."""
    project = Project.init(path)
    for db in ("pubmed", "embase", "scopus"):
        source = project.store.add_source(db, "database")
        project.store.add_batch(source_id=source, filename=db, sha256=db, format="ris", encoding="utf-8",
                                imported_by=None, records=[r for s, r in data if s == db])
    return project


def test_sample_exports_are_clustered_exactly_as_labelled(deduped):
    truth = _truth(deduped)
    metrics = synthetic.pair_metrics(truth, clusters(deduped.store).primary)
    # 32 records of 19 reports: 13 duplicate records, 19 duplicate pairs across the four exports
    assert metrics["true_pairs"] == 19
    assert metrics["precision"] == 1.0 and metrics["recall"] == 1.0


def test_nothing_is_deleted_and_primaries_prefer_complete_records(deduped):
    assert deduped.store.count_records() == 32
    cl = clusters(deduped.store)
    assert sum(len(m) for m in cl.members.values()) == 32
    assert len(cl.members) == 19 and cl.duplicates() == 13
    # the Wang trial: PubMed has PMID, DOI and abstract, so it is the record screened
    assert cl.primary[15] == cl.primary[28] == 3


def test_uncertain_pairs_wait_in_the_queue(deduped):
    queue = review_queue(deduped.store)
    pairs = {(q["record_a"], q["record_b"]) for q in queue}
    # Embase's conference abstracts share their supplement's DOI but not their titles
    assert (13, 14) in pairs
    # the conference abstract of the Wang trial has its title but another year and volume
    assert (13, 15) in pairs or (3, 13) in pairs
    # the correction notice repeats the Namba title; it must not be linked to the article
    cl = clusters(deduped.store)
    assert cl.primary[7] != cl.primary[1]


def test_rerun_adds_nothing_and_respects_people(deduped):
    log = len(deduped.store.pair_decision_log())
    again = run_dedupe(deduped.store)
    assert (again.linked_doi, again.linked_pmid, again.linked_fuzzy, again.queued) == (0, 0, 0, 0)
    assert len(deduped.store.pair_decision_log()) == log
    split(deduped.store, 20, by="ann", note="Scopus record is the preprint")
    run_dedupe(deduped.store)
    assert clusters(deduped.store).members[20] == [20]


def test_split_out_of_a_star_keeps_the_rest_together(deduped):
    cl = clusters(deduped.store)
    group = cl.members[cl.primary[3]]
    assert group == [3, 15, 21, 28]
    split(deduped.store, 3, by="ann")
    after = clusters(deduped.store)
    assert after.members[3] == [3]
    assert len({after.primary[i] for i in (15, 21, 28)}) == 1
    assert deduped.store.count_records() == 32
    with pytest.raises(DataError, match="not linked"):
        split(deduped.store, 3, by="ann")


def test_merge_queue_decisions_and_primary_choice(deduped):
    queue = review_queue(deduped.store)
    n = len(queue)
    first = queue[0]
    resolve_pair(deduped.store, first["record_a"], first["record_b"], same=False, by="bob", note="abstract vs paper")
    assert len(review_queue(deduped.store)) == n - 1
    head = merge(deduped.store, [5, 32], by="bob")
    cl = clusters(deduped.store)
    assert cl.primary[32] == head and sorted(cl.members[head]) == [5, 32]
    choose_primary(deduped.store, 32, by="bob")
    assert clusters(deduped.store).primary[5] == 32
    with pytest.raises(DataError, match="no record 999"):
        merge(deduped.store, [1, 999], by="bob")
    with pytest.raises(DataError, match="at least two"):
        merge(deduped.store, [1, 1], by="bob")
    with pytest.raises(DataError, match="itself"):
        resolve_pair(deduped.store, 4, 4, same=True, by="bob")


def test_compare_records_rules():
    base = {"id": 1, "title": "Focused ultrasound for painful bone metastases: a randomized trial", "year": 2019,
            "authors": ["Smith J"], "journal": "Radiology", "volume": "64", "pages": "277-85", "doi": None,
            "pmid": None}
    same = prepare(base)
    british = prepare({**base, "id": 2, "title": base["title"].replace("ized", "ised")})
    assert compare_records(same, british)[0] == "same"
    assert compare_records(same, prepare({**base, "id": 2, "doi": "10.1000/a"}))[0] == "same"
    assert compare_records(prepare({**base, "doi": "10.1000/b"}), prepare({**base, "id": 2, "doi": "10.1000/a"}))[0] \
        == "different"
    erratum = prepare({**base, "id": 2, "title": "Erratum: " + base["title"]})
    assert compare_records(same, erratum)[0] == "queue"
    other_volume = prepare({**base, "id": 2, "volume": "12", "year": 2017})
    assert compare_records(same, other_volume)[0] == "queue"
    assert compare_records(same, prepare({**base, "id": 2, "title": "Quality of life after radiotherapy"}))[0] \
        == "different"
    short = {**base, "title": "Editorial"}
    assert compare_records(prepare(short), prepare({**short, "id": 2, "authors": ["Doe K"], "volume": None,
                                                    "pages": None}))[0] == "queue"
    with pytest.raises(SettingsError, match="thresholds"):
        DedupeSettings(link=80, queue=90)


def test_labelled_synthetic_set_precision_recall_and_scaling(tmp_path):
    """About 5,500 records in three databases' styles; 145,000 records from export files are
    benchmarks/dedupe_exports.py."""
    data = synthetic.generate(3000, seed=7)
    with _synthetic_project(tmp_path / "s.mrv", data) as project:
        started = time.process_time()
        seen = []
        report = run_dedupe(project.store, progress=lambda stage, done, total: seen.append((stage, done, total)))
        elapsed = time.process_time() - started
        truth = {r["id"]: r["extra"]["article"] for r in project.store.iter_records(("id", "extra"))}
        metrics = synthetic.pair_metrics(truth, clusters(project.store).primary)
    assert report.n_records == len(data)
    assert metrics["precision"] >= 0.99 and metrics["recall"] >= 0.99
    assert report.queued < 0.1 * report.n_records
    stages = list(dict.fromkeys(stage for stage, _, _ in seen))
    assert stages == ["reading records", "blocking", "comparing", "linking"]
    for stage in stages:
        last = [(done, total) for s, done, total in seen if s == stage][-1]
        assert last[0] == last[1] > 0, stage
    assert [done for s, done, _ in seen if s == "reading records"][-1] == len(data)
    assert elapsed < 10  # about 1 s on a quiet core; 100,000 records take under a minute


def _decisions(store) -> dict:
    return {"links": [[d["record_a"], d["record_b"], d["same"], d["method"], d["score"], d["note"]]
                      for d in store.pair_decision_log()],
            "queue": [[c["record_a"], c["record_b"], c["score"], c["reason"]] for c in store.candidates()]}


def _report(report) -> dict:
    return {k: v for k, v in report.to_dict().items() if k != "run_id"}


def test_same_links_scores_and_reasons_as_the_first_release(imported, tmp_path):
    """Every link, score, note and queued pair, in order, as the first release's de-duplication wrote them
    (tests/data/dedupe_links.json, written by the code of commit a6130e6): the fast paths change nothing."""
    import json

    from .conftest import EXPORTS
    golden = json.loads((EXPORTS.parent / "dedupe_links.json").read_text(encoding="utf-8"))
    report = run_dedupe(imported.store)
    assert {"report": _report(report), **_decisions(imported.store)} == golden["sample_exports"]
    data = synthetic.generate(3000, seed=7)
    with _synthetic_project(tmp_path / "s.mrv", data) as project:
        report = run_dedupe(project.store)
        found = {"report": _report(report), **_decisions(project.store)}
    expected = golden["synthetic_3000_seed7"]
    assert found["report"] == expected["report"]
    assert found["links"] == expected["links"]
    assert found["queue"] == expected["queue"]


def test_dedupe_reads_only_the_keys_it_compares(imported, monkeypatch):
    """Only the records' comparison keys are read and kept: never the abstracts or the raw text, which
    hold most of a project's bytes (memory stays bounded by the keys)."""
    asked = []
    for name in ("iter_records", "record_columns"):
        original = getattr(imported.store, name)

        def spy(columns, _original=original, **kwargs):
            asked.append(set(columns))
            return _original(columns, **kwargs)

        monkeypatch.setattr(imported.store, name, spy)
    report = run_dedupe(imported.store)
    assert report.n_records == 32 and asked
    assert all(not cols & {"abstract", "raw", "extra", "keywords"} for cols in asked)


def test_array_verdicts_agree_with_compare_records():
    """The rules judged on arrays (to skip pairs that are surely different) are compare_records's rules:
    every candidate pair of a labelled set, similar titles or not, gets the same answer both ways."""
    import numpy as np

    from metareview.review.dedupe import _candidate_pairs, _Fields

    settings = DedupeSettings()
    data = synthetic.generate(800, seed=11)
    keys = [prepare({"id": i, "title": r.title, "authors": r.authors, "year": r.year, "journal": r.journal,
                     "volume": r.volume, "pages": r.pages, "doi": r.doi, "pmid": r.pmid})
            for i, (_, r) in enumerate(data)]
    keys.append(prepare({"id": len(keys), "title": "Erratum: " + data[0][1].title, "authors": data[0][1].authors}))
    a, b = _candidate_pairs(keys, settings, None)
    fields = _Fields(keys)
    sims = fields.similarity(a, b, 0)
    fast = fields.not_different(a, b, sims, settings)
    slow = np.asarray([compare_records(keys[i], keys[j], settings, similarity=float(s))[0] != "different"
                       for i, j, s in zip(a.tolist(), b.tolist(), sims.tolist())])
    assert len(a) > 5000 and 100 < slow.sum() < len(a)
    assert (fast == slow).all()


def test_titles_set_aside_by_their_characters_could_not_reach_the_similarity_needed():
    """may_reach is a bound: a pair it sets aside never has the similarity it was asked for, on the
    candidate pairs of a labelled set and on titles with characters beyond normalised ASCII (a key made
    elsewhere than prepare), empty titles and titles of one character; lower=True never asks for more
    than the exact threshold."""
    import numpy as np

    from metareview.review.dedupe import _candidate_pairs, _Fields, _Key

    settings = DedupeSettings()
    data = synthetic.generate(600, seed=5)
    keys = [prepare({"id": i, "title": r.title, "authors": r.authors, "year": r.year, "journal": r.journal,
                     "volume": r.volume, "pages": r.pages, "doi": r.doi, "pmid": r.pmid})
            for i, (_, r) in enumerate(data)]
    odd = ["", "a", "b", "ab", "ba", "caf\u00e9 au lait", "cafe au lait", "\u00fcber alles", "uber alles",
           "\u4e2d\u6587 title", "\u4e2d\u6587 titel", "title with \U0001f600", "title with \U0001f601", "x" * 300,
           "x" * 299 + "y"]
    keys += [_Key(len(keys) + i, t, len(t.split()), 2020, "smith", "j", "", "", None, None)
             for i, t in enumerate(odd)]
    a, b = _candidate_pairs(keys, settings, None)
    extra = np.arange(len(keys) - len(odd), len(keys))
    ea, eb = np.meshgrid(extra, extra)
    upper = ea < eb
    a, b = np.r_[a, ea[upper]], np.r_[b, eb[upper]]
    fields = _Fields(keys)
    sims = fields.similarity(a, b, 0)
    for need in (0.0, 50.0, 80.0, 90.0, 97.0, 100.0):
        reach = fields.may_reach(a, b, need)
        assert (reach | (sims < need)).all(), need
        assert 0 < (~reach).sum() < len(a) or need == 0
    exact = fields.threshold(a, b, settings)
    lower = fields.threshold(a, b, settings, lower=True)
    assert (lower <= exact).all() and (lower < exact).any()
    assert (fields.may_reach(a, b, exact) | (sims < exact)).all()
    assert not fields.may_reach(a, b, np.inf).any()


def test_equal_titles_keep_their_score_without_the_sorted_words():
    """Two equal titles score 100 whatever their words' order would give; others as _title_similarity."""
    import numpy as np

    from metareview.review.dedupe import _Fields, _title_similarity

    titles = ["radiotherapy of bone metastases", "radiotherapy of bone metastases", "bone metastases radiotherapy of",
              "metastases bone", "", "focused ultrasound for pain"]
    keys = [prepare({"id": i, "title": t}) for i, t in enumerate(titles)]
    fields = _Fields(keys)
    a, b = np.triu_indices(len(keys), 1)
    got = fields.similarity(a, b, 0)
    want = np.float32([_title_similarity(titles[i], titles[j], 0) for i, j in zip(a.tolist(), b.tolist())])
    assert (got == want).all() and got[0] == 100


TRICKY_TITLES = [
    None, "", "   ", "Focused ultrasound.", "[Focused <i>ultrasound</i> surgery: initial experience].",
    "[Bracketed]", "[", "]", "[].", "Caf\u00e9 au lait: na\u00efve patients", "\u00dcber <b>alles</b>",
    "\u4e2d\u6587 title", "Title with \U0001f600 emoji", "NUL\x00inside", "tab\tand\nnewline\r\x1c\x1fsep",
    "a < b and c > d", "<" + "x" * 45 + ">", "<sup>2</sup>-microglobulin", "Tail <unclosed", "--- ... ---",
    "MiXeD CaSe ASCII 123", "  leading and trailing  ", "\u0130stanbul \u03a3\u03a3 word\u03a3",
    "ligature \ufb01nal \u2163", "x" * 500, "[nested [brackets]].", "Ends with <i>",
]


def test_titles_normalised_together_are_each_title_normalised_alone():
    """norm_titles (de-duplication reads all titles at once) gives norm_title's text for each title:
    empty, missing, markup, brackets, accents, other scripts, NUL, control characters, case."""
    from metareview.review.normalize import norm_title, norm_titles

    data = synthetic.generate(300, seed=3)
    titles = TRICKY_TITLES + [r.title for _, r in data] + TRICKY_TITLES[::-1]
    assert norm_titles(titles) == [norm_title(t) for t in titles]
    assert norm_titles([]) == []
    for t in TRICKY_TITLES:
        assert norm_titles([t]) == [norm_title(t)], t
        assert norm_titles(["<a", t, "b>"]) == [norm_title("<a"), norm_title(t), norm_title("b>")], t


def test_keys_read_as_columns_are_the_keys_of_each_record():
    """_prepare_columns (records read as columns) gives prepare's key for every record: missing
    fields, authors with escapes and non-ASCII names, DOIs with prefixes, pages with letters."""
    import json

    from metareview.review.dedupe import _prepare_columns

    records = []
    for i, title in enumerate(TRICKY_TITLES * 2):
        records.append({"id": i + 1, "title": title,
                        "authors": [[], ["Smith, J."], ["M\u00fcller \"Quote\" K", "Other A"], ["\u738b \u5c0f\u660e"],
                                    ["O'Brien-Smith JA"], ["  "], ["van der Berg, A"]][i % 7],
                        "year": [None, 2019, 1999][i % 3], "journal": [None, "N Engl J Med", "", "Lancet"][i % 4],
                        "volume": [None, " 12 ", "", "A1"][i % 4], "pages": [None, "e123", "100-10", "  0012"][i % 4],
                        "doi": [None, "https://doi.org/10.1000/ABC.", "doi: 10.1/x", "not a doi"][i % 4],
                        "pmid": [None, "", "123"][i % 3]})
    columns = [[r[c] if c != "authors" else json.dumps(r[c], ensure_ascii=i % 2 == 0) for i, r in enumerate(records)]
               for c in ("id", "title", "authors", "year", "journal", "volume", "pages", "doi", "pmid")]
    assert _prepare_columns(*columns) == [prepare(r) for r in records]


def test_records_read_as_columns_are_the_records_read_one_by_one(imported, tmp_path):
    """Store.record_columns gives, column by column and in id order, what iter_records gives record by record
    (JSON columns as their stored text), on either backend; an empty project gives empty columns."""
    import json

    names = ("id", "title", "authors", "year", "pages", "doi", "pmid", "status")
    columns = imported.store.record_columns(names)
    rows = list(imported.store.iter_records(names))
    assert len(columns) == len(names) and len(rows) == 32
    for name, column in zip(names, columns):
        want = [json.dumps(r[name], ensure_ascii=False) if name == "authors" else r[name] for r in rows]
        assert list(column) == want, name
    with pytest.raises(ValueError, match="unknown record columns"):
        imported.store.record_columns(("id", "nope"))
    with Project.init(tmp_path / "empty.mrv") as empty:
        assert empty.store.record_columns(("id", "title")) == [(), ()]


def test_codes_are_equal_for_equal_values_only_and_empty_values_have_none():
    import itertools

    from metareview.review.dedupe import _codes

    values = ["a", None, "b", "", "a", ("x", 1), ("x", 1), "B", None]
    codes, by_code = _codes(values)
    assert codes[1] == codes[3] == codes[8] == -1 and (codes[[0, 2, 4, 5, 6, 7]] >= 0).all()
    assert codes[0] == codes[4] and codes[5] == codes[6] and len({codes[0], codes[2], codes[5], codes[7]}) == 4
    assert {by_code[c] for c in codes[codes >= 0].tolist()} == {"a", "b", ("x", 1), "B"}
    counter = itertools.count()
    first, second = _codes(["a", "b"], counter)[0], _codes(["a", "b"], counter)[0]
    assert not set(first.tolist()) & set(second.tolist())


def test_a_large_block_pairs_each_record_with_its_neighbours_in_title_order():
    """A block larger than ``max_block`` gives each record's ``window`` nearest neighbours in the order of
    the titles, ties (equal titles) in the order of the records: the sorted neighbourhood, worked out here
    by hand on one author's year (short titles: no title block besides)."""
    from metareview.review.dedupe import _candidate_pairs, _Key

    titles = ["b c", "a", "b c", "\u00e9", "a b", "B", "z", "a", "ab"]
    keys = [_Key(i, t, len(t.split()), 2020, "smith", "j", "", "", None, None) for i, t in enumerate(titles)]
    settings = DedupeSettings(max_block=3, window=2)
    a, b = _candidate_pairs(keys, settings, None)
    order = sorted(range(len(titles)), key=lambda i: (titles[i], i))
    assert order == [5, 1, 7, 4, 8, 0, 2, 6, 3]
    expected = {(min(order[i], order[i + w]), max(order[i], order[i + w]))
                for w in (1, 2) for i in range(len(order) - w)}
    assert list(zip(a.tolist(), b.tolist())) == sorted(expected)
