"""``metareview check DATA``: data checks on an extraction table."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer


def _parse_scale(text: str) -> tuple[str, tuple[float, float]]:
    from ..base.exceptions import DataError

    name, sep, bounds = text.partition("=")
    low, colon, high = bounds.partition(":")
    try:
        if not (sep and colon and name.strip()):
            raise ValueError
        return name.strip(), (float(low), float(high))
    except ValueError:
        raise DataError(f"--scale {text!r}: expected NAME=LOW:HIGH, e.g. pain=0:10", rule="option") from None


def register(app: typer.Typer) -> None:
    @app.command("check")
    def check(
        data: Path = typer.Argument(..., help="Extraction table: CSV, TSV or XLSX, cells as printed."),
        columns: Optional[Path] = typer.Option(
            None, "--columns", "-c",
            help="Column declarations (TOML). Default: DATA's sidecar <name>.columns.toml if it exists, "
                 "else inferred from column names."),
        scale: Optional[List[str]] = typer.Option(
            None, "--scale",
            help="Bounded scale NAME=LOW:HIGH (repeatable). NAME is a scale of the declarations, or a "
                 "column-name prefix/glob: pain=0:10 applies to pain_* mean/SD/median columns."),
        as_json: bool = typer.Option(False, "--json", help="Print the findings as one JSON document."),
    ) -> None:
        """Check a table: events <= n, printed % vs counts, totals, duplicates, SDs and scales.

        Exits with code 1 when an error is found (warnings alone exit 0).
        """
        from ..base.exceptions import DataError
        from ..tables.checks import check_table
        from ..tables.parse import sidecar_path
        from .output import print_json

        spec = columns
        if spec is not None and not spec.exists():
            raise DataError(f"declarations file {str(spec)!r} does not exist", rule="file")
        if spec is None and sidecar_path(data).exists():
            spec = sidecar_path(data)
        scales = dict(_parse_scale(s) for s in (scale or []))
        report = check_table(data, spec, scales=scales or None, source=str(data))
        if data.suffix.lower() in (".csv", ".tsv", ".txt"):
            from ..tables.io import read_table_file
            from .output import warn
            note = read_table_file(data).note  # the encoding decision, as pool reports it
            if note:
                warn(note)
        if as_json:
            doc = report.to_dict()
            doc["columns"] = None if spec is None else str(spec)
            print_json(doc)
        else:
            _print_report(report, spec)
        if report.errors:
            # SystemExit, not typer.Exit: with standalone_mode=False click returns an Exit's code
            # instead of raising it, and metareview.cli.main reports only exceptions.
            raise SystemExit(1)


def _print_report(report, spec) -> None:
    """The findings for people: a headline, then each finding once, errors first, wrapped to fit
    80 columns (or a narrower terminal) at spaces, so that study labels and column names stay whole."""
    import shutil
    import textwrap

    from rich.console import Console
    from rich.markup import escape

    from .output import printable

    width = min(80, shutil.get_terminal_size((80, 24)).columns)
    console = Console(highlight=False, soft_wrap=True)

    def fill(text: str, first: str = "", rest: str = "") -> str:
        return textwrap.fill(printable(text), width=width, initial_indent=first, subsequent_indent=rest,
                             break_long_words=False, break_on_hyphens=False).replace(_KEEP, " ")

    declared = f"declarations: {spec}" if spec else "declarations inferred from column names"
    console.print(escape(fill(f"Data check of {report.source} ({declared}): {report.n_rows} rows, "
                              f"{len(report.errors)} error(s), {len(report.warnings)} warning(s)")))
    if not report.findings:
        console.print("No findings.")
        return
    for severity, colour, findings in (("Errors", "red", report.errors), ("Warnings", "yellow", report.warnings)):
        if not findings:
            continue
        console.print(f"\n[bold {colour}]{severity}[/]")
        for f in findings:
            # a study label is never split over two lines (textwrap breaks only at ASCII spaces)
            where = f"{printable(f.study).replace(' ', _KEEP)}: " if f.study else ""
            console.print(escape(fill(f"{where}{f.message} ({f.rule})", "- ", "  ")))


_KEEP = "\u00a0"  # a space that wrapping does not break at
