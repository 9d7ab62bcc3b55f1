"""Batch input and output: bad input messages, CSV/Parquet files (streamed), the command
line in-process, the Dask path on a two-worker cluster, and memory bounded by the chunk."""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pandas as pd
import pytest

from metareview import DataError, SettingsError
from metareview.api import batch as batch_module
from metareview.api.batch import batch, iter_batch
from metareview.cli import main

from .conftest import random_table


def quiet(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return batch(*args, **kwargs)


def by_id(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(analysis=frame["analysis"].astype(str)).sort_values("analysis").reset_index(drop=True)


# ----- bad input ---------------------------------------------------------------------

def small():
    return pd.DataFrame({"analysis": ["x", "x", "y", "y", "y"], "study": ["S1", "S2", "S1", "S2", "S3"],
                         "events": [3, 4, 5, 6, 7], "n": [10, 10, 10, 10, 10]})


def test_rule_broken_names_analysis_study_column_and_rule():
    t = small()
    t.loc[4, "events"] = 12
    with pytest.raises(DataError) as err:
        batch(t)
    msg = str(err.value)
    assert "analysis 'y'" in msg and "study 'S3'" in msg and "column 'events'" in msg and "larger than n" in msg
    assert err.value.rule == "events <= n" and err.value.column == "events" and err.value.study == "S3"


def test_rule_broken_in_a_later_chunk_and_without_study_labels():
    t = small().drop(columns="study")
    t.loc[3, "n"] = 0
    with pytest.raises(DataError, match=r"study '2', column 'n': analysis 'y': must be greater than 0"):
        batch(t, chunk_size=1)


def test_non_numeric_and_missing_cells():
    t = small().astype({"n": object})
    t.loc[1, "n"] = "ten"
    with pytest.raises(DataError, match=r"study 'S2', column 'n': analysis 'x': non-numeric value 'ten'"):
        batch(t)



def test_missing_cells_are_omitted_as_in_one_analysis():
    """The rule of the single analysis (metafor's na.omit): a study with an empty cell is not pooled."""
    import metareview as mr

    t = small().astype({"n": object})
    t.loc[1, "n"] = None
    t.loc[4, "events"] = None
    with pytest.warns(mr.MetaReviewWarning, match=r"2 study row\(s\) not pooled, value missing: analysis 'x' "
                      r"study 'S2' \(column 'n'\), analysis 'y' study 'S3' \(column 'events'\)"):
        out = batch(t)
    assert out["k"].tolist() == [1, 2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        single = mr.metaprop([5, 6, np.nan], [10, 10, 10], ["S1", "S2", "S3"])
    assert single.pooled["k"] == 2
    row = out.iloc[1]
    for key in ("random_estimate", "random_se", "tau2", "q"):
        assert row[key] == pytest.approx(single.pooled[key], rel=1e-12, abs=1e-15)


def test_an_analysis_without_complete_data_stops():
    t = small()
    t["n"] = t["n"].astype(float)
    t.loc[[0, 1], "n"] = np.nan
    with pytest.raises(DataError, match=r"analysis 'x': no study has complete data: every study has an empty cell "
                                        r"\(e.g. column 'n'\)"):
        batch(t)


def test_zero_variances_follow_the_single_analysis():
    import metareview as mr

    t = pd.DataFrame({"analysis": ["a"] * 4, "study": list("ABCD"), "yi": [0.1, 0.3, -0.2, 0.5],
                      "vi": [0.0, 0.02, 0.03, 0.05]})
    with pytest.raises(DataError, match=r"analysis 'a': sampling variance 0: the DL estimator of tau² divides"):
        batch(t)
    with pytest.warns(mr.MetaReviewWarning, match=r"1 analysis\(es\) with a sampling variance 0 \('a'\)"):
        out = batch(t, method_tau2="REML")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        single = mr.metagen(t["yi"], vi=t["vi"], studlab=t["study"], method_tau2="REML")
    row = out.iloc[0]
    for key in ("random_estimate", "random_se", "tau2"):
        assert row[key] == pytest.approx(single.pooled[key], rel=1e-10)
    for key in ("common_estimate", "q", "i2", "tau2_ci_low"):
        assert np.isnan(row[key]) and (single.pooled[key] is None or np.isnan(single.pooled[key]))


def test_effect_size_that_cannot_be_computed():
    t = small()
    t.loc[2, "events"] = 0
    with pytest.raises(DataError, match=r"study 'S1', column 'PLO': analysis 'y': the effect size cannot"):
        batch(t, method_incr="none")


def test_analysis_left_without_studies():
    t = pd.DataFrame({"analysis": ["x", "x", "y"], "events_e": [0, 2, 3], "n_e": [10, 10, 10],
                      "events_c": [0, 1, 4], "n_c": [10, 10, 10]})
    t.loc[1, ["events_e", "events_c"]] = 0
    with pytest.raises(DataError, match=r"analysis 'x': every study is excluded"):
        batch(t, measure="RR")
    assert quiet(t, measure="RR", allstudies=True)["k"].tolist() == [2, 1]


def test_rate_error_names_analysis_and_study():
    t = pd.DataFrame({"analysis": ["x", "x", "y", "y"], "study": ["S1", "S2", "S1", "S2"],
                      "events": [3, 4, 0, 6], "time": [100.0, 80.0, 90.0, 50.0]})
    with pytest.raises(DataError, match=r"study 'S1', column 'events': analysis 'y': zero events"):
        batch(t, measure="IRLN", incr=0)


def test_missing_id_and_missing_columns():
    t = small()
    t.loc[2, "analysis"] = None
    with pytest.raises(DataError, match="row 3 has no analysis id"):
        batch(t)
    with pytest.raises(DataError, match="analysis id column 'outcome' is not in the data"):
        batch(small(), by="outcome")
    with pytest.raises(DataError, match="cannot tell the study design"):
        batch(small().drop(columns="n"))


def test_settings_errors():
    with pytest.raises(SettingsError, match="valid measures"):
        batch(small(), measure="XYZ")
    with pytest.raises(SettingsError, match="valid estimators"):
        batch(small(), method_tau2="FOO")
    with pytest.raises(SettingsError, match="needs a cont2 design"):
        batch(small(), measure="SMD")
    for bad in ({"exclude": ["S1"]}, {"study_ci": "WS"}, {"random": False}):
        with pytest.raises(SettingsError, match="batch does not take"):
            batch(small(), **bad)
    with pytest.raises(SettingsError, match="unknown argument"):
        batch(small(), colour="red")
    with pytest.raises(SettingsError, match="chunk_size"):
        batch(small(), chunk_size=0)
    with pytest.raises(SettingsError, match="client= is for Dask"):
        batch(small(), client=object())


# ----- files -------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_files_are_streamed_without_splitting_analyses(tmp_path, monkeypatch, suffix):
    table = random_table("bin2", n_analyses=60, seed=21).sort_values("analysis", kind="stable")
    path = tmp_path / f"t{suffix}"
    table.to_csv(path, index=False) if suffix == ".csv" else table.to_parquet(path, index=False, row_group_size=37)
    monkeypatch.setattr(batch_module, "FILE_ROWS", 37)  # pieces end inside analyses
    expected = quiet(table, measure="RR", method_tau2="REML")
    got = quiet(path, measure="RR", method_tau2="REML")
    pd.testing.assert_frame_equal(by_id(got), by_id(expected), rtol=1e-12, atol=1e-12)


def test_small_file_in_any_order(tmp_path):
    table = random_table("proportion", n_analyses=30, seed=2)  # interleaved rows, one piece
    path = tmp_path / "t.csv"
    table.to_csv(path, index=False)
    pd.testing.assert_frame_equal(by_id(quiet(path)), by_id(quiet(table)), rtol=1e-12, atol=1e-12)


def test_file_with_scattered_analysis_is_refused(tmp_path, monkeypatch):
    table = random_table("proportion", n_analyses=30, seed=2)  # interleaved rows
    path = tmp_path / "t.csv"
    table.to_csv(path, index=False)
    monkeypatch.setattr(batch_module, "FILE_ROWS", 20)
    with pytest.raises(DataError, match="rows are not consecutive"):
        quiet(path)


# ----- command line ------------------------------------------------------------------

def test_cli_parquet_and_csv_output(tmp_path, capsys):
    table = random_table("cont2", n_analyses=40, seed=5).sort_values("analysis", kind="stable")
    data = tmp_path / "long.csv"
    table.to_csv(data, index=False)
    out = tmp_path / "res.parquet"
    code = main(["batch", str(data), "-o", str(out), "--measure", "SMD", "--method-tau2", "REML",
                 "--random-ci", "hk", "--prediction", "z", "--chunk-size", "7", "--no-progress"])
    assert code == 0
    err = capsys.readouterr().err
    assert "40 analyses pooled" in err and f"wrote {out}" in err
    expected = quiet(table, measure="SMD", method_tau2="REML", random_ci="hk", prediction="z")
    pd.testing.assert_frame_equal(by_id(pd.read_parquet(out)), by_id(expected), rtol=1e-12, atol=1e-12)
    bin_data = tmp_path / "bin.csv"
    random_table("bin2", n_analyses=10, seed=3).to_csv(bin_data, index=False)
    for flag, expected_all in (("--allstudies", True), ("--no-allstudies", False)):
        assert main(["batch", str(bin_data), "-o", str(out), "--no-progress", flag]) == 0
        got = pd.read_parquet(out)["k"].sum()
        assert got == quiet(pd.read_csv(bin_data, dtype={"analysis": str}), allstudies=expected_all)["k"].sum()
    out_csv = tmp_path / "res.csv"
    assert main(["batch", str(data), "-o", str(out_csv), "-m", "SMD", "--quiet"]) == 0
    back = pd.read_csv(out_csv, dtype={"analysis": str})
    np.testing.assert_allclose(back.sort_values("analysis")["random_estimate"],
                               by_id(quiet(table, measure="SMD"))["random_estimate"], rtol=1e-15)


def test_cli_bad_input_is_a_message_and_no_file(tmp_path, capsys):
    t = small()
    t.loc[4, "events"] = 12
    data = tmp_path / "bad.csv"
    t.to_csv(data, index=False)
    out = tmp_path / "res.parquet"
    assert main(["batch", str(data), "-o", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "analysis 'y'" in err and "study 'S3'" in err and "Traceback" not in err
    assert not out.exists() and not list(tmp_path.glob("*.part"))
    assert main(["batch", str(data), "-o", str(tmp_path / "res.json"), "--no-progress"]) == 2


def test_cli_progress_bar_and_empty_table(tmp_path, capsys):
    data = tmp_path / "empty.csv"
    small().iloc[:0].to_csv(data, index=False)
    out = tmp_path / "res.parquet"
    assert main(["batch", str(data), "-o", str(out)]) == 0
    assert len(pd.read_parquet(out)) == 0 and "bt_random_estimate" in pd.read_parquet(out).columns
    data = tmp_path / "small.parquet"
    small().to_parquet(data)
    assert main(["batch", str(data), "-o", str(out), "--progress"]) == 0
    assert "5/5" in capsys.readouterr().err


# ----- Dask --------------------------------------------------------------------------

def test_dask_two_workers_same_as_pandas(dask_client):
    import dask.dataframe as dd

    table = random_table("proportion", n_analyses=60, seed=31)  # interleaved: analyses straddle partitions
    ddf = dd.from_pandas(table, npartitions=4)
    got = batch(ddf, measure="PFT", method_tau2="REML", client=dask_client)
    expected = quiet(table, measure="PFT", method_tau2="REML")
    assert len(got) == 60
    pd.testing.assert_frame_equal(by_id(got), by_id(expected), rtol=1e-12, atol=1e-12)


def test_dask_grouped_partitions_and_current_client(dask_client):
    import dask.dataframe as dd

    table = random_table("generic", n_analyses=30, seed=32)
    ddf = dd.from_pandas(table.set_index("analysis").sort_index(), npartitions=3).reset_index()
    with dask_client.as_current():
        got = batch(ddf, method_tau2="DL")
    pd.testing.assert_frame_equal(by_id(got), by_id(quiet(table)), rtol=1e-12, atol=1e-12)


def test_dask_bad_input_reaches_the_caller(dask_client):
    import dask.dataframe as dd

    t = small()
    t.loc[4, "events"] = 12
    with pytest.raises(DataError, match="analysis 'y'"):
        batch(dd.from_pandas(t, npartitions=2), client=dask_client)


# ----- memory ------------------------------------------------------------------------

def test_memory_is_bounded_by_the_chunk_not_the_table(tmp_path, monkeypatch):
    """2e5 analyses (1e6 study rows) streamed from Parquet: the arrays alive at any time
    stay a small fraction of what the whole table would take."""
    m, k = 200_000, 5
    rng = np.random.default_rng(0)
    vi = rng.uniform(0.02, 0.2, m * k)
    table = pd.DataFrame({"analysis": np.repeat(np.arange(m), k), "yi": rng.normal(0, np.sqrt(vi + 0.05)),
                          "vi": vi})
    path = tmp_path / "big.parquet"
    table.to_parquet(path, index=False, row_group_size=100_000)
    whole = table.memory_usage(deep=True).sum()  # 24 MB
    del table
    monkeypatch.setattr(batch_module, "FILE_ROWS", 20_000)
    n = 0
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a few simulated analyses do not converge
            for part in iter_batch(path, chunk_size=1_000):
                n += len(part)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert n == m
    assert peak < whole / 3, (peak, whole)


def test_dask_without_a_client_starts_a_local_cluster(monkeypatch):
    import dask.dataframe as dd
    import distributed

    started = []
    real = distributed.LocalCluster

    def spy(**kwargs):
        started.append(kwargs)
        return real(**kwargs)
    monkeypatch.setattr(distributed, "LocalCluster", spy)
    table = random_table("mean", n_analyses=10, seed=33)
    got = batch(dd.from_pandas(table, npartitions=2), measure="MN")
    assert started and started[0]["n_workers"] == 2
    pd.testing.assert_frame_equal(by_id(got), by_id(quiet(table, measure="MN")), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError):
        distributed.get_client()  # the cluster started for the call is gone


def test_rule_broken_with_sorted_integer_ids():
    t = small().assign(analysis=[7, 7, 9, 9, 9]).drop(columns="study")
    t.loc[3, "events"] = -1
    with pytest.raises(DataError, match=r"study '2', column 'events': analysis 9: must not be negative"):
        batch(t)


def test_cli_csv_holds_exactly_the_computed_values(tmp_path):
    """The CSV writer (pyarrow's) writes each double so that it reads back bit for bit, a missing
    value as an empty field, in several chunks; an empty table gives the header alone."""
    table = random_table("bin2", n_analyses=30, seed=11).sort_values("analysis", kind="stable")
    data = tmp_path / "long.csv"
    table.to_csv(data, index=False)
    out = tmp_path / "res.csv"
    assert main(["batch", str(data), "-o", str(out), "--measure", "OR", "--chunk-size", "4", "--quiet"]) == 0
    back = pd.read_csv(out, dtype={"analysis": str})  # pandas reads doubles back exactly by default
    expected = quiet(pd.read_csv(data, dtype={"analysis": str}), measure="OR", chunk_size=4)
    pd.testing.assert_frame_equal(by_id(back), by_id(expected), check_exact=True)
    text = out.read_text()
    assert text.splitlines()[0].startswith("analysis,k,") and '"' not in text.splitlines()[0]
    empty = tmp_path / "empty.csv"
    small().iloc[:0].to_csv(empty, index=False)
    assert main(["batch", str(empty), "-o", str(out), "--quiet"]) == 0
    assert out.read_text().count("\n") == 1 and out.read_text().startswith("analysis,")


def _one_writer(parts, path, csv: bool) -> bytes:
    """What one pyarrow writer makes of the chunks one after the other (the reference for the
    overlapped writers of ``metareview batch``)."""
    import pyarrow as pa
    import pyarrow.csv as pc
    import pyarrow.parquet as pq

    tables = [pa.Table.from_pandas(parts[0], preserve_index=False)]
    tables += [pa.Table.from_pandas(df, schema=tables[0].schema, preserve_index=False) for df in parts[1:]]
    with open(path, "wb") as fh:
        if csv:
            plain = not any(set(n) & set(',"\r\n') for n in tables[0].schema.names)
            writer = pc.CSVWriter(fh, tables[0].schema, write_options=pc.WriteOptions(
                quoting_style="needed", quoting_header="none" if plain else "needed"))
        else:
            writer = pq.ParquetWriter(fh, tables[0].schema)
        for t in tables:
            writer.write_table(t)
        writer.close()
    return path.read_bytes()


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("by", ["analysis", 'an,"alysis"'])
@pytest.mark.filterwarnings("ignore")
def test_overlapped_writers_write_the_bytes_of_one_writer(tmp_path, suffix, by):
    """Chunks formatted on several threads (CSV) or encoded while the next is pooled (Parquet)
    give the bytes of one writer taking them in order: ids that need quotes, missing values,
    one-study analyses, many chunks and an empty table."""
    from metareview.api.batch import iter_batch
    from metareview.cli.cmd_batch import write_results

    table = random_table("generic", n_analyses=300, seed=8).rename(columns={"analysis": by})
    table.loc[table.index[7::29], "yi"] = np.nan
    table = table[table.groupby(by)["yi"].transform("count") > 0]
    table[by] = table[by].str.replace("A0", 'A,"0')
    for chunk_size, data in ((7, table), (None, table.iloc[:0])):
        parts = list(iter_batch(data, by=by, chunk_size=chunk_size, random_ci="hk"))
        assert len(parts) > 20 or len(data) == 0
        columns_only = batch(data.iloc[:0], by=by)
        out = tmp_path / f"out{suffix}"
        assert write_results(iter(parts), out, lambda: columns_only, []) == sum(len(p) for p in parts)  # noqa: B023
        reference = _one_writer(parts or [columns_only], tmp_path / f"one{suffix}", suffix == ".csv")
        assert out.read_bytes() == reference


# ----- CSV from columns --------------------------------------------------------------

@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("ids", ["text", "integers"])
def test_result_columns_are_the_dataframes_columns(ids):
    """iter_batch_columns gives, chunk by chunk, the arrays iter_batch's DataFrames are made of,
    and the CSV writer's Arrow table of either is the same (types included)."""
    from metareview.api.batch import iter_batch_columns
    from metareview.cli.cmd_batch import _arrow_table

    table = random_table("proportion", n_analyses=40, seed=4)
    if ids == "integers":
        table["analysis"] = table["analysis"].str[1:].astype(int)
    frames = list(iter_batch(table, chunk_size=9, method_tau2="REML"))
    columns = list(iter_batch_columns(table, chunk_size=9, method_tau2="REML"))
    assert len(frames) == len(columns) == 5
    for df, cols in zip(frames, columns):
        assert list(cols) == list(df.columns)
        pd.testing.assert_frame_equal(pd.DataFrame(cols), df, check_exact=True)
        got, expected = _arrow_table(cols), _arrow_table(df)
        assert got.schema == expected.schema and got.equals(expected)
    assert list(iter_batch_columns(table.iloc[:0])) == []


def _edge_values(n: int, rng) -> np.ndarray:
    """Doubles whose shortest text takes every form: missing (NaN), infinities, signed zeros,
    integers in and out of the plain range, the smallest and largest doubles, subnormals,
    the thresholds of exponent notation, and random values over 600 orders of magnitude."""
    special = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 1e16, 1e21, 1e22, 123456789012.0,
                        9007199254740993.0, 1e-5, 1e-6, 1e-7, 0.1 + 0.2, 5e-324, 2.2250738585072014e-308,
                        1.7976931348623157e308, -1.7976931348623157e308, 4.35, 0.000123456789, 1e10,
                        1.5e10, 12345678.9])
    random = rng.standard_normal(n) * 10.0 ** rng.integers(-300, 300, n)
    return np.where(rng.random(n) < 0.5, rng.choice(special, n), random)


@pytest.mark.filterwarnings("ignore")
def test_csv_from_columns_writes_the_bytes_of_the_dataframes(tmp_path, monkeypatch):
    """The CSV written from result columns (the command's way: no DataFrame, a chunk's rows
    formatted at once) is byte for byte that of one pyarrow writer given the DataFrames (from
    pandas, 1,024 rows at a time): doubles of every form, ids that need quotes, text in
    several scripts, chunks longer than the writer's default batch and batches cut short."""
    from metareview.api.batch import iter_batch_columns
    from metareview.cli import cmd_batch
    from metareview.cli.cmd_batch import write_results

    rng = np.random.default_rng(18)
    table = random_table("generic", n_analyses=2_300, seed=9, kmax=4)
    names = table["analysis"].unique()
    odd = dict(zip(names[::7], [f'A,"{i}"\n\u00e9\u4e2d' for i in range(len(names[::7]))]))
    table["analysis"] = table["analysis"].map(lambda x: odd.get(x, x))
    columns = list(iter_batch_columns(table, chunk_size=1_100))
    assert [len(c["analysis"]) for c in columns] == [1_100, 1_100, 100]
    for cols in columns:
        for name, values in cols.items():
            if isinstance(values, np.ndarray) and values.dtype == np.float64:
                values[:] = _edge_values(values.size, rng)
    frames = [pd.DataFrame(cols) for cols in columns]
    reference = _one_writer(frames, tmp_path / "one.csv", csv=True)
    assert b'"A,""0""\n' in reference and b",-0," in reference and b",5e-324," in reference
    empty = lambda: frames[0].iloc[:0]  # noqa: E731
    out = tmp_path / "out.csv"
    for rows in (cmd_batch.CSV_BATCH_ROWS, 1_000, 7):
        monkeypatch.setattr(cmd_batch, "CSV_BATCH_ROWS", rows)
        assert write_results(iter(columns), out, empty, []) == 2_300
        assert out.read_bytes() == reference
        assert write_results(iter(frames), out, empty, []) == 2_300
        assert out.read_bytes() == reference
