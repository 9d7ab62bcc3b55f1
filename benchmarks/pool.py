"""One analysis of 20 proportions: metareview against R metafor, in-process and end to end.

Data: ``tests/fixtures/seed_tr.csv`` (the seed paper's treatment response, k = 20).

* in-process: one call of ``metareview.metaprop(events, n)`` (logit, DL; the result's
  study intervals, and the Q-profile interval of tau², the I² and H intervals, the prediction
  interval and the study weights, are computed on first use, as ``rma()`` leaves them to
  ``summary()``, ``confint()``, ``predict()`` and ``weights()``) against one
  ``metafor::rma(measure = "PLO", xi, ni, method = "DL")`` call inside one Rscript session (package
  and data loading not counted), measured the same way on both sides: the mean call of the
  fastest of ``--loops`` blocks (on a shared machine the fastest block is the one least
  disturbed by other work), R's blocks of ``--repeat`` calls and ours of as many calls as last
  about as long (a block twenty times shorter would escape that work more often); and the
  same for ``metareview.metagen(yi, vi=vi)``
  against ``metafor::rma(yi, vi, method = "DL")`` on the logit proportions (``yi``, ``vi``:
  escalc's ``PLO``, computed once on each side before the timing). R's blocks and ours take
  turns, round by round, over the same minutes (``_interleaved.py``), and the ratio of each
  round is printed (least, median, largest), so that the machine's drift shows;
* end to end: the median of ``--runs`` runs of ``metareview pool seed_tr.csv`` (a new Python
  process: start-up, reading the CSV, pooling, printing) against as many of ``Rscript``
  loading metafor, reading the CSV, fitting and printing, the two commands alternating run by
  run; the fastest run of each is printed too.

Run:  python benchmarks/pool.py [--repeat 40] [--loops 15] [--runs 7]
(the command ``metareview`` is looked up on PATH: run from the environment metareview is installed in)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from _interleaved import Block, RSession, alternate, fastest_mean_wall, python_block, run_process, spread, utc_now

import metareview
from metareview.effectsizes.escalc import escalc

DATA = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "seed_tr.csv"

R_SETUP = """
suppressPackageStartupMessages(library(metafor))
d <- read.csv("{csv}")
es <- escalc(measure = "PLO", xi = d$events, ni = d$n)
yi <- as.numeric(es$yi); vi <- as.numeric(es$vi)
"""
R_CALLS = {"metaprop": 'rma(measure = "PLO", xi = d$events, ni = d$n, method = "DL")',
           "metagen": 'rma(yi, vi, method = "DL")'}

R_END_TO_END = """suppressPackageStartupMessages(library(metafor))
d <- read.csv("{csv}")
print(rma(measure = "PLO", xi = events, ni = n, data = d, method = "DL"))
"""

NAMES = {"metaprop": "metaprop (k = 20), one in-process call",
         "metagen": "metagen (k = 20, logit yi/vi), one in-process call"}


def in_process(repeat: int, loops: int, r: RSession | None) -> dict[str, dict]:
    """Blocks of metaprop and metagen calls here and of their rma() in R, ``loops`` rounds.

    R's blocks have ``repeat`` calls; ours as many calls as last about as long (measured once,
    from the median call of one unmeasured block of ``repeat`` calls on each side), so that the
    fastest block of each side had the same chance to escape other work on the machine (a
    block twenty times shorter escapes it more often). Without R, ours have ``repeat`` calls.
    Each task gets its blocks, the calls in a block of each side, and the random-effects
    estimate of each side, from one unmeasured call that also warms each side up."""
    table = pd.read_csv(DATA)
    events, n = table["events"].to_numpy(), table["n"].to_numpy()
    es = escalc("PLO", {"events": events, "n": n})
    ours = {"metaprop": lambda: metareview.metaprop(events, n),
            "metagen": lambda: metareview.metagen(es.yi, vi=es.vi)}
    steps: dict[str, Callable[[], Block]] = {}
    out: dict[str, dict] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, call in ours.items():
            out[name] = {"ours_estimate": float(call().pooled["random_estimate"]), "calls": (repeat, repeat)}
            if r is not None:
                out[name]["r_estimate"] = r.value(name)[0]
                theirs = statistics.median(r.block(name, repeat).wall)
                mine = statistics.median(python_block(call, repeat).wall)
                out[name]["calls"] = (max(repeat, round(repeat * theirs / mine)), repeat)
                steps["R " + name] = lambda name=name: r.block(name, repeat)
            steps[name] = lambda call=call, n=out[name]["calls"][0]: python_block(call, n)
        blocks = alternate(loops, steps)
    for name in ours:
        out[name]["ours"] = blocks[name]
        out[name]["r"] = blocks.get("R " + name)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=40,
                   help="calls per timed block in R; ours have as many calls as last about as long")
    p.add_argument("--loops", type=int, default=15,
                   help="rounds of one block per side, alternating; the fastest block counts (both sides)")
    p.add_argument("--runs", type=int, default=7, help="end-to-end runs of each command, alternating")
    args = p.parse_args(argv)
    load = os.getloadavg()[0]
    began = utc_now()
    rscript = shutil.which("Rscript")
    # the script installed beside this interpreter: the environment being measured, not the first on PATH
    script = Path(sys.executable).with_name("metareview")
    cmd = [str(script), "pool", str(DATA)] if script.exists() else [sys.executable, "-m", "metareview", "pool",
                                                                     str(DATA)]
    if rscript:
        with RSession(R_SETUP.format(csv=DATA), R_CALLS, {name: "function(fit) coef(fit)" for name in R_CALLS}) as r:
            calls = in_process(args.repeat, args.loops, r)
    else:
        calls = in_process(args.repeat, args.loops, None)
    for name, c in calls.items():
        if "r_estimate" in c:
            assert abs(c["r_estimate"] - c["ours_estimate"]) < 1e-8, (name, c["r_estimate"], c["ours_estimate"])
    processes = {"ours": run_process(cmd)}
    if rscript:
        processes["R"] = run_process([rscript, "-e", R_END_TO_END.format(csv=DATA)])
    for step in processes.values():
        step()  # warm the file cache
    runs = alternate(args.runs, processes)
    rows: list[tuple[str, float, float | None]] = [
        (NAMES[name], fastest_mean_wall(c["ours"]), fastest_mean_wall(c["r"]) if c["r"] else None)
        for name, c in calls.items()]
    rows.append(("metareview pool seed_tr.csv, end to end", statistics.median(runs["ours"]),
                 statistics.median(runs["R"]) if "R" in runs else None))
    ended = utc_now()
    print(f"load average (1 min): {load:.2f} before, {os.getloadavg()[0]:.2f} after; {began} to {ended} UTC; "
          f"{cmd[0]}")
    print("| task | metareview | R metafor | R / metareview |")
    print("|---|---|---|---|")
    for name, ours, theirs in rows:
        r = f"{theirs * 1e3:.3f} ms" if theirs else "n/a"
        ratio = f"{theirs / ours:.1f}×" if theirs else "n/a"
        print(f"| {name} | {ours * 1e3:.3f} ms | {r} | {ratio} |")
    sizes = "; ".join(f"{name}: {c['calls'][0]:,} calls here, {c['calls'][1]:,} in R" for name, c in calls.items())
    print(f"\nIn-process: the mean call of the fastest of {args.loops} blocks per side (wall time), blocks of "
          f"about the same duration on both sides ({sizes}); R's blocks (one Rscript session, metafor and the "
          "data loaded once) and ours alternate round by round over the same minutes, R first in the first round "
          "and second in the next.")
    print(f"End to end: the median of {args.runs} runs of each command, the two commands alternating "
          "(A B, B A, A B, ...).")
    if rscript:
        print("Per round, R / metareview (least, median, largest):")
        for name, c in calls.items():
            ratios = [theirs.mean_wall / ours.mean_wall for ours, theirs in zip(c["ours"], c["r"])]
            print(f"  {name}: {spread(ratios)} (mean call of each round's blocks, {len(ratios)} rounds)")
        ratios = [theirs / ours for ours, theirs in zip(runs["ours"], runs["R"])]
        print(f"  pool end to end: {spread(ratios)} ({len(ratios)} pairs of runs)")
        print(f"Fastest run end to end: metareview {min(runs['ours']) * 1e3:.0f} ms, Rscript + metafor "
              f"{min(runs['R']) * 1e3:.0f} ms ({min(runs['R']) / min(runs['ours']):.1f}×).")
        print("Random-effects estimates (logit), metareview | rma(): " + "; ".join(
            f"{name} {c['ours_estimate']:.10f} | {c['r_estimate']:.10f}" for name, c in calls.items()))


if __name__ == "__main__":
    main()
