"""Peak memory of ``metareview batch`` on 10⁶ analyses of k = 20 (2 × 10⁷ study rows).

Writes a long Parquet table (analysis, yi, vi) piece by piece, then runs
``metareview batch TABLE -o results.parquet`` in a child process and reports its wall time
and peak resident set size (``getrusage`` of the child).  Target: under 2 GB.

Run:  python benchmarks/memory.py [--analyses 1000000] [--k 20] [--method-tau2 DL] [--dir DIR]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def write_table(path: Path, m: int, k: int, piece: int = 50_000) -> None:
    rng = np.random.default_rng(1)
    writer = None
    for a in range(0, m, piece):
        b = min(a + piece, m)
        n = rng.integers(20, 201, (b - a, k))
        vi = 4.0 / n
        yi = rng.normal(rng.normal(0.3, np.sqrt(0.05), (b - a, 1)), np.sqrt(vi))
        table = pa.table({"analysis": np.repeat(np.arange(a, b), k), "yi": yi.ravel(), "vi": vi.ravel()})
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    writer.close()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--analyses", type=int, default=1_000_000)
    p.add_argument("--k", type=int, default=20)
    p.add_argument("--method-tau2", default="DL")
    p.add_argument("--dir", help="where to write the table (default: a temporary directory)")
    args = p.parse_args(argv)
    tmp = Path(args.dir) if args.dir else Path(tempfile.mkdtemp())
    try:
        data, out = tmp / "long.parquet", tmp / "results.parquet"
        t0 = time.perf_counter()
        write_table(data, args.analyses, args.k)
        print(f"table: {args.analyses:,} analyses x k = {args.k} ({data.stat().st_size / 1e6:,.0f} MB on disk), "
              f"written in {time.perf_counter() - t0:.1f} s")
        exe = shutil.which("metareview")
        cmd = ([exe] if exe else [sys.executable, "-m", "metareview.cli"]) + [
            "batch", str(data), "-o", str(out), "--method-tau2", args.method_tau2, "--no-progress"]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True)
        wall = time.perf_counter() - t0
        rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        rows = pq.ParquetFile(out).metadata.num_rows
        print(f"metareview batch ({args.method_tau2}, Q-profile CI of tau² included): {rows:,} analyses in "
              f"{wall:.1f} s ({rows / wall:,.0f} per second), peak RSS {rss_mb:,.0f} MB")
    finally:
        if not args.dir:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
