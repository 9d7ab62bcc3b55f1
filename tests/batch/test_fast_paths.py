"""The shortcuts that make a batch fast give the numbers and the errors of the long way.

A chunk whose cells are all finite skips the masking passes, the input rules are screened
by the extremes of the arrays before their cell masks are built, a chunk without padding is
pooled without a mask, one quantile serves a chunk of one k, and the two bounds of a
Q-profile interval share their start: each must give, bit for bit, what the general path
gives, and the same errors.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import special

from metareview import DataError, SettingsError
from metareview.api import batch as batch_module
from metareview.api.batch import batch
from metareview.base import dist
from metareview.effectsizes import rules
from metareview.pooling.inverse_variance import PooledArrays, pool_arrays, pool_one
from metareview.pooling.projection import by_columns
from metareview.pooling.tau2 import ESTIMATORS, _at_boundary, estimate_tau2, q_profile

from .conftest import assert_same_as_single, random_table

FIELDS = [f for f in PooledArrays.__dataclass_fields__ if f not in ("level", "weight_common", "weight_random")]


def simulated(m: int, k: int, seed: int = 7):
    rng = np.random.default_rng(seed)
    v = 4.0 / rng.integers(20, 201, (m, k))
    y = rng.normal(rng.normal(0.3, 0.25, (m, 1)), np.sqrt(v))
    return y, v


def rows_of(p: PooledArrays, n: int) -> dict:
    return {f: np.asarray(getattr(p, f))[:n] for f in FIELDS}


def assert_bit_identical(a: dict, b: dict) -> None:
    for f in FIELDS:
        np.testing.assert_array_equal(a[f], b[f], err_msg=f, strict=True)


@pytest.mark.parametrize("method", ["DL", "REML", "PM"])
@pytest.mark.parametrize("k", [2, 5, 20, 130])
def test_all_finite_chunk_is_pooled_as_a_masked_one(method, k):
    """The unmasked path (every cell finite, no mask) against the masked path, forced by one
    more analysis with an empty cell and a study masked out: the shared rows agree bit for bit."""
    y, v = simulated(40, k)
    fast = pool_arrays(y, v, None, method_tau2=method, warn=False)
    ones = pool_arrays(y, v, np.ones_like(y), method_tau2=method, warn=False)
    y_more, v_more = np.vstack([y, y[:1]]), np.vstack([v, v[:1]])
    y_more[-1, 0] = np.nan
    mask = np.ones_like(y_more)
    mask[-1, -1] = 0.0
    slow = pool_arrays(y_more, v_more, mask, method_tau2=method, warn=False)
    assert_bit_identical(rows_of(fast, 40), rows_of(slow, 40))
    assert_bit_identical(rows_of(fast, 40), rows_of(ones, 40))
    assert slow.k[-1] == max(k - 2, 0) and fast.k.dtype == slow.k.dtype


def test_masked_studies_of_a_finite_chunk_are_left_out():
    """All cells finite but some studies masked: those cells must not count (the finite fast
    path still replaces them: a variance 0 there would give 0/0 weights), as when they hold
    no values at all."""
    y, v = simulated(30, 6)
    mask = np.ones_like(y)
    mask[::3, 2] = 0.0
    blanked_y, blanked_v = y.copy(), v.copy()
    blanked_y[::3, 2] = np.nan
    blanked = pool_arrays(blanked_y, blanked_v, mask, warn=False)
    y[::3, 2], v[::3, 2] = 1e300, 0.0
    masked = pool_arrays(y, v, mask, warn=False)
    assert_bit_identical(rows_of(masked, 30), rows_of(blanked, 30))
    assert (masked.k[::3] == 5).all() and (masked.k[1::3] == 6).all()


@pytest.mark.parametrize("k", [2, 3, 12, 40])
def test_q_profile_bounds_of_many_analyses_equal_one_at_a_time(k):
    y, v = simulated(25, k, seed=k)
    mask = np.ones_like(y)
    mask[4, 1:] = 0.0  # one study: no interval
    low, high = q_profile(y, v, mask)
    for i in range(25):
        lo_i, hi_i = q_profile(y[i:i + 1], v[i:i + 1], mask[i:i + 1])
        np.testing.assert_array_equal([low[i], high[i]], [lo_i[0], hi_i[0]], strict=True)
    assert np.isnan(low[4]) and np.isnan(high[4])
    others = np.arange(25) != 4
    assert (low[others] >= 0).all() and (high >= low)[others].all() and (high > 0).any()
    assert (low == 0).any()  # a lower bound at zero: no root to search for it


def test_tau2_near_zero_is_zero_row_by_row():
    """A DL estimate within the tolerance of zero, relative to its own analysis' largest
    variance, is 0; an analysis with larger variances elsewhere in the batch does not raise
    another's threshold."""
    a = np.sqrt((1 + 1e-13) / 2)
    b = np.sqrt((1 + 5e-11) / 2)
    y = np.array([[a, -a], [b, -b], [0.3, -0.3]])
    v = np.array([[1.0, 1.0], [1.0, 1.0], [100.0, 100.0]])
    fit = estimate_tau2(y, v, np.ones_like(y), "DL")
    raw = 2 * y[:, 0] ** 2 / v[:, 0] - 1  # (Q - (k - 1)) / tr(P) with two equal variances
    assert 0 < raw[0] <= 1e-12 and fit.tau2[0] == 0.0
    assert raw[1] > 1e-12 and fit.tau2[1] > 0
    assert fit.tau2[1] == pytest.approx(raw[1], rel=1e-3)
    assert fit.tau2[2] == 0.0


