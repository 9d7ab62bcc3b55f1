"""How many meta-analyses per second: metareview's batch engine against loops and bare numpy.

For k studies per analysis (5, 20, 100) and the DL and REML estimators, on the same
simulated analyses (n_i uniform 20..200, v_i = 4/n_i, tau² = 0.05), this times:

* ``bare numpy``  the estimator, pooled estimate and its SE over the whole (analyses, k)
  array, nothing else (DL in closed form; REML by Fisher scoring, every row iterated
  until all converge or 100 iterations): the floor any vectorised tool can reach;
* ``kernel``      ``pool_arrays`` on the same arrays, 10,000 analyses at a time, with the
  full set of outputs (common and random effects with CIs and tests, prediction interval,
  Q and its p-value, I², H and their CIs) but without the Q-profile CI of tau²;
* ``batch``       ``metareview.api.batch.batch`` on the long DataFrame (analysis, yi, vi):
  grouping, checks, padding and the result table included; without and with the Q-profile
  CI of tau² (``tau2_ci``);
* ``single API``  ``metareview.metagen`` called once per analysis (a sample of analyses);
* ``statsmodels`` ``statsmodels.stats.meta_analysis.combine_effects`` once per analysis
  (DL only: statsmodels has no REML);
* ``PyMARE``      PyMARE's estimators on all analyses at once (its data sets as columns;
  tau², estimate and its covariance only), when ``pymare`` can be imported;
* ``metafor``     an R loop over ``metafor::rma()`` in one ``Rscript`` (a sample of
  analyses, inside ``system.time``, so R's start-up is not counted), when Rscript is found.

Run:  python benchmarks/batch.py [--analyses 100000] [--k 5 20 100] [--r-fits 2000] [--json FILE]
Vectorised timings are the best of ``--repeat`` rounds in which bare numpy, the kernel and the
batch (without and with the tau² CI) take turns, so that all are timed over the same minutes
(PyMARE: the best of as many runs after them); loops run once over their sample.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import pandas as pd

import metareview
from metareview.api.batch import batch
from metareview.pooling.inverse_variance import pool_arrays


def simulate(m: int, k: int, seed: int = 2026):
    rng = np.random.default_rng(seed + k)
    n = rng.integers(20, 201, (m, k))
    vi = 4.0 / n
    theta = rng.normal(0.3, np.sqrt(0.05), (m, 1))
    yi = rng.normal(theta, np.sqrt(vi))
    return yi, vi


def bare_dl(y, v):
    k = y.shape[1]
    w = 1 / v
    sw = w.sum(1)
    mu = (w * y).sum(1) / sw
    q = (w * (y - mu[:, None]) ** 2).sum(1)
    tau2 = np.maximum(0, (q - (k - 1)) / (sw - (w * w).sum(1) / sw))
    ws = 1 / (v + tau2[:, None])
    sws = ws.sum(1)
    return (ws * y).sum(1) / sws, 1 / np.sqrt(sws), tau2


def bare_reml(y, v, tol=1e-10, maxiter=100):
    k = y.shape[1]
    tau2 = np.maximum(0, y.var(1, ddof=1) - v.mean(1))
    for _ in range(maxiter):
        w = 1 / (v + tau2[:, None])
        sw = w.sum(1)
        mu = (w * y).sum(1) / sw
        r = w * (y - mu[:, None])
        s2 = (w * w).sum(1)
        tr_p = sw - s2 / sw
        tr_pp = s2 - 2 * (w ** 3).sum(1) / sw + s2 ** 2 / sw ** 2
        adj = ((r * r).sum(1) - tr_p) / tr_pp
        new = np.maximum(tau2 + adj, 0)
        done = np.abs(new - tau2) <= tol * (1 + tau2)
        tau2 = new
        if done.all():
            break
    ws = 1 / (v + tau2[:, None])
    sws = ws.sum(1)
    return (ws * y).sum(1) / sws, 1 / np.sqrt(sws), tau2, k


def best_of(fn, repeat):
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def taking_turns(fns: dict, rounds: int) -> dict:
    """The seconds of each of ``fns`` in each of ``rounds`` rounds, the functions one after the
    other within a round: every column is timed over the same minutes, so that the machine's
    drift (other work starting or stopping) does not land on one column only."""
    times: dict = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return times


def kernel_chunks(y, v, method, chunk=10_000):
    mask = np.ones_like(y)
    for a in range(0, y.shape[0], chunk):
        pool_arrays(y[a:a + chunk], v[a:a + chunk], mask[a:a + chunk], method_tau2=method, tau2_ci=False,
                    weights=False, warn=False)


R_LOOP = r"""
suppressMessages(library(metafor))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
ys <- split(d$yi, d$analysis)
vs <- split(d$vi, d$analysis)
fails <- 0
t <- system.time(for (i in seq_along(ys)) {
  r <- try(rma(ys[[i]], vs[[i]], method = args[2]), silent = TRUE)
  if (inherits(r, "try-error")) fails <- fails + 1
})[["elapsed"]]
cat(sprintf("%.6f %d\n", t, fails))
"""


def r_loop(y, v, method, fits):
    rscript = shutil.which("Rscript")
    if rscript is None:
        return None
    m, k = y[:fits].shape
    with tempfile.TemporaryDirectory() as tmp:
        csv = os.path.join(tmp, "long.csv")
        pd.DataFrame({"analysis": np.repeat(np.arange(m), k), "yi": y[:fits].ravel(),
                      "vi": v[:fits].ravel()}).to_csv(csv, index=False, float_format="%.17g")
        script = os.path.join(tmp, "loop.R")
        with open(script, "w") as fh:
            fh.write(R_LOOP)
        out = subprocess.run([rscript, script, csv, method], capture_output=True, text=True, check=True)
    elapsed, fails = out.stdout.split()
    return {"analyses": m, "seconds": float(elapsed), "failed": int(fails)}


def single_loop(y, v, method, n):
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(n):
            metareview.metagen(y[i], vi=v[i], method_tau2=method)
    return n / (time.perf_counter() - t0)


def statsmodels_loop(y, v, n):
    from statsmodels.stats.meta_analysis import combine_effects

    t0 = time.perf_counter()
    for i in range(n):
        combine_effects(y[i], v[i], method_re="dl")
    return n / (time.perf_counter() - t0)


def pymare_rate(y, v, method, repeat):
    try:
        from pymare import estimators
    except ImportError:
        return None
    X = np.ones((y.shape[1], 1))
    yt, vt = np.ascontiguousarray(y.T), np.ascontiguousarray(v.T)  # PyMARE: studies x data sets

    def fit():
        if method == "DL":
            estimators.DerSimonianLaird().fit(y=yt, v=vt, X=X)
        else:
            estimators.VarianceBasedLikelihoodEstimator(method="REML").fit(y=yt, v=vt, X=X)
    return y.shape[0] / best_of(fit, repeat)


def run(args) -> list[dict]:
    rows = []
    for k in args.k:
        y, v = simulate(args.analyses, k)
        m = args.analyses
        long = pd.DataFrame({"analysis": np.repeat(np.arange(m), k), "yi": y.ravel(), "vi": v.ravel()})
        for method in ("DL", "REML"):
            row = {"k": k, "method": method, "analyses": m}
            bare = bare_dl if method == "DL" else bare_reml
            # each closure is timed within the iteration that made it
            vectorised = {
                "bare_numpy": lambda: bare(y, v),  # noqa: B023
                "kernel": lambda: kernel_chunks(y, v, method),  # noqa: B023
                "batch": lambda: batch(long, method_tau2=method, tau2_ci=False),  # noqa: B023
                "batch_tau2_ci": lambda: batch(long, method_tau2=method),  # noqa: B023
            }
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rounds = taking_turns(vectorised, args.repeat)
                res = batch(long, method_tau2=method, tau2_ci=False)
            row.update({name: m / min(times) for name, times in rounds.items()})
            per_round = sorted(b / a for a, b in zip(rounds["batch"], rounds["bare_numpy"]))
            row["batch_over_bare_rounds"] = [per_round[0], per_round[len(per_round) // 2], per_round[-1]]
            row["not_converged"] = int((~res["tau2_converged"]).sum())
            row["single_api"] = single_loop(y, v, method, args.single) if args.single else None
            row["statsmodels"] = (statsmodels_loop(y, v, args.statsmodels)
                                  if method == "DL" and args.statsmodels else None)
            row["pymare"] = pymare_rate(y, v, method, args.repeat)
            r = r_loop(y, v, method, args.r_fits) if args.r_fits else None
            row["metafor"] = r["analyses"] / r["seconds"] if r else None
            row["metafor_failed"] = r["failed"] if r else None
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    return rows


def fmt(x):
    if x is None:
        return "n/a"
    return f"{x:,.0f}"


def ratio(a, b):
    return "n/a" if a is None or b is None else f"{a / b:,.2f}×" if a / b < 10 else f"{a / b:,.0f}×"


def markdown(rows) -> str:
    head = ("| k | tau² | bare numpy | kernel | batch | batch + tau² CI | single API loop | statsmodels loop "
            "| PyMARE | metafor loop |")
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        lines.append(f"| {r['k']} | {r['method']} | {fmt(r['bare_numpy'])} | {fmt(r['kernel'])} | {fmt(r['batch'])} | "
                     f"{fmt(r['batch_tau2_ci'])} | {fmt(r['single_api'])} | {fmt(r['statsmodels'])} | "
                     f"{fmt(r.get('pymare'))} | {fmt(r['metafor'])} |")
    lines += ["", "Ratios (batch without the tau² CI unless said):", "",
              "| k | tau² | batch / bare numpy | per round (least, median, largest) | batch / metafor "
              "| batch + tau² CI / metafor | batch / single API | batch / statsmodels | batch / PyMARE |",
              "|" + "---|" * 9]
    for r in rows:
        spread = ", ".join(f"{x:.2f}×" for x in r["batch_over_bare_rounds"])
        lines.append(f"| {r['k']} | {r['method']} | {ratio(r['batch'], r['bare_numpy'])} | {spread} | "
                     f"{ratio(r['batch'], r['metafor'])} | {ratio(r['batch_tau2_ci'], r['metafor'])} | "
                     f"{ratio(r['batch'], r['single_api'])} | {ratio(r['batch'], r['statsmodels'])} | "
                     f"{ratio(r['batch'], r.get('pymare'))} |")
    return "\n".join(lines)


def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    facts = {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
             "pandas": pd.__version__, "metareview": metareview.__version__}
    try:
        facts["load_average_at_start"] = os.getloadavg()[0]
    except OSError:
        pass
    if shutil.which("Rscript"):
        out = subprocess.run(["Rscript", "-e", 'cat(R.version$major, R.version$minor, '
                              'as.character(packageVersion("metafor")))'], capture_output=True, text=True)
        facts["R / metafor"] = out.stdout.strip()
    return facts


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--analyses", type=int, default=100_000)
    p.add_argument("--k", type=int, nargs="+", default=[5, 20, 100])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--single", type=int, default=500, help="analyses in the single-API loop (0: skip it)")
    p.add_argument("--statsmodels", type=int, default=5_000, help="analyses in the statsmodels loop (0: skip it)")
    p.add_argument("--r-fits", type=int, default=2_000, help="analyses in the metafor loop (0: skip R)")
    p.add_argument("--json", help="also write the results (and machine facts) to this file")
    args = p.parse_args(argv)
    facts = machine()
    rows = run(args)
    print("Machine: " + "; ".join(f"{k} {v}" for k, v in facts.items()))
    print("Analyses per second:\n")
    print(markdown(rows))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"machine": facts, "rows": rows}, fh, indent=2)


if __name__ == "__main__":
    main()
