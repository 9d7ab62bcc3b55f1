"""One analysis of 20 proportions: metareview against R metafor, in-process and end to end.

Data: ``tests/fixtures/seed_tr.csv`` (the seed paper's treatment response, k = 20).

* in-process: one call of ``metareview.metaprop(events, n)`` (logit, DL; the result's
  study intervals, and the Q-profile interval of tau², the I² and H intervals, the prediction
  interval and the study weights, are computed on first use, as ``rma()`` leaves them to
  ``summary()``, ``confint()``, ``predict()`` and ``weights()``) against one
  ``metafor::rma(measure = "PLO", xi, ni, method = "DL")`` call inside one Rscript (package
  loading not counted), measured the same way on both sides:
  the mean call of the fastest of ``--loops`` loops of ``--repeat`` calls (on a shared
  machine the fastest loop is the one least disturbed by other work); and the same for
  ``metareview.metagen(yi, vi=vi)`` against ``metafor::rma(yi, vi, method = "DL")`` on the
  logit proportions (``yi``, ``vi``: escalc's ``PLO``, computed once on each side before
  the timing);
* end to end: the median of ``--runs`` runs of ``metareview pool seed_tr.csv`` (a new Python
  process: start-up, reading the CSV, pooling, printing) against ``Rscript`` loading
  metafor, reading the CSV, fitting and printing.

Run:  python benchmarks/pool.py [--repeat 200] [--loops 5] [--runs 7]
(the command ``metareview`` is looked up on PATH: run from the environment metareview is installed in)
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
from metareview.effectsizes.escalc import escalc

DATA = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "seed_tr.csv"

R_IN_PROCESS = """
suppressPackageStartupMessages(library(metafor))
d <- read.csv("{csv}")
fastest <- function(call) {{
  fit <- call()
  best <- Inf
  for (loop in seq_len({loops})) {{
    t0 <- proc.time()[["elapsed"]]
    for (i in seq_len({repeat})) fit <- call()
    best <- min(best, (proc.time()[["elapsed"]] - t0) / {repeat})
  }}
  cat(sprintf("%.9f %.12f\\n", best, coef(fit)))
}}
fastest(function() rma(measure = "PLO", xi = d$events, ni = d$n, method = "DL"))
es <- escalc(measure = "PLO", xi = d$events, ni = d$n)
yi <- as.numeric(es$yi); vi <- as.numeric(es$vi)
fastest(function() rma(yi, vi, method = "DL"))
"""

R_END_TO_END = """suppressPackageStartupMessages(library(metafor))
d <- read.csv("{csv}")
print(rma(measure = "PLO", xi = events, ni = n, data = d, method = "DL"))
"""


def _fastest_loop(call, repeat: int, loops: int) -> tuple[float, object]:
    """The mean time of one call in the fastest of ``loops`` loops of ``repeat`` calls, and the result."""
    best = float("inf")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = call()
        for _ in range(loops):
            t0 = time.perf_counter()
            for _ in range(repeat):
                res = call()
            best = min(best, (time.perf_counter() - t0) / repeat)
    return best, res


def in_process(repeat: int, loops: int) -> dict[str, tuple[float, float]]:
    """The time of one call and its random-effects estimate, for metaprop and metagen."""
    table = pd.read_csv(DATA)
    events, n = table["events"].to_numpy(), table["n"].to_numpy()
    es = escalc("PLO", {"events": events, "n": n})
    out = {}
    for name, call in (("metaprop", lambda: metareview.metaprop(events, n)),
                       ("metagen", lambda: metareview.metagen(es.yi, vi=es.vi))):
        seconds, res = _fastest_loop(call, repeat, loops)
        out[name] = (seconds, float(res.pooled["random_estimate"]))
    return out


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
    p.add_argument("--repeat", type=int, default=200, help="calls per timed loop (both sides)")
    p.add_argument("--loops", type=int, default=5, help="timed loops; the fastest counts (both sides)")
    p.add_argument("--runs", type=int, default=7)
    args = p.parse_args(argv)
    load = os.getloadavg()[0]
    calls = in_process(args.repeat, args.loops)
    # the script installed beside this interpreter: the environment being measured, not the first on PATH
    script = Path(sys.executable).with_name("metareview")
    cmd = [str(script), "pool", str(DATA)] if script.exists() else [sys.executable, "-m", "metareview", "pool",
                                                                     str(DATA)]
    py_e2e = end_to_end(cmd, args.runs)
    names = {"metaprop": "metaprop (k = 20), one in-process call",
             "metagen": "metagen (k = 20, logit yi/vi), one in-process call"}
    rows: list[tuple[str, float, float | None]] = [(names[f], calls[f][0], None) for f in names]
    rows.append(("metareview pool seed_tr.csv, end to end", py_e2e, None))
    rscript = shutil.which("Rscript")
    if rscript:
        script = R_IN_PROCESS.format(csv=DATA, repeat=args.repeat, loops=args.loops)
        out = subprocess.run([rscript, "-e", script], capture_output=True, text=True, check=True)
        r_calls = [[float(x) for x in line.split()] for line in out.stdout.splitlines()]
        for (r_call, r_est), f in zip(r_calls, names):
            assert abs(r_est - calls[f][1]) < 1e-8, (f, r_est, calls[f][1])
        r_e2e = end_to_end([rscript, "-e", R_END_TO_END.format(csv=DATA)], args.runs)
        rows = [(name, ours, theirs) for (name, ours, _), theirs in zip(rows, [c for c, _ in r_calls] + [r_e2e])]
    print(f"load average (1 min): {load:.2f} before, {os.getloadavg()[0]:.2f} after; {cmd[0]}")
    print("| task | metareview | R metafor | R / metareview |")
    print("|---|---|---|---|")
    for name, ours, theirs in rows:
        r = f"{theirs * 1e3:.3f} ms" if theirs else "n/a"
        ratio = f"{theirs / ours:.1f}×" if theirs else "n/a"
        print(f"| {name} | {ours * 1e3:.3f} ms | {r} | {ratio} |")


if __name__ == "__main__":
    main()
