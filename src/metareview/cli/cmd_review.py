"""``metareview review``: the review project, from search exports to PRISMA counts and the analysis table.

Every command takes the project with ``--project``/``-p`` (or the environment variable
``METAREVIEW_PROJECT``), except ``init`` which creates it: a project file, or a
PostgreSQL database named by its URL (``postgresql://user@host:5432/dbname``).  The
project is a string, not a path, so that a URL keeps its ``//``.  Heavy imports
happen inside the commands so that the command line starts quickly.
"""

import os
from pathlib import Path
from typing import List, Optional

import typer

from ._help import JSON_HELP, QUIET_HELP
from ._tree import SETTINGS

review_app = typer.Typer(name="review", no_args_is_help=True, add_completion=False,
                         help="The review project: import, de-duplicate, screen, extract, adjudicate, count.", **SETTINGS)
decisions_app = typer.Typer(no_args_is_help=True, help="Screening decisions as CSV, for spreadsheets.", **SETTINGS)
extract_app = typer.Typer(no_args_is_help=True, help="The extraction form and extractors' values.", **SETTINGS)
review_app.add_typer(decisions_app, name="decisions")
review_app.add_typer(extract_app, name="extract")
user_app = typer.Typer(no_args_is_help=True, help="Accounts of the review team for 'metareview serve'.", **SETTINGS)
review_app.add_typer(user_app, name="user")

JSON_OPTION = typer.Option(False, "--json", help=JSON_HELP)
PROJECT_OPTION = typer.Option(..., "--project", "-p", envvar="METAREVIEW_PROJECT",
                        help="The project file, or a postgresql:// URL (or set METAREVIEW_PROJECT).")
_STAGE = typer.Option("title_abstract", "--stage", "-s", help="title_abstract (ta) or full_text (ft).")


def register(app: typer.Typer) -> None:
    app.add_typer(review_app, name="review")


def open_project(path: str):
    from ..review.project import Project
    return Project.open(path)


def project_inputs(project: str) -> list[str]:
    """The project among a command's inputs, to guard outputs against: its file (a database on a
    server is no file that an output could overwrite)."""
    from ..review.backends import is_url
    return [] if is_url(project) else [project]


def _check(output: Optional[Path], project: str) -> None:
    """Refuse an output that is the project file (or otherwise unwritable) before any work."""
    from ..base.outputs import check_output
    if output is not None and str(output) != "-":
        check_output(output, inputs=project_inputs(project))


def _write(text: str, output: Optional[Path], project: str) -> None:
    import sys

    from ..base.outputs import write_file
    if output is None or str(output) == "-":
        sys.stdout.write(text)
    else:
        write_file(output, text, inputs=project_inputs(project))
        from .output import wrote
        wrote(output)


def read_text_file(path: Path) -> str:
    from ..base.exceptions import DataError
    from ..review.importers import decode
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror}", rule="file") from None
    return decode(data, name=path.name)[0]


def _interactive() -> bool:
    """Whether standard input and output are a terminal (the screening screen needs one)."""
    import sys
    return sys.stdin.isatty() and sys.stdout.isatty()


def _pairs(items: List[str], option: str, form: str) -> dict:
    """``KEY=VALUE`` option values as a dict."""
    from ..base.exceptions import SettingsError
    out = {}
    for item in items:
        if "=" not in item:
            raise SettingsError(f"{option} takes {form}, not {item!r}")
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def _mapping(items: List[str]) -> dict:
    return _pairs(items, "--map", "FIELD=COLUMN")


# -- project ------------------------------------------------------------------------------------------------
@review_app.command("init")
def init(path: str = typer.Argument(..., help="The project file to create, or the postgresql:// URL of an "
                                                "empty database."),
         name: Optional[str] = typer.Option(None, help="The review's name (default: the file name)."),
         single: bool = typer.Option(False, "--single-screening",
                                     help="One reviewer per record instead of two (dual screening)."), as_json: bool = JSON_OPTION) -> None:
    """Create a review project: a new file, or the tables in an empty PostgreSQL database."""
    from ..review.project import Project
    from .output import show
    with Project.init(path, name=name, reviewers_per_record=1 if single else 2) as project:
        show({"project": project.store.display, "name": project.name, "schema_version": project.store.version,
                    "reviewers_per_record": project.reviewers_per_record}, as_json)