CELLS = [("yi", np.nan), ("yi", np.inf), ("yi", 1e101), ("yi", -1e101), ("vi", np.nan), ("vi", -np.inf),
         ("vi", -0.1), ("vi", 0.0), ("vi", 1e-201), ("vi", 1e201)]


@pytest.mark.parametrize("column,value", CELLS)
def test_rules_are_screened_by_extremes(column, value):
    y, v = simulated(8, 4)
    assert rules.within_rules(y, v)
    arrays = {"yi": y.copy(), "vi": v.copy()}
    arrays[column][5, 2] = value
    yi, vi = arrays["yi"], arrays["vi"]
    assert not rules.within_rules(yi, vi)
    hits = rules.not_computable(yi, vi) | rules.beyond_precision(yi, vi) | (vi == 0)
    assert np.argwhere(hits).tolist() == [[5, 2]]


def test_within_rules_never_hides_a_broken_rule():
    rng = np.random.default_rng(3)
    for _ in range(300):
        y = rng.choice([0.0, 1.0, -2.0, 1e99, -1e101, np.nan, np.inf], (3, 2), p=[.3, .3, .2, .05, .05, .05, .05])
        v = rng.choice([1.0, 1e-3, 0.0, -1.0, 1e-201, 1e199, 1e201, np.nan], (3, 2),
                       p=[.4, .2, .08, .08, .06, .06, .06, .06])
        with np.errstate(invalid="ignore"):
            broken = (rules.not_computable(y, v) | rules.beyond_precision(y, v) | (v == 0)).any()
        assert rules.within_rules(y, v) == (not broken)
    assert rules.within_rules(np.empty((0, 3)), np.empty((0, 3)))


@pytest.mark.parametrize("fn,special_fn", [(dist.t_ppf, special.stdtrit), (dist.chi2_ppf, None)])
def test_quantile_of_one_df_for_a_whole_chunk(fn, special_fn):
    p = 0.975
    for df in (np.full(100, 18.0), np.full((2, 50), 4.0), np.r_[np.full(99, 7.0), 8.0]):
        got = fn(p, df)
        if special_fn is None:
            expected = np.array([special.chdtri(d, 1 - p) for d in df.ravel()]).reshape(df.shape)
        else:
            expected = np.array([special_fn(d, p) for d in df.ravel()]).reshape(df.shape)
        np.testing.assert_array_equal(got, expected, strict=True)


