"""Conversions against the Cochrane Handbook's worked examples and exact identities.

Published examples are compared at the precision they print (stated per test); exact
identities (a statistic computed from raw data and converted back) at 1e-10 relative.
R here is metafor 3.8-1 (Debian), which has no conv.fivenum (added in metafor 4), so
the median/IQR/range estimators are checked against their closed forms and the
properties their papers derive, not against R.
"""

from __future__ import annotations

import doctest
import json
import math

import numpy as np
import pytest
from scipy import integrate, stats

import metareview.tables.convert as convert
from metareview.base.exceptions import DataError
from metareview.cli import main
from metareview.tables.convert import (
    change_sd,
    combine_groups,
    correlation_from_change_sd,
    critical_value,
    mean_sd_from_quantiles,
    sd_from_ci,
    sd_from_p,
    sd_from_se,
    sd_from_t,
    se_from_ci,
    se_from_p,
    se_from_ratio_ci,
    se_from_t,
)

RTOL = 1e-10


def printed(value: float, decimals: int) -> float:
    return round(value, decimals)


# --------------------------------------------------------------------------- Handbook examples

def test_handbook_divisors_for_normal_cis():
    """Handbook 6.5.2.2: a 95% CI is 3.92 SEs wide; 90%: 3.29; 99%: 5.15 (2 decimals)."""
    assert printed(2 * critical_value(0.95), 2) == 3.92
    assert printed(2 * critical_value(0.90), 2) == 3.29
    assert printed(2 * critical_value(0.99), 2) == 5.15


def test_handbook_t_divisor_for_n_25():
    """Handbook 6.5.2.2: for n = 25 the t value is 2.0639 (tinv(0.05, 24)) and 3.92 becomes 4.128."""
    assert printed(critical_value(0.95, 24), 4) == 2.0639
    assert printed(2 * critical_value(0.95, 24), 3) == 4.128
    # the SD is then sqrt(25) * width / 4.128
    assert sd_from_ci(10.0, 14.128, 25) == pytest.approx(5 * 4.128 / (2 * critical_value(0.95, 24)), rel=RTOL)


def test_handbook_sd_from_p_value_example():
    """Handbook 6.5.2.3: MD 3.8, P = 0.008, n 25 and 22: t = 2.78 (45 df), SE = 3.8 / 2.78 = 1.37 (2 decimals)."""
    t = stats.t.isf(0.008 / 2, 45)
    assert printed(t, 2) == 2.78
    assert printed(se_from_p(3.8, 0.008, 45), 2) == 1.37
    sd = sd_from_p(3.8, 0.008, 25, 22)
    assert sd == pytest.approx(se_from_p(3.8, 0.008, 45) / math.sqrt(1 / 25 + 1 / 22), rel=RTOL)
    assert sd_from_t(3.8, t, 25, 22) == pytest.approx(sd, rel=RTOL)


def test_handbook_crossover_example_change_sd():
    """Handbook 5.1, 16.4.6.4: SDs 2.38 and 2.21, imputed correlation 0.68, n = 10: SE of MD 0.583 (3 decimals);
    a typical SD of differences of 2 gives SE 0.632."""
    assert printed(change_sd(2.38, 2.21, 0.68) / math.sqrt(10), 3) == 0.583
    assert printed(2 / math.sqrt(10), 3) == 0.632            # SD of differences 2 -> SE 0.632
    assert printed(sd_from_se(0.632, 10), 1) == 2.0           # and back


# --------------------------------------------------------------------------- exact identities

@pytest.fixture(scope="module")
def samples():
    rng = np.random.default_rng(20210521)
    return rng.normal(5.0, 2.0, 23), rng.normal(3.5, 2.5, 31)


def test_sd_from_ci_recovers_the_sample_sd(samples):
    x, _ = samples
    n, sd, mean = len(x), x.std(ddof=1), x.mean()
    lo, hi = stats.t.interval(0.95, n - 1, loc=mean, scale=sd / math.sqrt(n))
    assert sd_from_ci(lo, hi, n) == pytest.approx(sd, rel=RTOL)
    lo, hi = stats.norm.interval(0.90, loc=mean, scale=sd / math.sqrt(n))
    assert sd_from_ci(lo, hi, n, level=0.90, dist="z") == pytest.approx(sd, rel=RTOL)
    assert se_from_ci(lo, hi, level=0.90) == pytest.approx(sd / math.sqrt(n), rel=RTOL)
    assert sd_from_se(sd / math.sqrt(n), n) == pytest.approx(sd, rel=RTOL)


