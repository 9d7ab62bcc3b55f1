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
one ``Rscript`` (package loading not counted).  Times are CPU times of the process (user +
system: ``time.process_time``, R's ``proc.time``), which a busy machine disturbs less than
wall-clock times; both are single-threaded here (OpenBLAS limited to one thread).  Both get the same data
from a CSV file written by this script.  The estimates are printed side by side, so that a faster wrong
answer would show.  The target is a ratio of at least 10.
"""

from __future__ import annotations

import os

# one BLAS thread for both sides (R's reference BLAS is single-threaded), set before numpy loads
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

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

R_CODE = """
suppressPackageStartupMessages(library(metafor))
d <- read.csv("{csv}")
invisible({call})
times <- numeric({reps})
for (i in seq_len({reps})) {{
  t0 <- sum(proc.time()[c("user.self", "sys.self")])
  fit <- {call}
  times[i] <- sum(proc.time()[c("user.self", "sys.self")]) - t0
}}
cat(sprintf("%.9f %.12f %.12f\\n", median(times), coef(fit)[1], fit$sigma2[1]))
"""


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


def time_python(data: pd.DataFrame, spec: dict, repeats: int) -> tuple[float, float, float]:
    def fit():
        return metamv("yi", "vi", data=data, random=spec["random"], rho=spec["rho"], mods=spec["mods"],
                      cluster=spec["cluster"])
    fit()  # warm-up (imports, caches)
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        res = fit()
        times.append(time.process_time() - t0)
    return statistics.median(times), float(res.fit.beta[0]), float(res.fit.sigma2[0])


def time_r(csv: Path, spec: dict, repeats: int) -> tuple[float, float, float] | None:
    if shutil.which("Rscript") is None:
        return None
    out = subprocess.run(["Rscript", "-e", R_CODE.format(csv=csv, call=spec["r"], reps=repeats)],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        print("Rscript failed:", out.stderr.strip().splitlines()[-1:], file=sys.stderr)
        return None
    med, b, s2 = (float(v) for v in out.stdout.split())
    return med, b, s2


def main(repeats: int = 30) -> None:
    print(f"{'model':16s} {'k':>5s} {'metareview':>12s} {'rma.mv':>12s} {'ratio':>7s}   "
          f"estimates (metareview | rma.mv: intercept, sigma²_1)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, spec in MODELS.items():
            data = table(name)
            csv = Path(tmp) / f"{name}.csv"
            data.to_csv(csv, index=False)
            py, b, s2 = time_python(data, spec, repeats)
            r = time_r(csv, spec, repeats if name != "simulated" else min(repeats, 3))
            if r is None:
                print(f"{name:16s} {len(data):5d} {py * 1e3:9.2f} ms {'n/a':>12s}", flush=True)
                continue
            print(f"{name:16s} {len(data):5d} {py * 1e3:9.2f} ms {r[0] * 1e3:9.2f} ms {r[0] / py:6.1f}x   "
                  f"{b:.8f} {s2:.8f} | {r[1]:.8f} {r[2]:.8f}", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