@review_app.command("copy")
def copy(source: str = typer.Argument(..., help="The project to copy: a file or a postgresql:// URL (only read)."),
         destination: str = typer.Argument(..., help="The new project: a file that does not exist yet, or the "
                                                     "postgresql:// URL of an empty database."),
         as_json: bool = JSON_OPTION) -> None:
    """Copy a project between SQLite and PostgreSQL, in one transaction, compared row by row before it commits."""
    from ..review.copy import copy_project
    from .output import show
    report = copy_project(source, destination)
    doc = report.to_dict()
    if as_json:
        show(doc, True)
        return
    show({"source": doc["source"], "destination": doc["destination"], "schema_version": doc["schema_version"],
          "tables": len(doc["rows"]), "rows": doc["total_rows"],
          "verified": "every table compared row by row with the source: identical"})


@review_app.command("import")
def import_(file: Path = typer.Argument(..., help="A PubMed (MEDLINE/nbib), RIS, Web of Science, BibTeX, EndNote XML, CSL-JSON or CSV export "
                                                "(UTF-8, UTF-16 with a byte-order mark, or Latin-1)."),
            project: str = PROJECT_OPTION,
            source: str = typer.Option(..., "--source", help="Where the records come from (PubMed, Embase, ...)."),
            kind: str = typer.Option("database", "--kind", help="database, register or other (other methods)."),
            format: Optional[str] = typer.Option(None, "--format",
                                                 help="medline, ris, wos, bibtex, endnote, csljson or csv "
                                                      "(default: detected)."),
            map_: List[str] = typer.Option([], "--map", help="CSV column mapping FIELD=COLUMN (repeatable)."),
            allow_reimport: bool = typer.Option(False, "--allow-reimport",
                                                help="Import a file that was imported before."),
            by: Optional[str] = typer.Option(None, "--by", help="Who imported it."),
            quiet: bool = typer.Option(False, "--quiet", "-q", help=QUIET_HELP), as_json: bool = JSON_OPTION) -> None:
    """Import a search export as one batch; malformed records are kept and reported with their line."""
    from .output import show, stage_bars
    with open_project(project) as p, stage_bars(not quiet) as advance:
        report = p.import_file(file, source=source, kind=kind, format=format, mapping=_mapping(map_) or None,
                               allow_reimport=allow_reimport, imported_by=by, progress=advance)
    show(report.to_dict(), as_json)