def test_chi2_p_values_of_one_df_for_a_whole_chunk():
    """Q's p-value with one df for a chunk of one k is chdtrc of each analysis' own df."""
    rng = np.random.default_rng(3)
    for k in (2, 5, 20, 101):
        q = np.concatenate([rng.chisquare(k - 1, 500) * rng.uniform(0.1, 8, 500), [0.0, 1e-300, 1e300, np.inf, np.nan]])
        df = np.full(q.size, k - 1.0)
        np.testing.assert_array_equal(dist.chi2_sf(q, df), special.chdtrc(df, q), strict=True)
        mixed = df.copy()
        mixed[-1] = k  # another df: each analysis with its own
        np.testing.assert_array_equal(dist.chi2_sf(q, mixed), special.chdtrc(mixed, q), strict=True)


@pytest.mark.parametrize("prediction,random_ci", [("t", "wald"), ("v", "wald"), ("z", "wald"), ("z", "hk"),
                                                  ("none", "wald")])
@pytest.mark.parametrize("k", [1, 2, 3, 5, 20])
def test_prediction_quantile_of_one_k_for_a_whole_chunk(prediction, random_ci, k):
    """One quantile for a chunk of one k: the bits of the quantile of each analysis' own k."""
    from metareview.pooling.inverse_variance import _prediction_quantile

    ks = np.full(100, float(k))
    with np.errstate(invalid="ignore"):
        one = _prediction_quantile(prediction, ks, 0.9, random_ci)
        general = _prediction_quantile(prediction, np.append(ks, k + 1.0), 0.9, random_ci)
    np.testing.assert_array_equal(np.broadcast_to(one, ks.shape), np.broadcast_to(general, (ks.size + 1,))[:-1])
    assert np.ndim(one) == 0


# ----- a chunk without padding, in a batch ---------------------------------------------

def equal_k_table(m: int = 30, k: int = 4, seed: int = 2) -> pd.DataFrame:
    y, v = simulated(m, k, seed)
    return pd.DataFrame({"analysis": np.repeat([f"A{i:02d}" for i in range(m)], k),
                         "study": np.tile([f"S{j + 1}" for j in range(k)], m), "yi": y.ravel(), "vi": v.ravel()})


@pytest.mark.parametrize("settings", [{}, {"method_tau2": "REML", "random_ci": "hk", "i2_method": "tau2"}])
def test_equal_k_batch_equals_one_analysis_at_a_time(settings):
    table = equal_k_table()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_same_as_single(batch(table, **settings), table, None, settings)


def test_equal_k_freeman_tukey_back_transformation_uses_every_study():
    rng = np.random.default_rng(4)
    n = rng.integers(10, 80, 60)
    table = pd.DataFrame({"analysis": np.repeat(np.arange(20), 3), "study": np.tile(["a", "b", "c"], 20),
                          "events": rng.binomial(n, 0.3), "n": n})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = batch(table, measure="PFT")
    assert_same_as_single(result, table, "PFT", {})


@pytest.mark.parametrize("vi,expected", [
    (1e-250, r"analysis 'A17': the effect size \(yi = .*, vi = 1e-250\) is beyond what can be pooled"),
    (0.0, r"analysis 'A17': sampling variance 0: the DL estimator of tau² divides"),
])
def test_errors_of_a_chunk_without_padding_name_analysis_and_study(vi, expected):
    table = equal_k_table()
    table.loc[17 * 4 + 2, "vi"] = vi
    with pytest.raises(DataError, match=expected) as err:
        batch(table)
    assert err.value.study == "S3"


def test_effect_that_cannot_be_computed_in_a_chunk_without_padding():
    table = pd.DataFrame({"analysis": np.repeat(["x", "y", "z"], 3), "study": np.tile(["S1", "S2", "S3"], 3),
                          "events": [3, 4, 5, 6, 7, 8, 2, 0, 3], "n": [10] * 9})
    with pytest.raises(DataError, match=r"study 'S2', column 'PLO': analysis 'z': the effect size cannot"):
        batch(table, method_incr="none")


def test_a_chunk_without_padding_whose_analysis_has_no_complete_study():
    table = equal_k_table()
    table.loc[table["analysis"] == "A05", "vi"] = np.nan
    with pytest.raises(DataError, match=r"analysis 'A05': no study has complete data.*column 'vi'") as err:
        batch(table)
    assert err.value.study == "S1"


