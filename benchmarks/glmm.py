"""GLMMs: metareview in-process versus R's rma.glmm, and the two-group UM.FS model at large k.

Run with ``python benchmarks/glmm.py [REPEATS]``.  Three parts, all from this one run:

1. The binomial-normal GLMM of the seed paper's treatment response (20 proportions, nAGQ = 7):
   ``metaprop(events, n, method="GLMM")`` (the whole analysis: common-effect and random-effects
   models, study table) and ``glmm_proportion`` (the random-effects fit alone) against
   ``rma.glmm(measure = "PLO", xi, ni)``.
2. The two-group odds-ratio GLMM UM.FS on metadat's dat.bcg (13 trials): ``glmm_or(...)`` against
   ``rma.glmm(measure = "OR", ai, n1i, ci, n2i, model = "UM.FS")``.
3. ``glmm_or(..., model="UM.FS")`` on k = 20, 100 and 500 simulated trials (no R).

metareview's times are medians of REPEATS in-process calls after a warm-up; R's are the mean of
REPEATS calls timed in a loop inside one ``Rscript`` (package loading not counted), when ``Rscript``
with metafor and lme4 is installed.  Both wall-clock and CPU time (user + system of the process) are
reported: on a shared machine the wall clock includes the time other processes hold the cores, and
the CPU-time ratio is the steadier one.  The target of part 1 is a ratio of at least 15.
"""

from __future__ import annotations

import math
import os
import shutil
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np

import metareview as mr
from metareview.pooling.glmm import glmm_or, glmm_proportion

EVENTS = [8, 26, 26, 6, 109, 14, 13, 16, 6, 22, 7, 72, 16, 32, 63, 8, 16, 13, 18, 11]
N = [10, 31, 30, 9, 140, 17, 18, 21, 6, 23, 11, 112, 22, 32, 72, 11, 18, 17, 25, 11]
# metadat::dat.bcg
BCG = dict(ai=[4, 6, 3, 62, 33, 180, 8, 505, 29, 17, 186, 5, 27],
           n1i=[123, 306, 231, 13598, 5069, 1541, 2545, 88391, 7499, 1716, 50634, 2498, 16913],
           ci=[11, 29, 11, 248, 47, 372, 10, 499, 45, 65, 141, 3, 29],
           n2i=[139, 303, 220, 12867, 5808, 1451, 629, 88391, 7277, 1665, 27338, 2341, 17854])

R_CODE = """
suppressPackageStartupMessages(library(metafor))
xi <- c({x}); ni <- c({n})
ai <- c({ai}); n1i <- c({n1i}); ci <- c({ci}); n2i <- c({n2i})
clock <- function(f) {{
  invisible(f())
  t0 <- proc.time()
  for (i in seq_len({reps})) fit <- f()
  d <- proc.time() - t0
  c(d[["elapsed"]], d[["user.self"]] + d[["sys.self"]]) / {reps}
}}
plo <- clock(function() rma.glmm(measure = "PLO", xi = xi, ni = ni))
or <- clock(function() suppressWarnings(rma.glmm(measure = "OR", ai = ai, n1i = n1i, ci = ci, n2i = n2i,
                                                  model = "UM.FS")))
cat(sprintf("%.9f %.9f %.9f %.9f\\n", plo[1], plo[2], or[1], or[2]))
"""


def clock(f, repeats: int) -> tuple[float, float]:
    """Median wall-clock and mean CPU seconds of one call of ``f``."""
    f()
    walls = []
    cpu0 = time.process_time()
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        walls.append(time.perf_counter() - t0)
    return statistics.median(walls), (time.process_time() - cpu0) / repeats


def time_r(repeats: int) -> dict | None:
    if shutil.which("Rscript") is None:
        return None
    code = R_CODE.format(x=", ".join(map(str, EVENTS)), n=", ".join(map(str, N)), reps=repeats,
                         **{key: ", ".join(map(str, v)) for key, v in BCG.items()})
    out = subprocess.run(["Rscript", "-e", code], capture_output=True, text=True)
    if out.returncode != 0:
        print("Rscript failed:", out.stderr.strip().splitlines()[-1:], file=sys.stderr)
        return None
    plo_wall, plo_cpu, or_wall, or_cpu = (float(v) for v in out.stdout.split())
    return {"plo": (plo_wall, plo_cpu), "or": (or_wall, or_cpu)}


def tables(k: int, seed: int = 1):
    """k simulated two-arm trials (baseline risk about 18%, odds ratios scattered around 0.67)."""
    rng = np.random.default_rng(seed)
    n1, n2 = rng.integers(40, 200, k), rng.integers(40, 200, k)
    base, lor = rng.normal(-1.5, 0.6, k), rng.normal(-0.4, 0.4, k)
    a = rng.binomial(n1, 1 / (1 + np.exp(-(base + lor))))
    c = rng.binomial(n2, 1 / (1 + np.exp(-base)))
    return a, n1, c, n2


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:9.2f} ms"


def main(repeats: int = 50) -> None:
    print(f"load average (1 min) at the start: {os.getloadavg()[0]:.2f}")
    warnings.simplefilter("ignore")
    meta = clock(lambda: mr.metaprop(EVENTS, N, method="GLMM"), repeats)
    alone = clock(lambda: glmm_proportion(EVENTS, N), repeats)
    bcg = clock(lambda: glmm_or(BCG["ai"], BCG["n1i"], BCG["ci"], BCG["n2i"]), repeats)
    p = 1 / (1 + math.exp(-glmm_proportion(EVENTS, N).estimate))
    print(f"1. seed, 20 proportions, binomial-normal GLMM (nAGQ = 7), pooled proportion {p:.6f}")
    print(f"   metareview metaprop(method='GLMM')  wall {ms(meta[0])}  cpu {ms(meta[1])}")
    print(f"   metareview glmm_proportion          wall {ms(alone[0])}  cpu {ms(alone[1])}")
    print("2. dat.bcg, 13 trials, UM.FS")
    print(f"   metareview glmm_or                  wall {ms(bcg[0])}  cpu {ms(bcg[1])}")
    r = time_r(repeats)
    if r is None:
        print("   R rma.glmm: not available (Rscript with metafor and lme4 not installed)")
    else:
        print(f"   R rma.glmm(measure = 'PLO')         wall {ms(r['plo'][0])}  cpu {ms(r['plo'][1])}")
        print(f"   R rma.glmm(measure = 'OR', UM.FS)   wall {ms(r['or'][0])}  cpu {ms(r['or'][1])}")
        print(f"   ratio R / metaprop(method='GLMM'):  wall {r['plo'][0] / meta[0]:5.1f}x  "
              f"cpu {r['plo'][1] / meta[1]:5.1f}x")
        print(f"   ratio R / glmm_proportion:          wall {r['plo'][0] / alone[0]:5.1f}x  "
              f"cpu {r['plo'][1] / alone[1]:5.1f}x")
        print(f"   ratio R / glmm_or (UM.FS):          wall {r['or'][0] / bcg[0]:5.1f}x  "
              f"cpu {r['or'][1] / bcg[1]:5.1f}x")
    print("3. UM.FS on k simulated trials (study intercepts eliminated block by block, O(k))")
    for k in (20, 100, 500):
        d = tables(k)
        t = clock(lambda d=d: glmm_or(*d), max(3, repeats // (k // 10)))
        print(f"   k = {k:3d}                              wall {ms(t[0])}  cpu {ms(t[1])}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)