def test_sd_from_ci_vectorised():
    lo, hi, n = np.array([1.0, 2.0]), np.array([3.0, 5.0]), np.array([10, 40])
    got = sd_from_ci(lo, hi, n)
    expected = np.sqrt(n) * (hi - lo) / (2 * stats.t.ppf(0.975, n - 1))
    np.testing.assert_allclose(got, expected, rtol=RTOL)


def test_sd_from_t_and_p_recover_the_pooled_sd(samples):
    x, y = samples
    res = stats.ttest_ind(x, y, equal_var=True)
    md = x.mean() - y.mean()
    pooled = math.sqrt(((len(x) - 1) * x.var(ddof=1) + (len(y) - 1) * y.var(ddof=1)) / (len(x) + len(y) - 2))
    assert sd_from_t(md, res.statistic, len(x), len(y)) == pytest.approx(pooled, rel=RTOL)
    assert sd_from_p(md, res.pvalue, len(x), len(y)) == pytest.approx(pooled, rel=1e-8)
    assert se_from_t(md, res.statistic) == pytest.approx(pooled * math.sqrt(1 / len(x) + 1 / len(y)), rel=RTOL)


def test_sd_from_t_one_group_or_paired(samples):
    x, y = samples
    d = x - y[:len(x)]
    res = stats.ttest_1samp(d, 0.0)
    assert sd_from_t(d.mean(), res.statistic, len(d)) == pytest.approx(d.std(ddof=1), rel=RTOL)
    assert sd_from_p(d.mean(), res.pvalue, len(d)) == pytest.approx(d.std(ddof=1), rel=1e-8)


def test_se_from_ratio_ci_round_trip():
    log_or, se = math.log(1.8), 0.27
    lo, hi = math.exp(log_or - 1.959963984540054 * se), math.exp(log_or + 1.959963984540054 * se)
    assert se_from_ratio_ci(lo, hi) == pytest.approx(se, rel=1e-9)
    np.testing.assert_allclose(se_from_ratio_ci([0.5, 1.2], [0.9, 3.0], level=0.9),
                               (np.log([0.9, 3.0]) - np.log([0.5, 1.2])) / (2 * stats.norm.ppf(0.95)), rtol=RTOL)


def test_change_sd_and_correlation_from_raw_pairs(samples):
    x, _ = samples
    rng = np.random.default_rng(7)
    y = 0.6 * x + rng.normal(0, 1.5, len(x))
    r = np.corrcoef(x, y)[0, 1]
    assert change_sd(x.std(ddof=1), y.std(ddof=1), r) == pytest.approx((y - x).std(ddof=1), rel=RTOL)
    assert correlation_from_change_sd(x.std(ddof=1), y.std(ddof=1), (y - x).std(ddof=1)) == \
        pytest.approx(r, rel=RTOL)
    rs = np.array([-0.5, 0.0, 0.5, 0.9])
    np.testing.assert_allclose(correlation_from_change_sd(2.0, 3.0, change_sd(2.0, 3.0, rs)), rs, rtol=RTOL,
                               atol=1e-14)


def test_combine_groups_equals_the_pooled_raw_data(samples):
    x, y = samples
    g = combine_groups(len(x), x.mean(), x.std(ddof=1), len(y), y.mean(), y.std(ddof=1))
    both = np.concatenate([x, y])
    assert g.n == len(both)
    assert g.mean == pytest.approx(both.mean(), rel=RTOL)
    assert g.sd == pytest.approx(both.std(ddof=1), rel=RTOL)
    # three subgroups: combine twice
    z = np.array([1.0, 9.0, 4.0])
    h = combine_groups(g.n, g.mean, g.sd, len(z), z.mean(), z.std(ddof=1))
    assert h.sd == pytest.approx(np.concatenate([both, z]).std(ddof=1), rel=RTOL)


