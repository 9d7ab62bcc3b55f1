"""``metareview review rob`` and ``review grade``: dual risk-of-bias assessment and GRADE ratings in the project.

The commands call :mod:`metareview.review.assessment`; they add ``rob`` to the ``review``
command group.
"""

from pathlib import Path
from typing import Optional

import typer

from ._tree import SETTINGS
from .cmd_review import (
    JSON_OPTION,
    PROJECT_OPTION,
    open_items,
    open_project,
    project_inputs,
    read_text_file,
    review_app,
)

rob_review_app = typer.Typer(no_args_is_help=True,
                             help="Risk of bias: the tool, assessors' answers, discrepancies, adjudication, export.",
                             **SETTINGS)
grade_review_app = typer.Typer(no_args_is_help=True, help="GRADE ratings of the outcomes, with reasons.", **SETTINGS)
review_app.add_typer(rob_review_app, name="rob")
review_app.add_typer(grade_review_app, name="grade")

_OUTCOME = typer.Option("", "--outcome", help="Assess per outcome (RoB 2 assesses a result); default one per study.")


def register(app: typer.Typer) -> None:  # the group hangs under 'review', added above
    return None


def _emit(text: str, output: Optional[Path], *inputs) -> None:
    import sys

    from ..base.outputs import write_file
    if output is None or str(output) == "-":
        sys.stdout.write(text)
    else:
        write_file(output, text, inputs=inputs)
        from .output import wrote
        wrote(output)


@rob_review_app.command("tool")
def tool(name: str = typer.Argument(..., help="rob2, robins-i, quadas-2, jbi-case-series or a tool file."),
         project: str = PROJECT_OPTION,
         assessors: int = typer.Option(2, "--assessors", help="1, or 2 for independent dual assessment."), as_json: bool = JSON_OPTION) -> None:
    """Choose the project's risk-of-bias tool."""
    from ..review.assessment import set_tool
    from .output import show
    with open_project(project) as p:
        t = set_tool(p, name, assessors=assessors)
    show({"tool": t.id, "name": t.name, "assessors": assessors, "citation": t.citation}, as_json)


@rob_review_app.command("template")
def template(project: str = PROJECT_OPTION, outcome: str = _OUTCOME,
             output: Optional[Path] = typer.Option(None, "-o", "--output", help="The file to write (default: standard output).")) -> None:
    """An empty assessment sheet: one row per included study and item, with quote and page columns."""
    from ..review.assessment import template as sheet
    with open_project(project) as p:
        _emit(sheet(p, outcome), output, *project_inputs(project))


@rob_review_app.command("import")
def import_(file: Path = typer.Argument(..., help="A filled-in assessment sheet (CSV)."), project: str = PROJECT_OPTION,
            assessor: str = typer.Option(..., "--assessor", "-a", help="The person who assessed risk of bias (kept with each judgment)."), outcome: str = _OUTCOME, as_json: bool = JSON_OPTION) -> None:
    """Import one assessor's answers, judgments and their support."""
    from ..review.assessment import import_answers
    from .output import show
    with open_project(project) as p:
        n = import_answers(p, read_text_file(file), assessor=assessor, outcome=outcome)
    show({"assessor": assessor, "outcome": outcome, "entries": n}, as_json)


@rob_review_app.command("enter")
def enter(project: str = PROJECT_OPTION, assessor: str = typer.Option(..., "--assessor", "-a", help="The person who assessed risk of bias (kept with each judgment)."),
          study: str = typer.Option(..., "--study", help="The study's label, as in the extraction sheet."), outcome: str = _OUTCOME) -> None:
    """Answer one study's questions at the terminal (blank: not asked or left to the algorithm)."""
    from rich.console import Console
    from rich.prompt import Prompt

    from ..base.exceptions import DataError
    from ..review.assessment import OVERALL, canonical_entry, enter_answers, get_tool, items
    console = Console()
    with open_project(project) as p:
        t = get_tool(p)
        entries = []
        for domain, item, text in items(t):
            choices = [j.name for j in t.judgments] if item in (domain, OVERALL) else \
                list(t.question(item)[1].answers)
            while True:
                answer = Prompt.ask(f"[bold]{item}[/] {text} [dim]({'/'.join(choices)})[/]", default="",
                                    console=console, show_default=False)
                if not answer.strip():
                    break
                try:
                    canonical_entry(t, item, answer, study)
                except DataError as exc:
                    console.print(f"[red]{exc}[/]")
                    continue
                quote = Prompt.ask("  quote", default="", console=console, show_default=False)
                page = Prompt.ask("  page", default="", console=console, show_default=False)
                entries.append((item, answer, quote, page))
                break
        n = enter_answers(p, assessor=assessor, study=study, outcome=outcome, entries=entries)
    console.print(f"{n} entries saved for {study}")


