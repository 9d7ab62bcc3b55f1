"""Timing two sides over the same minutes: rounds of alternating blocks, one persistent R session.

On a shared machine the speed of each side drifts within minutes (by 1.5 to 1.7 times on the
2-core machine of docs/benchmarks.md), and not together: a ratio of R's time in one block of
minutes to ours in the next measures that drift as well as the code. So the comparisons take
turns. Each round runs every step once (a block of calls in R, a block of calls here, or one
new process), in the listed order on even rounds and the reverse on odd ones (A B, B A, A B,
...), so that each side's statistic comes from the same minutes and neither side always goes
first; the ratio of each round shows how far the machine moved while the script ran.

In-process R timings come from one ``Rscript`` child driven over pipes: it loads its packages
and data once, then on each request runs one block of calls of a named R function and writes
back the time of each call (wall from ``Sys.time()``, microseconds; CPU, user + system, from
``proc.time()``, to the millisecond as R reports it). Python blocks are timed alike in this
process (``time.perf_counter``, ``time.process_time``).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Block:
    """One block of calls on one side: the wall time of each call and the CPU time.

    ``cpu`` holds the CPU time of each call when it was asked for per call, otherwise one
    value, the whole block's (reading the CPU clock costs about 0.3 microseconds in Python,
    enough to weigh on calls of a tenth of a millisecond)."""

    wall: tuple[float, ...]
    cpu: tuple[float, ...]

    @property
    def calls(self) -> int:
        return len(self.wall)

    @property
    def mean_wall(self) -> float:
        return sum(self.wall) / self.calls

    @property
    def mean_cpu(self) -> float:
        return sum(self.cpu) / self.calls


def fastest_mean_wall(blocks: Sequence[Block]) -> float:
    """The mean call of the fastest block (the block least disturbed by other work)."""
    return min(b.mean_wall for b in blocks)


def median_wall(blocks: Sequence[Block]) -> float:
    """The median wall time of one call over every call of every block."""
    return statistics.median(t for b in blocks for t in b.wall)


def median_cpu(blocks: Sequence[Block]) -> float:
    """The median CPU time of one call over every call of every block (CPU timed per call)."""
    if any(len(b.cpu) != b.calls for b in blocks):
        raise ValueError("median_cpu needs blocks timed with per_call_cpu=True")
    return statistics.median(t for b in blocks for t in b.cpu)


def mean_cpu(blocks: Sequence[Block]) -> float:
    """The mean CPU time of one call over all blocks (their CPU time over their calls)."""
    return sum(sum(b.cpu) for b in blocks) / sum(b.calls for b in blocks)


def python_block(call: Callable[[], object], n: int, per_call_cpu: bool = False) -> Block:
    """Time ``n`` calls of ``call`` in this process, one after another."""
    wall = []
    cpu = []
    c_start = time.process_time()
    w0 = time.perf_counter()
    if per_call_cpu:
        c0 = c_start
        for _ in range(n):
            call()
            w1, c1 = time.perf_counter(), time.process_time()
            wall.append(w1 - w0)
            cpu.append(c1 - c0)
            w0, c0 = w1, c1
    else:
        for _ in range(n):
            call()
            w1 = time.perf_counter()
            wall.append(w1 - w0)
            w0 = w1
        cpu.append(time.process_time() - c_start)
    return Block(tuple(wall), tuple(cpu))


def alternate(rounds: int, steps: dict[str, Callable[[], T]]) -> dict[str, list[T]]:
    """Run every step once a round, in the order given on even rounds and reversed on odd ones.

    Returns each step's results in round order, so that ``out[a][i]`` and ``out[b][i]`` come
    from the same round."""
    out: dict[str, list[T]] = {name: [] for name in steps}
    order = list(steps)
    for i in range(rounds):
        for name in order if i % 2 == 0 else reversed(order):
            out[name].append(steps[name]())
    return out


def spread(ratios: Iterable[float], digits: int = 1) -> str:
    """The least, median and largest of per-round ratios, e.g. ``18.2×, 21.0×, 23.9×``."""
    values = sorted(ratios)
    return ", ".join(f"{v:.{digits}f}×" for v in (values[0], statistics.median(values), values[-1]))


def utc_now() -> str:
    """The time of day in UTC (``16:40:12``), for saying which minutes a table comes from."""
    return time.strftime("%H:%M:%S", time.gmtime())


def run_process(cmd: list[str]) -> Callable[[], float]:
    """A step that runs ``cmd`` as a new process and returns its wall time (it must succeed)."""

    def step() -> float:
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        return time.perf_counter() - t0

    return step


_DRIVER = """
{setup}
.calls <- list({calls})
.values <- list({values})
.stdin <- file("stdin")
open(.stdin)
.clock <- function() {{ p <- proc.time(); p[["user.self"]] + p[["sys.self"]] }}
repeat {{
  .line <- readLines(.stdin, n = 1)
  if (length(.line) == 0 || .line == "quit") break
  .req <- strsplit(.line, " ", fixed = TRUE)[[1]]
  .f <- .calls[[.req[2]]]
  if (.req[1] == "value") {{
    cat(sprintf("%.15g", .values[[.req[2]]](.f())), "\\n")
  }} else {{
    .n <- as.integer(.req[3])
    .each <- .req[4] == "1"
    .wall <- numeric(.n + 1)
    .cpu <- numeric(if (.each) .n + 1 else 2)
    .cpu[1] <- .clock()
    .wall[1] <- as.numeric(Sys.time())
    if (.each) {{
      for (.i in seq_len(.n)) {{
        fit <- .f()
        .wall[.i + 1] <- as.numeric(Sys.time())
        .cpu[.i + 1] <- .clock()
      }}
    }} else {{
      for (.i in seq_len(.n)) {{
        fit <- .f()
        .wall[.i + 1] <- as.numeric(Sys.time())
      }}
      .cpu[2] <- .clock()
    }}
    cat(sprintf("%.9f", diff(.wall)), "|", sprintf("%.9f", diff(.cpu)), "\\n")
  }}
  flush(stdout())
}}
"""


class RError(RuntimeError):
    """The R session could not start or a request failed (the message is the last line R wrote)."""


class RSession:
    """One ``Rscript`` process that times blocks of named calls on request.

    ``setup`` is R code run once (packages, data); ``calls`` maps a name to an R expression
    (the call timed); ``values`` maps a name to an R function of the fit giving the numbers to
    compare with ours. Use as a context manager; ``RSession.available()`` says whether
    ``Rscript`` is on the PATH."""

    def __init__(self, setup: str, calls: dict[str, str], values: dict[str, str] | None = None):
        values = values or {}
        code = _DRIVER.format(
            setup=setup,
            calls=", ".join(f"{name} = function() {expr}" for name, expr in calls.items()),
            values=", ".join(f"{name} = {fn}" for name, fn in values.items()),
        )
        self._stderr = tempfile.TemporaryFile(mode="w+")
        self._proc = subprocess.Popen([shutil.which("Rscript") or "Rscript", "-e", code], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=self._stderr, text=True, bufsize=1)

    @staticmethod
    def available() -> bool:
        return shutil.which("Rscript") is not None

    def _ask(self, line: str) -> str:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        try:
            self._proc.stdin.write(line + "\n")
            self._proc.stdin.flush()
        except BrokenPipeError:
            pass
        answer = self._proc.stdout.readline()
        if not answer:
            self._proc.wait()
            self._stderr.seek(0)
            lines = [x.strip() for x in self._stderr.read().splitlines() if x.strip() != "Execution halted"]
            errors = [i for i, x in enumerate(lines) if x.startswith("Error")]
            message = " ".join(lines[errors[-1]:] if errors else lines[-1:])
            raise RError(message or f"Rscript ended with exit code {self._proc.returncode}")
        return answer

    def value(self, name: str) -> list[float]:
        """One call of ``name`` (unmeasured: it also warms the session up) and the numbers of its fit."""
        return [float(v) for v in self._ask(f"value {name}").split()]

    def block(self, name: str, n: int, per_call_cpu: bool = False) -> Block:
        """Time ``n`` calls of ``name`` in R."""
        wall, cpu = self._ask(f"time {name} {n} {int(per_call_cpu)}").split("|")
        return Block(tuple(float(v) for v in wall.split()), tuple(float(v) for v in cpu.split()))

    def close(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            try:
                self._proc.stdin.write("quit\n")
                self._proc.stdin.close()
            except BrokenPipeError:
                pass
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._stderr.close()

    def __enter__(self) -> RSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
