"""Values computed on first use (base.deferred) and the single analysis' shared settings: the same
values as computed at once, computed once, and only when read."""

import dataclasses
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import metareview
from metareview.api import meta
from metareview.base.deferred import Deferred, deferrable
from metareview.effectsizes.study_ci import study_ci
from metareview.pooling.settings import Settings

SEED = pd.read_csv(Path(__file__).resolve().parents[1] / "fixtures" / "seed_tr.csv")
EVENTS, N = SEED["events"].to_numpy(), SEED["n"].to_numpy()


def _square(x, calls):
    calls.append(x)
    return (x * x, -x)


@deferrable("late", "other")
@dataclass(frozen=True)
class _Box:
    plain: int
    late: int
    other: int


def test_a_deferred_field_is_computed_once_on_first_read_and_stays_frozen():
    calls: list = []
    shared = Deferred(_square, 3, calls)
    box = _Box(1, shared.part(0), shared.part(1))
    assert calls == []
    assert box.late == 9 and box.other == -3 and box.late == 9
    assert calls == [3]  # both fields from one run
    with pytest.raises(dataclasses.FrozenInstanceError):
        box.late = 2  # type: ignore[misc]
    assert dataclasses.replace(box, plain=2) == _Box(2, 9, -3)
    assert _Box(1, 5, 6).late == 5  # a value given at once is kept as it is


def test_a_deferred_field_keeps_its_dataclass_shape():
    with pytest.raises(TypeError):
        _Box(1)  # type: ignore[call-arg]
    assert [f.name for f in dataclasses.fields(_Box)] == ["plain", "late", "other"]
    with pytest.raises(TypeError, match="no field 'missing'"):
        deferrable("missing")(_Box)


def test_a_pending_field_pickles_and_gives_the_same_value():
    box = _Box(1, Deferred(_square, 4, []).part(0), 0)
    again = pickle.loads(pickle.dumps(box))
    assert again.late == 16 and box.late == 16 and again == box


@pytest.mark.parametrize("kwargs", [
    {}, {"study_ci": "WS", "level": 0.9}, {"study_ci": "NAsm"}, {"measure": "PFT", "study_ci": "AC"},
    {"measure": "PR", "study_ci": "WSCC"}])
def test_deferred_study_intervals_equal_those_computed_at_once(kwargs):
    r = metareview.metaprop(EVENTS, N, **kwargs)
    s = r.settings
    at_once = study_ci(r.measure, r.yi, r.vi, s.level, s.study_ci, r.data)
    for name, value in zip(("ci_low", "ci_high", "nat_ci_low", "nat_ci_high"), at_once):
        got = getattr(r, name)
        assert (got is None and value is None) or np.array_equal(got, value, equal_nan=True), name
        assert got is None or got.tobytes() == value.tobytes()  # bit for bit


@pytest.mark.filterwarnings("ignore:not pooled, value missing")
def test_deferred_study_intervals_of_generic_data_and_of_a_study_without_data():
    r = metareview.metagen([0.1, 0.4, np.nan, -0.2], vi=[0.04, 0.05, 0.03, 0.06])
    z = 1.959963984540054
    assert np.isnan(r.ci_low[2]) and r.nat_ci_low is None
    assert np.allclose(r.ci_high[[0, 1, 3]], r.yi[[0, 1, 3]] + z * np.sqrt(r.vi[[0, 1, 3]]), rtol=1e-12)


def test_study_intervals_are_computed_when_first_read_and_once(monkeypatch):
    calls = []

    def counting(*args, **kwargs):
        calls.append(1)
        return study_ci(*args, **kwargs)
    monkeypatch.setattr(meta, "study_ci", counting)
    r = metareview.metaprop(EVENTS, N)
    assert calls == []  # pooling does not need them
    lo = r.ci_low
    assert calls == [1]
    assert r.ci_high is not None and r.nat_ci_low is not None and r.nat_ci_high is not None and calls == [1]
    assert r.to_dict()["studies"][0]["ci_low"] == float(lo[0]) and calls == [1]


def test_a_result_with_pending_intervals_pickles_equal():
    r = metareview.metaprop(EVENTS, N)
    again = pickle.loads(pickle.dumps(r))
    assert again == r and again.to_dict() == r.to_dict()


def test_settings_made_from_the_same_arguments_are_shared_and_keep_the_type_given():
    a, _ = Settings.split({"measure": "PLO", "incr": 1})
    b, _ = Settings.split({"measure": "PLO", "incr": 1})
    c, _ = Settings.split({"measure": "PLO", "incr": 1.0})
    assert a is b and a == c
    assert type(a.to_dict()["incr"]) is int and type(c.to_dict()["incr"]) is float
    with pytest.raises(metareview.SettingsError):
        Settings.split({"measure": "PLO", "method_tau2": "XX"})
    with pytest.raises(metareview.SettingsError):  # a refused setting is refused every time
        Settings.split({"measure": "PLO", "method_tau2": "XX"})


def test_settings_from_a_measure_entry_are_those_of_its_code():
    from metareview.effectsizes.measures import get_measure

    a, _ = Settings.split({"measure": get_measure("PLO"), "method_tau2": "REML"})
    b, _ = Settings.split({"measure": "PLO", "method_tau2": "REML"})
    c, _ = Settings.split({"measure": get_measure("PLN"), "method_tau2": "REML"})
    assert a == b and a.measure == "PLO" and c.measure == "PLN" and c != a


def test_effect_size_options_made_once_keep_the_type_of_the_increment():
    from metareview.effectsizes.escalc import _options

    assert _options(0.5, "only0", "meta", True, False) is _options(0.5, "only0", "meta", True, False)
    assert type(_options(1, "only0", "meta", True, False).incr) is int
    assert type(_options(1.0, "only0", "meta", True, False).incr) is float
    # an increment that cannot be a key (a 0-d array) is still taken, as before the options were shared
    from metareview.effectsizes.escalc import escalc

    assert np.array_equal(escalc("PLO", {"events": [0, 3], "n": [10, 12]}, incr=np.array(0.5)).yi,
                          escalc("PLO", {"events": [0, 3], "n": [10, 12]}, incr=0.5).yi)
