"""How long the command line takes to answer: ``metareview --version``, ``--help`` and ``pool --help``.

Each is a new process of the ``metareview`` script installed beside this interpreter (the
environment being measured); the median and the fastest of ``--runs`` runs, wall time, after
one unmeasured run that warms the file cache.  Python's own start-up (``python -c pass``) is
timed alike, as the floor.

Run:  python benchmarks/startup.py [--runs 21]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path


def timed(cmd: list[str], runs: int) -> tuple[float, float]:
    subprocess.run(cmd, capture_output=True, check=True)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=21)
    args = p.parse_args()
    script = Path(sys.executable).with_name("metareview")
    base = [str(script)] if script.exists() else [sys.executable, "-m", "metareview"]
    print(f"load average (1 min): {os.getloadavg()[0]:.2f}; {base[0]}")
    print("| command | median | fastest |")
    print("|---|---|---|")
    for name, cmd in [("python -c pass", [sys.executable, "-c", "pass"]),
                      ("metareview --version", [*base, "--version"]),
                      ("metareview --help", [*base, "--help"]),
                      ("metareview pool --help", [*base, "pool", "--help"])]:
        median, fastest = timed(cmd, args.runs)
        print(f"| `{name}` | {median * 1e3:.0f} ms | {fastest * 1e3:.0f} ms |")


if __name__ == "__main__":
    main()
