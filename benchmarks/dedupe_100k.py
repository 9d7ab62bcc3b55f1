"""De-duplication of 100,000 records: time, peak memory, precision and recall.

Run with ``python benchmarks/dedupe_100k.py [N_RECORDS]``.  The records come from the
labelled generator in ``tests/review/synthetic.py`` (three databases' styles, typos,
companion papers, errata, conference abstracts), are stored in a fresh project, and
de-duplicated as ``metareview review dedupe`` does.  The target is under a minute and
under 2 GB on a two-core machine.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "review"))

import synthetic  # noqa: E402

from metareview.review import Project, clusters, review_queue, run_dedupe  # noqa: E402


def main(n_records: int = 100_000) -> dict:
    n_articles = int(n_records / 1.7)  # the generator writes about 1.8 records per article
    started = time.perf_counter()
    data = synthetic.generate(n_articles, seed=100)[:n_records]
    with tempfile.TemporaryDirectory() as tmp:
        project = Project.init(Path(tmp) / "bench.mrv")
        t0 = time.perf_counter()
        for db in ("pubmed", "embase", "scopus"):
            source = project.store.add_source(db, "database")
            project.store.add_batch(source_id=source, filename=f"{db}.ris", sha256=db, format="ris",
                                    encoding="utf-8", imported_by=None, records=[r for s, r in data if s == db])
        t_store = time.perf_counter() - t0
        t0, c0 = time.perf_counter(), time.process_time()
        report = run_dedupe(project.store)
        t_dedupe, c_dedupe = time.perf_counter() - t0, time.process_time() - c0
        truth = {r["id"]: r["extra"]["article"] for r in project.store.iter_records(("id", "extra"))}
        metrics = synthetic.pair_metrics(truth, clusters(project.store).primary)
        queue = review_queue(project.store)
        project.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {"records": report.n_records, "store_seconds": round(t_store, 1), "dedupe_seconds": round(t_dedupe, 1),
              "dedupe_cpu_seconds": round(c_dedupe, 1),
              "total_seconds": round(time.perf_counter() - started, 1), "peak_rss_mb": round(peak_mb),
              "pairs_compared": report.n_compared, "duplicates": report.duplicates, "queued": len(queue),
              "queued_true_duplicates": sum(truth[c["record_a"]] == truth[c["record_b"]] for c in queue),
              "precision": round(metrics["precision"], 4), "recall": round(metrics["recall"], 4)}
    return result


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    for key, value in main(n).items():
        print(f"{key:>24}: {value}")
