"""Running a review from its analysis plan (``review.toml``): ``metareview run DIR``.

The steps: read the plan (:mod:`metareview.run.plan`), read and check the data
(:mod:`.data`), derive each analysis table (:mod:`.derive`), pool (:mod:`.analyses`),
compute Table 1 (:mod:`.table1`), compare with the paper (:mod:`.compare`), draw the
figures (:mod:`.figures`), build the report (:mod:`.document`) and write everything
(:mod:`.outputs`).  Nothing is written until everything has been computed.
"""

from __future__ import annotations

import io
import platform
from dataclasses import dataclass
from pathlib import Path

from .analyses import AnalysisRun
from .outputs import OutputExistsError, check_target
from .progress import Steps

__all__ = ["run_review", "ReviewRun", "OutputExistsError", "example_path", "EXAMPLES", "software_versions"]

#: Examples bundled with the package: short name -> folder under metareview/data/examples.
EXAMPLES = {"mrgfus": "mrgfus-bone-metastases"}


def example_path(name: str) -> Path:
    """The folder of a bundled example review."""
    from importlib import resources

    from .plan import PlanError

    if name not in EXAMPLES:
        raise PlanError(f"unknown example {name!r}; bundled examples: {', '.join(EXAMPLES)}")
    return Path(str(resources.files("metareview") / "data" / "examples" / EXAMPLES[name]))


def software_versions(matplotlib: str | None = None) -> dict[str, str]:
    """The versions of what computed and drew a run (``matplotlib``: the version that drew the
    figures when known, e.g. from the worker processes, so that this process need not load it)."""
    import numpy
    import pandas
    import scipy

    from ..base.version import __version__

    if matplotlib is None:
        import matplotlib as drawing
        matplotlib = drawing.__version__
    return {"metareview": __version__, "numpy": numpy.__version__, "scipy": scipy.__version__,
            "pandas": pandas.__version__, "matplotlib": matplotlib, "Python": platform.python_version()}


@dataclass(frozen=True)
class ReviewRun:
    out: Path
    files: list
    results: dict
    comparison: list


def run_review(target: str | Path, out: str | Path | None = None, *, force: bool = False,
               steps: Steps | None = None, workers: int | None = None) -> ReviewRun:
    """Run the plan at ``target`` (a folder with ``review.toml``, or the file) into ``out``.

    ``out`` defaults to ``<folder>/output``.  An existing output folder is replaced only
    with ``force=True``.  The figures are drawn by ``workers`` processes (None: one per
    core; 1: in this process), with the same files either way.  Returns the paths written,
    the results document and the comparison with the paper.
    """
    from .figures import FigureRenderer

    steps = steps or Steps(enabled=False)
    with FigureRenderer(workers) as renderer:
        return _run(target, out, force, steps, renderer)


