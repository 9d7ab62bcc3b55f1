"""How long the command line takes to answer: ``metareview --version``, ``--help`` and ``pool --help``.

Each is a new process of the ``metareview`` script installed beside this interpreter (the
environment being measured); the median and the fastest of ``--runs`` runs, wall time, after
one unmeasured run of each that warms the file cache.  Python's own start-up (``python -c
pass``) is timed alike, as the floor.  The commands take turns, round-robin (each round runs
every command once, in the listed order and then reversed: ``_interleaved.py``), so that a
slower minute of the machine weighs on all of them alike.

Run:  python benchmarks/startup.py [--runs 21]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

from _interleaved import alternate, run_process, utc_now


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=21)
    args = p.parse_args()
    script = Path(sys.executable).with_name("metareview")
    base = [str(script)] if script.exists() else [sys.executable, "-m", "metareview"]
    load, began = os.getloadavg()[0], utc_now()
    steps = {name: run_process(cmd) for name, cmd in [("python -c pass", [sys.executable, "-c", "pass"]),
                                                       ("metareview --version", [*base, "--version"]),
                                                       ("metareview --help", [*base, "--help"]),
                                                       ("metareview pool --help", [*base, "pool", "--help"])]}
    for step in steps.values():
        step()  # warm the file cache
    times = alternate(args.runs, steps)
    print(f"load average (1 min): {load:.2f} before, {os.getloadavg()[0]:.2f} after; {began} to {utc_now()} UTC; "
          f"{base[0]}")
    print("| command | median | fastest |")
    print("|---|---|---|")
    for name, runs in times.items():
        print(f"| `{name}` | {statistics.median(runs) * 1e3:.0f} ms | {min(runs) * 1e3:.0f} ms |")
    print(f"{args.runs} runs of each, the commands round-robin (the order reversed every other round).")


if __name__ == "__main__":
    main()