@rob_review_app.command("discrepancies")
def discrepancies(project: str = PROJECT_OPTION, outcome: str = _OUTCOME,
                  all_: bool = typer.Option(False, "--all", help="Every item, not only those needing a decision."),
                  output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write CSV here instead of a table."),
                  as_json: bool = JSON_OPTION) -> None:
    """Question-by-question and domain-by-domain comparison of the assessors."""
    from ..review.assessment import discrepancies as report
    with open_project(project) as p:
        rows = report(p, outcome)

    def cells(r):
        support = "; ".join(f"{who}: {s['quote'] or ''} ({s['page'] or ''})" for who, s in r["support"].items())
        return [r["study"], r["domain"], r["item"], r["status"],
                "; ".join(f"{k}={'' if v is None else v}" for k, v in r["values"].items()), r["final"] or "",
                support, r["adjudicator"] or "", r["reason"] or ""]

    open_items(rows, all_, output, ["study", "domain", "item", "status", "values", "final", "support", "adjudicator",
                                    "reason"], cells, write=lambda text, out: _emit(text, out, *project_inputs(project)), as_json=as_json)


@rob_review_app.command("adjudicate")
def adjudicate(project: str = PROJECT_OPTION, study: str = typer.Option(..., "--study", help="The study's label, as in the extraction sheet."),
               item: str = typer.Option(..., "--item", help="A question (1.2), a domain (D1) or Overall."),
               value: str = typer.Option(..., "--value", help="The settled answer or judgment ('' for not asked)."),
               by: str = typer.Option(..., "--by", help="Who makes this change (kept with it in the log)."), reason: str = typer.Option(..., "--reason", help="Why (kept with the entry; for an exclusion, the exclusion reason)."),
               quote: Optional[str] = typer.Option(None, "--quote", help="The text that supports it."),
               page: Optional[str] = typer.Option(None, "--page", help="Where in the report the support is (page, table or figure)."), outcome: str = _OUTCOME, as_json: bool = JSON_OPTION) -> None:
    """Settle one question, domain or overall judgment, with who decided, why and the support."""
    from ..review.assessment import adjudicate as record
    from .output import show
    with open_project(project) as p:
        final = record(p, study=study, item=item, value=value, by=by, reason=reason, quote=quote, page=page,
                       outcome=outcome)
    show({"study": study, "item": item, "value": final, "adjudicator": by, "reason": reason}, as_json)


@rob_review_app.command("export")
def export(project: str = PROJECT_OPTION, outcome: str = _OUTCOME,
           output: Optional[Path] = typer.Option(None, "-o", "--output", help="robvis CSV (default: standard output).")
           ) -> None:
    """The settled judgments in robvis's layout (Study, D1..Dn, Overall), for 'rob plot' and 'pool --rob'."""
    from ..review.assessment import export_robvis
    with open_project(project) as p:
        _emit(export_robvis(p, outcome), output, *project_inputs(project))


@grade_review_app.command("rate")
def grade_rate(project: str = PROJECT_OPTION, outcome: str = typer.Option(..., "--outcome", help="The outcome, as named in the plan."),
               domain: str = typer.Option(..., "--domain", help="risk_of_bias, inconsistency, indirectness, "
                                                                 "imprecision or publication_bias."),
               rating: str = typer.Option(..., "--rating", help="not serious, serious or very serious."),
               reason: str = typer.Option(..., "--reason", help="Why (kept with the entry; for an exclusion, the exclusion reason)."), by: str = typer.Option(..., "--by", help="Who makes this change (kept with it in the log)."), as_json: bool = JSON_OPTION) -> None:
    """Rate one GRADE domain of an outcome, with the reason (used by 'metareview grade --project')."""
    from ..review.certainty import rate
    from .output import show
    with open_project(project) as p:
        show(rate(p, outcome=outcome, domain=domain, rating=rating, reason=reason, by=by), as_json)


@grade_review_app.command("ratings")
def grade_ratings(project: str = PROJECT_OPTION, outcome: Optional[str] = typer.Option(None, "--outcome", help="The outcome, as named in the plan."), as_json: bool = JSON_OPTION) -> None:
    """The current GRADE ratings of the outcomes."""
    from ..review.certainty import ratings
    from .output import show
    with open_project(project) as p:
        show(ratings(p, outcome), as_json)
