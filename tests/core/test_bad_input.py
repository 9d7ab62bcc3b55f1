"""Bad input gets an error naming the study, the column and the rule; never a traceback or NaN."""

import numpy as np
import pytest

import metareview as mr
from metareview.base.exceptions import DataError, MetaReviewWarning, SettingsError
from metareview.cli import main


def test_events_larger_than_n():
    with pytest.raises(DataError) as e:
        mr.metaprop([3, 12], [10, 11], ["A", "B"])
    assert e.value.study == "B" and e.value.column == "events" and "larger than n" in str(e.value)


@pytest.mark.parametrize("n", [0, -3])
def test_n_not_positive(n):
    with pytest.raises(DataError, match="'n'.*greater than 0"):
        mr.metaprop([1, 0], [10, n], ["A", "B"])


def test_sd_not_positive():
    with pytest.raises(DataError) as e:
        mr.metamean([10, 12], [5.0, 4.0], [1.0, -2.0], ["A", "B"])
    assert (e.value.study, e.value.column, e.value.rule) == ("B", "sd", "SD > 0")


def test_variance_not_positive():
    with pytest.raises(DataError, match="study 'B', column 'vi'"):
        mr.metagen([0.1, 0.2], vi=[0.01, 0.0], studlab=["A", "B"])


def test_non_numeric_and_missing_cells():
    with pytest.raises(DataError, match="study 'B', column 'events': non-numeric value 'x'"):
        mr.metaprop([1, "x"], [10, 10], ["A", "B"])
    # an empty cell is not an error: the study is kept in the table and not pooled, as
    # metafor's na.action = "na.omit" (tests/glmm/test_r_parity.py has the R values)
    with pytest.warns(MetaReviewWarning, match=r"not pooled, value missing: A \(column 'n'\)"):
        r = mr.metaprop([1, 2, 3], [None, 10, 12], ["A", "B", "C"])
    assert r.k == 2 and r.k_all == 3 and bool(r.excluded[0])
    with pytest.raises(DataError, match="study 'A', column 'n': no study has complete data"):
        mr.metaprop([1, 2], [None, None], ["A", "B"])


def test_missing_column_and_unknown_design():
    with pytest.raises(DataError, match="cannot tell the study design"):
        mr.metaanalysis({"study": ["A"], "events": [1]})
    with pytest.raises(DataError, match="needs column"):
        mr.metaanalysis({"study": ["A"], "mean_pre": [1], "sd_pre": [1], "mean_post": [1], "sd_post": [1],
                         "n": [4]}, "SMCR")


def test_unknown_measure_and_estimator_list_valid_values():
    with pytest.raises(SettingsError, match="valid measures are: .*PLO"):
        mr.metaprop([1], [2], measure="LOGIT")
    with pytest.raises(SettingsError, match="valid estimators are: DL, PM, REML"):
        mr.metaprop([1, 2], [5, 6], method_tau2="XX")
    with pytest.raises(SettingsError, match="unknown argument"):
        mr.metaprop([1, 2], [5, 6], method_tau="DL")


def test_no_studies_left():
    with pytest.raises(DataError, match="every study is excluded"):
        mr.metaprop([1, 2], [5, 6], ["A", "B"], exclude=["A", "B"])
    with pytest.raises(SettingsError, match="no study is labelled 'C'"):
        mr.metaprop([1, 2], [5, 6], ["A", "B"], exclude=["C"])


def test_correlation_needed_and_in_range():
    args = ([10, 12], [5, 6], [1, 1], [4, 4], [1, 1], ["A", "B"])
    with pytest.raises(DataError, match="needs column"):
        mr.metaprepost(*args, measure="MC")
    with pytest.raises(DataError, match="study 'B', column 'r'"):
        mr.metaprepost(*args, r=[0.5, 1.5], measure="MC")


def test_cli_bad_input_exits_without_traceback(tmp_path, capsys):
    f = tmp_path / "d.csv"
    f.write_text("study,events,n\nA,3,10\nB,12,11\n")
    assert main(["pool", str(f)]) == 2
    err = capsys.readouterr().err
    assert "study 'B', column 'events'" in err and "Traceback" not in err
    assert main(["pool", str(tmp_path / "missing.csv")]) == 2
    assert main(["pool", str(f), "--method-tau2", "nope"]) == 2
    assert "valid estimators" in capsys.readouterr().err


def test_degenerate_k1_warns_and_follows_metafor():
    with pytest.warns(mr.SmallSampleWarning):
        r = mr.metagen([0.3], [0.1], ["A"])
    d = r.to_dict()
    assert d["heterogeneity"]["tau2"] == 0 and d["heterogeneity"]["q"] == 0 and d["heterogeneity"]["i2"] == 0
    assert d["random"]["estimate"] == pytest.approx(0.3)
    assert d["prediction"]["low"] is None  # t with k - 2 df needs three studies


def test_tau2_at_zero_boundary():
    r = mr.metagen([0.1, 0.1001, 0.0999], [0.1, 0.1, 0.1], method_tau2="REML")
    assert r.pooled["tau2"] == 0.0
    assert r.pooled["random_estimate"] == pytest.approx(r.pooled["common_estimate"], rel=1e-12)


def test_non_convergence_warns():
    from metareview.pooling.tau2 import estimate_tau2
    y = np.array([[0.0, 1.0, 3.0, -2.0]])
    v = np.array([[0.01, 0.02, 0.5, 0.1]])
    with pytest.warns(mr.ConvergenceWarning):
        fit = estimate_tau2(y, v, np.ones_like(y), "REML", maxiter=1)
    assert not fit.converged[0]


def test_cli_usage_errors_are_messages(capsys):
    assert main(["pool"]) == 2
    assert main(["pool", "x.csv", "--bogus"]) == 2
    err = capsys.readouterr().err
    assert "Missing argument" in err and "No such option" in err and "Traceback" not in err
    assert main(["--help"]) == 0
