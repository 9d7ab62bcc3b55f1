"""One analysis screens its columns once: the extremes of each column the measure needs serve
the missing-cell check, the design's rules and (generic data) the effects' rules, and the kernel
takes the screened cells as they are.  Every result is bit for bit what the batch kernel gives
for the same effect sizes, unscreened and computed at once, and every refusal is the same."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import metareview
from metareview.base.exceptions import DataError
from metareview.effectsizes import rules
from metareview.effectsizes.escalc import escalc
from metareview.effectsizes.measures import MEASURES
from metareview.effectsizes.validate import column_extremes
from metareview.pooling.inverse_variance import pool_arrays, pool_one
from metareview.pooling.values import FLAT_KEYS

SEED = pd.read_csv(Path(__file__).resolve().parents[1] / "fixtures" / "seed_tr.csv")
EVENTS, N = SEED["events"].to_numpy(), SEED["n"].to_numpy()
ES = escalc("PLO", {"events": EVENTS, "n": N})


def _same_bits(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.asarray(a, float).tobytes() == np.asarray(b, float).tobytes()
    a, b = float(a), float(b)
    return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))


_KERNEL = ("method_tau2", "level", "random_ci", "adhoc_hakn", "prediction", "i2_method")


def _assert_as_batch_kernel(result):
    """Every pooled value of ``result`` is the batch kernel's, unscreened and at once, for its
    effect sizes and the studies it pooled."""
    s = result.settings
    options = {name: getattr(s, name) for name in _KERNEL}
    mask = (~result.excluded).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        row = pool_arrays(result.yi[None], result.vi[None], mask[None], null=result.measure.null,
                          **options).row(0)
    for key in FLAT_KEYS:
        assert _same_bits(result.pooled[key], row[key]), (key, result.pooled[key], row[key], options)


@pytest.mark.parametrize("options", [
    {}, {"method_tau2": "REML"}, {"method_tau2": "PM", "random_ci": "hk"}, {"method_tau2": "HE", "level": 0.9},
    {"random_ci": "hk", "adhoc_hakn": "se"}, {"random_ci": "hk", "adhoc_hakn": "ci", "prediction": "z"},
    {"prediction": "v", "i2_method": "tau2"}, {"method_tau2": "SJ", "prediction": "none"},
    {"method_tau2": "HS"}, {"method_tau2": "DLIT"}, {"method_tau2": "EB", "i2_method": "tau2"}])
@pytest.mark.parametrize("studies", [slice(None), slice(0, 1), slice(0, 2), slice(3, 6)])
def test_generic_and_proportions_pool_as_the_batch_kernel(options, studies):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for r in (metareview.metagen(ES.yi[studies], vi=ES.vi[studies], **options),
                  metareview.metagen(ES.yi[studies], seTE=np.sqrt(ES.vi[studies]), **options),
                  metareview.metaprop(EVENTS[studies], N[studies], **options),
                  metareview.metaprop(EVENTS[studies], N[studies], measure="PFT", **options)):
            _assert_as_batch_kernel(r)


@pytest.mark.parametrize("make", [
    lambda: metareview.metagen(ES.yi, vi=ES.vi, exclude=[0, 4]),
    lambda: metareview.metagen(np.r_[ES.yi[:-1], np.nan], vi=ES.vi),
    lambda: metareview.metagen(ES.yi, vi=np.r_[np.nan, ES.vi[1:]], method_tau2="REML"),
    lambda: metareview.metagen(list(ES.yi[:5]) + [None], vi=list(ES.vi[:6])),
    lambda: metareview.metaprop(list(EVENTS[:6]) + [None], list(N[:7])),
    lambda: metareview.metaprop(EVENTS, N, subset=list(range(2, 12)), exclude=[3]),
    lambda: metareview.metagen(np.full(6, 0.2), vi=np.full(6, 0.05)),
    lambda: metareview.metagen(ES.yi, vi=ES.vi, measure="OR"),
    lambda: metareview.metabin([5, 8, 3, 10, 0], [50, 60, 40, 80, 30], [9, 12, 8, 14, 0], [50, 62, 41, 79, 30]),
    lambda: metareview.metacont([20, 30, 25], [5.0, 6.1, 5.5], [1.0, 1.2, 0.9], [21, 29, 24], [4.5, 5.0, 5.1],
                                [1.1, 1.0, 1.0], measure="SMD"),
    lambda: metareview.metamean([20, 30, 25], [5.0, 6.1, 5.5], [1.0, 1.2, 0.9], measure="MNLN"),
    lambda: metareview.metacor([0.187, 0.162, 0.34], [109, 749, 55]),
])
def test_exclusions_missing_cells_and_other_designs_pool_as_the_batch_kernel(make):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _assert_as_batch_kernel(make())


def test_the_screened_kernel_gives_the_bits_of_the_unscreened_one():
    for options in ({}, {"deferred": True}, {"random_ci": "hk", "method_tau2": "REML"}):
        for mask in (None, np.r_[np.ones(19), 0.0]):
            screened = pool_one(ES.yi, ES.vi, mask, _screened=True, **options)
            plain = pool_one(ES.yi, ES.vi, mask, **options)
            for key in FLAT_KEYS:
                assert _same_bits(screened[key], plain[key]), (key, options)


@pytest.mark.parametrize("columns", [
    {"yi": ES.yi, "vi": ES.vi}, {"yi": np.r_[ES.yi[:3], np.nan], "vi": ES.vi[:4]},
    {"yi": ES.yi[:4], "sei": np.r_[np.nan, ES.vi[1:4]]}, {"events": EVENTS * 1.0, "n": N * 1.0},
    {"events": np.r_[np.nan, 3.0], "n": np.r_[np.nan, 9.0]}])
def test_missing_cells_from_the_extremes_are_those_found_cell_by_cell(columns):
    measure = MEASURES["GEN"] if "yi" in columns else MEASURES["PLO"]
    extremes = column_extremes(columns, rules.needed_columns(measure, columns))
    missing, where = rules.missing_cells(measure, columns, extremes)
    again, where_again = rules.missing_cells(measure, columns)
    assert np.array_equal(missing, again)
    assert (where is None and where_again is None) or list(where) == list(where_again)


def test_effect_sizes_from_screened_columns_are_those_of_unscreened_ones():
    columns = {"events": EVENTS * 1.0, "n": N * 1.0}
    screened = escalc("PLO", columns, extremes=column_extremes(columns, ("events", "n")))
    plain = escalc("PLO", columns)
    assert screened.yi.tobytes() == plain.yi.tobytes() and screened.vi.tobytes() == plain.vi.tobytes()


@pytest.mark.parametrize("call, rule", [
    (lambda: metareview.metagen([0.1, np.inf, 0.3], vi=[0.1, 0.2, 0.1]), "value required"),
    (lambda: metareview.metagen([0.1, 0.2, 0.3], vi=[0.1, -0.2, 0.1]), "vi >= 0"),
    (lambda: metareview.metagen([0.1, 1e101, 0.3], vi=[0.1, 0.2, 0.1]), "magnitude"),
    (lambda: metareview.metagen([0.1, 0.2, 0.3], vi=[0.1, 1e-201, 0.1]), "magnitude"),
    (lambda: metareview.metagen([0.1, 0.2, 0.3], vi=[0.1, 0.0, 0.1]), "vi > 0"),
    (lambda: metareview.metagen([np.nan, np.nan], vi=[0.1, 0.2]), "value required"),
    (lambda: metareview.metaprop([3, 12], [10, 11.5 - 1]), "events <= n"),
    (lambda: metareview.metaprop([3, -1], [10, 11]), "events >= 0"),
    (lambda: metareview.metagen([], vi=[]), "no studies"),
])
def test_input_refused_as_before(call, rule):
    """Each broken rule is still an error naming its rule (the screen only reuses extremes)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DataError) as caught:
            call()
    assert caught.value.rule == rule, caught.value


def test_a_result_made_from_its_fields_is_the_one_its_dataclass_makes():
    from metareview.api.result import MetaResult

    r = metareview.metaprop(EVENTS, N)
    fields = {name: r.__dict__[name] for name in MetaResult.__dataclass_fields__}
    made, built = MetaResult.of_fields(**fields), MetaResult(**fields)
    assert list(made.__dict__) == list(built.__dict__)
    assert all(made.__dict__[name] is built.__dict__[name] for name in fields)
    assert made == built and hash(made) == hash(built) and str(made) == str(built)
    with pytest.raises(AttributeError):
        made.func = "metagen"  # frozen as the dataclass
    with pytest.raises(TypeError):
        MetaResult.of_fields(**{**fields, "unknown": 1})  # the dataclass names what is wrong


def test_numbered_labels_are_each_call_its_own_array():
    from metareview.tables.selection import study_labels

    first, second = study_labels(None, 4), study_labels(None, 4)
    assert first.dtype == object and first.tolist() == ["1", "2", "3", "4"] and first.flags.writeable
    first[0] = "changed"
    assert second.tolist() == ["1", "2", "3", "4"] and study_labels(None, 4)[0] == "1"
    assert study_labels(None, 0).shape == (0,)
