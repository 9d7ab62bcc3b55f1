"""``metareview run`` on the bundled MRgFUS review, end to end: wall time, CPU time, the figures.

Each run is a new process, as a user starts it: ``metareview run
examples/mrgfus-bone-metastases -o TMP`` (figures drawn by one worker process per core,
the default), and, for comparison, the same run with every figure drawn in the main
process (``run_review(..., workers=1)``).  For each: the median and the fastest wall time
of ``--runs`` runs, the median CPU time of the process and its workers (user + system),
the median time of the figures step (8 figures, each written as PNG, SVG and PDF; since the
figures are submitted as soon as their analysis is done, the step is the wait for the
figures not drawn by then) and the load average of the machine before the runs.  The two ways must write the same files
(the Word table aside, whose zip members carry the time they were written): the script
checks it.

``--baseline SRC`` adds the run of another version of metareview, from the ``src`` folder
of its checkout (e.g. ``git worktree add /tmp/v010 v0.1.0`` then ``--baseline
/tmp/v010/src``), and checks that it writes the same files (PNGs compared pixel by pixel).

Run:  python benchmarks/run_report.py [--runs 5] [--baseline SRC]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "mrgfus-bone-metastases"

#: The serial way: the same run, every figure drawn in the main process.
SERIAL = ("import sys; from metareview.run import run_review; "
          "from metareview.run.progress import Steps; "
          "run_review(sys.argv[1], sys.argv[2], steps=Steps(), workers=1)")

FIGURES_LINE = re.compile(r"(?:\d+ figures as PNG, SVG and PDF|Figures) \(([\d.]+) s\)")


def one_run(mode: str, out: Path, baseline: Path | None = None) -> dict:
    env = dict(os.environ)
    if mode == "serial":
        command = [sys.executable, "-c", SERIAL, str(EXAMPLE), str(out)]
    else:
        command = [sys.executable, "-m", "metareview", "run", str(EXAMPLE), "-o", str(out)]
    if mode == "baseline":
        env["PYTHONPATH"] = str(baseline)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{mode} run failed:\n{done.stderr}")
    match = FIGURES_LINE.search(done.stderr)
    return {"wall": wall, "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "figures": float(match.group(1)) if match else float("nan")}


def files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def differences(a: dict[str, bytes], b: dict[str, bytes]) -> list[str]:
    """Files that differ: PNGs by their pixels, resolution and size, the rest by their bytes."""
    import io

    import numpy as np
    from PIL import Image

    def same(name: str) -> bool:
        if name.endswith(".docx") or a.get(name) == b.get(name):
            return True
        if name.endswith(".png") and name in a and name in b:
            x, y = Image.open(io.BytesIO(a[name])), Image.open(io.BytesIO(b[name]))
            return (x.size, x.mode, x.info.get("dpi")) == (y.size, y.mode, y.info.get("dpi")) and \
                np.array_equal(np.asarray(x), np.asarray(y))
        return False

    return sorted(n for n in set(a) | set(b) if not same(n))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each way (default 5)")
    parser.add_argument("--baseline", type=Path, help="the src folder of another version to time as well")
    args = parser.parse_args(argv)
    modes = ("parallel", "serial") + (("baseline",) if args.baseline else ())

    print(f"cores available: {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()}, "
          f"Python {sys.version.split()[0]}")
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in modes:
            load = os.getloadavg()[0]
            runs = []
            for i in range(args.runs):
                out = Path(tmp) / f"{mode}{i}"
                runs.append(one_run(mode, out, args.baseline))
                if i:
                    shutil.rmtree(out)
            rows[mode] = (load, runs)
        a = files(Path(tmp) / "parallel0")
        for other in modes[1:]:
            differ = differences(a, files(Path(tmp) / f"{other}0"))
            if differ:
                raise SystemExit(f"the {other} run wrote other files: {differ}")
        n_files = len(a)

    print(f"\nmetareview run examples/mrgfus-bone-metastases: {n_files} files, the same from every way\n")
    print("| figures drawn | load before | wall, median | wall, fastest | CPU, median | figures step, median |")
    print("|---|---|---|---|---|---|")
    for mode, (load, runs) in rows.items():
        label = {"parallel": "by worker processes (default)", "serial": "in the main process",
                 "baseline": f"{args.baseline}"}[mode]
        print(f"| {label} | {load:.1f} | {statistics.median(r['wall'] for r in runs):.2f} s "
              f"| {min(r['wall'] for r in runs):.2f} s | {statistics.median(r['cpu'] for r in runs):.2f} s "
              f"| {statistics.median(r['figures'] for r in runs):.2f} s |")
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
