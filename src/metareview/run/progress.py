"""Progress of a review run, one line per step (rich), or silence."""

from __future__ import annotations

import time
from contextlib import contextmanager

__all__ = ["Steps"]


class Steps:
    """``with steps("Reading the plan"): ...`` prints a line when the step is done.

    The step's context gives a function that shows how far the step has got, e.g.
    ``with steps("Figures") as show: show("figure 5/8")``, beside the spinner.
    """

    def __init__(self, console=None, enabled: bool = True):
        self._console = console
        self.enabled = enabled
        self.start = time.perf_counter()

    @property
    def console(self):
        """Where the steps are shown (None when they are not): the console given, else rich's on
        standard error, made when first needed.  rich is loaded then, not before: ``metareview run``
        makes its steps before it forks the figure workers, which never show one, and the first step
        comes after the fork (loading rich took about 7% of the start before it)."""
        if not self.enabled:
            return None
        if self._console is None:
            from ..base.collector import collector_paused

            with collector_paused():    # objects for the life of the process: nothing to collect
                from rich.console import Console
            self._console = Console(stderr=True, highlight=False)
        return self._console

    @contextmanager
    def __call__(self, label: str):
        t0 = time.perf_counter()
        console = self.console
        if console is None:
            yield _silent
            return
        with console.status(f"{label} ...", spinner="dots") as status:
            # naming the spinner again makes rich redraw the line now, not at its next tick
            yield lambda detail: status.update(f"{label}: {detail} ...", spinner="dots")
        console.print(f"[green]✓[/] {label} [dim]({time.perf_counter() - t0:.2f} s)[/]")

    def done(self, message: str) -> None:
        console = self.console
        if console is not None:
            console.print(f"[bold]{message}[/] [dim]in {time.perf_counter() - self.start:.1f} s[/]")


def _silent(detail: str) -> None:
    """Progress within a step when progress is not shown (``--quiet``)."""
