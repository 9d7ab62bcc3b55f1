"""``metareview init DIR``: a new review folder with a commented analysis plan."""

from __future__ import annotations

from pathlib import Path

import typer

TEMPLATE_FILES = ("review.toml", "studies.csv", "studies.columns.toml")


def register(app: typer.Typer) -> None:
    @app.command("init")
    def init(
        directory: Path = typer.Argument(..., help="Folder to create (or an empty/existing review folder)."),
        force: bool = typer.Option(False, "--force", help="Overwrite the template files if they exist."),
    ) -> None:
        """Write a commented review.toml and an example data table to DIR; `metareview run DIR` runs them."""
        from importlib import resources

        from ..base.outputs import check_output, write_file
        from ..run.plan import PlanError

        existing = [f for f in TEMPLATE_FILES if (directory / f).exists()]
        if existing and not force:
            raise PlanError(f"{directory / existing[0]} already exists; use --force to overwrite the template "
                            f"files ({', '.join(TEMPLATE_FILES)})", path=directory / existing[0])
        if directory.exists() and not directory.is_dir():
            raise PlanError("it is a file, not a folder; give a folder for the new review", path=directory)
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            from ..base.exceptions import OutputError
            from ..base.outputs import os_error_message
            raise OutputError(os_error_message(exc, directory, "create")) from None
        for name in TEMPLATE_FILES:
            check_output(directory / name)
        src = resources.files("metareview") / "data" / "templates"
        for name in TEMPLATE_FILES:
            write_file(directory / name, (src / name).read_bytes())
        typer.echo(f"Wrote {', '.join(TEMPLATE_FILES)} to {directory}. Edit review.toml, then run: "
                   f"metareview run {directory}")
