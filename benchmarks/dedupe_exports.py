"""Import and de-duplication of one search's exports from PubMed, Embase and Scopus, at scale.

Run with ``python benchmarks/dedupe_exports.py [--records 145000] [--before main]``.

The script writes three export files of one synthetic search: ``pubmed.nbib`` (MEDLINE,
``AU``/``TA``, abbreviated page ranges, wrapped lines), ``embase.ris`` (``A1 Smith A.B.``,
``Y1 2019//``, ``JF``, ``N2``, British spelling, often no DOI) and ``scopus.csv`` (a
byte-order mark, Scopus's column names, ``Page start``/``Page end``).  The articles, their
overlap between databases, title typos, year shifts, missing fields and the hard
negatives (companion papers, errata, conference abstracts) come from the labelled
generator in ``tests/review/synthetic.py``; each record gets an abstract as long as real
ones, so that import and memory are measured on files of realistic size.  The true
article of each record is kept beside the files (``truth.json``), not in them.

It then runs what a user runs, each command a new process timed by ``/usr/bin/time``
(wall time and peak resident memory)::

    metareview review init P
    metareview review import pubmed.nbib -p P --source PubMed      (and Embase, Scopus)
    metareview review dedupe -p P

and measures pairwise precision and recall of the clusters against the truth.  With
``--before REV`` the same commands also run on the code of git revision ``REV`` (its
``src/`` extracted to a temporary folder), on the same files in the same run, and the
links and queued pairs of the two projects are compared one by one.  The targets
(issue 18): import and de-duplication of 145,000 records in under 30 s and under 1 GB,
precision and recall unchanged.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "review"))

import synthetic  # noqa: E402

SENTENCES = [
    "We enrolled {n} patients between {y0} and {y1} at {c} centres.",
    "The primary outcome was {o} at {w} weeks.",
    "Secondary outcomes included {o2}, {o3} and adverse events.",
    "Patients were randomly assigned in a 1:1 ratio to the intervention or the control group.",
    "Median follow-up was {w} months (interquartile range {a} to {b}).",
    "The response rate was {p}% in the intervention group and {q}% in the control group (P = 0.0{a}).",
    "No treatment-related deaths occurred; grade 3 events were reported in {a} patients.",
    "Quality of life improved in both groups, more so after the intervention.",
    "Methods: this was a {d} conducted in {c} hospitals.",
    "Background: treatment options remain limited for patients with advanced disease.",
    "Conclusions: the intervention was safe and effective in this population.",
    "Further trials with longer follow-up are warranted.",
    "Results were consistent across prespecified subgroups defined by age, sex and tumour type.",
    "The hazard ratio for progression was 0.{a}{b} (95% CI 0.{a} to 0.9{b}).",
    "Costs per quality-adjusted life year were estimated from the health-care payer's perspective.",
]


def _abstract(rng: random.Random) -> str:
    """About 1,300 characters, as PubMed abstracts of trials run."""
    picks = rng.sample(SENTENCES, 10)
    values = {"n": rng.randint(20, 900), "y0": rng.randint(1995, 2015), "y1": rng.randint(2016, 2024),
              "c": rng.randint(1, 40), "o": rng.choice(synthetic.OUTCOMES), "o2": rng.choice(synthetic.OUTCOMES),
              "o3": rng.choice(synthetic.OUTCOMES), "w": rng.randint(2, 52), "a": rng.randint(1, 9),
              "b": rng.randint(1, 9), "p": rng.randint(5, 95), "q": rng.randint(5, 95),
              "d": rng.choice(synthetic.DESIGNS).split(" ", 1)[1]}
    text = " ".join(s.format(**values) for s in picks)
    return " ".join([text, text[: rng.randint(200, 400)]])


def _wrap(tag: str, value: str, width: int = 82) -> list[str]:
    """A MEDLINE field: the tag padded to four characters, continuation lines indented by six spaces."""
    words, lines, line = value.split(), [], f"{tag:<4}- "
    for word in words:
        if len(line) + len(word) + 1 > width and line.strip() != f"{tag}-":
            lines.append(line.rstrip())
            line = "      "
        line += word + " "
    lines.append(line.rstrip())
    return lines


def _medline(rec, pmid: str) -> str:
    out = [f"PMID- {pmid}", "OWN - NLM", "STAT- MEDLINE"]
    if rec.year:
        out.append(f"DP  - {rec.year} {random.Random(pmid).choice(['Jan', 'Mar', 'Jun', 'Sep-Oct', 'Dec'])}")
    out += _wrap("TI", rec.title)
    if rec.pages:
        out.append(f"PG  - {rec.pages}")
    if rec.doi:
        out.append(f"LID - {rec.doi} [doi]")
    out += _wrap("AB", rec.abstract)
    for author in rec.authors:
        out.append(f"AU  - {author}")
    out.append("LA  - eng")
    out.append("PT  - " + ("Published Erratum" if rec.title.startswith("Erratum") else "Journal Article"))
    out.append(f"TA  - {rec.journal}")
    if rec.volume:
        out.append(f"VI  - {rec.volume}")
    out.append(f"IP  - {rec.issue}")
    if rec.doi:
        out.append(f"AID - {rec.doi} [doi]")
    out.append("SO  - " + f"{rec.journal}. {rec.year or ''};{rec.volume or ''}({rec.issue}):{rec.pages or ''}.")
    return "\n".join(out)


def _ris(rec, accession: int) -> str:
    start, _, end = (rec.pages or "").partition("-")
    out = ["TY  - JOUR", f"ID  - {accession}", f"T1  - {rec.title}"]
    out += [f"A1  - {a}" for a in rec.authors]
    if rec.year:
        out.append(f"Y1  - {rec.year}//")
    out += [f"N2  - {rec.abstract}", f"JF  - {rec.journal}"]
    if rec.volume:
        out.append(f"VL  - {rec.volume}")
    out.append(f"IS  - {rec.issue}")
    if start:
        out.append(f"SP  - {start}")
    if end:
        out.append(f"EP  - {end}")
    if rec.doi:
        out.append(f"DO  - {rec.doi}")
    out += ["DB  - Embase", f"U2  - L{accession}", "L2  - http://www.embase.com/search/results?subaction=viewrecord",
            "ER  - "]
    return "\n".join(out)


SCOPUS_COLUMNS = ["Authors", "Author full names", "Title", "Year", "Source title", "Volume", "Issue", "Art. No.",
                  "Page start", "Page end", "Page count", "Cited by", "DOI", "Link", "Abstract", "Author Keywords",
                  "PubMed ID", "Document Type", "Publication Stage", "Source", "EID"]


def _scopus_row(rec, eid: int) -> list[str]:
    start, _, end = (rec.pages or "").partition("-")
    authors = [a.replace(",", "") for a in rec.authors]
    return ["; ".join(authors), "; ".join(f"{a} ({eid + i})" for i, a in enumerate(rec.authors)), rec.title,
            str(rec.year or ""), rec.journal, rec.volume or "", rec.issue, "", start, end,
            str(int(end) - int(start) + 1) if start.isdigit() and end.isdigit() else "", str(eid % 97),
            rec.doi or "", f"https://www.scopus.com/inward/record.uri?eid=2-s2.0-{eid}", rec.abstract, "",
            rec.pmid or "", "Article", "Final", "Scopus", f"2-s2.0-{eid}"]


def write_exports(folder: Path, n_records: int, *, seed: int = 145) -> dict[str, int]:
    """Write ``pubmed.nbib``, ``embase.ris``, ``scopus.csv`` and ``truth.json`` into ``folder``."""
    n_articles = int(n_records / 1.7)  # the generator writes about 1.7 records per article
    data = synthetic.generate(n_articles, seed=seed)[:n_records]
    rng = random.Random(seed)
    abstracts: dict[int, str] = {}
    truth: dict[str, list[int]] = {"pubmed.nbib": [], "embase.ris": [], "scopus.csv": []}
    medline, ris, rows = [], [], []
    for db, rec in data:
        article = rec.extra["article"]
        if article not in abstracts:
            abstracts[article] = _abstract(rng)
        rec.abstract = abstracts[article]
        if db == "pubmed":
            # every PubMed record has a PMID; the generator leaves some articles without one
            medline.append(_medline(rec, rec.pmid or str(50_000_000 + article)))
            truth["pubmed.nbib"].append(article)
        elif db == "embase":
            ris.append(_ris(rec, 2_000_000_000 + len(ris)))
            truth["embase.ris"].append(article)
        else:
            rows.append(_scopus_row(rec, 85_000_000_000 + 16 * len(rows)))
            truth["scopus.csv"].append(article)
    (folder / "pubmed.nbib").write_text("\n\n".join(medline) + "\n", encoding="utf-8")
    (folder / "embase.ris").write_text("\n\n".join(ris) + "\n", encoding="utf-8")
    with open(folder / "scopus.csv", "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh, quoting=csv.QUOTE_ALL)
        writer.writerow(SCOPUS_COLUMNS)
        writer.writerows(rows)
    (folder / "truth.json").write_text(json.dumps(truth))
    return {name: len(keys) for name, keys in truth.items()}


FILES = [("pubmed.nbib", "PubMed"), ("embase.ris", "Embase"), ("scopus.csv", "Scopus")]


def _timed(argv: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user and system) and peak resident memory (MB) of one command,
    from GNU time.  On a busy machine the CPU time is the steadier of the two."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as out:
        started = time.perf_counter()
        done = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", "-o", out.name, *argv], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
        wall = time.perf_counter() - started
        if done.returncode:
            raise SystemExit(f"{' '.join(argv)} failed:\n{done.stderr}")
        user, system, rss = out.read().split()[-3:]
        return wall, float(user) + float(system), int(rss) // 1024


def run(code: Path | None, folder: Path, label: str) -> dict:
    """The user's commands on the exports with the metareview in ``code`` (None: the installed one)."""
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = str(code)
    project = folder / f"{label}.mrv"
    cli = [sys.executable, "-m", "metareview"]
    steps = {"init": _timed([*cli, "review", "init", str(project)], env)}
    for name, source in FILES:
        steps[f"import {name}"] = _timed([*cli, "review", "import", str(folder / name), "-p", str(project),
                                          "--source", source], env)
    steps["dedupe"] = _timed([*cli, "review", "dedupe", "-p", str(project)], env)
    measure = subprocess.run([sys.executable, __file__, "--measure", str(project), str(folder / "truth.json")],
                             env=env, capture_output=True, text=True, check=True)
    result = json.loads(measure.stdout)
    result["seconds"] = {k: round(v[0], 1) for k, v in steps.items()}
    result["cpu_seconds"] = {k: round(v[1], 1) for k, v in steps.items()}
    result["peak_rss_mb"] = {k: v[2] for k, v in steps.items()}
    result["import_and_dedupe_seconds"] = round(sum(v[0] for k, v in steps.items() if k != "init"), 1)
    result["import_and_dedupe_cpu_seconds"] = round(sum(v[1] for k, v in steps.items() if k != "init"), 1)
    result["max_peak_rss_mb"] = max(v[2] for v in steps.values())
    result["load_average_after"] = round(os.getloadavg()[0], 1)
    return result