@pytest.mark.parametrize("call,rule", [
    (lambda: sd_from_ci(5, 3, 10), "ci_order"),
    (lambda: sd_from_ci(3, 5, 1), "n_positive"),
    (lambda: sd_from_ci(3, 5, 10, dist="normal"), "option"),
    (lambda: sd_from_ci(3, 5, 10, level=95), "level"),
    (lambda: se_from_ratio_ci(0, 2), "ratio_positive"),
    (lambda: se_from_p(1.0, 1.2), "p_range"),
    (lambda: se_from_t(1.0, 0.0), "t_nonzero"),
    (lambda: change_sd(2.0, 3.0, 1.5), "correlation_range"),
    (lambda: correlation_from_change_sd(1.0, 1.0, 3.0), "correlation_range"),
    (lambda: sd_from_se(-1.0, 10), "se_positive"),
    (lambda: sd_from_ci("a", 5, 10), "not_a_number"),
])
def test_impossible_input_raises_with_its_rule(call, rule):
    with pytest.raises(DataError) as exc:
        call()
    assert exc.value.rule == rule


# --------------------------------------------------------------------------- median, IQR, range

def xi(n):
    return 2 * stats.norm.ppf((n - 0.375) / (n + 0.25))


def eta(n):
    return 2 * stats.norm.ppf((0.75 * n - 0.125) / (n + 0.25))


@pytest.mark.parametrize("n", [5, 12, 40, 150, 1000])
def test_quantile_estimators_closed_forms(n):
    a, q1, m, q3, b = 1.0, 3.2, 4.5, 6.9, 14.0
    # Luo et al. 2018, S1-S3
    w = 4 / (4 + n ** 0.75)
    assert mean_sd_from_quantiles(n, m, minimum=a, maximum=b).mean == \
        pytest.approx(w * (a + b) / 2 + (1 - w) * m, rel=RTOL)
    w = 0.7 + 0.39 / n
    assert mean_sd_from_quantiles(n, m, q1=q1, q3=q3).mean == pytest.approx(w * (q1 + q3) / 2 + (1 - w) * m,
                                                                            rel=RTOL)
    w1, w2 = 2.2 / (2.2 + n ** 0.75), 0.7 - 0.72 / n ** 0.55
    e3 = mean_sd_from_quantiles(n, m, q1=q1, q3=q3, minimum=a, maximum=b)
    assert e3.mean == pytest.approx(w1 * (a + b) / 2 + w2 * (q1 + q3) / 2 + (1 - w1 - w2) * m, rel=RTOL)
    # Shi et al. 2020 (S1, S2 as Wan 2014)
    assert mean_sd_from_quantiles(n, m, minimum=a, maximum=b).sd == pytest.approx((b - a) / xi(n), rel=RTOL)
    assert mean_sd_from_quantiles(n, m, q1=q1, q3=q3).sd == pytest.approx((q3 - q1) / eta(n), rel=RTOL)
    ws = 1 / (1 + 0.07 * n ** 0.6)
    assert e3.sd == pytest.approx(ws * (b - a) / xi(n) + (1 - ws) * (q3 - q1) / eta(n), rel=RTOL)
    assert e3.scenario == "S3" and e3.mean_method == "luo" and e3.sd_method == "shi"
    # Wan et al. 2014
    wan3 = mean_sd_from_quantiles(n, m, q1=q1, q3=q3, minimum=a, maximum=b, mean_method="wan", sd_method="wan")
    assert wan3.mean == pytest.approx((a + 2 * q1 + 2 * m + 2 * q3 + b) / 8, rel=RTOL)
    assert wan3.sd == pytest.approx((b - a) / (2 * xi(n)) + (q3 - q1) / (2 * eta(n)), rel=RTOL)
    assert mean_sd_from_quantiles(n, m, q1=q1, q3=q3, mean_method="wan").mean == \
        pytest.approx((q1 + m + q3) / 3, rel=RTOL)
    assert mean_sd_from_quantiles(n, m, minimum=a, maximum=b, mean_method="wan").mean == \
        pytest.approx((a + 2 * m + b) / 4, rel=RTOL)
    # Hozo et al. 2005
    hozo = mean_sd_from_quantiles(n, m, minimum=a, maximum=b, mean_method="hozo", sd_method="hozo")
    assert hozo.mean == pytest.approx((a + 2 * m + b) / 4 + (a - 2 * m + b) / (4 * n), rel=RTOL)
    assert hozo.sd == pytest.approx(math.sqrt(((a - 2 * m + b) ** 2 / 4 + (b - a) ** 2) / 12), rel=RTOL)