@pytest.mark.parametrize("ids", [[1, 1, 2, 2, 3, 3], [2, 2, 1, 1, 3, 3], [1, 1, 2, 2, 1, 3], [5, 5, 5, 5, 5, 5],
                                 [1, 2, 3, 4, 5, 6], [1, 1, 1, 4, 4, 4], [1, 1, 2, 2, 2, 2], [1, 1, 2, 2, 2, 3],
                                 [1, 1, 2, 3, 3, 3], [3, 3, 1, 1, 2, 2], [1, 1, 2, 2, 1, 1], [1, 1, 1, 2, 5, 2],
                                 [1, 1, 1, 2, 0, 2], [4, 4, 4, 7, 7, 7]])
def test_integer_ids_in_runs_sorted_or_not(ids):
    """Sorted integer ids are read as runs (runs of one length, or not); any other order groups
    as string ids do."""
    y, v = simulated(1, 6, seed=9)
    table = pd.DataFrame({"analysis": ids, "yi": y.ravel(), "vi": v.ravel()})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = batch(table)
        as_text = batch(table.assign(analysis=table["analysis"].astype(str)))
    assert got["analysis"].tolist() == list(dict.fromkeys(ids))
    pd.testing.assert_frame_equal(got.drop(columns="analysis"), as_text.drop(columns="analysis"), check_exact=True)