def _run(target, out, force: bool, steps: Steps, renderer) -> ReviewRun:
    from ..base.jsondoc import dumps
    from ..report.html import render_html
    from .analyses import run_analysis
    from .certainty import grade_all, rob_figure_jobs
    from .compare import compare_all
    from .data import load_data
    from .derive import derive_table
    from .document import build_report
    from .figures import FigureJob, prisma_figure
    from .outputs import write_output
    from .plan import load_plan
    from .table1 import compute_table1

    with steps("Reading the analysis plan"):
        plan = load_plan(target)
    out = Path(out) if out is not None else plan.root / "output"
    inputs = _inputs(plan)
    check_target(out, force, inputs)
    # Each figure is submitted as soon as what it shows is known: the workers draw while this
    # process reads the data, runs the next analysis and writes the tables.
    if plan.prisma is not None:
        renderer.submit([FigureJob("prisma", prisma_figure, (plan.prisma, "prisma", plan.dpi), cost=5.0)])
    with steps(f"Reading and checking {', '.join(s.file.name for s in plan.data.values())}"):
        loaded = load_data(plan)
    runs: dict[str, AnalysisRun] = {}
    for a in plan.analyses:
        with steps(f"Analysis {a.name}: {a.title}"):
            table = derive_table(a, loaded[a.data], plan)
            runs[a.name] = run_analysis(table, plan)
        renderer.submit(_analysis_figure_jobs(runs[a.name], plan))
    with steps("Table 1 and the comparison with the paper"):
        table1 = compute_table1(plan, loaded[plan.table1_data]) if plan.table1_data else []
        comparison = compare_all(plan, runs, table1)
    with steps("Risk of bias and GRADE"):
        grades = grade_all(plan, runs)
    renderer.submit(rob_figure_jobs(plan))
    with steps("Tables"):
        files = _tables(loaded, runs, table1, comparison)
        if grades:
            from ..report.sof import sof_csv, sof_docx
            files["tables/summary_of_findings.csv"] = sof_csv(grades).encode("utf-8")
            files["tables/summary_of_findings.docx"] = sof_docx(grades, f"Summary of findings: {plan.title}")
    # The page's template engine is loaded now, while the first worker is still loading the
    # drawing or the workers draw: after the figures, the report is the run's serial tail.
    import jinja2  # noqa: F401

    with steps(f"{renderer.submitted} figures as PNG, SVG and PDF") as show:
        figures = renderer.collect(lambda done, total, name: show(f"figure {done}/{total} ({name})"))
    # the workers leave (their memory is given back) while the report is made and the files written
    renderer.release()
    versions = software_versions(renderer.matplotlib_version())
    with steps("Report and results.json"):
        results = _results(plan, loaded, runs, table1, comparison, figures, versions)
        if grades:
            results["grade"] = [g.to_dict() for g in grades]
        report = build_report(plan, loaded, runs, table1, comparison, figures, versions, grades)
        page = render_html(report, title=plan.title, subtitle=plan.citation,
                           footer=f"Made by metareview {versions['metareview']} from {plan.path.name}; "
                                  f"every number is computed from the data at run time.")
        files = {"results.json": (dumps(results) + "\n").encode("utf-8"), "report.html": page.encode("utf-8"),
                 **files}
        for f in figures:
            for ext, data in f.files.items():
                files[f"figures/{f.name}.{ext}"] = data
    with steps(f"Writing {out}"):
        paths = write_output(out, files, force, inputs)
    steps.done(f"Wrote {len(paths)} files to {out}")
    return ReviewRun(out=out, files=paths, results=results, comparison=comparison)


def _inputs(plan) -> list[Path]:
    """Every file the run reads: no output may hold or replace one of them."""
    files = [plan.path, plan.prisma]
    for src in plan.data.values():
        files += [src.file, src.columns]
    return [f for f in files if f is not None]


def _analysis_figure_jobs(run: AnalysisRun, plan) -> list:
    """Forest plots of an analysis, of its sensitivity analyses and of its subgroup analyses."""
    from .figures import FigureJob, forest_figure
    from .plan import PlanError

    a = run.analysis
    jobs = []

    def on_error(exc: Exception) -> Exception:
        return PlanError(f"forest plot: {exc}", path=plan.path, line=a.line, where=f"[analysis.{a.name}] forest")

    def job(result, name: str, title: str, cap: str, rows: float) -> FigureJob:
        # drawing time grows with the rows times the study data columns (where the numbers
        # differ from row to row) plus one (measured on the example's figures)
        columns = 1 + len(getattr(result, "overall", result).data)
        return FigureJob(name, forest_figure, (result, name, title, cap, a.forest, plan.dpi), cost=rows * columns,
                         on_error=on_error)

    for fit in run.fits():
        if ("forest" if fit.sensitivity is None else "sensitivity") in a.figures:
            title = a.title if fit.sensitivity is None else f"{a.title}: {fit.sensitivity.title}"
            cap = f"Forest plot: {a.outcome or a.title}." + (
                f" {', '.join(fit.sensitivity.exclude)} shown but not pooled." if fit.sensitivity else "")
            jobs.append(job(fit.result, f"{fit.name}_forest", title, cap, len(fit.result.studlab) + 4))
    if "subgroups" in a.figures:
        for col, sub in run.subgroups.items():
            jobs.append(job(sub, f"{a.name}_subgroups_{col}", f"{a.title} by {col}",
                            f"Forest plot by subgroup ({col}), with the test for subgroup differences.",
                            len(run.table.frame) + 4 * len(getattr(sub, "groups", ())) + 4))
    return jobs


