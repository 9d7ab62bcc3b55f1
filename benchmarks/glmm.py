"""One binomial-normal GLMM of 20 proportions: metareview in-process versus R's rma.glmm.

Run with ``python benchmarks/glmm.py [REPEATS]``.  Data: the seed paper's treatment
response (20 studies).  metareview's time is the median of REPEATS in-process fits of
``glmm_proportion`` (nAGQ = 7); R's is the mean of REPEATS
``rma.glmm(measure = "PLO", xi, ni)`` calls timed in a loop inside one ``Rscript`` (package loading not
counted), when ``Rscript`` with metafor and lme4 is installed.  Prints both and their
ratio from this run.  The target is a ratio of at least 10.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time

from metareview.pooling.glmm import glmm_proportion

EVENTS = [8, 26, 26, 6, 109, 14, 13, 16, 6, 22, 7, 72, 16, 32, 63, 8, 16, 13, 18, 11]
N = [10, 31, 30, 9, 140, 17, 18, 21, 6, 23, 11, 112, 22, 32, 72, 11, 18, 17, 25, 11]

R_CODE = """
suppressPackageStartupMessages(library(metafor))
xi <- c({x}); ni <- c({n})
invisible(rma.glmm(measure = "PLO", xi = xi, ni = ni))
t0 <- proc.time()[["elapsed"]]
for (i in seq_len({reps})) fit <- rma.glmm(measure = "PLO", xi = xi, ni = ni)
cat(sprintf("%.9f %.12f\\n", (proc.time()[["elapsed"]] - t0) / {reps}, plogis(coef(fit))))
"""


def time_python(repeats: int) -> tuple[float, float]:
    glmm_proportion(EVENTS, N)  # warm-up (imports, caches)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = glmm_proportion(EVENTS, N)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), res.estimate


def time_r(repeats: int) -> tuple[float, float] | None:
    if shutil.which("Rscript") is None:
        return None
    code = R_CODE.format(x=", ".join(map(str, EVENTS)), n=", ".join(map(str, N)), reps=repeats)
    out = subprocess.run(["Rscript", "-e", code], capture_output=True, text=True)
    if out.returncode != 0:
        print("Rscript failed:", out.stderr.strip().splitlines()[-1:], file=sys.stderr)
        return None
    mean, p = (float(v) for v in out.stdout.split())
    return mean, p


def main(repeats: int = 50) -> None:
    import math

    py, est = time_python(repeats)
    print(f"metareview glmm_proportion (k = 20, nAGQ = 7): {py * 1e3:8.3f} ms "
          f"(median of {repeats}); pooled proportion {1 / (1 + math.exp(-est)):.6f}")
    r = time_r(repeats)
    if r is None:
        print("R rma.glmm: not available (Rscript with metafor and lme4 not installed)")
        return
    r_time, r_p = r
    print(f"R metafor rma.glmm (same data):                {r_time * 1e3:8.3f} ms "
          f"(mean of {repeats}); pooled proportion {r_p:.6f}")
    print(f"speed ratio (R / metareview): {r_time / py:.1f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)
