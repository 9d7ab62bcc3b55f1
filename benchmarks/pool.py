"""One analysis of 20 proportions: metareview against R metafor, in-process and end to end.

Data: ``tests/fixtures/seed_tr.csv`` (the seed paper's treatment response, k = 20).

* in-process: the median of ``--repeat`` calls of ``metareview.metaprop(events, n)`` (logit,
  DL, every output of the ``pool`` contract) against the mean of 1,000
  ``metafor::rma(measure = "PLO", xi, ni, method = "DL")`` calls timed inside one Rscript
  (package loading not counted);
* end to end: the median of ``--runs`` runs of ``metareview pool seed_tr.csv`` (a new Python
  process: start-up, reading the CSV, pooling, printing) against ``Rscript`` loading
  metafor, reading the CSV, fitting and printing.

Run:  python benchmarks/pool.py [--repeat 300] [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pandas as pd

import metareview

DATA = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "seed_tr.csv"

R_IN_PROCESS = """
suppressPackageStartupMessages(library(metafor))
d <- read.csv("{csv}")
invisible(rma(measure = "PLO", xi = d$events, ni = d$n, method = "DL"))
t0 <- proc.time()[["elapsed"]]
for (i in seq_len(1000)) fit <- rma(measure = "PLO", xi = d$events, ni = d$n, method = "DL")
cat(sprintf("%.9f %.12f\\n", (proc.time()[["elapsed"]] - t0) / 1000, coef(fit)))
"""

R_END_TO_END = """suppressPackageStartupMessages(library(metafor))
d <- read.csv("{csv}")
print(rma(measure = "PLO", xi = events, ni = n, data = d, method = "DL"))
"""


def in_process(repeat: int) -> tuple[float, float]:
    table = pd.read_csv(DATA)
    events, n = table["events"].to_numpy(), table["n"].to_numpy()
    times = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = metareview.metaprop(events, n)
        for _ in range(repeat):
            t0 = time.perf_counter()
            res = metareview.metaprop(events, n)
            times.append(time.perf_counter() - t0)
    return statistics.median(times), float(res.pooled["random_estimate"])


def end_to_end(cmd: list[str], runs: int) -> float:
    subprocess.run(cmd, capture_output=True, check=True)  # warm the file cache
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=300)
    p.add_argument("--runs", type=int, default=7)
    args = p.parse_args(argv)
    py_call, py_est = in_process(args.repeat)
    # the script installed beside this interpreter: the environment being measured, not the first on PATH
    script = Path(sys.executable).with_name("metareview")
    cmd = [str(script), "pool", str(DATA)] if script.exists() else [sys.executable, "-m", "metareview", "pool",
                                                                     str(DATA)]
    load = os.getloadavg()[0]
    py_e2e = end_to_end(cmd, args.runs)
    rows = [("metaprop (k = 20), one in-process call", py_call, None),
            ("metareview pool seed_tr.csv, end to end", py_e2e, None)]
    rscript = shutil.which("Rscript")
    if rscript:
        out = subprocess.run([rscript, "-e", R_IN_PROCESS.format(csv=DATA)], capture_output=True, text=True,
                             check=True)
        r_call, r_est = (float(x) for x in out.stdout.split())
        assert abs(r_est - py_est) < 1e-8, (r_est, py_est)
        r_e2e = end_to_end([rscript, "-e", R_END_TO_END.format(csv=DATA)], args.runs)
        rows = [(rows[0][0], py_call, r_call), (rows[1][0], py_e2e, r_e2e)]
    print(f"load average (1 min): {load:.2f} before, {os.getloadavg()[0]:.2f} after; {cmd[0]}")
    print("| task | metareview | R metafor | R / metareview |")
    print("|---|---|---|---|")
    for name, ours, theirs in rows:
        r = f"{theirs * 1e3:.3f} ms" if theirs else "n/a"
        ratio = f"{theirs / ours:.1f}×" if theirs else "n/a"
        print(f"| {name} | {ours * 1e3:.3f} ms | {r} | {ratio} |")


if __name__ == "__main__":
    main()
