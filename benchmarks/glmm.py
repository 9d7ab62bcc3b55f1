"""GLMMs: metareview in-process versus R's rma.glmm, and the two-group UM.FS model at large k.

Run with ``python benchmarks/glmm.py [REPEATS]``.  Three parts, all from this one run:

1. The binomial-normal GLMM of the seed paper's treatment response (20 proportions, nAGQ = 7):
   ``metaprop(events, n, method="GLMM")`` (the whole analysis: common-effect and random-effects
   models, study table) and ``glmm_proportion`` (the random-effects fit alone) against
   ``rma.glmm(measure = "PLO", xi, ni)``.
2. The two-group odds-ratio GLMM UM.FS on metadat's dat.bcg (13 trials): ``glmm_or(...)`` against
   ``rma.glmm(measure = "OR", ai, n1i, ci, n2i, model = "UM.FS")``.
3. ``glmm_or(..., model="UM.FS")`` on k = 20, 100 and 500 simulated trials (no R).

Parts 1 and 2 take turns with one ``Rscript`` session (metafor and lme4 loaded once, when
``Rscript`` with both is installed): 10 rounds, in each a block of REPEATS / 10 calls of every
fit, R's and ours, the order reversed every other round, so that both sides are timed over the
same minutes (``_interleaved.py``); each side's first call is not timed.  Both sides report the
median wall-clock time of one call and the mean CPU time (user + system of the process) over all
their blocks: on a shared machine the wall clock includes the time other processes hold the
cores, and the CPU-time ratio is the steadier one.  The CPU ratio of each round is printed too
(least, median, largest), so that the machine's drift shows.  The estimates of both sides are
printed side by side.  The target of part 1 is a ratio of at least 15.
"""

from __future__ import annotations

import math
import os
import sys
import warnings
from collections.abc import Callable

import numpy as np
from _interleaved import Block, RError, RSession, alternate, mean_cpu, median_wall, python_block, spread, utc_now

import metareview as mr
from metareview.pooling.glmm import glmm_or, glmm_proportion

ROUNDS = 10

EVENTS = [8, 26, 26, 6, 109, 14, 13, 16, 6, 22, 7, 72, 16, 32, 63, 8, 16, 13, 18, 11]
N = [10, 31, 30, 9, 140, 17, 18, 21, 6, 23, 11, 112, 22, 32, 72, 11, 18, 17, 25, 11]
# metadat::dat.bcg
BCG = dict(ai=[4, 6, 3, 62, 33, 180, 8, 505, 29, 17, 186, 5, 27],
           n1i=[123, 306, 231, 13598, 5069, 1541, 2545, 88391, 7499, 1716, 50634, 2498, 16913],
           ci=[11, 29, 11, 248, 47, 372, 10, 499, 45, 65, 141, 3, 29],
           n2i=[139, 303, 220, 12867, 5808, 1451, 629, 88391, 7277, 1665, 27338, 2341, 17854])

R_SETUP = """
suppressPackageStartupMessages(library(metafor))
xi <- c({x}); ni <- c({n})
ai <- c({ai}); n1i <- c({n1i}); ci <- c({ci}); n2i <- c({n2i})
"""
R_CALLS = {"plo": 'rma.glmm(measure = "PLO", xi = xi, ni = ni)',
           "or": 'suppressWarnings(rma.glmm(measure = "OR", ai = ai, n1i = n1i, ci = ci, n2i = n2i, model = "UM.FS"))'}


def clock(f, repeats: int) -> tuple[float, float]:
    """Median wall-clock and mean CPU seconds of one call of ``f`` (part 3: no R side)."""
    f()
    block = python_block(f, repeats)
    return median_wall([block]), mean_cpu([block])


