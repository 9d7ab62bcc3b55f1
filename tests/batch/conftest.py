"""Random long tables of every core design, and the single-analysis reference for a batch."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from metareview import metaanalysis


def random_table(design: str, n_analyses: int = 30, seed: int = 1, kmax: int = 12,
                 ks: list[int] | None = None) -> pd.DataFrame:
    """A long table of ``n_analyses`` analyses of ``design``, ragged k from 1 to ``kmax``
    (k = 1 and 2 always included), ids as strings, rows of analyses interleaved."""
    rng = np.random.default_rng(seed)
    k = np.asarray(ks) if ks is not None else rng.integers(1, kmax + 1, n_analyses)
    if ks is None:
        k[:3] = [1, 2, 2]
    ids = np.repeat([f"A{i:03d}" for i in range(k.size)], k)
    study = np.concatenate([[f"S{j + 1}" for j in range(x)] for x in k])
    n_rows = ids.size
    size = rng.integers(8, 120, n_rows)
    theta = np.repeat(rng.normal(0, 1, k.size), k) + rng.normal(0, np.repeat(rng.uniform(0, 0.6, k.size), k))
    cols: dict = {}
    if design == "proportion":
        p = 1 / (1 + np.exp(-(theta - 0.5)))
        ev = rng.binomial(size, p)
        ev[::17] = 0  # continuity corrections
        cols = {"events": ev, "n": size}
    elif design == "mean":
        cols = {"mean": 10 + 2 * theta, "sd": rng.uniform(1, 4, n_rows), "n": size}
    elif design == "prepost":
        base = rng.uniform(20, 40, n_rows)
        cols = {"mean_pre": base, "sd_pre": rng.uniform(3, 8, n_rows), "mean_post": base + 3 * theta,
                "sd_post": rng.uniform(3, 8, n_rows), "n": size, "r": rng.uniform(0.2, 0.8, n_rows)}
    elif design == "cont2":
        n2 = rng.integers(8, 120, n_rows)
        cols = {"mean_e": 20 + 2 * theta, "sd_e": rng.uniform(2, 6, n_rows), "n_e": size,
                "mean_c": np.full(n_rows, 20.0) + rng.normal(0, 0.5, n_rows), "sd_c": rng.uniform(2, 6, n_rows),
                "n_c": n2}
    elif design == "bin2":
        n2 = rng.integers(8, 120, n_rows)
        pc = rng.uniform(0.1, 0.5, n_rows)
        pe = 1 / (1 + np.exp(-(np.log(pc / (1 - pc)) + 0.5 * theta)))
        ee, ec = rng.binomial(size, pe), rng.binomial(n2, pc)
        ee[::13] = 0
        big = np.repeat(k, k) >= 3  # analyses that keep studies when these are set aside
        zero2 = big & (np.arange(n_rows) % 26 == 0)
        ec[zero2] = 0  # studies without events in both arms (not pooled for OR and RR)
        full2 = big & (np.arange(n_rows) % 29 == 5)
        ee[full2], ec[full2] = size[full2], n2[full2]  # and some with only events
        cols = {"events_e": ee, "n_e": size, "events_c": ec, "n_c": n2}
    elif design == "rate":
        time = rng.uniform(50, 2000, n_rows)
        ev = rng.poisson(time * np.exp(theta - 4))
        ev[::11] = 0  # continuity corrections
        cols = {"events": ev, "time": time}
    elif design == "rate2":
        t1, t2 = rng.uniform(50, 2000, n_rows), rng.uniform(50, 2000, n_rows)
        e1, e2 = rng.poisson(t1 * np.exp(theta - 4)), rng.poisson(t2 * np.exp(-4.2))
        e1[::11] = 0  # continuity corrections
        cols = {"events_e": e1, "time_e": t1, "events_c": e2, "time_c": t2}
    elif design == "cor":
        cols = {"cor": np.tanh(0.3 * theta), "n": size}
    elif design == "pcor":
        cols = {"tstat": 2 * theta, "n": size + 30, "predictors": rng.integers(1, 4, n_rows),
                "r2": rng.uniform(0.1, 0.6, n_rows)}
    elif design in ("generic", "generic_sei"):
        v = rng.uniform(0.02, 0.3, n_rows)
        cols = {"yi": theta + rng.normal(0, np.sqrt(v)), ("vi" if design == "generic" else "sei"):
                (v if design == "generic" else np.sqrt(v))}
    else:
        raise ValueError(design)
    table = pd.DataFrame({"analysis": ids, "study": study, **cols})
    # interleave: batch must not depend on the rows of an analysis being together
    return table.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def flatten(doc: dict) -> dict:
    """The pooled part of a ``pool --json`` document, flattened as batch columns."""
    out = {"k": doc["k"], "measure": doc["measure"], "method_tau2": doc["method_tau2"]}
    for model in ("common", "random"):
        for key, value in doc[model].items():
            out[f"{model}_{key}"] = value
    out["prediction_low"] = doc["prediction"]["low"]
    out["prediction_high"] = doc["prediction"]["high"]
    het = dict(doc["heterogeneity"])
    out["q_df"] = het.pop("df")
    out["q_p"] = het.pop("p")
    out.update(het)
    bt = doc["backtransformed"]
    if bt:
        for model in ("common", "random"):
            for key, value in bt[model].items():
                out[f"bt_{model}_{key}"] = value
        out["bt_prediction_low"] = bt["prediction"]["low"]
        out["bt_prediction_high"] = bt["prediction"]["high"]
    return out


def close(a, b, tol=1e-10) -> bool:
    """Equal to ``tol`` relative (absolute below 1); None, NaN and infinities as in JSON (null)."""
    def norm(x):
        if x is None:
            return None
        if isinstance(x, (bool, np.bool_, str)):
            return x
        x = float(x)
        return x if math.isfinite(x) else None
    a, b = norm(a), norm(b)
    if a is None or b is None or isinstance(a, (bool, str)) or isinstance(b, (bool, str)):
        return a == b
    return abs(a - b) <= tol * max(1.0, abs(b))


def single_reference(table: pd.DataFrame, measure, settings: dict) -> dict:
    """``metaanalysis`` on the rows of each analysis, flattened: the numbers batch must give."""
    ref = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for aid, rows in table.groupby("analysis", sort=False):
            doc = metaanalysis(rows.drop(columns="analysis").reset_index(drop=True), measure, **settings).to_dict()
            ref[aid] = flatten(doc)
    return ref


def assert_same_as_single(result: pd.DataFrame, table: pd.DataFrame, measure, settings: dict,
                          tol: float = 1e-10) -> None:
    ref = single_reference(table, measure, settings)
    assert list(result["analysis"]) == list(ref), "one row per analysis, in order of first appearance"
    # tau2_iterations is how the estimate was reached, not a result (padding may move the last ulp)
    skip = {"tau2_iterations"}
    mismatches = []
    for _, row in result.iterrows():
        expected = ref[row["analysis"]]
        assert set(expected) - skip <= set(row.index), set(expected) - set(row.index)
        if not expected["tau2_converged"]:
            assert not row["tau2_converged"]
            continue
        for key, value in expected.items():
            if key in skip:
                continue
            if key == "tau" and value is not None:
                # tau = sqrt(tau²): near tau² = 0 a last-digit difference in tau² is a large one in tau
                got, value = row[key] ** 2, value ** 2
            else:
                got = row[key]
            if not close(got, value, tol):
                mismatches.append((row["analysis"], key, got, value))
    assert not mismatches, mismatches[:10]


@pytest.fixture(scope="session")
def dask_client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0")
    client = Client(cluster, set_as_default=False)
    yield client
    client.close()
    cluster.close()