@pytest.mark.parametrize("n", [5, 10, 20, 50, 100, 400, 1000])
def test_wan_range_divisor_approximates_the_expected_normal_range(n):
    """Wan et al. 2014 derive xi(n) as an approximation of the expected range of n standard normal values
    (Blom's formula); it is within 1.5% of the exact value for n >= 5."""
    exact = integrate.quad(lambda x: 1 - stats.norm.cdf(x) ** n - stats.norm.sf(x) ** n, -np.inf, np.inf)[0]
    est = mean_sd_from_quantiles(n, 0.0, minimum=-exact / 2, maximum=exact / 2)
    assert abs(est.sd - 1) < 0.015
    assert est.mean == 0.0


def test_iqr_divisor_tends_to_the_normal_iqr():
    """eta(n) -> 2 z_0.75 = 1.349 as n grows (Wan et al. 2014)."""
    est = mean_sd_from_quantiles(10 ** 6, 0.0, q1=-stats.norm.ppf(0.75), q3=stats.norm.ppf(0.75))
    assert est.sd == pytest.approx(1.0, rel=1e-5)


def test_estimates_from_a_large_normal_sample_are_close():
    rng = np.random.default_rng(3)
    x = rng.normal(50, 10, 4001)
    a, q1, m, q3, b = np.percentile(x, [0, 25, 50, 75, 100])
    for kw in ({"minimum": a, "maximum": b}, {"q1": q1, "q3": q3}, {"minimum": a, "maximum": b, "q1": q1, "q3": q3}):
        est = mean_sd_from_quantiles(len(x), m, **kw)
        assert abs(est.mean - x.mean()) < 0.5
        assert abs(est.sd / x.std(ddof=1) - 1) < 0.06


def test_scenario_is_chosen_per_study():
    nan = np.nan
    est = mean_sd_from_quantiles([20, 30, 40], [5.0, 6.0, 7.0], q1=[nan, 4.0, 5.0], q3=[nan, 8.0, 9.0],
                                 minimum=[1.0, nan, 2.0], maximum=[12.0, nan, 15.0])
    assert est.scenario.tolist() == ["S1", "S2", "S3"]
    single = [mean_sd_from_quantiles(20, 5.0, minimum=1.0, maximum=12.0),
              mean_sd_from_quantiles(30, 6.0, q1=4.0, q3=8.0),
              mean_sd_from_quantiles(40, 7.0, q1=5.0, q3=9.0, minimum=2.0, maximum=15.0)]
    np.testing.assert_allclose(est.mean, [s.mean for s in single], rtol=RTOL)
    np.testing.assert_allclose(est.sd, [s.sd for s in single], rtol=RTOL)
    assert json.loads(json.dumps(est.to_dict()))["scenario"] == ["S1", "S2", "S3"]


@pytest.mark.parametrize("kwargs,rule", [
    ({"q1": 3.0}, "scenario"),
    ({}, "scenario"),
    ({"q1": 6.0, "q3": 8.0}, "order"),
    ({"minimum": 1.0, "maximum": 4.0}, "order"),
    ({"q1": 3.0, "q3": 8.0, "mean_method": "hozo"}, "scenario"),
    ({"q1": 3.0, "q3": 8.0, "sd_method": "bland"}, "option"),
])
def test_quantile_input_errors(kwargs, rule):
    with pytest.raises(DataError) as exc:
        mean_sd_from_quantiles(20, 5.0, **kwargs)
    assert exc.value.rule == rule


def test_docstring_examples_run():
    result = doctest.testmod(convert, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 5 and result.failed == 0


def test_cli_convert(capsys):
    assert main(["convert", "sd-from-ci", "--lower", "18", "--upper", "24", "--n", "25", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["sd"] == pytest.approx(sd_from_ci(18, 24, 25), rel=RTOL) and "6.5.2.2" in doc["method"]
    assert main(["convert", "quantiles", "--n", "40", "--median", "7", "--q1", "5", "--q3", "9", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["scenario"] == "S2" and doc["sd"] == pytest.approx((9 - 5) / eta(40), rel=RTOL)
    assert main(["convert", "combine", "--n1", "10", "--mean1", "5", "--sd1", "1", "--n2", "10", "--mean2", "7",
                 "--sd2", "1"]) == 0
    assert "mean" in capsys.readouterr().out
    assert main(["convert", "sd-from-ci", "--lower", "24", "--upper", "18", "--n", "25"]) == 2
    assert "upper confidence limit" in capsys.readouterr().err
