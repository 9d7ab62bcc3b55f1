"""``metareview batch``: pool every analysis of a long table into one row each."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._help import QUIET_HELP
from .cmd_pool import BATCH_POOL_OPTIONS, pool_options_to_kwargs, with_pool_options

OUTPUT_SUFFIXES = (".parquet", ".pq", ".csv")


def write_results(parts, out: Path, empty, inputs) -> int:
    """Write result chunks as they come (Parquet or CSV by suffix; DataFrames, or for a CSV
    also dicts of columns as :func:`metareview.api.batch.iter_batch_columns` gives them) through
    :func:`metareview.base.outputs.open_output` (a temporary file beside ``out`` that replaces it
    only when every chunk is written); return the number of analyses.
    ``empty()`` gives the (column-only) result of a table without rows.

    Both formats go through pyarrow's columnar writers: CSV with each number in the shortest
    text that reads back to the same double (so the file holds exactly the computed values),
    an empty field for a missing one, and quotes only where a field needs them.  Writing
    overlaps pooling: pyarrow formats and encodes without Python's lock, so CSV chunks are
    formatted on every core while the next chunks are pooled and written in order, and a
    Parquet chunk is encoded while the next is pooled; the bytes are those of one writer
    taking the chunks one after the other."""
    import itertools

    from ..base.outputs import open_output

    parts = iter(parts)
    first = next(parts, None)
    parts = itertools.chain([empty() if first is None else first], parts)
    with open_output(out, "wb", inputs=inputs) as fh:
        return (_write_csv if out.suffix.lower() == ".csv" else _write_parquet)(parts, fh)


def _write_csv(parts, fh) -> int:
    import collections
    import os
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow as pa
    import pyarrow.csv as pc

    def text(table, header: bool, plain: bool):
        # pyarrow quotes every column name unless told not to; a name needs quotes only when
        # it holds the delimiter, a quote or a line break.  The writer formats batch_size rows
        # at a time, each column through one call of Arrow's cast (about 75,000 instructions of
        # dispatch a call, whatever the rows): a chunk at once, up to CSV_BATCH_ROWS, makes the
        # same bytes with 7% fewer instructions than the default 1,024 rows at k = 20
        options = pc.WriteOptions(quoting_style="needed", quoting_header="none" if plain else "needed",
                                  include_header=header, batch_size=max(1, min(table.num_rows, CSV_BATCH_ROWS)))
        sink = pa.BufferOutputStream()
        pc.write_csv(table, sink, write_options=options)
        return sink.getvalue()

    workers = max(1, min(4, os.cpu_count() or 1))
    pending: collections.deque = collections.deque()
    n = 0
    plain = None
    with ThreadPoolExecutor(workers, thread_name_prefix="csv") as pool:
        for part in parts:
            table = _arrow_table(part)
            header = plain is None
            if header:
                plain = not any(set(name) & set(',"\r\n') for name in table.schema.names)
            pending.append(pool.submit(text, table, header, plain))
            n += table.num_rows
            # in order, as each is ready; at most two chunks per thread wait in memory
            while pending and (pending[0].done() or len(pending) > 2 * workers):
                fh.write(pending.popleft().result())
        while pending:
            fh.write(pending.popleft().result())
    return n


#: Rows the CSV writer formats at a time: a chunk's, up to this (the text of one batch is held
#: column by column before its rows are assembled, about 20 bytes a value).
CSV_BATCH_ROWS = 1 << 14


def _arrow_table(part):
    """The columns of a result chunk, a DataFrame or a dict of columns
    (:func:`metareview.api.batch.iter_batch_columns`), as an Arrow table for the CSV writer:
    the values (and the types) pyarrow's ``Table.from_pandas`` gives the chunk's DataFrame,
    without its per-column bookkeeping (a missing number, NaN, is a missing value).  A
    column of numbers goes to Arrow from its numpy array; any other (text) as the array pandas
    holds, which for a dict's column a ``pandas.Series`` of it gives (the type a DataFrame
    gives it)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    def values(col):
        return col.to_numpy() if col.dtype.kind in "fiub" else col.array

    if isinstance(part, pd.DataFrame):
        columns = {name: values(col) for name, col in part.items()}
    else:
        columns = {name: col if isinstance(col, np.ndarray) and col.dtype.kind in "fiub"
                   else values(pd.Series(col, copy=False)) for name, col in part.items()}
    return pa.table({name: pa.array(col, from_pandas=True) for name, col in columns.items()})


def _write_parquet(parts, fh) -> int:
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow as pa
    import pyarrow.parquet as pq

    n = 0
    writer = schema = None
    try:
        with ThreadPoolExecutor(1, thread_name_prefix="parquet") as pool:
            previous = None
            for df in parts:
                if writer is None:
                    table = pa.Table.from_pandas(df, preserve_index=False)
                    schema = table.schema
                    writer = pq.ParquetWriter(fh, schema)
                else:
                    table = pa.Table.from_pandas(df, schema=schema, preserve_index=False)
                if previous is not None:
                    previous.result()  # one row group per chunk, in order
                previous = pool.submit(writer.write_table, table)
                n += len(df)
            if previous is not None:
                previous.result()
    finally:
        if writer is not None:
            writer.close()
    return n


def register(app: typer.Typer) -> None:
    @app.command("batch")
    @with_pool_options(only=BATCH_POOL_OPTIONS)
    def batch_cmd(
        data: Path = typer.Argument(..., help="Long table (CSV, TSV, Parquet or XLSX): one row per study, "
                                              "an analysis id column; design read from column names."),
        output: Path = typer.Option(..., "--output", "-o", help="Results file: .parquet or .csv (one row per analysis)."),
        by: str = typer.Option("analysis", "--by", help="Column with the analysis id."),
        tau2_ci: bool = typer.Option(True, "--tau2-ci/--no-tau2-ci", help="Q-profile CI of tau² (iterative; skip it for speed)."),
        study: str = typer.Option("study", "--study", help="Column with study labels (named in error messages)."),
        chunk_size: Optional[int] = typer.Option(None, "--chunk-size", help="Analyses pooled at a time (default: about 50,000 padded cells' worth)."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help=QUIET_HELP),
        progress: bool = typer.Option(True, "--progress/--no-progress", hidden=True,
                                      help="Older spelling of --quiet (--no-progress)."),
        *,
        pool: dict,
    ) -> None:
        """Pool every analysis of DATA and write one row of pooled results per analysis."""
        import warnings

        from ..api.batch import batch, iter_batch, iter_batch_columns
        from ..base.exceptions import SettingsError
        from ..base.outputs import check_output
        from ..tables.io import parse_col_maps

        if output.suffix.lower() not in OUTPUT_SUFFIXES:
            raise SettingsError(f"--output must end in {', '.join(OUTPUT_SUFFIXES)}, not {output.name!r}")
        check_output(output, [data])
        opts = dict(pool)
        col = opts.pop("col")
        kwargs = dict(by=by, measure=opts["measure"], columns=parse_col_maps(col), studlab=study,
                      chunk_size=chunk_size, tau2_ci=tau2_ci, **pool_options_to_kwargs(**opts))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            # a CSV is written from the result columns, Parquet (with pandas' metadata) from DataFrames
            chunks = (iter_batch_columns if output.suffix.lower() == ".csv" else iter_batch)(
                data, progress=progress and not quiet, **kwargs)
            n = write_results(chunks, output, lambda: batch(data, **kwargs), [data])
        from .output import warn, wrote
        for w in caught:
            warn(str(w.message))
        typer.echo(f"{n} analyses pooled", err=True)
        wrote(output)
