"""Writing a batch's results: the columnar writers against pooling, and against pandas' CSV writer.

For 100,000 analyses of k = 20 (generic yi, vi; DerSimonian-Laird, no Q-profile CI of
tau²), this times, in one process and one run:

* ``pool``         pooling every analysis (``iter_batch`` over a DataFrame, chunks as
  ``metareview batch`` pools them);
* ``write csv``    the result chunks through ``metareview batch``'s writer to CSV
  (pyarrow's CSVWriter: shortest round-trip text of each double), given as the command
  gives them, the columns of each chunk (``iter_batch_columns``, pooled beforehand);
* ``write parquet``the same chunks to Parquet (pyarrow's ParquetWriter);
* ``pool + write csv`` / ``pool + write parquet``  pooling and writing together, as
  ``metareview batch`` does them (writing overlaps pooling: CSV chunks are formatted on
  every core while the next are pooled);
* ``disk``         as many bytes as the CSV, written and synced (``dd conv=fsync`` alike):
  what the disk takes, to compare the writers' bytes per second with;
* ``pandas csv``   the same chunks through ``DataFrame.to_csv(float_format="%.17g")``, the
  writer ``metareview batch`` used before;
* ``whole command`` ``metareview batch long.parquet -o out.csv --no-tau2-ci --quiet`` as a new
  process (reading, pooling and writing);
* ``csv by column type``  pyarrow's CSV formatting of the result columns of each Arrow type
  alone (doubles, integers, booleans, strings), in one thread: CPU nanoseconds per value, to
  show where the CSV's time goes.

Run:  python benchmarks/batch_io.py [--analyses 100000] [--k 20] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd


def simulate(n_analyses: int, k: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = rng.integers(20, 201, size=(n_analyses, k))
    vi = 4.0 / n
    yi = rng.normal(0.3, np.sqrt(vi + 0.05))
    return pd.DataFrame({"analysis": np.repeat(np.arange(n_analyses), k), "yi": yi.ravel(), "vi": vi.ravel()})


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


CPU: dict = {}


def timed_cpu(name, fn):
    """Wall time (returned) and CPU time of this process, its threads included (kept in CPU)."""
    cpu = time.process_time()
    wall, value = timed(fn)
    CPU[name] = time.process_time() - cpu
    return wall, value


def disk(path: Path, size: int) -> None:
    block = bytes(1 << 20)
    with open(path, "wb") as fh:
        for _ in range(size // len(block)):
            fh.write(block)
        fh.write(block[:size % len(block)])
        fh.flush()
        os.fsync(fh.fileno())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--analyses", type=int, default=100_000)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from metareview.api.batch import iter_batch, iter_batch_columns
    from metareview.cli.cmd_batch import write_results

    table = simulate(args.analyses, args.k)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_pool, parts = timed_cpu("pool", lambda: list(iter_batch(table, tau2_ci=False, method_tau2="DL")))
        columns = list(iter_batch_columns(table, tau2_ci=False, method_tau2="DL"))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        empty = parts[0].iloc[:0]
        results["pool"] = t_pool

        def write(name, chunks, target):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                results[name], _ = timed_cpu(name, lambda: write_results(chunks, target, lambda: empty, []))

        for suffix, chunks in (("csv", iter_batch_columns), ("parquet", iter_batch)):  # as the command writes each
            write(f"write {suffix}", iter(columns if suffix == "csv" else parts), tmp / f"out.{suffix}")
            write(f"pool + write {suffix}", chunks(table, tau2_ci=False, method_tau2="DL"), tmp / f"both.{suffix}")
        sizes = {suffix: (tmp / f"out.{suffix}").stat().st_size for suffix in ("csv", "parquet")}
        results["disk"], _ = timed(lambda: disk(tmp / "disk.bin", sizes["csv"]))

        def pandas_csv():
            with open(tmp / "pandas.csv", "w", newline="") as fh:
                for i, df in enumerate(parts):
                    df.to_csv(fh, header=i == 0, index=False, float_format="%.17g")
        results["pandas csv"], _ = timed(pandas_csv)
        source = tmp / "long.parquet"
        table.to_parquet(source, index=False)
        command = [sys.executable, "-m", "metareview", "batch", str(source), "-o", str(tmp / "cmd.csv"),
                   "--no-tau2-ci", "--quiet"]
        results["whole command"], _ = timed(lambda: subprocess.run(command, check=True, capture_output=True))
        check = pd.read_csv(tmp / "out.csv")
        assert len(check) == args.analyses
    by_type = csv_by_type(parts)
    rows = args.analyses
    print(f"{rows:,} analyses of k = {args.k} (DL, no tau² CI); {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    for name, seconds in results.items():
        cpu = f"  (CPU {CPU[name]:.2f} s)" if name in CPU else ""
        print(f"  {name:<20} {seconds:8.2f} s{cpu}")
    mb = {suffix: size / 1e6 for suffix, size in sizes.items()}
    print(f"  write csv / pool: {results['write csv'] / results['pool']:.2f}; "
          f"pandas csv / write csv: {results['pandas csv'] / results['write csv']:.1f}x")
    print(f"  CSV {mb['csv']:.1f} MB at {mb['csv'] / results['write csv']:.0f} MB/s, Parquet {mb['parquet']:.1f} MB "
          f"at {mb['parquet'] / results['write parquet']:.0f} MB/s; the disk {mb['csv'] / results['disk']:.0f} MB/s")
    print("  CSV formatting by column type (one thread, CPU per value; empty values included): "
          + "; ".join(f"{kind} x {n}: {ns:.0f} ns" for kind, (n, ns) in by_type.items()))
    if args.json:
        args.json.write_text(json.dumps({"analyses": rows, "k": args.k, "seconds": results, "cpu_seconds": CPU,
                                         "bytes": sizes, "csv_ns_per_value_by_type": by_type}, indent=2))


def csv_by_type(parts) -> dict:
    """For each Arrow type of the result columns: (columns, CPU ns per value) of pyarrow's CSV
    formatting of those columns alone, in this thread, best of three."""
    import pyarrow as pa
    import pyarrow.csv as pc

    from metareview.cli.cmd_batch import _arrow_table

    tables = [_arrow_table(df) for df in parts]
    kinds: dict = {}
    for name, column in zip(tables[0].column_names, tables[0].columns):
        kinds.setdefault(str(column.type), []).append(name)
    options = pc.WriteOptions(quoting_style="needed", include_header=False)
    out = {}
    for kind, names in kinds.items():
        chosen = [t.select(names) for t in tables]
        best = np.inf
        for _ in range(3):
            cpu = time.process_time()
            for t in chosen:
                pc.write_csv(t, pa.BufferOutputStream(), write_options=options)
            best = min(best, time.process_time() - cpu)
        out[kind] = (len(names), best / (len(names) * sum(t.num_rows for t in chosen)) * 1e9)
    return out


if __name__ == "__main__":
    main()
