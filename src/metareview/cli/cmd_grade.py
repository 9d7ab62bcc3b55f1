"""``metareview grade``: GRADE certainty and a summary-of-findings row for one outcome of a study table."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .cmd_pool import analyse_options, with_pool_options

SOF_SUFFIXES = (".csv", ".docx", ".html", ".json")


def parse_ratings(items: List[str]) -> dict[str, tuple[str, str]]:
    """``--rate DOMAIN=RATING:REASON`` options as overrides for :func:`metareview.appraisal.grade.grade`."""
    from ..base.exceptions import SettingsError
    out = {}
    for item in items:
        if "=" not in item or ":" not in item.split("=", 1)[1]:
            raise SettingsError(f"--rate takes DOMAIN=RATING:REASON (e.g. indirectness=serious:'older patients'), "
                                f"not {item!r}")
        domain, rest = item.split("=", 1)
        rating, reason = rest.split(":", 1)
        out[domain.strip().lower().replace("-", "_")] = (rating.strip(), reason.strip())
    return out


def register(app: typer.Typer) -> None:
    @app.command("grade")
    @with_pool_options
    def grade_cmd(
        data: Path = typer.Argument(..., help="Study table: CSV, TSV or XLSX; design read from column names."),
        outcome: str = typer.Option(..., "--outcome", help="The outcome's name, as the table shows it."),
        design: str = typer.Option("randomised", "--design", help="randomised (starts high) or observational (starts low)."),
        threshold: Optional[List[float]] = typer.Option(None, "--threshold", help="Decision threshold on the natural scale (repeatable): imprecision and inconsistency; default the measure's null."),
        ois: Optional[float] = typer.Option(None, "--ois", help="Optimal information size (participants)."),
        baseline_risk: Optional[float] = typer.Option(None, "--baseline-risk", help="Assumed comparator risk for absolute effects of OR/RR (default: median of the comparator groups)."),
        rate: Optional[List[str]] = typer.Option(None, "--rate", help="Your rating of a domain: DOMAIN=RATING:REASON (repeatable); replaces the suggestion."),
        project: Optional[str] = typer.Option(None, "--project", "-p", help="Take the outcome's ratings logged with 'review grade rate' from this project (a file or a postgresql:// URL)."),
        not_assessed: Optional[str] = typer.Option(None, "--not-assessed", help="Text for domains left unrated (e.g. 'not assessed in the paper')."),
        output: Optional[Path] = typer.Option(None, "--output", "-o", help="Summary of findings: .csv, .docx, .html or .json (default: text on the screen)."),
        *,
        pool: dict,
    ) -> None:
        """GRADE one outcome: the five domains (suggested from the numbers or rated by you) and the certainty."""
        from ..appraisal.grade import grade
        from ..appraisal.rob import load_tool
        from ..base.exceptions import SettingsError
        from ..base.outputs import check_output

        if output is not None and output.suffix.lower() not in SOF_SUFFIXES:
            raise SettingsError(f"name the output {', '.join(SOF_SUFFIXES)}, not {output.name!r}")
        if output is not None:
            from ..review.backends import is_url
            check_output(output, [data, pool.get("rob"), None if is_url(project) else project])
        result = analyse_options(data, pool)
        overrides: dict = {}
        if project is not None:
            from ..review.certainty import overrides as stored
            from ..review.project import Project
            with Project.open(project) as p:
                overrides.update(stored(p, outcome))
        overrides.update(parse_ratings(rate or []))
        rob = None
        if "rob" in result.covariates:
            rob = dict(zip((str(s) for s in result.studlab), (str(x) for x in result.covariates["rob"])))
        g = grade(result, outcome=outcome, design=design, thresholds=threshold or (), ois=ois, rob=rob,
                  rob_tool=load_tool(pool.get("rob_tool") or "generic"), overrides=overrides,
                  baseline_risk=baseline_risk, not_assessed=not_assessed)
        if output is None:
            typer.echo(str(g), nl=False)
            return
        write_sof([g], output, f"Summary of findings: {outcome}")
        from .output import wrote
        wrote(output)


def write_sof(assessments, output: Path, title: str) -> None:
    """Write the summary of findings as CSV, Word, a standalone HTML page or JSON, by suffix."""
    from ..base.outputs import write_file
    from ..report.sof import sof_csv, sof_docx, sof_table
    suffix = output.suffix.lower()
    if suffix == ".csv":
        write_file(output, sof_csv(assessments))
    elif suffix == ".docx":
        write_file(output, sof_docx(assessments, title))
    elif suffix == ".json":
        from .output import dumps
        write_file(output, dumps([g.to_dict() for g in assessments]) + "\n")
    else:
        from ..base.report import Report
        from ..report.html import render_html
        write_file(output, render_html(Report([sof_table(assessments, title)]), title=title))
