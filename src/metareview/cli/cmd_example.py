"""``metareview example NAME DIR``: a bundled example review, with the tutorial's files, in a folder."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("example")
    def example(
        name: str = typer.Argument(..., help="The example: mrgfus (Baal et al. 2021, MRgFUS for bone metastases)."),
        directory: Path = typer.Argument(..., help="Folder to copy it into (created if needed)."),
        force: bool = typer.Option(False, "--force", help="Overwrite the example's files if they exist."),
    ) -> None:
        """Copy an example review (plan, data table, PRISMA counts, search exports, screening and extraction sheets) into DIR, to follow the tutorial from any folder."""
        from ..run.examples import copy_example

        written = copy_example(name, directory, force=force)
        typer.echo(f"Wrote {len(written)} files to {directory}:")
        for path in written:
            typer.echo(f"  {path.relative_to(directory).as_posix()}")
        typer.echo(f"Next: cd {directory}, then follow the tutorial (or run the whole review: metareview run .)")