def bits_equal(a, b) -> bool:
    """Equal bit for bit (a NaN equals a NaN; 0.0 and -0.0 differ)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and bool(
        ((a.view(np.int64) == b.view(np.int64)) | (np.isnan(a) & np.isnan(b))).all())


@pytest.mark.parametrize("k", list(range(1, 27)) + [33, 130])
def test_row_sums_add_columns_as_numpy_adds_a_row(k):
    """The column-wise row sums of few studies give numpy's pairwise sums bit for bit, signed
    zeros, infinities, NaN and magnitudes that cancel included; other layouts fall back."""
    from metareview.pooling.projection import row_sum

    rng = np.random.default_rng(k)
    x = rng.standard_normal((4000, k)) * 10.0 ** rng.integers(-300, 300, (4000, k))
    cells = rng.random(x.shape)
    x[cells < 0.05] = -0.0
    x[(cells > 0.05) & (cells < 0.08)] = 0.0
    odd = (cells > 0.08) & (cells < 0.09)
    x[odd] = rng.choice([np.inf, -np.inf, np.nan], int(odd.sum()))
    x[:50] = -0.0  # rows of negative zeros only: numpy's sum starts at +0.0
    with np.errstate(over="ignore", invalid="ignore"):
        for arr in (x, x[:, ::-1], x[:30]):
            assert bits_equal(row_sum(arr, -1), np.add.reduce(arr, -1))
        if k < 25:  # stored column by column: the sums of its rows as numpy sums a row-major array's
            assert bits_equal(row_sum(np.asfortranarray(x), -1), np.add.reduce(x, -1))
            into = np.empty(x.shape[0])  # (the sums formed in a given array: the same bits, in it)
            assert row_sum(np.asfortranarray(x), -1, out=into) is into and bits_equal(into, np.add.reduce(x, -1))
            assert (np.signbit(row_sum(np.asfortranarray(x[:100]), -1)) == np.signbit(np.add.reduce(x[:100], -1))).all()
    assert (np.signbit(row_sum(x[:50], -1)) == np.signbit(np.add.reduce(x[:50], -1))).all()


def test_constant_columns_of_a_batch_are_pandas_strings():
    """measure and method_tau2 are built from Arrow buffers: the same column as a string scalar
    given to pandas, for empty and long tables."""
    from metareview.api.batch import _repeated

    for n in (0, 1, 7, 100_000):
        made = pd.Series(_repeated("PLO", n))
        expected = pd.DataFrame({"x": np.zeros(n)}).assign(m="PLO")["m"]
        assert made.dtype == expected.dtype
        pd.testing.assert_series_equal(made, expected, check_names=False)


@pytest.mark.parametrize("k", [3, 4, 5, 20, 101])
def test_h_of_many_analyses_of_one_k_equals_the_general_formulas(k):
    """H and its test-based interval with the terms in k computed once: the general path (forced
    by one more analysis of another k) gives the same bits, for Q below, at and above k."""
    from metareview.pooling.heterogeneity import from_q

    rng = np.random.default_rng(k)
    q = np.concatenate([rng.chisquare(k - 1, 3000) * rng.uniform(0.2, 5, 3000), [0.0, k - 1.0, float(k), 1e-300]])
    ks = np.full(q.size, float(k))
    one_k = from_q(q, ks, 0.95)
    general = from_q(np.append(q, 1.0), np.append(ks, 2.0), 0.95)
    for key, values in one_k.items():
        assert bits_equal(values, general[key][:-1]), key


def test_result_chunks_are_copied_into_columns_allocated_once_per_piece():
    """Chunks land end to end in one block per piece (float columns share it); a chunk that needs
    a wider type widens its column; several pieces are joined; nothing written is nothing returned."""
    from metareview.api.batch import _Columns

    cols = _Columns()
    assert cols.columns() is None
    cols.start(5)
    cols.add({"id": np.array([1, 2]), "x": np.array([0.5, -0.0]), "n": np.array([3, 4])})
    cols.add({"id": np.array([3, 4, 5]), "x": np.array([np.nan, 1.0, 2.0]), "n": np.array([1.5, 2.0, 7.0])})
    cols.start(1)
    cols.add({"id": np.array([6]), "x": np.array([9.0]), "n": np.array([8])})
    out = cols.columns()
    assert bits_equal(out["x"], np.array([0.5, -0.0, np.nan, 1.0, 2.0, 9.0]))
    assert out["n"].tolist() == [3, 4, 1.5, 2, 7, 8] and out["n"].dtype == np.float64
    assert out["id"].tolist() == [1, 2, 3, 4, 5, 6] and out["id"].dtype == np.int64
    one = _Columns()
    one.start(3)
    one.add({"x": np.array([1.0, 2.0]), "y": np.array([3.0, 4.0])})
    first = one.columns()
    assert first["x"].tolist() == [1.0, 2.0] and first["x"].base is first["y"].base  # one block, 2 of 3 rows
    known = _Columns(["x"])  # float columns known before the first chunk: it is formed in place too
    assert known.target(2) is None
    known.start(2)
    into = known.target(2)
    into["x"][:] = [1.0, 2.0]
    known.add({"id": np.array([7, 8]), "x": into["x"]})
    known.start(0)  # a piece without analyses adds nothing
    both = known.columns()
    assert both["x"].tolist() == [1.0, 2.0] and both["id"].tolist() == [7, 8] and both["id"].dtype == np.int64


def test_design_checks_screened_by_one_sum_still_see_every_cell():
    """A column whose finite cells overflow their sum passes; an infinity, a NaN or a negative
    variance among a million cells is still named, with its study."""
    from metareview.effectsizes.measures import get_measure
    from metareview.effectsizes.validate import validate_design

    gen = get_measure("GEN")
    validate_design(gen, {"yi": np.array([1e308, 1e308, -1.0]), "vi": np.array([1.0, 2.0, 3.0])})
    for column, value, rule in (("yi", np.inf, "value required"), ("yi", np.nan, "value required"),
                                ("vi", -np.inf, "value required"), ("vi", -1e-9, "vi >= 0")):
        arr = {"yi": np.zeros(1_000_000), "vi": np.ones(1_000_000)}
        arr[column][777_777] = value
        with pytest.raises(DataError) as info:
            validate_design(gen, arr, studlab=range(1_000_000))
        assert info.value.study == "777777" and info.value.column == column and info.value.rule == rule


@pytest.mark.parametrize("padded", [False, True])
def test_a_chunk_of_generic_data_is_screened_once(monkeypatch, padded):
    """Generic data (yi, vi): each column's least and largest value, taken once per chunk,
    serve the missing-cell check, the design's rules, the rules of the effects and the
    kernel's all-finite path; the screens that would read the cells again are not called, and
    the result is, bit for bit, the one computed with them."""
    import metareview.pooling.inverse_variance as iv

    table = equal_k_table()
    if padded:
        table = table.drop(index=[5, 6, 40])  # analyses of 3 and 2 studies among analyses of 4
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        general = batch(table)

        def again(*args, **kwargs):
            raise AssertionError("a column screened a second time")
        for module, name in ((rules, "missing_cells"), (rules, "within_rules"), (iv, "_all_finite")):
            monkeypatch.setattr(module, name, again)
        screened = batch(table)
    monkeypatch.undo()
    pd.testing.assert_frame_equal(screened, general, check_exact=True)
    assert_same_as_single(screened, table, "GEN", {})


def test_design_rules_from_a_chunks_extremes_give_the_same_errors():
    """validate_design with the extremes of column_extremes names the study, the column and
    the rule that it names when it takes the extremes itself."""
    from metareview.effectsizes.measures import get_measure
    from metareview.effectsizes.validate import column_extremes, validate_design

    gen = get_measure("GEN")
    ok = {"yi": np.array([0.5, -1.0, 2.0]), "vi": np.array([0.1, 0.2, 0.3])}
    assert column_extremes(ok, ["yi", "vi"]) == {"yi": (-1.0, 2.0), "vi": (0.1, 0.3)}
    validate_design(gen, ok, extremes=column_extremes(ok, ok))
    for column, value in (("yi", np.inf), ("yi", np.nan), ("vi", -np.inf), ("vi", -1e-9), ("vi", np.nan)):
        arr = {"yi": np.zeros(50), "vi": np.ones(50)}
        arr[column][33] = value
        errors = []
        for extremes in (None, column_extremes(arr, arr)):
            with pytest.raises(DataError) as info:
                validate_design(gen, arr, studlab=range(50), extremes=extremes)
            errors.append((str(info.value), info.value.study, info.value.column, info.value.rule))
        assert errors[0] == errors[1] and errors[0][1:3] == ("33", column)


@pytest.mark.parametrize("method", ["DL", "REML"])
def test_kernel_told_its_cells_are_finite_gives_the_same_bits(method):
    y, v = simulated(50, 6)
    for mask in (None, np.ones_like(y)):
        screened = pool_arrays(y, v, mask, method_tau2=method, warn=False, _screened=True)
        general = pool_arrays(y, v, mask, method_tau2=method, warn=False)
        assert_bit_identical(rows_of(screened, 50), rows_of(general, 50))


def _long(y: np.ndarray, v: np.ndarray, ks=None) -> pd.DataFrame:
    """A long table of the rows of ``y``/``v``, the first ``ks[i]`` studies of analysis i."""
    m, k = y.shape
    keep = np.ones((m, k), dtype=bool) if ks is None else np.arange(k)[None, :] < np.asarray(ks)[:, None]
    return pd.DataFrame({"analysis": np.repeat(np.arange(m), k).reshape(m, k)[keep], "yi": y[keep],
                         "vi": v[keep]})


@pytest.mark.parametrize("case", ["equal k", "ragged k", "hk, prediction z", "proportions (no test)",
                                  "means, tau2 CI by tau2"])
def test_chunks_pooled_two_at_a_time_give_the_chunks_one_by_one(monkeypatch, case):
    """A batch gathered into one table pools two chunks of the same width in one call, and the
    kernel forms its last fields in the result columns: the table is, bit for bit, the chunks'
    frames of iter_batch one after the other (equal k, and ragged k where consecutive chunks pad
    to the same width or not), with fewer calls."""
    monkeypatch.setattr(batch_module, "CHUNK_CELLS", 60)
    y, v = simulated(103, 6, seed=3)
    rng = np.random.default_rng(2)
    settings: dict = {"tau2_ci": True}
    if case in ("equal k", "hk, prediction z"):
        table = _long(y, v)
        if case != "equal k":
            settings.update(random_ci="hk", prediction="z")
    elif case == "ragged k":
        table = _long(y, v, rng.integers(1, 7, 103))
    else:
        design = "proportion" if case.startswith("proportions") else "mean"
        table = random_table(design, n_analyses=103, seed=8, ks=list(rng.integers(1, 7, 103)))
        if design == "mean":
            settings.update(method_tau2="REML", i2_method="tau2")
    calls = []
    real = batch_module.pool_arrays

    def spy(yi, vi, mask, **kw):
        p = real(yi, vi, mask, **kw)
        into = kw.get("_out")
        calls.append((np.shape(yi), into is not None and p.common_estimate is into["common_estimate"]))
        return p
    monkeypatch.setattr(batch_module, "pool_arrays", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gathered = batch(table, **settings)
        joined = list(calls)
        calls.clear()
        one_by_one = pd.concat(list(batch_module.iter_batch(table, **settings)), ignore_index=True)
    assert len(joined) < len(calls) and max(a * k for (a, k), _ in calls) <= 60 < max(a * k for (a, k), _ in joined)
    assert all(formed for _, formed in joined) and not any(formed for _, formed in calls)
    pd.testing.assert_frame_equal(gathered, one_by_one, check_exact=True)


def test_bad_input_in_chunks_pooled_together_gives_the_error_of_the_chunks_one_by_one(monkeypatch):
    """The first chunk breaks one rule, the second another that is checked earlier: pooled
    together they would name the second chunk's studies (and count them together); the
    error is the one the chunks give one by one, as iter_batch gives it."""
    monkeypatch.setattr(batch_module, "CHUNK_CELLS", 40)  # k = 4: chunks of 10 analyses
    y, v = simulated(40, 4, seed=5)
    table = _long(y, v)
    table.loc[[50, 60, 70], "vi"] = -1.0  # analyses 12, 15 and 17 (the second chunk)
    table.loc[5, "yi"] = 1e300  # analysis 1 (the first chunk)
    errors = []
    for run_it in (lambda: batch(table), lambda: list(batch_module.iter_batch(table))):
        with pytest.raises(DataError) as info:
            run_it()
        errors.append(str(info.value))
    assert errors[0] == errors[1] and "analysis 1:" in errors[0] and "beyond" in errors[0]


BOUNDARY_VALUES = [0.5, 1e-300, 5e-324, 0.0, -0.0, -1e-300, -2.5, 1e300, np.nan, np.inf, -np.inf]


@pytest.mark.parametrize("extra", [[], [np.nan], [np.inf], [-np.inf], [1e308, 1e308]])
@pytest.mark.parametrize("p", [1, 2])
def test_estimates_at_the_boundary_by_one_maximum_as_by_the_rule(extra, p):
    """tau² over analyses made 0.0 where it is not a positive finite number or the analysis
    has too few studies, by ``np.maximum`` where every estimate is finite (and the rule's own
    choice where some is not, or where the sum overflows): the rule's bits, signed zeros
    included, for one analysis and for many."""
    rng = np.random.default_rng(3)
    values = np.array(BOUNDARY_VALUES[:8] * 12 + extra)
    values = values[rng.permutation(values.size)]
    k = rng.integers(1, 5, values.size).astype(float)
    rule = np.where(k <= p, 0.0, values)
    rule = np.where(np.isfinite(rule) & (rule > 0), rule, 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflowing sum is no warning
        got = _at_boundary(values, k, p)
    assert bits_equal(got, rule)
    assert bits_equal(_at_boundary(values, np.full(values.size, 5.0), p),
                      np.where(np.isfinite(values) & (values > 0), values, 0.0))
    for value in BOUNDARY_VALUES:
        one = _at_boundary(np.float64(value), np.float64(3), p)
        assert bits_equal(np.array([one]), np.array([value if np.isfinite(value) and value > 0 else 0.0]))


def _awkward(m: int, k: int, seed: int):
    """Analyses of ``k`` studies with empty cells, studies masked out, a zero variance, equal
    effects, negative zeros, and analyses of one and two studies."""
    rng = np.random.default_rng(seed)
    y, v = simulated(m, k, seed=seed)
    v *= rng.uniform(0.7, 1.4, v.shape)  # weights 1/v that are not sums of a few powers of two
    mask = np.ones_like(y)
    y[rng.random(y.shape) < 0.06] = np.nan
    v[rng.random(y.shape) < 0.03] = np.nan
    mask[rng.random(y.shape) < 0.1] = 0.0
    y[:, 0], v[:, 0], mask[:, 0] = 0.1, 0.02, 1.0  # every analysis keeps a study
    y[3], y[4, : k // 2] = 0.25, -0.0  # equal effects; negative zeros
    v[5, -1] = 0.0
    mask[6, 1:] = 0.0  # one study
    mask[7, 2:] = 0.0  # two studies
    return y, v, mask


@pytest.mark.parametrize("k", [2, 3, 5, 8, 9, 16, 20, 24])
@pytest.mark.parametrize("method", list(ESTIMATORS))
def test_analyses_stored_column_by_column_give_the_bits_of_one_analysis(method, k):
    """Arrays of 64 analyses or more and fewer than 25 studies are pooled stored column by
    column: every analysis gets, bit for bit, the values the kernel gives it alone (its
    scalars), with empty cells, studies masked out, a zero variance, equal effects, one and
    two studies; given in row-major or column-major order alike, with or without a mask."""
    m = 70
    y, v, mask = _awkward(m, k, seed=k)
    assert by_columns(y).flags.f_contiguous
    genq = {"tau2_weights": 1 / (np.nan_to_num(v, nan=1.0) + 0.01)} if method == "GENQ" else {}
    settings = dict(method_tau2=method, warn=False, tau2_ci=k <= 9, random_ci="hk" if k % 2 else "wald",
                    i2_method="tau2" if k in (5, 16) else "q", **genq)
    with np.errstate(all="ignore"):
        fields = [f for f in FIELDS if f != "tau2_iterations" or method not in ("DL", "HS", "HE", "SJ")]
        for given in ((y, v, mask), (np.asfortranarray(y), np.asfortranarray(v), np.asfortranarray(mask))):
            many = pool_arrays(*given, **settings)
            for i in range(m):
                one = pool_one(y[i], v[i], mask[i], **dict(settings, **{key: val[i] for key, val in genq.items()}))
                for f in fields:
                    assert bits_equal(np.asarray(getattr(many, f)[i], float), np.asarray(one[f], float)), (i, f)
                for f in ("weight_common", "weight_random"):
                    assert bits_equal(getattr(many, f)[i], getattr(one, f)), (i, f)
        rows = pool_arrays(y[1:2], v[1:2], mask[1:2], **dict(settings, **{key: val[1:2] for key, val in genq.items()}))
        assert rows.k[0] == many.k[1]


@pytest.mark.parametrize("padded", [False, True])
def test_generic_data_with_variances_are_pooled_as_given(monkeypatch, padded):
    """Effects with variances (yi, vi) go to the kernel as the columns themselves, what escalc's
    GEN formula returns, without escalc's array of zero increments: the result is, bit for
    bit, the kernel's on the table's arrays (padded cells masked out)."""
    table = equal_k_table(m=100, k=20)
    if padded:
        table = table.drop(index=[5, 6, 40])
    ks = table.groupby("analysis", sort=False).size().to_numpy()
    y, v, mask = np.zeros((ks.size, 20)), np.ones((ks.size, 20)), np.zeros((ks.size, 20))
    cells = np.arange(20) < ks[:, None]
    y[cells], v[cells], mask[cells] = table["yi"], table["vi"], 1.0
    expected = pool_arrays(y, v, mask, weights=False, warn=False)

    def no_escalc(*args, **kwargs):
        raise AssertionError("escalc called for generic data with variances")
    monkeypatch.setattr(batch_module, "escalc", no_escalc)
    got = batch(table)
    for field in FIELDS:
        np.testing.assert_array_equal(got[field].to_numpy(), np.asarray(getattr(expected, field)), err_msg=field,
                                      strict=field not in ("k", "q_df", "tau2_iterations"))
        if got[field].dtype == float:
            assert bits_equal(got[field].to_numpy(), getattr(expected, field)), field


@pytest.mark.parametrize("settings,message", [
    ({"incr": -1}, "the continuity correction must be a non-negative number, not -1"),
    ({"incr": True}, "the continuity correction must be a non-negative number, not True"),
    ({"incr": float("nan")}, "the continuity correction must be a non-negative number, not nan"),
])
def test_generic_data_refuse_the_continuity_settings_escalc_refuses(settings, message):
    from metareview.effectsizes.escalc import escalc

    table = equal_k_table()
    with pytest.raises(SettingsError) as direct:
        escalc("GEN", {"yi": table["yi"], "vi": table["vi"]}, **settings)
    with pytest.raises(SettingsError) as batched:
        batch(table, **settings)
    assert str(batched.value) == str(direct.value) == message
