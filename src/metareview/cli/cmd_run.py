"""``metareview run DIR``: run a review from its analysis plan (review.toml)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._help import QUIET_HELP


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        directory: Optional[Path] = typer.Argument(
            None, help="Folder holding review.toml (or the plan file itself)."),
        out: Optional[Path] = typer.Option(
            None, "--output", "-o", help="Output folder. Default: DIR/output (with --example: ./<example>-output)."),
        out_alias: Optional[Path] = typer.Option(None, "--out", hidden=True, help="Older spelling of --output."),
        force: bool = typer.Option(False, "--force", help="Replace an existing output folder."),
        example: Optional[str] = typer.Option(
            None, "--example", help="Run a bundled example review instead of DIR: mrgfus."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help=QUIET_HELP),
    ) -> None:
        """Run every analysis of the plan and write report.html, results.json, figures and tables."""
        from ..base.collector import lasting_imports

        with lasting_imports():     # numpy, scipy.special and the run's modules: nothing to collect
            from ..run import EXAMPLES, example_path, run_review
            from ..run.plan import PlanError
            from ..run.progress import Steps
            from .output import wrote

        if out_alias is not None:
            if out is not None and out != out_alias:
                raise PlanError(f"--out {out_alias} and --output {out} name two output folders; give one")
            out = out_alias
        if (directory is None) == (example is None):
            raise PlanError("give a review folder (metareview run DIR) or a bundled example "
                            f"(metareview run --example {'|'.join(EXAMPLES)}), not both or neither")
        if example is not None:
            directory = example_path(example)
            if out is None:
                out = Path.cwd() / f"{EXAMPLES[example]}-output"
        # rich's console is made at the first step, once the figure workers are forked (they need none)
        steps = Steps(enabled=not quiet)
        result = run_review(directory, out, force=force, steps=steps)
        wrote(result.out)  # announced with --quiet too: it is the result, not progress
        if quiet:
            return
        console = steps.console
        counts: dict[str, int] = {}
        for v in result.comparison:
            counts[v.verdict] = counts.get(v.verdict, 0) + 1
        if counts:
            console.print("Paper vs reproduction: " + "; ".join(f"{n} {k}" for k, n in counts.items()))
        console.print(f"Report: {result.out / 'report.html'}")