def measure(project: Path, truth_file: Path) -> dict:
    """Precision and recall of the project's clusters against the truth (run with the code measured)."""
    from metareview.review import Project, clusters, review_queue
    truth_by_file = json.loads(truth_file.read_text())
    with Project.open(project) as p:
        names = {b["id"]: b["filename"] for b in p.store.batches()}
        truth = {r["id"]: truth_by_file[names[r["batch_id"]]][r["position"] - 1]
                 for r in p.store.iter_records(("id", "batch_id", "position"))}
        metrics = synthetic.pair_metrics(truth, clusters(p.store).primary)
        queue = review_queue(p.store)
        run = p.store.dedupe_runs()[-1]
    return {"records": len(truth), "pairs_compared": run["n_compared"], "linked": run["n_linked"],
            "queued": len(queue), "queued_true_duplicates": sum(truth[q["record_a"]] == truth[q["record_b"]]
                                                                for q in queue),
            "precision": metrics["precision"], "recall": metrics["recall"]}


def _decisions(project: Path) -> tuple[set, set]:
    """Links (pair, method) and queued pairs of a project, read straight from the file."""
    with sqlite3.connect(project) as conn:
        links = set(conn.execute("SELECT record_a, record_b, same, method FROM pair_decisions"))
        queued = set(conn.execute("SELECT record_a, record_b FROM pair_candidates"))
    return links, queued


def _extract(rev: str, into: Path) -> Path:
    """The ``src/`` folder of git revision ``rev``, written under ``into``."""
    archive = into / "src.tar"
    with open(archive, "wb") as fh:
        subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src"], stdout=fh, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=145_000)
    parser.add_argument("--before", metavar="REV", help="also run the code of this git revision, for comparison")
    parser.add_argument("--keep", type=Path, help="write the exports and projects here instead of a temporary folder")
    parser.add_argument("--measure", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        counts = write_exports(folder, args.records)
        sizes = {name: round((folder / name).stat().st_size / 2**20) for name, _ in FILES}
        print(f"exports: {counts} records, {sizes} MB", flush=True)
        results = {}
        if args.before:
            results[f"before ({args.before})"] = run(_extract(args.before, Path(tmp)), folder, "before")
        results["after"] = run(None, folder, "after")
        if args.before:
            before_links, before_queue = _decisions(folder / "before.mrv")
            after_links, after_queue = _decisions(folder / "after.mrv")
            results["same links"] = before_links == after_links
            results["same queue"] = before_queue == after_queue
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
