"""Progress of a review run, one line per step (rich), or silence."""

from __future__ import annotations

import time
from contextlib import contextmanager


class Steps:
    """``with steps("Reading the plan"): ...`` prints a line when the step is done."""

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
            yield
            return
        with self.console.status(f"{label} ...", spinner="dots"):
            yield
        self.console.print(f"[green]✓[/] {label} [dim]({time.perf_counter() - t0:.2f} s)[/]")

    def done(self, message: str) -> None:
        if self.console is not None:
            self.console.print(f"[bold]{message}[/] [dim]in {time.perf_counter() - self.start:.1f} s[/]")
