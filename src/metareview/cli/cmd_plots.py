"""``metareview forest`` and ``metareview funnel``: figures of one meta-analysis, written to a file.

The table is pooled with the same options as ``metareview pool``; the figure's format
(PNG at 300 dpi, SVG or PDF) follows the suffix of ``-o``.  matplotlib is imported inside
the commands, with the Agg backend, so that the command line starts quickly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .cmd_pool import analyse_options, with_pool_options


def _agg() -> None:
    import matplotlib
    matplotlib.use("Agg")


def _before_work(data: Path, output: Path, dpi: float, *more: Optional[Path]) -> list[Path]:
    """Check the output and the resolution before the table is read: return the command's inputs
    (the table, its declarations and ``more``, e.g. a risk-of-bias table)."""
    from ..base.outputs import check_output
    from ..plots.forest import check_dpi
    from ..tables.parse import sidecar_path

    check_dpi(dpi)
    inputs = [data, sidecar_path(data), *(m for m in more if m is not None)]
    check_output(output, inputs)
    return inputs


def _close(display) -> None:
    import matplotlib.pyplot as plt
    plt.close(display.figure_)


def register(app: typer.Typer) -> None:
    @app.command("forest")
    @with_pool_options
    def forest_cmd(
        data: Path = typer.Argument(..., help="Study table: CSV, TSV or XLSX; design read from column names."),
        output: Path = typer.Option(..., "--output", "-o", help="Figure to write: .png (300 dpi), .svg or .pdf."),
        layout: Optional[str] = typer.Option(None, "--layout", help="Layout: meta, revman5 or jama (default: the --preset's, else meta)."),
        sort: Optional[str] = typer.Option(None, "--sort", help="Order studies by a column (e.g. effect, weight_random, year); prefix - for descending."),
        percent: bool = typer.Option(False, "--percent", help="Proportions in %."),
        width: Optional[float] = typer.Option(None, "--width", help="Figure width in inches (default: as wide as the table needs)."),
        dpi: float = typer.Option(300, "--dpi", help="Resolution of PNG output."),
        cluster: Optional[str] = typer.Option(None, "--cluster", help="Column grouping the rows: the three-level model's forest plot, rows grouped by cluster (as metareview pool --cluster)."),
        row_labels: Optional[str] = typer.Option(None, "--row-labels", help="With --cluster: the column that labels the rows (e.g. the time point)."),
        *,
        pool: dict,
    ) -> None:
        """Forest plot of DATA: studies, weights, common and random effects, heterogeneity."""
        inputs = _before_work(data, output, dpi, pool.get("rob"))
        if width is not None and not (1 <= width <= 100):
            from ..base.exceptions import SettingsError
            raise SettingsError(f"--width must be between 1 and 100 inches, not {width:g}")
        result = analyse_options(data, pool)
        _agg()
        if cluster or row_labels:
            from ..base.exceptions import SettingsError
            from .cmd_pool import three_level

            if not cluster:
                raise SettingsError("--row-labels needs --cluster COLUMN")
            if layout not in (None, "meta") or sort or percent or pool.get("rob") is not None:
                raise SettingsError("with --cluster the forest plot has one layout: --layout, --sort, --percent "
                                    "and --rob are not offered")
            display = three_level(result, pool, cluster, False).forest(labels=row_labels, width=width)
        else:
            from ..plots.forest import forest

            rob = None
            if pool.get("rob") is not None:   # judgments as columns, as R meta's rob()
                from ..appraisal.rob import read_robvis
                rob = read_robvis(pool["rob"], pool.get("rob_tool"))
            display = forest(result, layout=layout, sort_by=sort, percent=percent, width=width, rob=rob)
        display.savefig(output, dpi=dpi, inputs=inputs)
        _close(display)
        from .output import wrote
        wrote(output)

    @app.command("funnel")
    @with_pool_options
    def funnel_cmd(
        data: Path = typer.Argument(..., help="Study table: CSV, TSV or XLSX; design read from column names."),
        output: Path = typer.Option(..., "--output", "-o", help="Figure to write: .png (300 dpi), .svg or .pdf."),
        contour: bool = typer.Option(False, "--contour", help="Shade the p < 0.10, 0.05 and 0.01 regions around the null."),
        contour_null: Optional[float] = typer.Option(None, "--contour-null", help="Null of the contours on the analysis scale (for measures without one, e.g. logit proportions)."),
        labels: bool = typer.Option(False, "--labels", help="Label each study."),
        pooled: Optional[str] = typer.Option(None, "--pooled", help="Centre of the pseudo CI: common (default) or random."),
        dpi: float = typer.Option(300, "--dpi", help="Resolution of PNG output."),
        *,
        pool: dict,
    ) -> None:
        """Funnel plot of DATA: estimates against standard errors with a pseudo 95% CI region."""
        inputs = _before_work(data, output, dpi, pool.get("rob"))
        result = analyse_options(data, pool)
        _agg()
        from ..plots.funnel import funnel

        display = funnel(result, contour=contour, labels=labels, pooled=pooled, contour_null=contour_null)
        display.savefig(output, dpi=dpi, inputs=inputs)
        _close(display)
        from .output import wrote
        wrote(output)
