"""Risk of bias and GRADE in a review run: the figures of each data source's judgments, and the
certainty of each graded outcome with its summary-of-findings table."""

from __future__ import annotations

from .plan import PlanError, ReviewPlan
from .analyses import AnalysisRun
from .figures import FigureFile, FigureJob, save_figure


def grade_all(plan: ReviewPlan, runs: dict[str, AnalysisRun]) -> list:
    """GRADE of every ``[grade.ANALYSIS]`` of the plan, from the analysis' pooled result."""
    from ..base.exceptions import MetaReviewError
    from ..appraisal.grade import grade
    from ..appraisal.rob import load_tool

    out = []
    for spec in plan.grade:
        run = runs[spec.analysis]
        result = run.main.result
        source = plan.data[run.analysis.data]
        rob = None
        if "rob" in result.covariates:
            rob = dict(zip((str(s) for s in result.studlab), (str(x) for x in result.covariates["rob"])))
        try:
            out.append(grade(result, outcome=spec.outcome, design=spec.design, thresholds=spec.thresholds,
                             ois=spec.ois, rob=rob, rob_tool=load_tool(source.rob_tool or "generic"),
                             overrides=dict(spec.rate), baseline_risk=spec.baseline_risk,
                             not_assessed=spec.not_assessed or None))
        except MetaReviewError as exc:
            raise PlanError(str(exc), path=plan.path, where=f"[grade.{spec.analysis}]") from None
    return out


def rob_figure_jobs(plan: ReviewPlan) -> list[FigureJob]:
    """Traffic-light and summary plots of every data source that has a risk-of-bias table
    (the tables are read and checked here; the drawing is left to :mod:`.figures`)."""
    from ..appraisal.rob import read_robvis

    out = []
    for name, src in plan.data.items():
        if src.rob is None:
            continue
        table = read_robvis(src.rob, src.rob_tool)
        tool = table.tool.name
        out.append(FigureJob(f"rob_{name}_traffic_light", rob_figure,
                             ("traffic_light", table, f"rob_{name}_traffic_light",
                              f"Risk of bias ({tool}): {src.rob.name}",
                              "Each study's judgment in each domain and overall (robvis layout).", plan.dpi),
                             cost=1.0 + len(table.studies) / 2))
        out.append(FigureJob(f"rob_{name}_summary", rob_figure,
                             ("summary", table, f"rob_{name}_summary", f"Risk of bias ({tool}): summary",
                              "Share of " + ("the weight" if table.weights is not None else "studies") +
                              " at each judgment, per domain and overall.", plan.dpi),
                             cost=1.0 + len(table.domains) / 2))
    return out


def rob_figure(kind: str, table, name: str, title: str, caption: str, dpi: int) -> FigureFile:
    """A risk-of-bias figure of a read table: ``kind`` "traffic_light" or "summary"."""
    from ..plots.rob import rob_summary, traffic_light

    display = traffic_light(table) if kind == "traffic_light" else rob_summary(table)
    return save_figure(display.figure_, name, title, caption, dpi=dpi)


def grade_blocks(plan: ReviewPlan, assessments: list) -> list:
    """The report's GRADE section: the summary of findings, then each outcome's domains."""
    from ..appraisal.grade import CERTAINTY, DESIGNS, DOMAIN_LABELS
    from ..base.report import Heading, Paragraph, Table
    from ..report.sof import sof_table

    blocks = [Heading("Certainty of the evidence (GRADE)", 2, anchor="grade"),
              sof_table(assessments, "Summary of findings")]
    for spec, g in zip(plan.grade, assessments):
        blocks.append(Heading(g.outcome, 3, anchor=f"grade-{spec.analysis}"))
        start = f"{'Randomised' if g.design == 'randomised' else 'Observational'} evidence starts at " \
                f"{CERTAINTY[DESIGNS[g.design]]} certainty."
        if spec.thresholds:
            start += (f" Decision threshold{'s' if len(spec.thresholds) > 1 else ''} "
                      f"{', '.join(f'{t:g}' for t in spec.thresholds)}: {spec.threshold_reason}")
        blocks.append(Paragraph(start))
        blocks.append(Table(["Domain", "Rating", "Suggested from the numbers", "Explanation"],
                            [[DOMAIN_LABELS[d.domain], d.rating or "not assessed", d.suggested or "—",
                              d.explanation()] for d in g.domains], align="llll"))
        blocks.append(Paragraph(f"Certainty: {g.certainty_text()}."))
    return blocks
