"""``metareview rob``: risk-of-bias tools and figures from a robvis table."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._tree import SETTINGS

rob_app = typer.Typer(name="rob", no_args_is_help=True, add_completion=False,
                      help="Risk of bias: the assessment tools and robvis-style figures.", **SETTINGS)


def register(app: typer.Typer) -> None:
    app.add_typer(rob_app, name="rob")


@rob_app.command("plot")
def plot(data: Path = typer.Argument(..., help="Judgments in robvis's layout: Study, D1..Dn, Overall[, Weight] (CSV, TSV or XLSX)."),
         output: Path = typer.Option(..., "--output", "-o", help="Figure to write: .png, .svg or .pdf."),
         type_: str = typer.Option("traffic-light", "--type", help="traffic-light or summary."),
         tool: Optional[str] = typer.Option(None, "--tool", help="rob2, robins-i, quadas-2, jbi-case-series (default: generic, domains named by the table)."),
         unweighted: bool = typer.Option(False, "--unweighted", help="Summary plot: count studies even when the table has a Weight column."),
         dpi: float = typer.Option(300, "--dpi", help="Resolution of PNG output.")) -> None:
    """Traffic-light or summary plot of a risk-of-bias table, as robvis draws them."""
    from ..appraisal.rob import read_robvis
    from ..base.exceptions import SettingsError
    from ..base.outputs import check_output
    from ..plots.forest import check_dpi
    from ..plots.rob import PLOT_TYPES

    if type_ not in PLOT_TYPES:
        raise SettingsError(f"--type takes {' or '.join(PLOT_TYPES)}, not {type_!r}")
    check_dpi(dpi)
    check_output(output, [data])
    table = read_robvis(data, tool)
    import matplotlib
    matplotlib.use("Agg")
    from ..plots.rob import rob_summary, traffic_light
    display = traffic_light(table) if type_ == "traffic-light" else rob_summary(table, weighted=False if unweighted else None)
    display.savefig(output, dpi=dpi, inputs=[data])
    from .output import wrote
    wrote(output)


@rob_app.command("tools")
def tools() -> None:
    """The assessment tools: id, name, domains and citation."""
    from ..appraisal.rob import load_tool, tool_names
    for name in tool_names():
        t = load_tool(name)
        typer.echo(f"{t.id:16} {t.name} ({len(t.domains) or 'table-named'} domains): {t.citation}")


@rob_app.command("show")
def show(tool: str = typer.Argument(..., help="A tool id or the path of a tool file.")) -> None:
    """A tool's domains, signalling questions and answers, as JSON."""
    from ..appraisal.rob import load_tool
    from .output import print_json
    print_json(load_tool(tool).to_dict())