def r_session() -> tuple[RSession, dict[str, float]] | None:
    """The R session of parts 1 and 2 and R's estimates (logit, log odds ratio), or None (said on
    stderr) when Rscript, metafor or lme4 is missing."""
    if not RSession.available():
        return None
    r = RSession(R_SETUP.format(x=", ".join(map(str, EVENTS)), n=", ".join(map(str, N)),
                                **{key: ", ".join(map(str, v)) for key, v in BCG.items()}),
                 R_CALLS, {name: "function(fit) coef(fit)" for name in R_CALLS})
    try:
        estimates = {name: r.value(name)[0] for name in R_CALLS}  # also the unmeasured first call of each
    except RError as e:
        print("Rscript failed:", e, file=sys.stderr)
        r.close()
        return None
    return r, estimates


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
    print(f"load average (1 min) at the start: {os.getloadavg()[0]:.2f}; {utc_now()} UTC")
    warnings.simplefilter("ignore")
    rounds = min(ROUNDS, repeats)
    per_block = math.ceil(repeats / rounds)
    ours = {"metaprop": lambda: mr.metaprop(EVENTS, N, method="GLMM"),
            "glmm_proportion": lambda: glmm_proportion(EVENTS, N),
            "glmm_or": lambda: glmm_or(BCG["ai"], BCG["n1i"], BCG["ci"], BCG["n2i"])}
    estimates = {name: call().estimate if name != "metaprop" else float(call().pooled["random_estimate"])
                 for name, call in ours.items()}  # also the unmeasured first call of each
    started = r_session()
    r, r_estimates = started if started is not None else (None, {})
    steps: dict[str, Callable[[], Block]] = {}
    if r is not None:
        steps["R plo"] = lambda: r.block("plo", per_block)
    steps["metaprop"] = lambda: python_block(ours["metaprop"], per_block)
    steps["glmm_proportion"] = lambda: python_block(ours["glmm_proportion"], per_block)
    if r is not None:
        steps["R or"] = lambda: r.block("or", per_block)
    steps["glmm_or"] = lambda: python_block(ours["glmm_or"], per_block)
    try:
        blocks = alternate(rounds, steps)
    finally:
        if r is not None:
            r.close()
    t = {name: (median_wall(b), mean_cpu(b)) for name, b in blocks.items()}
    meta, alone, bcg = t["metaprop"], t["glmm_proportion"], t["glmm_or"]
    p = 1 / (1 + math.exp(-estimates["glmm_proportion"]))
    print(f"{rounds} rounds; in each, a block of {per_block} calls of every line below, R's (one Rscript session) "
          "and ours alternating (the order reversed every other round); wall: the median call of all blocks, "
          "cpu: the mean call (user + system)")
    print(f"1. seed, 20 proportions, binomial-normal GLMM (nAGQ = 7), pooled proportion {p:.6f}")
    print(f"   metareview metaprop(method='GLMM')  wall {ms(meta[0])}  cpu {ms(meta[1])}")
    print(f"   metareview glmm_proportion          wall {ms(alone[0])}  cpu {ms(alone[1])}")
    print("2. dat.bcg, 13 trials, UM.FS")
    print(f"   metareview glmm_or                  wall {ms(bcg[0])}  cpu {ms(bcg[1])}")
    if r is None:
        print("   R rma.glmm: not available (Rscript with metafor and lme4 not installed)")
    else:
        plo, odds = t["R plo"], t["R or"]
        print(f"   R rma.glmm(measure = 'PLO')         wall {ms(plo[0])}  cpu {ms(plo[1])}")
        print(f"   R rma.glmm(measure = 'OR', UM.FS)   wall {ms(odds[0])}  cpu {ms(odds[1])}")
        for label, theirs, name in (("R / metaprop(method='GLMM'):  ", "R plo", "metaprop"),
                                    ("R / glmm_proportion:          ", "R plo", "glmm_proportion"),
                                    ("R / glmm_or (UM.FS):          ", "R or", "glmm_or")):
            per_round = [b_r.mean_cpu / b.mean_cpu for b_r, b in zip(blocks[theirs], blocks[name])]
            print(f"   ratio {label}wall {t[theirs][0] / t[name][0]:5.1f}x  cpu {t[theirs][1] / t[name][1]:5.1f}x  "
                  f"cpu per round (least, median, largest) {spread(per_round)}")
        print(f"   estimates, metareview | rma.glmm: logit {estimates['metaprop']:.6f} "
              f"(glmm_proportion {estimates['glmm_proportion']:.6f}) | {r_estimates['plo']:.6f}; "
              f"log odds ratio {estimates['glmm_or']:.6f} | {r_estimates['or']:.6f}")
    print("3. UM.FS on k simulated trials (study intercepts eliminated block by block, O(k))")
    for k in (20, 100, 500):
        d = tables(k)
        t3 = clock(lambda d=d: glmm_or(*d), max(3, repeats // (k // 10)))
        print(f"   k = {k:3d}                              wall {ms(t3[0])}  cpu {ms(t3[1])}")
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.2f}; {utc_now()} UTC")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)
