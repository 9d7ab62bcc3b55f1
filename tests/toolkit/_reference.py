"""Loading the R reference fixtures of tests/fixtures/toolkit (made by tests/r/make_reference_toolkit.R,
metafor 3.8-1); each case keeps its R calls in ``r_call``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "toolkit"


def cases(name: str) -> list[dict]:
    return json.loads((FIXTURES / f"{name}.json").read_text())["cases"]


def arr(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in np.atleast_1d(values)], dtype=float)


def close(actual, expected, rtol, atol=1e-12):
    a = np.asarray(actual, dtype=float)
    np.testing.assert_allclose(a, arr(expected).reshape(a.shape), rtol=rtol, atol=atol, equal_nan=True)
