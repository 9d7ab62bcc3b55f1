"""Progress of a review run, one line per step (rich), or silence."""

from __future__ import annotations

import time
from contextlib import contextmanager


class Steps:
    """``with steps("Reading the plan"): ...`` prints a line when the step is done.

    The step's context gives a function that shows how far the step has got, e.g.
    ``with steps("Figures") as show: show("figure 5/8")``, beside the spinner.
    """

    def __init__(self, console=None, enabled: bool = True):
        if console is None and enabled:
            from rich.console import Console
            console = Console(stderr=True, highlight=False)
        self.console = console if enabled else None
        self.start = time.perf_counter()

    @contextmanager
    def __call__(self, label: str):
        t0 = time.perf_counter()
        if self.console is None:
            yield _silent
            return
        with self.console.status(f"{label} ...", spinner="dots") as status:
            # naming the spinner again makes rich redraw the line now, not at its next tick
            yield lambda detail: status.update(f"{label}: {detail} ...", spinner="dots")
        self.console.print(f"[green]✓[/] {label} [dim]({time.perf_counter() - t0:.2f} s)[/]")

    def done(self, message: str) -> None:
        if self.console is not None:
            self.console.print(f"[bold]{message}[/] [dim]in {time.perf_counter() - self.start:.1f} s[/]")


def _silent(detail: str) -> None:
    """Progress within a step when progress is not shown (``--quiet``)."""
