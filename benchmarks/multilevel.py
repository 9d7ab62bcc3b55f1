"""Multilevel models: metareview's ``metamv`` in-process versus R metafor's ``rma.mv``.

Run with ``python benchmarks/multilevel.py [REPEATS]`` (default 30).  Three models, each
fitted by REML from a table (formula parsing and checks included on both sides):

* ``konstantopoulos``: dat.konstantopoulos2011, 56 schools in 11 districts,
  ``random = ~ 1 | district/school``;
* ``assink``: dat.assink2016, 100 effect sizes in 17 studies, a constant within-study
  correlation of 0.6 (``vcalc``) and the moderator ``deltype``;
* ``simulated``: 500 estimates, 5 in each of 100 studies (seeded), ``~ 1 | study/es``;
  R fits it with ``sparse = TRUE`` (its fast path for block-diagonal models; dense takes
  minutes), at most 3 times.

metareview's time is the median of REPEATS fits of ``metamv`` (the likelihood-ratio tests
of the variance components, computed on first use, are not asked for: ``rma.mv`` does not
compute them either); R's is the median of REPEATS ``rma.mv`` calls timed one by one inside
one ``Rscript`` session (package and data loading not counted).  The two sides take turns over
the same minutes (``_interleaved.py``): 10 rounds per model (3 for the simulated one, R fitting
it once a round), in each a block of fits on each side, the order reversed every other round;
each side's first fit is not timed.  Times are CPU times of one fit (user + system:
``time.process_time``, R's ``proc.time``, which R reports to the millisecond), which a busy
machine disturbs less than wall-clock times; both are single-threaded here (OpenBLAS limited to
one thread).  The ratio of each round's medians is printed too (least, median, largest), so
that the machine's drift shows.  Both get the same data from a CSV file written by this script.
The estimates are printed side by side, so that a faster wrong answer would show.  The target
is a ratio of at least 10.
"""

from __future__ import annotations

import os

# one BLAS thread for both sides (R's reference BLAS is single-threaded), set before numpy loads
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import json
import math
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from _interleaved import Block, RError, RSession, alternate, median_cpu, python_block, spread, utc_now

from metareview.analyses.multilevel import metamv

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "multilevel"

MODELS = {
    "konstantopoulos": {"fixture": "konstantopoulos_reml", "random": "~ 1 | district/school", "rho": None,
                        "mods": None, "cluster": "district",
                        "r": "rma.mv(yi, vi, random = ~ 1 | district/school, data = d)"},
    "assink": {"fixture": "assink_vcalc_deltype", "random": "~ 1 | study/esid", "rho": 0.6, "mods": "~ deltype",
               "cluster": "study",
               "r": "rma.mv(yi, vcalc(vi, cluster = study, obs = esid, data = d, rho = 0.6), mods = ~ deltype, "
                    "random = ~ 1 | study/esid, data = d)"},
    "simulated": {"fixture": None, "random": "~ 1 | study/es", "rho": None, "mods": None, "cluster": "study",
                  "r": "rma.mv(yi, vi, random = ~ 1 | study/es, data = d, sparse = TRUE)"},
}

ROUNDS = 10
R_SETUP = "suppressPackageStartupMessages(library(metafor))\n"


def simulated(seed: int = 20) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    studies, per = 100, 5
    u = rng.normal(0, np.sqrt(0.05), studies)
    rows = []
    for s in range(studies):
        for e in range(per):
            vi = float(rng.uniform(0.01, 0.1))
            rows.append({"study": s + 1, "es": e + 1, "yi": 0.3 + u[s] + rng.normal(0, np.sqrt(0.02))
                         + rng.normal(0, np.sqrt(vi)), "vi": vi})
    return pd.DataFrame(rows)


def table(name: str) -> pd.DataFrame:
    spec = MODELS[name]
    if spec["fixture"] is None:
        return simulated()
    return pd.DataFrame(json.loads((FIXTURES / f"{spec['fixture']}.json").read_text())["data"])


def r_session(folder: Path) -> RSession | None:
    """One R session with the three tables read (``folder/<model>.csv``), or None when R is missing or fails."""
    if not RSession.available():
        return None
    setup = R_SETUP + "".join(f'{name} <- read.csv("{folder / name}.csv")\n' for name in MODELS)
    r = RSession(setup, {name: f"{{ d <- {name}; {spec['r']} }}" for name, spec in MODELS.items()},
                 {name: "function(fit) c(coef(fit)[1], fit$sigma2[1])" for name in MODELS})
    try:
        r.value(next(iter(MODELS)))
    except RError as e:
        print("Rscript failed:", e, file=sys.stderr)
        r.close()
        return None
    return r


def main(repeats: int = 30) -> None:
    print(f"load average (1 min) at the start: {os.getloadavg()[0]:.2f}; {utc_now()} UTC")
    print(f"{'model':16s} {'k':>5s} {'metareview':>12s} {'rma.mv':>12s} {'ratio':>7s} {'per round':>20s}   "
          f"estimates (metareview | rma.mv: intercept, sigma²_1)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        tables = {name: table(name) for name in MODELS}
        for name, data in tables.items():
            data.to_csv(Path(tmp) / f"{name}.csv", index=False)
        r = r_session(Path(tmp))
        try:
            for name, spec in MODELS.items():
                data = tables[name]

                def fit(data=data, spec=spec):
                    return metamv("yi", "vi", data=data, random=spec["random"], rho=spec["rho"], mods=spec["mods"],
                                  cluster=spec["cluster"])

                res = fit()  # the unmeasured first call (imports, caches)
                r_total = repeats if name != "simulated" else min(repeats, 3)
                rounds = min(ROUNDS, r_total)
                py_n, r_n = math.ceil(repeats / rounds), math.ceil(r_total / rounds)
                steps: dict[str, Callable[[], Block]] = {
                    "ours": lambda fit=fit, n=py_n: python_block(fit, n, per_call_cpu=True)}
                if r is not None:
                    r_values = r.value(name)  # R's unmeasured first call, and its estimates
                    steps["R"] = lambda name=name, n=r_n: r.block(name, n, per_call_cpu=True)
                blocks = alternate(rounds, steps)
                py = median_cpu(blocks["ours"])
                b, s2 = float(res.fit.beta[0]), float(res.fit.sigma2[0])
                if r is None:
                    print(f"{name:16s} {len(data):5d} {py * 1e3:9.2f} ms {'n/a':>12s}", flush=True)
                    continue
                theirs = median_cpu(blocks["R"])
                per_round = spread(median_cpu([b_r]) / median_cpu([b_py]) for b_py, b_r in zip(blocks["ours"],
                                                                                                 blocks["R"]))
                print(f"{name:16s} {len(data):5d} {py * 1e3:9.2f} ms {theirs * 1e3:9.2f} ms {theirs / py:6.1f}x "
                      f"{per_round:>20s}   {b:.8f} {s2:.8f} | {r_values[0]:.8f} {r_values[1]:.8f}", flush=True)
        finally:
            if r is not None:
                r.close()
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.2f}; {utc_now()} UTC")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
