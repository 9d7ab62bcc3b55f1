"""The benchmarks' interleaving (``benchmarks/_interleaved.py``): what runs when, what is returned.

These check the order of the rounds, the statistics over blocks and the R session's request
protocol, not any timing: the benchmark scripts themselves are never run as tests. The R
session's tests need ``Rscript`` (base R only) and are skipped without it.
"""

from __future__ import annotations

import importlib.util
import statistics
import sys
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "_interleaved.py"
_spec = importlib.util.spec_from_file_location("_interleaved", PATH)
assert _spec is not None and _spec.loader is not None
iv = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("_interleaved", iv)  # dataclasses look their module up by name
_spec.loader.exec_module(iv)

needs_r = pytest.mark.skipif(not iv.RSession.available(), reason="Rscript is not installed")


def test_alternate_reverses_the_order_every_other_round():
    log: list[str] = []

    def step(name):
        def run():
            log.append(name)
            return f"{name}{sum(1 for x in log if x == name)}"
        return run

    out = iv.alternate(4, {"R": step("R"), "py": step("py"), "other": step("other")})
    assert log == ["R", "py", "other", "other", "py", "R", "R", "py", "other", "other", "py", "R"]
    # each step's results in round order, so that out[a][i] and out[b][i] share a round
    assert out == {"R": ["R1", "R2", "R3", "R4"], "py": ["py1", "py2", "py3", "py4"],
                   "other": ["other1", "other2", "other3", "other4"]}


def test_block_statistics():
    a = iv.Block(wall=(1.0, 3.0), cpu=(0.5, 2.5))
    b = iv.Block(wall=(2.0, 2.0, 5.0), cpu=(1.0, 1.0, 1.0))
    assert a.calls == 2 and a.mean_wall == 2.0 and a.mean_cpu == 1.5
    assert iv.fastest_mean_wall([a, b]) == 2.0
    assert iv.fastest_mean_wall([b]) == 3.0
    assert iv.median_wall([a, b]) == 2.0
    assert iv.median_cpu([a, b]) == 1.0
    assert iv.mean_cpu([a, b]) == pytest.approx(6.0 / 5)
    whole = iv.Block(wall=(1.0, 1.0), cpu=(4.0,))  # CPU of the whole block only
    assert whole.mean_cpu == 2.0 and iv.mean_cpu([whole, a]) == pytest.approx(7.0 / 4)
    with pytest.raises(ValueError, match="per_call_cpu"):
        iv.median_cpu([whole])


def test_spread_is_least_median_largest():
    assert iv.spread([3.0, 1.0, 2.0, 10.0]) == "1.0×, 2.5×, 10.0×"
    assert iv.spread([20.04, 19.96, 21.0], digits=2) == "19.96×, 20.04×, 21.00×"


@pytest.mark.parametrize("per_call_cpu", [False, True])
def test_python_block_times_each_call(per_call_cpu):
    calls = []
    block = iv.python_block(lambda: calls.append(1), 7, per_call_cpu=per_call_cpu)
    assert len(calls) == 7 and block.calls == 7 and all(t >= 0 for t in block.wall)
    assert len(block.cpu) == (7 if per_call_cpu else 1)


def test_run_process_fails_loudly():
    assert iv.run_process([sys.executable, "-c", "pass"])() > 0
    with pytest.raises(Exception, match="returned non-zero exit status 3"):
        iv.run_process([sys.executable, "-c", "raise SystemExit(3)"])()


@needs_r
def test_r_session_answers_values_and_blocks():
    with iv.RSession("base <- 10", {"add": "base + 5", "nap": "{ Sys.sleep(0.02); 1 }"},
                     {"add": "function(fit) c(fit, fit / 4)"}) as r:
        assert r.value("add") == [15.0, 3.75]
        block = r.block("nap", 3)
        assert block.calls == 3 and len(block.cpu) == 1
        # each call sleeps 20 ms: per-call wall times in seconds, one per call
        assert all(0.02 <= t < 2 for t in block.wall)
        each = r.block("nap", 2, per_call_cpu=True)
        assert each.calls == 2 and len(each.cpu) == 2
        assert statistics.mean(each.cpu) < 0.02  # sleeping takes no CPU


@needs_r
def test_r_session_errors_name_what_r_said():
    with pytest.raises(iv.RError, match="no package called .nonexistentpackage"):
        with iv.RSession("library(nonexistentpackage)", {"f": "1"}) as r:
            r.value("f")
    with iv.RSession("", {"bad": 'stop("the fit failed here")'}) as r:
        with pytest.raises(iv.RError, match="the fit failed here"):
            r.block("bad", 2)
