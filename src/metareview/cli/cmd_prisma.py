"""``metareview prisma``: a PRISMA 2020 flow diagram (Page et al. 2021, BMJ 372:n71) from a counts file."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("prisma")
    def prisma(
        counts: Path = typer.Argument(..., help="Counts as JSON or TOML (keys in docs/prisma-counts.md)."),
        output: Path = typer.Option(..., "--output", "-o", help="Figure to write: .png (300 dpi), .svg or .pdf."),
        allow_inconsistent: bool = typer.Option(False, "--allow-inconsistent",
                                                help="Draw counts that do not add up, with a warning, instead of stopping."),
        fmt: Optional[str] = typer.Option(None, "--format", help="png, svg or pdf (default: from the suffix of --output)."),
        font_size: float = typer.Option(7.0, "--font-size", help="Font size in points."),
        max_width: float = typer.Option(7.2, "--max-width", help="Width in inches the boxes share before they grow past it."),
    ) -> None:
        """Draw the PRISMA 2020 flow diagram of COUNTS; boxes without counts are left out."""
        import warnings

        from ..base.exceptions import MetaReviewWarning
        from ..base.outputs import check_output
        from ..plots.prisma import PrismaDiagram, resolve_format
        from .output import warn

        resolved = resolve_format(output, fmt)  # fail on a bad name before any drawing
        check_output(output, [counts])
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", MetaReviewWarning)
            diagram = PrismaDiagram.from_file(counts, strict=not allow_inconsistent,
                                              fontsize=font_size, max_width=max_width)
        for item in caught:
            if issubclass(item.category, MetaReviewWarning):
                warn(str(item.message))
            else:
                warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)
        # An Agg canvas of its own: no pyplot, no change to the process's backend.
        figure = Figure(figsize=diagram.size)
        FigureCanvasAgg(figure)
        diagram.plot(ax=figure.add_axes((0.0, 0.0, 1.0, 1.0)))
        diagram.save(output, format=resolved, inputs=[counts])
        from .output import wrote
        wrote(output)
