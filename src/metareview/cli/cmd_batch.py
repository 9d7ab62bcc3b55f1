"""``metareview batch``: pool every analysis of a long table into one row each."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ._help import TAU2
from .output import QUIET_HELP

OUTPUT_SUFFIXES = (".parquet", ".pq", ".csv")


def _write(parts, out: Path, empty, inputs) -> int:
    """Write result chunks as they come (Parquet or CSV by suffix) through
    :func:`metareview.base.outputs.open_output` (a temporary file beside ``out`` that replaces it
    only when every chunk is written); return the number of analyses.
    ``empty()`` gives the (column-only) result of a table without rows."""
    import itertools

    from ..base.outputs import open_output

    parts = iter(parts)
    first = next(parts, None)
    parts = itertools.chain([empty() if first is None else first], parts)
    n = 0
    if out.suffix.lower() == ".csv":
        with open_output(out, "w", inputs=inputs, newline="") as fh:
            for i, df in enumerate(parts):
                df.to_csv(fh, header=i == 0, index=False, float_format="%.17g")
                n += len(df)
        return n
    import pyarrow as pa
    import pyarrow.parquet as pq

    with open_output(out, "wb", inputs=inputs) as fh:
        writer = None
        try:
            for df in parts:
                if writer is None:
                    table = pa.Table.from_pandas(df, preserve_index=False)
                    writer = pq.ParquetWriter(fh, table.schema)
                else:
                    table = pa.Table.from_pandas(df, schema=writer.schema, preserve_index=False)
                writer.write_table(table)
                n += len(df)
        finally:
            if writer is not None:
                writer.close()
    return n


def register(app: typer.Typer) -> None:
    @app.command("batch")
    def batch_cmd(
        data: Path = typer.Argument(..., help="Long table (CSV, TSV, Parquet or XLSX): one row per study, "
                                              "an analysis id column; design read from column names."),
        output: Path = typer.Option(..., "--output", "-o", help="Results file: .parquet or .csv (one row per analysis)."),
        by: str = typer.Option("analysis", "--by", help="Column with the analysis id."),
        measure: Optional[str] = typer.Option(None, "--measure", "-m", help="Effect measure (metafor code: PLO, PR, PFT, MD, SMD, OR, ...)."),
        method_tau2: str = typer.Option("DL", "--method-tau2", help=f"tau² estimator: {', '.join(TAU2)} (GENQ: weights from the column genq_weights)."),
        random_ci: str = typer.Option("wald", "--random-ci", help="Random-effects CI: wald or hk (Hartung-Knapp)."),
        adhoc_hakn: str = typer.Option("none", "--adhoc-hakn", help="Hartung-Knapp ad hoc correction: none, se, ci."),
        prediction: str = typer.Option("t", "--prediction", help="Prediction interval: t (k-2 df, R meta), z (metafor), none."),
        level: float = typer.Option(0.95, "--level", help="Confidence level."),
        i2_method: str = typer.Option("q", "--i2", help="I² and H: q (from Q, R meta) or tau2 (from tau², metafor)."),
        incr: float = typer.Option(0.5, "--incr", help="Continuity correction increment."),
        method_incr: str = typer.Option("only0", "--method-incr", help="Where to add it: only0, if0all, all, none."),
        incr_style: str = typer.Option("meta", "--incr-style", help="Continuity convention: meta or metafor."),
        exact_smd: bool = typer.Option(True, "--exact-smd/--approx-smd", help="Hedges' g correction: exact (metafor) or meta's approximation."),
        allstudies: bool = typer.Option(False, "--allstudies/--no-allstudies", help="OR and RR: also pool studies without events (or with only events) in both groups."),
        tau2_ci: bool = typer.Option(True, "--tau2-ci/--no-tau2-ci", help="Q-profile CI of tau² (iterative; skip it for speed)."),
        col: Optional[List[str]] = typer.Option(None, "--col", help="Map a column: ROLE=COLUMN (repeatable)."),
        study: str = typer.Option("study", "--study", help="Column with study labels (named in error messages)."),
        chunk_size: Optional[int] = typer.Option(None, "--chunk-size", help="Analyses pooled at a time (default: about 50,000 padded cells' worth)."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help=QUIET_HELP),
        progress: bool = typer.Option(True, "--progress/--no-progress", hidden=True,
                                      help="Older spelling of --quiet (--no-progress)."),
    ) -> None:
        """Pool every analysis of DATA and write one row of pooled results per analysis."""
        import warnings

        from ..api.batch import batch, iter_batch
        from ..base.exceptions import SettingsError
        from ..tables.io import parse_col_maps
        from ..base.outputs import check_output

        if output.suffix.lower() not in OUTPUT_SUFFIXES:
            raise SettingsError(f"--output must end in {', '.join(OUTPUT_SUFFIXES)}, not {output.name!r}")
        check_output(output, [data])
        kwargs = dict(by=by, measure=measure, columns=parse_col_maps(col), studlab=study, chunk_size=chunk_size,
                      tau2_ci=tau2_ci, method_tau2=method_tau2, random_ci=random_ci, adhoc_hakn=adhoc_hakn,
                      prediction=prediction, level=level, i2_method=i2_method, incr=incr,
                      method_incr=method_incr, incr_style=incr_style, exact_smd=exact_smd, allstudies=allstudies)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            n = _write(iter_batch(data, progress=progress and not quiet, **kwargs), output, lambda: batch(data, **kwargs),
                       [data])
        from .output import warn, wrote
        for w in caught:
            warn(str(w.message))
        typer.echo(f"{n} analyses pooled", err=True)
        wrote(output)