@review_app.command("status")
def status(project: str = PROJECT_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Records, batches, clusters and the state of each screening stage."""
    from collections import Counter

    from ..review.dedupe import clusters, review_queue
    from ..review.screening import states
    from .output import show
    with open_project(project) as p:
        cl = clusters(p.store)
        ta = states(p, "title_abstract", cl=cl)
        ft = states(p, "full_text", cl=cl)
        show({"name": p.name, "schema_version": p.store.version, "records": p.store.count_records(),
                    "batches": [{k: b[k] for k in ("id", "source", "filename", "format", "encoding", "n_records",
                                                   "n_malformed", "imported_at")} for b in p.store.batches()],
                    "clusters": len(cl.members), "duplicates": cl.duplicates(),
                    "duplicate_pairs_to_review": len(review_queue(p.store)),
                    "title_abstract": dict(Counter(s.state for s in ta.values())),
                    "full_text": dict(Counter(s.state for s in ft.values()))}, as_json)


@review_app.command("records")
def records(project: str = PROJECT_OPTION,
            malformed: bool = typer.Option(False, "--malformed", help="Only records that could not be parsed."),
            raw: bool = typer.Option(False, "--raw", help="Include each record's raw text as exported."),
            ids: List[int] = typer.Option([], "--id", help="Only these record ids (repeatable)."), as_json: bool = JSON_OPTION) -> None:
    """List records with their source, batch, line in the export and status."""
    from ..review.dedupe import clusters
    from .output import show
    with open_project(project) as p:
        primary = clusters(p.store).primary
        rows = []
        for rec in p.store.iter_records(ids=ids or None):
            if malformed and rec["status"] != "malformed":
                continue
            row = {"id": rec["id"], "source": rec["source"], "batch": rec["batch_id"], "line": rec["line"],
                   "status": rec["status"], "problem": rec["problem"], "title": rec["title"], "year": rec["year"],
                   "doi": rec["doi"], "pmid": rec["pmid"], "primary": primary[rec["id"]]}
            if raw:
                row["raw"] = rec["raw"]
            rows.append(row)
    show(rows, as_json, columns=["id", "status", "year", "primary", "title"] + (["problem"] if malformed else []))


# -- duplicates -----------------------------------------------------------------------------------------------
@review_app.command("dedupe")
def dedupe(project: str = PROJECT_OPTION,
           link: float = typer.Option(97.0, help="Title similarity (0-100) that links a pair without conflicts."),
           link_supported: float = typer.Option(90.0, help="Similarity that links when 2+ other fields agree."),
           queue: float = typer.Option(80.0, help="Similarity from which a pair goes to the review queue."),
           quiet: bool = typer.Option(False, "--quiet", "-q", help=QUIET_HELP),
           progress: bool = typer.Option(True, "--progress/--no-progress", hidden=True,
                                         help="Older spelling of --quiet (--no-progress)."), as_json: bool = JSON_OPTION) -> None:
    """Link duplicate records (DOI, PMID, then fuzzy matching); uncertain pairs go to the review queue."""
    from ..review.dedupe import DedupeSettings, run_dedupe
    from .output import show, stage_bars
    settings = DedupeSettings(link=link, link_supported=link_supported, queue=queue)
    with open_project(project) as p, stage_bars(progress and not quiet) as advance:
        report = run_dedupe(p.store, settings, progress=advance)
    show(report.to_dict(), as_json)


@review_app.command("duplicates")
def duplicates(project: str = PROJECT_OPTION,
               queue: bool = typer.Option(False, "--queue", help="List the pairs waiting for a person instead."), as_json: bool = JSON_OPTION) -> None:
    """Clusters of duplicates (primary and members), or the queue of uncertain pairs."""
    from ..review.dedupe import clusters, review_queue
    from .output import show
    with open_project(project) as p:
        if queue:
            rows = []
            for cand in review_queue(p.store):
                a, b = p.store.record(cand["record_a"]), p.store.record(cand["record_b"])
                rows.append({"record_a": a["id"], "record_b": b["id"], "score": round(cand["score"], 1),
                             "reason": cand["reason"], "title_a": a["title"], "title_b": b["title"],
                             "source_a": a["source"], "source_b": b["source"]})
            show(rows, as_json, columns=["record_a", "record_b", "score", "reason"])
        else:
            cl = clusters(p.store)
            show([{"primary": k, "members": m} for k, m in sorted(cl.members.items()) if len(m) > 1], as_json)


@review_app.command("pair")
def pair(a: int = typer.Argument(..., help="Record id (as review records lists it)."), b: int = typer.Argument(..., help="Record id (as review records lists it)."), project: str = PROJECT_OPTION,
         same: bool = typer.Option(..., "--same/--different", help="Whether the two records are one article."),
         by: str = typer.Option(..., "--by", help="Who decided."),
         note: Optional[str] = typer.Option(None, "--note", help="A free-text note kept with the entry."), as_json: bool = JSON_OPTION) -> None:
    """Decide a pair from the review queue (or any pair)."""
    from ..review.dedupe import clusters, resolve_pair
    from .output import show
    with open_project(project) as p:
        resolve_pair(p.store, a, b, same=same, by=by, note=note)
        cl = clusters(p.store)
        show({"record_a": a, "record_b": b, "same": same, "primary_a": cl.primary[a], "primary_b": cl.primary[b]}, as_json)


@review_app.command("merge")
def merge(ids: List[int] = typer.Argument(..., help="Two or more record ids."), project: str = PROJECT_OPTION,
          by: str = typer.Option(..., "--by", help="Who makes this change (kept with it in the log)."), note: Optional[str] = typer.Option(None, "--note", help="A free-text note kept with the entry."), as_json: bool = JSON_OPTION) -> None:
    """Link records as one article (their clusters merge)."""
    from ..review.dedupe import clusters, merge as merge_records
    from .output import show
    with open_project(project) as p:
        head = merge_records(p.store, ids, by=by, note=note)
        show({"primary": head, "members": clusters(p.store).members[head]}, as_json)


@review_app.command("split")
def split(record: int = typer.Argument(..., help="Record id (as review records lists it)."), project: str = PROJECT_OPTION, by: str = typer.Option(..., "--by", help="Who makes this change (kept with it in the log)."),
          note: Optional[str] = typer.Option(None, "--note", help="A free-text note kept with the entry."), as_json: bool = JSON_OPTION) -> None:
    """Take a record out of its cluster of duplicates."""
    from ..review.dedupe import clusters, split as split_record
    from .output import show
    with open_project(project) as p:
        split_record(p.store, record, by=by, note=note)
        show({"record": record, "primary": clusters(p.store).primary[record]}, as_json)


@review_app.command("primary")
def primary(record: int = typer.Argument(..., help="Record id (as review records lists it)."), project: str = PROJECT_OPTION, by: str = typer.Option(..., "--by", help="Who makes this change (kept with it in the log)."), as_json: bool = JSON_OPTION) -> None:
    """Make a record the primary (screened) record of its cluster."""
    from ..review.dedupe import choose_primary, clusters
    from .output import show
    with open_project(project) as p:
        choose_primary(p.store, record, by=by)
        cl = clusters(p.store)
        show({"primary": cl.primary[record], "members": cl.members[cl.primary[record]]}, as_json)


# -- screening -----------------------------------------------------------------------------------------------
@review_app.command("reasons")
def reasons(project: str = PROJECT_OPTION, stage: str = _STAGE,
            set_: List[str] = typer.Option([], "--set", help="Replace the list with these reasons (repeatable)."), as_json: bool = JSON_OPTION) -> None:
    """Show, or set, the exclusion reasons offered at a stage."""
    from ..review.project import parse_stage
    from .output import show
    with open_project(project) as p:
        if set_:
            p.set_reasons(stage, set_)
        show({"stage": parse_stage(stage), "reasons": p.reasons(stage)}, as_json)


@review_app.command("keywords")
def keywords(project: str = PROJECT_OPTION,
             include: List[str] = typer.Option([], "--include", help="Highlighted in green (word* for stems)."),
             exclude: List[str] = typer.Option([], "--exclude", help="Highlighted in red."), as_json: bool = JSON_OPTION) -> None:
    """Set the keywords highlighted on the screening screen (no options: show them)."""
    from .output import show
    with open_project(project) as p:
        if include or exclude:
            p.set_keywords(include, exclude)
        show(p.keywords, as_json)


@review_app.command("screen")
def screen(project: str = PROJECT_OPTION, reviewer: str = typer.Option(..., "--reviewer", "-r", help="The reviewer screening (the name kept with each decision)."),
           stage: str = _STAGE) -> None:
    """Screen interactively: title and abstract with highlighted keywords, one key per decision."""
    from ..base.exceptions import SettingsError
    from ..review.screen_tui import run_screen
    if not _interactive():
        raise SettingsError("review screen needs an interactive terminal (its input or output is not one); "
                            "without a terminal, screen in a spreadsheet: 'review decisions export --sheet -o "
                            "sheet.csv', fill it in, then 'review decisions import sheet.csv'")
    with open_project(project) as p:
        run_screen(p, stage=stage, reviewer=reviewer)


@review_app.command("decide")
def decide(record: int = typer.Argument(..., help="Record id (as review records lists it)."), project: str = PROJECT_OPTION,
           reviewer: str = typer.Option(..., "--reviewer", "-r", help="The reviewer screening (the name kept with each decision)."), stage: str = _STAGE,
           decision: str = typer.Option(..., "--decision", "-d", help="include, exclude or maybe."),
           reason: Optional[str] = typer.Option(None, "--reason", help="Why (kept with the entry; for an exclusion, the exclusion reason)."), note: Optional[str] = typer.Option(None, "--note", help="A free-text note kept with the entry."), as_json: bool = JSON_OPTION) -> None:
    """Record one reviewer's decision on a record."""
    from ..review.screening import decide as decide_record
    from .output import show
    with open_project(project) as p:
        st = decide_record(p, record, stage=stage, reviewer=reviewer, decision=decision.lower(), reason=reason,
                           note=note)
        show({"record": st.record_id, "stage": st.stage, "state": st.state, "reason": st.reason}, as_json)


@review_app.command("conflicts")
def conflicts(project: str = PROJECT_OPTION, stage: str = _STAGE, as_json: bool = JSON_OPTION) -> None:
    """Records whose reviewers disagree (or said maybe) and that are not resolved."""
    from ..review.screening import conflicts as list_conflicts
    from .output import show
    with open_project(project) as p:
        rows = []
        for st in list_conflicts(p, stage):
            rec = p.store.record(st.record_id)
            rows.append({"record": st.record_id, "title": rec["title"],
                         "votes": {r: {"decision": v["decision"], "reason": v["reason"], "note": v["note"]}
                                   for r, v in sorted(st.votes.items())}})
        if not as_json:  # on the screen: who voted what, the title last (it is cut to fit)
            rows = [{"record": r["record"],
                     "votes": ", ".join(f"{who} {v['decision']}" for who, v in r["votes"].items()),
                     "title": r["title"]} for r in rows]
        show(rows, as_json)


@review_app.command("resolve")
def resolve(record: int = typer.Argument(..., help="Record id (as review records lists it)."), project: str = PROJECT_OPTION, stage: str = _STAGE,
            decision: str = typer.Option(..., "--decision", "-d", help="include or exclude."),
            by: str = typer.Option(..., "--by", help="Who makes this change (kept with it in the log)."), reason: Optional[str] = typer.Option(None, "--reason", help="Why (kept with the entry; for an exclusion, the exclusion reason)."),
            note: Optional[str] = typer.Option(None, "--note", help="Why it was settled this way."), as_json: bool = JSON_OPTION) -> None:
    """Settle a conflict: the final decision, who made it and why."""
    from ..review.screening import resolve as resolve_record
    from .output import show
    with open_project(project) as p:
        st = resolve_record(p, record, stage=stage, by=by, decision=decision.lower(), reason=reason, note=note)
        show({"record": st.record_id, "stage": st.stage, "state": st.state, "reason": st.reason}, as_json)


@review_app.command("agreement")
def agreement(project: str = PROJECT_OPTION, stage: str = _STAGE, as_json: bool = JSON_OPTION) -> None:
    """Percent agreement and Cohen's kappa between each pair of reviewers."""
    from ..review.screening import agreement as compute
    from .output import show
    with open_project(project) as p:
        show([a.to_dict() for a in compute(p, stage)], as_json,
             columns=["rater_a", "rater_b", "n", "percent_agreement", "kappa"])


@review_app.command("retrieval")
def retrieval(record: int = typer.Argument(..., help="Record id (as review records lists it)."), project: str = PROJECT_OPTION, by: str = typer.Option(..., "--by", help="Who makes this change (kept with it in the log)."),
              retrieved: bool = typer.Option(..., "--retrieved/--not-retrieved", help="Whether the full text was obtained."),
              note: Optional[str] = typer.Option(None, "--note", help="A free-text note kept with the entry."), as_json: bool = JSON_OPTION) -> None:
    """Record whether the full text of a record could be obtained."""
    from ..review.screening import set_retrieval
    from .output import show
    with open_project(project) as p:
        set_retrieval(p, record, retrieved=retrieved, by=by, note=note)
        show({"record": record, "retrieved": retrieved}, as_json)


@review_app.command("study")
def study(record: int = typer.Argument(..., help="Record id (as review records lists it)."), label: str = typer.Argument(..., help="Study label."),
          project: str = PROJECT_OPTION, by: Optional[str] = typer.Option(None, "--by", help="Who makes this change (kept with it in the log)."), as_json: bool = JSON_OPTION) -> None:
    """Assign an included report to a study (reports with one label are one study)."""
    from ..review.screening import assign_study, study_labels
    from .output import show
    with open_project(project) as p:
        assign_study(p, record, label, by=by)
        show(study_labels(p), as_json)


@decisions_app.command("export")
def decisions_export(project: str = PROJECT_OPTION,
                     output: Optional[Path] = typer.Option(None, "-o", "--output", help="CSV file (default stdout)."),
                     stage: Optional[str] = typer.Option(None, "--stage", "-s", help="Only this stage."),
                     sheet: bool = typer.Option(False, "--sheet", help="A sheet of records to screen, not the log."),
                     reviewer: Optional[str] = typer.Option(None, "--reviewer", "-r",
                                                            help="With --sheet: what this reviewer has left.")) -> None:
    """Export the decision log, or a screening sheet, as CSV."""
    from ..base.exceptions import SettingsError
    from ..review.screening import export_decisions, screening_sheet
    _check(output, project)
    with open_project(project) as p:
        if sheet:
            text = screening_sheet(p, stage=stage or "title_abstract", reviewer=reviewer)
        else:
            if reviewer:
                raise SettingsError("--reviewer goes with --sheet; the log export holds every reviewer")
            text = export_decisions(p, stage=stage)
    _write(text, output, project)


@decisions_app.command("import")
def decisions_import(file: Path = typer.Argument(..., help="The filled-in sheet to read (CSV or XLSX)."), project: str = PROJECT_OPTION,
                     reviewer: Optional[str] = typer.Option(None, "--reviewer", "-r",
                                                            help="Whose decisions (if the file has no reviewer column)."),
                     stage: Optional[str] = typer.Option(None, "--stage", "-s",
                                                         help="The stage (if the file has no stage column; "
                                                              "required with --from)."),
                     from_: Optional[str] = typer.Option(None, "--from",
                                                         help="The file is a screening tool's export: rayyan "
                                                              "(its CSV) or covidence (its CSV of votes)."),
                     name_map: List[str] = typer.Option([], "--name-map",
                                                        help="With --from: the tool's reviewer name and the "
                                                             "project's, NAME=REVIEWER (repeatable)."),
                     reason_map: List[str] = typer.Option([], "--reason-map",
                                                          help="With --from: the tool's exclusion reason and the "
                                                               "project's, TOOL=PROJECT (repeatable)."), as_json: bool = JSON_OPTION) -> None:
    """Import decisions from CSV (a filled-in sheet, an exported log, or a Rayyan or Covidence export); repeats are not logged twice."""
    from ..base.exceptions import SettingsError
    from .output import show
    if from_ is None:
        if name_map or reason_map:
            raise SettingsError("--name-map and --reason-map go with --from rayyan|covidence")
        from ..review.screening import import_decisions
        with open_project(project) as p:
            show(import_decisions(p, read_text_file(file), reviewer=reviewer, stage=stage), as_json)
        return
    if stage is None:
        raise SettingsError(f"say which stage the {from_} decisions are for (--stage ta or --stage ft)")
    if reviewer is not None:
        raise SettingsError("--reviewer is for sheets; a tool's export names its reviewers (map them with "
                            "--name-map NAME=REVIEWER)")
    from ..review.tool_decisions import import_tool_decisions
    with open_project(project) as p:
        show(import_tool_decisions(p, read_text_file(file), tool=from_, stage=stage,
                                         names=_pairs(name_map, "--name-map", "NAME=REVIEWER"),
                                         reasons=_pairs(reason_map, "--reason-map", "TOOL=PROJECT")), as_json)


# -- extraction ----------------------------------------------------------------------------------------------
@extract_app.command("form")
def extract_form(form: Path = typer.Argument(..., help="The form, in TOML."), project: str = PROJECT_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Set the extraction form."""
    from ..review.extraction import load_form, set_form
    from .output import show
    parsed = load_form(read_text_file(form))
    with open_project(project) as p:
        set_form(p, parsed)
    show(parsed.to_dict(), as_json)


@extract_app.command("template")
def extract_template(project: str = PROJECT_OPTION,
                     output: Optional[Path] = typer.Option(None, "-o", "--output", help="The file to write (default: standard output).")) -> None:
    """An empty extraction sheet (one row per included study) for an extractor to fill in."""
    from ..review.extraction import template
    _check(output, project)
    with open_project(project) as p:
        _write(template(p), output, project)


@extract_app.command("import")
def extract_import(file: Path = typer.Argument(..., help="The filled-in sheet to read (CSV or XLSX)."), project: str = PROJECT_OPTION,
                   extractor: str = typer.Option(..., "--extractor", "-e", help="The person who extracted the values (kept with each value)."), as_json: bool = JSON_OPTION) -> None:
    """Import one extractor's values from a filled-in sheet."""
    from ..review.extraction import import_values
    from .output import show
    with open_project(project) as p:
        show({"extractor": extractor, "values": import_values(p, read_text_file(file), extractor=extractor)}, as_json)


@extract_app.command("enter")
def extract_enter(project: str = PROJECT_OPTION, extractor: str = typer.Option(..., "--extractor", "-e", help="The person who extracted the values (kept with each value)."),
                  study: str = typer.Option(..., "--study", help="The study's label, as in the extraction sheet.")) -> None:
    """Enter one study's values at the terminal, field by field."""
    from rich.console import Console
    from rich.prompt import Prompt

    from ..review.extraction import enter_values
    console = Console()

    def ask(field, previous):
        label = field.label or field.name
        question = f"{label} [dim]({field.describe()})[/]"
        if previous:
            return Prompt.ask(question, default=previous, console=console)
        return Prompt.ask(question, console=console)

    with open_project(project) as p:
        n = enter_values(p, extractor=extractor, study=study, ask=ask,
                         tell=lambda message: console.print(f"[red]{message}[/]"))
    console.print(f"{n} values saved for {study}")


@review_app.command("discrepancies")
def discrepancies(project: str = PROJECT_OPTION,
                  all_: bool = typer.Option(False, "--all", help="Every field, not only those needing a decision."),
                  output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write CSV here instead of a table."), as_json: bool = JSON_OPTION) -> None:
    """Field-by-field comparison of the extractors' values."""
    from ..review.extraction import discrepancies as report
    _check(output, project)
    with open_project(project) as p:
        rows = report(p)
    open_items(rows, all_, output, ["study", "field", "status", "values", "final", "adjudicator", "reason"],
               lambda r: [r["study"], r["field"], r["status"], "; ".join(f"{k}={v}" for k, v in r["values"].items()),
                          r["final"] or "", r["adjudicator"] or "", r["reason"] or ""],
               write=lambda text, out: _write(text, out, project), as_json=as_json)


def open_items(rows, all_: bool, output: Optional[Path], header: List[str], cells, write,
               as_json: bool = False) -> None:
    """Discrepancy rows, only those needing a decision unless ``all_``: on the screen a table of the
    CSV's columns (JSON with ``as_json``), or CSV with ``header`` and ``cells(row)`` written by
    ``write(text, output)``."""
    import csv
    import io

    from .output import show
    if not all_:
        rows = [r for r in rows if r["status"] in ("differ", "incomplete")]
    if output is None:
        show(rows if as_json else [dict(zip(header, cells(r))) for r in rows], as_json)
        return
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    from ..base.outputs import spreadsheet_safe
    for r in rows:
        writer.writerow([spreadsheet_safe(v) for v in cells(r)])
    write(buf.getvalue(), output)


@review_app.command("adjudicate")
def adjudicate(project: str = PROJECT_OPTION, study: str = typer.Option(..., "--study", help="The study's label, as in the extraction sheet."),
               field: str = typer.Option(..., "--field", help="The extracted field to settle."),
               value: str = typer.Option(..., "--value", help="The agreed value ('' for not reported)."),
               by: str = typer.Option(..., "--by", help="Who makes this change (kept with it in the log)."), reason: str = typer.Option(..., "--reason", help="Why (kept with the entry; for an exclusion, the exclusion reason)."), as_json: bool = JSON_OPTION) -> None:
    """Record the agreed value of a field, who decided and why."""
    from ..review.extraction import adjudicate as record
    from .output import show
    with open_project(project) as p:
        final = record(p, study=study, field=field, value=value, by=by, reason=reason)
    show({"study": study, "field": field, "value": final, "adjudicator": by, "reason": reason}, as_json)


@review_app.command("export")
def export(project: str = PROJECT_OPTION, output: Path = typer.Option(..., "-o", "--output", help="The analysis CSV."),
           provenance: Optional[Path] = typer.Option(None, "--provenance",
                                                     help="Provenance CSV (default: OUTPUT with .provenance.csv)."), as_json: bool = JSON_OPTION) -> None:
    """Write the adjudicated table as the analysis CSV, with a provenance table beside it."""
    from ..base.exceptions import OutputError
    from ..base.outputs import check_output, write_file
    from ..review.extraction import export_analysis
    from .output import show
    prov_path = provenance or output.with_name(output.stem + ".provenance.csv")
    if Path(os.path.realpath(prov_path)) == Path(os.path.realpath(output)):
        raise OutputError(f"--provenance {prov_path} is the analysis CSV itself; give it another name")
    for target in (output, prov_path):
        check_output(target, inputs=project_inputs(project))
    with open_project(project) as p:
        table, prov = export_analysis(p)
    write_file(output, table, inputs=project_inputs(project))
    write_file(prov_path, prov, inputs=project_inputs(project))
    from .output import wrote
    wrote(output)
    wrote(prov_path)
    import csv
    import io
    n_studies = sum(1 for _ in csv.DictReader(io.StringIO(table)))
    show({"analysis": str(output), "provenance": str(prov_path), "studies": n_studies}, as_json)


@review_app.command("export-records")
def export_records(project: str = PROJECT_OPTION,
                   output: Optional[Path] = typer.Option(None, "-o", "--output",
                                                         help="The file to write (default: standard output)."),
                   format: Optional[str] = typer.Option(None, "--format", "-f",
                                                        help="csv, ris or bibtex (default: from the output's "
                                                             "extension .csv/.ris/.bib, else csv)."),
                   included: Optional[str] = typer.Option(None, "--included",
                                                          help="Only the records included at this stage: "
                                                               "title_abstract (ta) or full_text (ft)."),
                   primaries: bool = typer.Option(False, "--primaries", help="One record per cluster.")) -> None:
    """Records as CSV (importable again with 'review import'), RIS or BibTeX (for a reference manager)."""
    import sys

    from ..base.exceptions import SettingsError
    from ..review.exchange import export_records as export
    if included is not None and primaries:
        raise SettingsError("--included already gives one record per included cluster; drop --primaries")
    _check(output, project)
    fmt = format or {".ris": "ris", ".bib": "bibtex", ".bibtex": "bibtex"}.get(
        output.suffix.lower() if output is not None else "", "csv")
    with open_project(project) as p:
        text = export(p, format=fmt, included=included, primaries_only=primaries)
        if fmt != "csv":
            from ..review.exchange import select_records
            chosen = select_records(p, included=included, primaries_only=primaries)
            left_out = sum(r["status"] != "ok" for r in chosen)
            if left_out:
                sys.stderr.write(f"{left_out} record(s) that could not be parsed are left out of the {fmt} file "
                                 f"(export them with --format csv)\n")
    _write(text, output, project)


@review_app.command("prisma")
def prisma(project: str = PROJECT_OPTION,
           output: Optional[Path] = typer.Option(None, "-o", "--output",
                                                 help="counts.json, counts.toml or prisma2020.csv."),
           format: Optional[str] = typer.Option(None, "--format", "-f",
                                                help="json, toml or prisma2020 (the PRISMA2020 app's CSV template); "
                                                     "default: from the output's extension, else json."),
           partial: bool = typer.Option(False, "--partial", help="Write the boxes known so far if screening is unfinished.")
           ) -> None:
    """PRISMA 2020 counts derived from the project, for 'metareview prisma' or the PRISMA2020 app."""
    from ..base.exceptions import SettingsError
    from ..review.prisma import prisma_counts, to_json, to_prisma2020_csv, to_toml
    suffix = output.suffix.lower() if output is not None else ""
    fmt = (format or {".toml": "toml", ".csv": "prisma2020"}.get(suffix, "json")).lower()
    writers = {"json": to_json, "toml": to_toml, "prisma2020": to_prisma2020_csv}
    if fmt not in writers:
        raise SettingsError(f"unknown counts format {format!r}; formats are {list(writers)}")
    if fmt == "prisma2020" and partial:
        raise SettingsError("the PRISMA2020 template needs every box; finish screening or write json/toml with "
                            "--partial")
    _check(output, project)
    with open_project(project) as p:
        doc = prisma_counts(p, partial=partial)
    _write(writers[fmt](doc), output, project)


# -- accounts -------------------------------------------------------------------------------------------------
def _read_password(stdin: bool) -> str:
    import sys
    if stdin:
        return sys.stdin.readline().rstrip("\r\n")
    from ..base.exceptions import DataError
    first = typer.prompt("Password", hide_input=True)
    if typer.prompt("Repeat it", hide_input=True) != first:
        raise DataError("the two passwords differ", column="password", rule="password")
    return str(first)


@user_app.command("add")
def user_add(name: str = typer.Argument(..., help="Account name, as the decision log will record it."),
             role: str = typer.Option(..., "--role", help="owner, reviewer or adjudicator."),
             project: str = PROJECT_OPTION,
             password_stdin: bool = typer.Option(False, "--password-stdin",
                                                 help="Read the password from the first line of standard input "
                                                      "instead of prompting."), as_json: bool = JSON_OPTION) -> None:
    """Create an account (the password is asked for, or read with --password-stdin; only its hash is kept)."""
    from ..review.accounts import add_user, check_name, check_role
    from ..web.auth import hash_password
    from .output import show
    check_name(name)
    check_role(role)
    digest = hash_password(_read_password(password_stdin))
    with open_project(project) as p:
        user = add_user(p, name, role=role, password_hash=digest)
        show(user.to_dict(), as_json)


@user_app.command("list")
def user_list(project: str = PROJECT_OPTION, as_json: bool = JSON_OPTION) -> None:
    """The accounts, including removed ones (with when they were removed)."""
    from ..review.accounts import list_users
    from .output import show
    with open_project(project) as p:
        show([u.to_dict() for u in list_users(p)], as_json)


@user_app.command("remove")
def user_remove(name: str = typer.Argument(..., help="The account to remove."), project: str = PROJECT_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Stop an account from signing in; its decisions stay in the log under its name."""
    from ..review.accounts import remove_user
    from .output import show
    with open_project(project) as p:
        show(remove_user(p, name).to_dict(), as_json)