def _results(plan, loaded, runs, table1, comparison, figures, versions) -> dict:
    doc: dict = {"review": {"title": plan.title, "citation": plan.citation, "plan": plan.path.name,
                            "data": {n: {"file": ld.source.file.name, "rows": int(len(ld.printed)),
                                         "encoding": ld.printed.attrs.get("encoding", "utf-8")}
                                     for n, ld in loaded.items()}},
                 "software": versions}
    for run in runs.values():
        a = run.analysis
        for fit in run.fits():
            d = fit.result.to_dict()
            info = {"title": a.title, "outcome": a.outcome, "data": a.data, "columns": dict(a.columns),
                    "studies": run.table.studies, "patients": run.table.patients,
                    "left_out": list(run.table.left_out), "flagged": list(run.table.flagged),
                    "imputations": [{"column": i.column, "method": i.method, "source": i.source} for i in a.impute],
                    "sensitivity_of": None, "exclude": [], "reason": None}
            if fit.sensitivity is not None:
                info.update(sensitivity_of=a.name, sensitivity=fit.sensitivity.name,
                            exclude=list(fit.sensitivity.exclude), reason=fit.sensitivity.reason,
                            notes=list(fit.notes))
            d["analysis"] = info
            d["methods"] = fit.result.methods()
            for k, v in fit.additional.items():
                d[k] = v
            if fit.sensitivity is None and run.subgroups:
                d["subgroups"] = {col: (s.to_dict() if hasattr(s, "to_dict") else s)
                                  for col, s in run.subgroups.items()}
            doc[fit.name] = d
    doc["checks"] = {n: ld.checks.to_dict() for n, ld in loaded.items() if ld.checks is not None}
    doc["table1"] = [v.to_dict() for v in table1]
    doc["comparison"] = [v.to_dict() for v in comparison]
    doc["not_reproducible"] = [{"label": x.label, "paper": x.paper, "reason": x.reason, "source": x.source}
                               for x in plan.not_reproducible]
    doc["figures"] = sorted(f"figures/{f.name}.{ext}" for f in figures for ext in f.files)
    return doc


def _csv(frame) -> bytes:
    buf = io.StringIO()
    frame.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue().encode("utf-8")


def _tables(loaded, runs, table1, comparison) -> dict[str, bytes]:
    import pandas as pd

    files = {}
    cols = ["label", "source", "paper", "ours_full", "ours_printed", "verdict", "why"]
    files["tables/comparison.csv"] = _csv(pd.DataFrame([{k: v.to_dict()[k] for k in cols} for v in comparison],
                                                       columns=cols))
    if table1:
        files["tables/table1.csv"] = _csv(pd.DataFrame(
            [{"key": v.row.key, "characteristic": v.row.label, "ours": v.text, "paper": v.row.paper or ""}
             for v in table1]))
    rows = []
    for run in runs.values():
        for fit in run.fits():
            d = fit.result.to_dict()
            bt = d["backtransformed"]
            for model in ("common", "random"):
                b = bt[model] if bt else d[model]
                rows.append({"analysis": fit.name, "model": model, "k": d["k"], "measure": d["measure"],
                             "method_tau2": d["method_tau2"], "estimate": b["estimate"], "ci_low": b["ci_low"],
                             "ci_high": b["ci_high"], "tau2": d["heterogeneity"]["tau2"],
                             "i2": d["heterogeneity"]["i2"], "q": d["heterogeneity"]["q"],
                             "q_p": d["heterogeneity"]["p"]})
            for key, a in fit.additional.items():
                rows.append({"analysis": fit.name, "model": key, "k": a["k"], "measure": "proportion",
                             "method_tau2": "ML" if key == "glmm" else "", "estimate": a["estimate"],
                             "ci_low": a["ci_low"], "ci_high": a["ci_high"], "tau2": a.get("tau2"),
                             "i2": a.get("i2"), "q": None, "q_p": None})
            files[f"tables/{fit.name}_studies.csv"] = _csv(fit.result.studies())
        files[f"tables/{run.analysis.name}_data.csv"] = _csv(run.table.frame)
    files["tables/analyses.csv"] = _csv(pd.DataFrame(rows))
    for name, ld in loaded.items():
        if ld.checks is not None:
            files[f"tables/checks_{name}.csv"] = _csv(ld.checks.summary())
    return files
