"""Every benchmark of docs/benchmarks.md in one run, one after another, on one machine.

Each script runs as its own process (``sys.executable benchmarks/<script>.py ...``) with the
arguments docs/benchmarks.md quotes; its standard output goes to ``OUT/<name>.txt`` and
the console, and ``OUT/run.json`` records the machine, the start and end of every script
and the load average (from ``/proc/loadavg``) before each, so that a table in the docs can
say which minutes it comes from and how busy the machine was.

Run:  python benchmarks/run_all.py --out bench-results [--only pool glmm] [--quick]

``--quick`` shrinks every size (a smoke run of the driver, not numbers to publish).
Scripts whose R or PostgreSQL side is missing still run; their own output says n/a.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent

# name -> (script, full arguments, quick arguments); the order is the order of the run.
PLAN: dict[str, tuple[str, list[str], list[str]]] = {
    "startup": ("startup.py", [], ["--runs", "3"]),
    "pool": ("pool.py", [], ["--repeat", "30", "--runs", "2"]),
    "glmm": ("glmm.py", [], []),
    "batch": (
        "batch.py",
        ["--json", "{out}/batch.json"],
        ["--analyses", "2000", "--k", "20", "--r-fits", "50", "--single", "20", "--statsmodels", "50",
         "--repeat", "1", "--json", "{out}/batch.json"],
    ),
    "batch_io": ("batch_io.py", ["--json", "{out}/batch_io.json"],
                 ["--analyses", "2000", "--json", "{out}/batch_io.json"]),
    "memory": ("memory.py", [], ["--analyses", "20000"]),
    "multilevel": ("multilevel.py", [], []),
    "run_report": ("run_report.py", ["--runs", "5"], ["--runs", "1"]),
    "dedupe_exports": ("dedupe_exports.py", [], ["--records", "3000"]),
    "web_load_sqlite": ("web_load.py", ["20", "1000", "sqlite"], ["2", "20", "sqlite"]),
    "web_load_postgresql": ("web_load.py", ["20", "1000", "postgresql"], ["2", "20", "postgresql"]),
}


def load_average() -> list[float]:
    """The 1-, 5- and 15-minute load averages (Linux), or an empty list elsewhere."""
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return []


def machine() -> dict[str, object]:
    """What the numbers depend on: CPU, cores, memory, Python and the libraries measured."""
    facts: dict[str, object] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cores": os.cpu_count(),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                facts["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                facts["memory_gb"] = round(int(line.split()[1]) / 2**20, 1)
                break
    except OSError:
        pass
    versions = subprocess.run(
        [sys.executable, "-c", "import metareview, numpy, scipy, pandas, matplotlib;"
         "print(metareview.__version__, numpy.__version__, scipy.__version__, pandas.__version__,"
         " matplotlib.__version__)"],
        capture_output=True, text=True, check=False,
    ).stdout.split()
    facts.update(zip(["metareview", "numpy", "scipy", "pandas", "matplotlib"], versions))
    r = subprocess.run(
        ["Rscript", "-e", "cat(R.version$major, R.version$minor, as.character(packageVersion('metafor')))"],
        capture_output=True, text=True, check=False,
    ) if _has("Rscript") else None
    facts["R"] = r.stdout.strip() if r is not None and r.returncode == 0 else "n/a"
    return facts


def _has(program: str) -> bool:
    from shutil import which

    return which(program) is not None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True, help="folder for the outputs (made if missing)")
    p.add_argument("--only", nargs="+", choices=list(PLAN), help="run only these, in the plan's order")
    p.add_argument("--quick", action="store_true", help="small sizes: check the driver, not numbers to publish")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    record: dict[str, object] = {"machine": machine(), "quick": args.quick, "scripts": []}
    started = datetime.now(timezone.utc)
    record["started"] = started.isoformat(timespec="seconds")
    failed = []
    # The scripts start `metareview` by name: the one beside this interpreter, as in an
    # activated virtual environment.
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    # modules are timed from their cached bytecode, as an installed package runs for its users
    # (an environment that forbids writing .pyc would compile every module at every start)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    for name, (script, full, quick) in PLAN.items():
        if args.only and name not in args.only:
            continue
        argv = [a.replace("{out}", str(args.out)) for a in (quick if args.quick else full)]
        command = [sys.executable, str(HERE / script), *argv]
        print(f"== {name}: {' '.join(command[1:])}", flush=True)
        entry: dict[str, object] = {
            "name": name,
            "command": "python benchmarks/" + " ".join([script, *argv]),
            "start": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "load_before": load_average(),
        }
        t0 = time.perf_counter()
        with open(args.out / f"{name}.txt", "w") as log:
            proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
            assert proc.stdout is not None
            for line in proc.stdout:
                sys.stdout.write(line)
                log.write(line)
            code = proc.wait()
        entry.update(seconds=round(time.perf_counter() - t0, 1), exit_code=code,
                     end=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        record["scripts"].append(entry)  # type: ignore[union-attr]
        if code:
            failed.append(name)
    record["ended"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    (args.out / "run.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"\nOutputs in {args.out}; run record in {args.out / 'run.json'}")
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
