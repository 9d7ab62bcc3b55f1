"""Many meta-analyses at once: a long table in, one row of pooled results per analysis out.

Simulation studies, re-analyses of whole databases and living reviews pool thousands to
millions of analyses.  ``batch`` takes a long table (one row per study, an analysis id
column, the study columns of any design :func:`metareview.metaanalysis` reads), pads the
analyses of a chunk into (analyses, studies) arrays with a 0/1 mask, and runs the same
code as the single-analysis API on them: :func:`metareview.effectsizes.escalc.escalc` once and
:func:`metareview.pooling.inverse_variance.pool_arrays` once per chunk.  The numbers are those of
``metaanalysis(rows_of_one_analysis, ...).to_dict()``, flattened into columns.

Memory is bounded by the chunk, not by the table: an in-memory table is read through an
index sorted by analysis; a CSV or Parquet file is streamed (its rows of one analysis
must then be consecutive); a ``dask.dataframe.DataFrame`` is pooled partition by
partition on a Dask cluster.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

from ..base.exceptions import ConvergenceWarning, DataError, MetaReviewWarning, SettingsError, SmallSampleWarning
from ..effectsizes import rules
from ..effectsizes.escalc import check_continuity, escalc
from ..effectsizes.measures import Measure, backtransform, get_measure, required_columns
from ..effectsizes.validate import column_extremes, validate_design
from ..pooling.inverse_variance import pool_arrays
from ..pooling.settings import Settings
from ..pooling.tau2 import ZERO_VARIANCE_METHODS
from .meta import DEFAULT_MEASURE, NEEDS_POSITIVE_V, ROLE_COLUMNS, resolve_design

__all__ = ["batch", "iter_batch", "result_columns", "POOLED_COLUMNS", "BACKTRANSFORMED_COLUMNS"]

#: The pooled fields of the ``pool --json`` contract, flattened (analysis scale).
POOLED_COLUMNS = (
    "k", "measure", "method_tau2",
    "common_estimate", "common_se", "common_ci_low", "common_ci_high", "common_statistic", "common_p",
    "random_estimate", "random_se", "random_ci_low", "random_ci_high", "random_statistic", "random_p",
    "random_df", "prediction_low", "prediction_high",
    "q", "q_df", "q_p", "tau2", "tau2_ci_low", "tau2_ci_high", "tau",
    "i2", "i2_ci_low", "i2_ci_high", "h", "h_ci_low", "h_ci_high",
    "tau2_converged", "tau2_iterations", "se_tau2",
)
#: ``backtransformed.{common,random,prediction}`` of the contract, for transformed measures.
BACKTRANSFORMED_COLUMNS = (
    "bt_common_estimate", "bt_common_ci_low", "bt_common_ci_high",
    "bt_random_estimate", "bt_random_ci_low", "bt_random_ci_high",
    "bt_prediction_low", "bt_prediction_high",
)
_BT_SOURCE = dict(zip(BACKTRANSFORMED_COLUMNS, (
    "common_estimate", "common_ci_low", "common_ci_high", "random_estimate", "random_ci_low",
    "random_ci_high", "prediction_low", "prediction_high")))
_INT_COLUMNS = ("k", "q_df", "tau2_iterations")
_CONSTANT_COLUMNS = ("measure", "method_tau2")

#: Settings that change the numbers of a batch; the others only change how one result prints.
_DISPLAY_ONLY = ("study_ci", "common", "random")
#: Harmless values for the padded cells of each column role (masked out of every sum).
_PAD = {"events": 1.0, "n": 4.0, "events_e": 1.0, "n_e": 4.0, "events_c": 1.0, "n_c": 4.0,
        "mean": 1.0, "sd": 1.0, "mean_pre": 1.0, "sd_pre": 1.0, "mean_post": 1.0, "sd_post": 1.0,
        "mean_e": 1.0, "sd_e": 1.0, "mean_c": 1.0, "sd_c": 1.0, "r": 0.0, "yi": 0.0, "vi": 1.0,
        "sei": 1.0, "time": 1.0, "time_e": 1.0, "time_c": 1.0, "cor": 0.0, "tstat": 0.0, "predictors": 0.0,
        "r2": 0.0, "genq_weights": 1.0}
#: Padded cells (analyses x largest k) of a chunk by default: small enough for the
#: arrays of a chunk to stay in the processor's caches, large enough to amortise the calls.
#: (100,000 was measured 2-6% faster for one table in memory, but the chunks are also the
#: row groups of a Parquet output and the frames iter_batch yields.)
CHUNK_CELLS = 50_000
#: Largest padded array of one chunk when ``chunk_size`` is given, in cells.
MAX_CELLS = 2_000_000
#: Rows read at a time from a file.
FILE_ROWS = 1_000_000
#: What :func:`_pool_chunk` holds as the missing cells of a chunk without any (read only
#: where some cell is missing).
_NO_GAPS = np.zeros(0, dtype=bool)


@dataclass(frozen=True)
class _Plan:
    """What a batch computes, fixed before the first row is read."""

    by: str
    studlab: str
    roles: dict            # role -> column name in the table
    escalc_measure: Measure  # the measure effect sizes are computed (and tested) with
    measure: Measure         # the measure reported and back-transformed
    settings: Settings
    tau2_ci: bool

    @property
    def count_columns(self) -> list[str]:
        """The columns holding counts (whole numbers only)."""
        from ..tables.io import COUNT_ROLES
        return [c for r, c in self.roles.items() if r in COUNT_ROLES]

    @property
    def columns_read(self) -> list[str]:
        cols = [self.by, *self.roles.values()]
        return cols + [self.studlab] if self.studlab else cols


def result_columns(measure: str | Measure, by: str = "analysis") -> list[str]:
    """The columns of a batch result for ``measure``, in order."""
    m = get_measure(measure)
    return [by, *POOLED_COLUMNS, *(BACKTRANSFORMED_COLUMNS if m.transformed else ())]


def _make_plan(names, *, by, measure, columns, studlab, tau2_ci, settings) -> _Plan:
    names = [str(c) for c in names]
    if by not in names:
        raise DataError(f"the analysis id column {by!r} is not in the data (columns: {', '.join(names)}); "
                        "name it with by=", column=by, rule="missing column")
    rename = {}
    for role, name in (columns or {}).items():
        if role not in ROLE_COLUMNS:
            raise SettingsError(f"unknown column role {role!r}; valid roles are: {', '.join(ROLE_COLUMNS)}")
        if name not in names:
            raise DataError(f"column {name!r} (mapped to {role}) is not in the data", column=name,
                            rule="missing column")
        rename[name] = role
    as_roles = {rename.get(c, c): c for c in names if c not in (by, studlab)}
    design, notes = resolve_design(list(as_roles), measure)
    for note in notes:
        warnings.warn(note, MetaReviewWarning, stacklevel=3)
    m = get_measure(measure if measure else DEFAULT_MEASURE[design])
    if design != "generic" and design not in m.designs:
        raise SettingsError(f"measure {m.code} needs a {m.design} design, but the columns give a {design} design")
    bad = sorted(set(settings) & {*_DISPLAY_ONLY, "exclude", "subset"})
    if bad:
        raise SettingsError(f"batch does not take {', '.join(bad)}: it pools every row of the table and "
                            "reports no study table (filter the table first; study CIs and display "
                            "switches belong to single analyses)")
    escalc_m = get_measure("GEN") if design == "generic" else m
    stg, _ = Settings.split({"measure": escalc_m.code, **settings})
    if stg.method != "Inverse":
        raise SettingsError(f"method {stg.method!r} is not available for this analysis; valid: Inverse")
    if m.scale == "freeman-tukey" and design == "generic":
        raise SettingsError("the Freeman-Tukey back-transformation needs the sample sizes: give events,n "
                            "columns rather than yi,vi")
    present = {r: c for r, c in as_roles.items() if r in ROLE_COLUMNS}
    needed = required_columns(escalc_m, present)
    if stg.method_tau2 == "GENQ" or "genq_weights" in present:
        # the GENQ estimator's user weights, as in the single-analysis API
        if stg.method_tau2 != "GENQ":
            raise SettingsError(f"genq_weights apply only to the GENQ estimator of tau², not to {stg.method_tau2}")
        needed = needed + ("genq_weights",)
    roles = {r: present[r] for r in needed if r in present}
    missing = [r for r in needed if r not in present]
    if missing:
        raise DataError(f"measure {escalc_m.code} needs column(s) {', '.join(needed)}; missing: "
                        f"{', '.join(missing)}", column=missing[0], rule="missing column")
    return _Plan(by, studlab if studlab in names else "", roles, escalc_m, m, stg, bool(tau2_ci))


# ----- one table of complete analyses ------------------------------------------------

def _id(value):
    """An analysis id as Python shows it (7, not np.int64(7))."""
    return value.item() if isinstance(value, np.generic) else value


def _numeric(series, column: str, ids, studies) -> np.ndarray:
    """Float values of a column; a cell that is not a number names its analysis and study."""
    import pandas as pd

    if series.dtype.kind in "fiub":
        return series.to_numpy(dtype=float, na_value=np.nan)
    num = pd.to_numeric(series, errors="coerce")
    blank = series.isna() | (series.astype(str).str.strip() == "")
    bad = (num.isna() & ~blank).to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"analysis {_id(ids(i))!r}: non-numeric value {series.iloc[i]!r}", study=studies(i),
                        column=column, rule="numeric value required")
    return num.to_numpy(dtype=float, na_value=np.nan)


class _Frame:
    """A pandas table of complete analyses, indexed by analysis without moving its rows."""

    def __init__(self, frame, plan: _Plan):
        import pandas as pd

        self.plan = plan
        ids = frame[plan.by].to_numpy()
        self.labels = frame[plan.studlab].to_numpy() if plan.studlab else None
        self._codes = None
        first = None
        if ids.dtype.kind in "iu" and ids.size > 1:
            # sorted integer ids (the usual simulation layout): analyses are the runs of equal
            # ids, and the ids are sorted when the runs' ids increase
            heads = _equal_runs(ids)
            if heads is not None:  # runs of k rows each, sorted
                k = ids.size // heads.size
                self.ids = heads
                self.counts = np.full(heads.size, k)
                self.order = None
                self.starts = np.arange(0, ids.size, k)  # the first row of each analysis
                first = self.starts
            else:
                first = np.flatnonzero(ids[1:] != ids[:-1])
                first += 1
                first = np.concatenate(([0], first))
                heads = ids[first]
                if bool((heads[1:] > heads[:-1]).all()):
                    self.ids = heads
                    self.counts = np.diff(np.append(first, ids.size))
                    self.order = None
                    self.starts = first  # the first row of each analysis
                else:
                    first = None
        if first is None:
            codes, uniques = pd.factorize(ids, sort=False)  # analyses in order of first appearance
            if (codes < 0).any():
                i = int(np.argmax(codes < 0))
                raise DataError(f"row {i + 1} has no analysis id", column=plan.by, rule="analysis id required")
            self.ids = np.asarray(uniques)
            self._codes = codes
            # rows in analysis order; a table already grouped by analysis needs no index
            grouped = codes.size < 2 or bool((np.diff(codes) >= 0).all())
            self.order = None if grouped else np.argsort(codes, kind="stable")
            self.counts = np.bincount(codes, minlength=len(uniques))
            self.starts = np.concatenate(([0], np.cumsum(self.counts)[:-1]))
        self.values = {role: _numeric(frame[col], col, self._row_id, self._row_study)
                       for role, col in plan.roles.items()}

    @property
    def codes(self) -> np.ndarray:
        """The analysis (0, 1, ...) of each row; built when an error needs it."""
        if self._codes is None:
            self._codes = np.repeat(np.arange(self.counts.size), self.counts)
        return self._codes

    def _row_id(self, row: int):
        return self.ids[self.codes[row]]

    def _row_study(self, row: int) -> str:
        if self.labels is not None:
            return str(self.labels[row])
        code = self.codes[row]
        return str(int(np.count_nonzero(self.codes[:row] == code)) + 1)

    def chunks(self, chunk_size: int | None):
        """(first, last) analysis of each chunk.  By default a chunk holds about
        :data:`CHUNK_CELLS` padded cells (many small analyses or few large ones); with
        ``chunk_size`` it holds that many analyses, fewer when padding them would exceed
        :data:`MAX_CELLS` cells."""
        n = self.counts.size
        budget = CHUNK_CELLS if chunk_size is None else MAX_CELLS
        a = 0
        while a < n:
            size = chunk_size if chunk_size is not None else max(1, CHUNK_CELLS // int(self.counts[a]))
            b = min(a + size, n)
            while b - a > 1 and (b - a) * int(self.counts[a:b].max()) > budget:
                b = a + (b - a) // 2
            yield a, b
            a = b

    def gathered(self, chunk_size: int | None):
        """The chunks of :meth:`chunks`, two consecutive ones of the same largest k pooled as one,
        for results that are gathered into one table (no row groups or frames show where a chunk
        ends): (first, last) analysis and the chunks joined.  Two such chunks are padded to the
        same width, and a row's numbers do not depend on the other rows of its chunk (nor on
        whether the chunk has a mask), so the results are those of the chunks one by one; fewer
        kernel calls share their fixed cost (measured 5-7% faster for 10⁵ analyses of k = 5 and
        20)."""
        held = None
        for a, b in self.chunks(chunk_size):
            width = int(self.counts[a:b].max())
            if held is None:
                held = (a, b, width)
            elif chunk_size is None and held[2] == width:
                yield held[0], b, ((held[0], held[1]), (a, b))
                held = None
            else:
                yield held[0], held[1], ((held[0], held[1]),)
                held = (a, b, width)
        if held is not None:
            yield held[0], held[1], ((held[0], held[1]),)

    def rows(self, a: int, b: int) -> np.ndarray | slice:
        r0 = int(self.starts[a])
        r1 = int(self.starts[b - 1] + self.counts[b - 1])
        return slice(r0, r1) if self.order is None else self.order[r0:r1]


def _equal_runs(ids: np.ndarray) -> np.ndarray | None:
    """The id of each analysis when sorted ids come in runs of the first run's length (a
    simulation's k studies per analysis), checked in one pass over the ids; None otherwise
    (the runs are then found one change at a time)."""
    n = ids.size
    k = int(np.argmax(ids[:4096] != ids[0]))  # the first run's length (0: longer than the prefix)
    if k == 0 or n % k:
        return None
    runs = ids.reshape(-1, k)
    heads = runs[:, 0].copy()
    # ids that never decrease (one comparison over the ids end to end: comparing each run with
    # its first id would call numpy's inner loop once per run), each run's first and last equal,
    # and the first ids increasing from run to run: runs of one id each, in increasing order
    if not (bool((heads[1:] > heads[:-1]).all()) and bool((heads == runs[:, -1]).all())
            and bool((ids[1:] >= ids[:-1]).all())):
        return None
    return heads


def _reraise(exc: DataError, frame: _Frame, rows, pos: int | None = None) -> None:
    """A validation error on the rows of a chunk (its study is the position ``pos`` among
    them, by default the one the error names), re-raised naming the analysis and study."""
    if exc.study is None:
        raise exc
    pos = int(exc.study) if pos is None else pos
    row = (rows.start + pos) if isinstance(rows, slice) else int(rows[pos])
    where = ", ".join([f"study {exc.study!r}"] + ([f"column {exc.column!r}"] if exc.column is not None else [])) + ": "
    text = str(exc)
    message = text[len(where):] if text.startswith(where) else text
    raise DataError(f"analysis {_id(frame.ids[frame.codes[row]])!r}: {message}", study=frame._row_study(row),
                    column=exc.column, rule=exc.rule) from None


def _pool_chunk(frame: _Frame, a: int, b: int, tally: dict | None = None, into: dict | None = None) -> dict:
    """The results of analyses ``a`` to ``b`` of ``frame`` as columns; ``into``: float arrays over
    these analyses (result columns) that the kernel may form its fields in."""
    plan = frame.plan
    s = plan.settings
    rows = frame.rows(a, b)
    counts = frame.counts[a:b]
    na, kmax = b - a, int(counts.max())
    flat_cols = {role: vals[rows] for role, vals in frame.values.items()}
    n_rows = int(counts.sum())
    # the rules of the single-analysis API (effectsizes.rules), on the real cells only (before
    # padding): a study with an empty cell is not pooled, the others must pass the design's checks.
    # One screen of the chunk, each column's least and largest value, serves the missing-cell
    # check (a NaN makes both NaN), the design's rules and the kernel's all-finite path.
    screen = column_extremes(flat_cols, flat_cols)
    missing, where = rules.missing_cells(plan.escalc_measure, flat_cols) \
        if any(low != low for low, _ in screen.values()) else (_NO_GAPS, None)
    complete = np.flatnonzero(~missing) if missing is not _NO_GAPS and missing.any() else None
    try:
        if complete is None:
            validate_design(plan.escalc_measure, flat_cols, studlab=range(n_rows), extremes=screen)
        elif complete.size:
            validate_design(plan.escalc_measure, {r: v[complete] for r, v in flat_cols.items()},
                            studlab=range(complete.size))
    except DataError as exc:
        _reraise(exc, frame, rows, None if complete is None or exc.study is None else int(complete[int(exc.study)]))
    if complete is not None:
        flat_cols = {r: np.where(missing, _PAD[r], v) for r, v in flat_cols.items()}
    if n_rows == na * kmax:  # every analysis of the chunk has kmax studies: no padding
        cell = None  # cell i * kmax + j is row i * kmax + j of the chunk
        # (a read-only view of one True: the usual chunk reads it only as the absence of a mask)
        real: np.ndarray = np.broadcast_to(np.True_, (na, kmax))

        def pad(vals, fill):
            return vals.reshape(na, kmax)
    else:
        # cell of each row in the padded (analyses, kmax) layout
        local = np.repeat(np.arange(na), counts)
        first = np.concatenate(([0], np.cumsum(counts)[:-1]))
        cell = local * kmax + (np.arange(n_rows) - np.repeat(first, counts))
        real = np.zeros(na * kmax, dtype=bool)
        real[cell] = True
        real = real.reshape(na, kmax)

        def pad(vals, fill):
            arr = np.full(na * kmax, fill)
            arr[cell] = vals
            return arr.reshape(na, kmax)
    m_es = plan.escalc_measure
    if m_es.design == "rate":
        yi, vi, n_tot = _rate_effects(m_es, flat_cols, counts, s, frame, rows)
        yi, vi, n_tot = pad(yi, 0.0), pad(vi, 1.0), pad(n_tot, 1.0)
    elif m_es.design == "generic" and "vi" in flat_cols:
        # effects with their variances: escalc's GEN formula gives these columns themselves, and an
        # array of zero increments that a batch never reads (8 bytes zeroed per cell of the chunk);
        # the continuity settings are checked as escalc checks them
        check_continuity(s.incr, s.incr_style)
        yi, vi, n_tot = pad(flat_cols["yi"], _PAD["yi"]), pad(flat_cols["vi"], _PAD["vi"]), None
    else:
        es = escalc(m_es, {role: pad(vals, _PAD[role]) for role, vals in flat_cols.items()}, incr=s.incr,
                    method_incr=s.method_incr, incr_style=s.incr_style, exact_smd=s.exact_smd, validate=False)
        yi, vi, n_tot = es.yi, es.vi, es.n
    def position(i: int, j: int) -> int:
        """The row among the chunk's rows of cell (analysis i of the chunk, study j)."""
        return i * kmax + j if cell is None else int(np.flatnonzero(cell == i * kmax + j)[0])

    def origin(i: int, j: int) -> int:
        """The table row of cell (analysis i of the chunk, study j)."""
        row = position(i, j)
        return (rows.start + row) if isinstance(rows, slice) else int(rows[row])

    def refuse(mask, message, rule, column=plan.measure.code):
        i, j = (int(x) for x in np.argwhere(mask)[0])
        raise DataError(f"analysis {_id(frame.ids[a + i])!r}: {message(i, j)}", study=frame._row_study(origin(i, j)),
                        column=column, rule=rule)

    pooled = real
    if where is not None:  # some cell is missing
        gap = pad(missing, False)
        pooled = real & ~gap
        if tally is not None:
            _tally_missing(tally, frame, rows, missing, where)
        none_left = real.any(-1) & ~pooled.any(-1)
        if none_left.any():
            i = int(np.argmax(none_left))
            j = int(np.argmax(real[i]))
            raise DataError(f"analysis {_id(frame.ids[a + i])!r}: no study has complete data: every study has an "
                            f"empty cell (e.g. column {where[position(i, j)]!r})",
                            study=frame._row_study(origin(i, j)), rule="value required")
    uninformative = rules.uninformative(plan.measure, {r: pad(v, _PAD[r]) for r, v in flat_cols.items()},
                                        s.allstudies) if m_es.design == "bin2" else None
    if uninformative is not None:
        left = pooled & ~uninformative
        empty = pooled.any(-1) & ~left.any(-1)
        if empty.any():
            i = int(np.argmax(empty))
            raise DataError(f"analysis {_id(frame.ids[a + i])!r}: every study is excluded ({rules.UNINFORMATIVE}): "
                            "no studies left to pool", rule="no studies")
        pooled = left
    zero_vi = None
    # generic data with variances: the effects and variances are the columns screened above (with
    # padding, also cells of 0 and 1, which break no rule)
    screened = complete is None and m_es.design == "generic" and "vi" in screen
    clear = (rules.extremes_within_rules(screen["yi"], screen["vi"]) if screened
             else rules.within_rules(yi, vi))
    if not clear:  # some cell, maybe a padded one, may break a rule: find it
        bad = pooled & rules.not_computable(yi, vi)
        if bad.any():
            refuse(bad, lambda i, j: rules.not_computable_message(yi[i, j], vi[i, j]), "finite effect size")
        absurd = pooled & rules.beyond_precision(yi, vi)
        if absurd.any():
            refuse(absurd, lambda i, j: rules.beyond_precision_message(yi[i, j], vi[i, j]), "magnitude")
        zero_vi = pooled & (vi == 0)
        if zero_vi.any():
            refusal = rules.zero_variance_refusal(s.method, s.method_tau2, ZERO_VARIANCE_METHODS)
            if refusal is not None:
                refuse(zero_vi, lambda i, j: refusal, "vi > 0", column="vi")
        else:
            zero_vi = None
    # every cell of the chunk pooled (no padding, nothing missing or set aside): no mask
    mask = None if pooled is real and cell is None else pooled.astype(float)
    genq = None
    if "genq_weights" in flat_cols:
        bad_w = ~(np.isfinite(flat_cols["genq_weights"]) & (flat_cols["genq_weights"] > 0))
        if bad_w.any():
            _reraise(DataError("a GENQ weight must be a positive number", study=str(int(np.argmax(bad_w))),
                               column="genq_weights", rule="genq_weights > 0"), frame, rows)
        genq = pad(flat_cols["genq_weights"], 1.0)
    p = pool_arrays(yi, vi, mask, method_tau2=s.method_tau2, level=s.level, random_ci=s.random_ci,
                    adhoc_hakn=s.adhoc_hakn, prediction=s.prediction, i2_method=s.i2_method,
                    null=plan.measure.null, tau2_ci=plan.tau2_ci, weights=False, warn=False, tau2_weights=genq,
                    _screened=clear, _out=into)  # every cell within the rules is finite
    out: dict[str, Any] = {plan.by: frame.ids[a:b]}
    for name in POOLED_COLUMNS:
        if name not in _CONSTANT_COLUMNS:  # the same in every row: added to the table once
            out[name] = getattr(p, name)
    if zero_vi is not None:
        # as the single analysis (and metafor): what weights 1/v_i define is undefined
        rows_zero = zero_vi.any(-1)
        for name in NEEDS_POSITIVE_V:
            out[name] = np.where(rows_zero, np.nan, out[name])
        if tally is not None:
            tally["zero_vi"].extend(_id(x) for x in frame.ids[a:b][rows_zero][:max(0, 5 - len(tally["zero_vi"]))])
            tally["zero_vi_n"] += int(rows_zero.sum())
    if plan.measure.transformed:
        n_harmonic = None
        if n_tot is not None:
            with np.errstate(divide="ignore"):
                counted = pooled.astype(float) if mask is None else mask
                n_harmonic = counted.sum(-1) / (counted / n_tot).sum(-1)
        for name, source in _BT_SOURCE.items():
            out[name] = backtransform(plan.measure, out[source], n_harmonic)
    return out


def _rate_effects(m: Measure, flat: dict, counts: np.ndarray, s: Settings, frame: _Frame, rows):
    """Incidence-rate effect sizes of a chunk's real cells.  The rate formulas take one
    analysis' studies (one-dimensional arrays), so they run on the chunk's rows in a
    line; their continuity rules are study by study except ``if0all``, whose "any study
    with zero events" is decided per analysis here."""
    n_rows = int(counts.sum())

    def effects(sel, method_incr):
        part = {role: vals[sel] for role, vals in flat.items()}
        try:
            es = escalc(m, part, incr=s.incr, method_incr=method_incr, incr_style=s.incr_style,
                        exact_smd=s.exact_smd, validate=False)
        except DataError as exc:
            if exc.study is None:
                raise
            _reraise(exc, frame, rows, pos=int(np.arange(n_rows)[sel][int(exc.study)]))
        return es.yi, es.vi, es.n

    if s.method_incr != "if0all":
        return effects(slice(None), s.method_incr)
    first = np.concatenate(([0], np.cumsum(counts)[:-1]))
    any_zero = np.repeat(np.add.reduceat((flat["events"] == 0).astype(np.int64), first) > 0, counts)
    yi, vi, n_tot = np.empty(n_rows), np.empty(n_rows), np.empty(n_rows)
    for sel, rule in ((any_zero, "all"), (~any_zero, "none")):
        if sel.any():
            yi[sel], vi[sel], n_tot[sel] = effects(sel, rule)
    return yi, vi, n_tot


def _frame_of(out: dict, plan: _Plan):
    import pandas as pd

    return pd.DataFrame(_columns_of(out, plan), copy=False)


def _columns_of(out: dict, plan: _Plan) -> dict:
    """The result columns of a chunk in their order, as the arrays its DataFrame is made of:
    the counts as integers, the convergence flag as booleans, the constant text columns built
    once (inserting them into a DataFrame would move the others)."""
    for c in _INT_COLUMNS:
        out[c] = np.asarray(out[c], dtype=np.int64)
    out["tau2_converged"] = np.asarray(out["tau2_converged"], dtype=bool)
    n = len(out[plan.by])
    constant = {"measure": plan.measure.code, "method_tau2": plan.settings.method_tau2}
    return {c: _repeated(constant[c], n) if c in constant else out[c] for c in result_columns(plan.measure, plan.by)}


def _repeated(text: str, n: int):
    """``n`` copies of ``text`` as pandas' default string array (what a DataFrame makes of a
    string scalar), from its Arrow buffers when pandas keeps strings in Arrow."""
    import pandas as pd

    one = pd.Series([text]).array  # the dtype a string scalar gets
    data = text.encode()
    if getattr(one.dtype, "storage", None) != "pyarrow" or n * len(data) >= 2 ** 31:
        return one.repeat(n)
    import pyarrow as pa

    offsets = np.arange(n + 1, dtype=np.int32) * np.int32(len(data))
    return pd.array(pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data * n)), dtype=one.dtype)


class _Columns:
    """Result chunks copied, as they come, into columns allocated once per piece of the table:
    the float columns in one block (one allocation, which numpy asks the system to back with
    large pages), so that the results are written into memory mapped once rather than into a
    fresh set of arrays per chunk joined at the end.  ``floats``: the columns known to be
    floats before any chunk (those the kernel may form in place, the first chunk's too); the
    others are made from the first chunk's types."""

    def __init__(self, floats=()):
        self.floats = list(floats)
        self.pieces: list[dict] = []
        self.filled: list[int] = []  # rows written into each piece's columns
        self.size = 0
        self.given: dict = {}  # the arrays handed out by target() for the next chunk

    def target(self, n: int) -> dict | None:
        """The float columns' rows of the next ``n`` results, for the kernel to form its fields
        in (a chunk's results are copied into the columns otherwise); None while a piece has no
        columns (before its first chunk, when no float columns are known in advance)."""
        piece = self.pieces[-1] if self.pieces else None
        if not piece:
            return None
        a = self.filled[-1]
        self.given = {c: col[a:a + n] for c, col in piece.items() if col.dtype == np.float64}
        return self.given

    def start(self, n: int) -> None:
        self.size = n
        self.pieces.append(dict(zip(self.floats, np.empty((len(self.floats), n)))))
        self.filled.append(0)

    def add(self, out: dict) -> None:
        piece = self.pieces[-1]
        if not self.filled[-1]:  # the first chunk: the columns not known in advance, from its types
            floats = [c for c, a in out.items() if a.dtype == np.float64 and c not in piece]
            piece.update(zip(floats, np.empty((len(floats), self.size))))
            piece.update((c, np.empty(self.size, a.dtype)) for c, a in out.items() if c not in piece)
        a = self.filled[-1]
        b = a + len(out[next(iter(out))])
        given, self.given = self.given, {}
        for c, values in out.items():
            if values is given.get(c):  # formed in its place by the kernel
                continue
            column = piece[c]
            if values.dtype != column.dtype:  # a chunk that needs a wider type than the first
                piece[c] = column = column.astype(np.result_type(column, values))
            column[a:b] = values
        self.filled[-1] = b

    def columns(self) -> dict | None:
        """The columns of every chunk end to end (None when there were none)."""
        pieces = [{c: a[:n] for c, a in p.items()} for p, n in zip(self.pieces, self.filled) if n]
        if len(pieces) < 2:
            return pieces[0] if pieces else None
        return {c: np.concatenate([p[c] for p in pieces]) for c in pieces[0]}


def _float_columns(plan: _Plan) -> list[str]:
    """The result columns that are floats whatever the data (every kernel field over analyses
    but the counts, the iterations and the convergence flag; the back-transformed values)."""
    return [c for c in (*POOLED_COLUMNS, *(BACKTRANSFORMED_COLUMNS if plan.measure.transformed else ()))
            if c not in (*_INT_COLUMNS, *_CONSTANT_COLUMNS, "tau2_converged", plan.by)]


def _empty(plan: _Plan, id_dtype=object):
    import pandas as pd

    cols = result_columns(plan.measure, plan.by)
    df = pd.DataFrame({c: pd.Series(dtype=float) for c in cols})
    df[plan.by] = df[plan.by].astype(id_dtype)
    for c in _INT_COLUMNS:
        df[c] = df[c].astype("int64")
    for c in ("measure", "method_tau2"):
        df[c] = df[c].astype(object)
    df["tau2_converged"] = df["tau2_converged"].astype(bool)
    return df


# ----- sources: DataFrame, CSV, Parquet ----------------------------------------------

def _read_pieces(path: Path, plan_columns=None, by: str = "analysis", studlab: str = "",
                 counts=()) -> Iterator:
    """Pieces of a CSV/TSV, Parquet or XLSX file as DataFrames (``FILE_ROWS`` rows at a time),
    read by :func:`metareview.tables.io.iter_pieces` (the rules every command reads tables by)."""
    from ..tables.io import iter_pieces

    yield from iter_pieces(path, FILE_ROWS, columns=plan_columns, text_columns=(by, studlab),
                           counts=counts, study=studlab or None)


def _file_columns(path: Path, by: str) -> list[str]:
    from ..tables.io import table_columns

    return table_columns(path)


def _file_rows(path: Path) -> int | None:
    from ..tables.io import table_rows

    return table_rows(path)


def _stream_complete(pieces: Iterator, by: str, path: Path) -> Iterator:
    """Regroup file pieces so that no analysis is split: the last analysis of a piece waits
    for the next.  Within the last piece (a small file is one piece) rows may come in any
    order; an analysis whose rows straddle pieces without being consecutive is an error
    (found from 64-bit hashes of the ids already pooled: 8 bytes per analysis)."""
    import pandas as pd

    pieces = iter(pieces)
    held = None
    seen = np.empty(0, dtype=np.uint64)
    piece = next(pieces, None)
    while piece is not None:
        following = next(pieces, None)
        if held is not None:
            piece = pd.concat([held, piece], ignore_index=True)
            held = None
        if following is None:  # the rest of the file: every analysis in it is complete
            if len(piece):
                if seen.size:
                    _check_new(piece[by], seen, by, path)
                yield piece
            break
        if len(piece):
            ids = piece[by].to_numpy()
            last = ids[-1]
            tail = len(ids)
            while tail > 0 and ids[tail - 1] == last:
                tail -= 1
            ready, held = piece.iloc[:tail], piece.iloc[tail:]
            if len(ready):
                seen = _check_new(ready[by], seen, by, path)
                yield ready
        piece = following


def _check_new(ids, seen: np.ndarray, by: str, path) -> np.ndarray:
    import pandas as pd

    uniq = ids.drop_duplicates().to_numpy()
    hashes = pd.util.hash_array(uniq)
    if seen.size:
        pos = np.minimum(np.searchsorted(seen, hashes), seen.size - 1)
        again = seen[pos] == hashes
        if again.any():
            raise DataError(f"analysis {_id(uniq[int(np.argmax(again))])!r}: its rows are not consecutive in {path}; "
                            f"a file is read piece by piece, so sort it by {by!r} (or pass a DataFrame)",
                            column=by, rule="rows of an analysis together")
    merged = np.concatenate([seen, hashes])
    merged.sort(kind="stable")
    return merged


# ----- public API --------------------------------------------------------------------

def _pooled_chunks(table, *, by, measure, columns, studlab, chunk_size, tau2_ci, progress, settings,
                   warn: bool = True, on_piece=None, gathered: bool = False, target=None):
    """The plan of a batch and a generator of its results, chunk by chunk, as dicts of arrays;
    ``on_piece(n)`` is told the number of analyses of each piece of the table (the whole of a
    DataFrame, a million rows of a file) before its chunks come.  ``gathered``: the results go
    into one table, so chunks may be pooled two at a time (:meth:`_Frame.gathered`);
    ``target(n)``: the arrays the next chunk's ``n`` results may be formed in, or None."""
    import pandas as pd

    if chunk_size is not None and (isinstance(chunk_size, bool) or int(chunk_size) < 1):
        raise SettingsError(f"chunk_size must be a positive number of analyses, not {chunk_size!r}")
    chunk_size = None if chunk_size is None else int(chunk_size)
    path = None
    if isinstance(table, (str, Path)):
        path = Path(table)
        if not path.exists():
            raise DataError(f"file not found: {path}", rule="file exists")
        names = _file_columns(path, by)
    elif isinstance(table, pd.DataFrame):
        names = list(table.columns)
    else:
        raise SettingsError(f"batch takes a pandas or Dask DataFrame or a CSV/Parquet path, "
                            f"not {type(table).__name__}")
    plan = _make_plan(names, by=by, measure=measure, columns=columns, studlab=studlab, tau2_ci=tau2_ci,
                      settings=settings)

    def run():
        if path is None:
            frames: Iterator = iter([table])
            total: int | None = len(table)
        else:
            frames = _stream_complete(_read_pieces(path, plan.columns_read, by, plan.studlab,
                                                   plan.count_columns), by, path)
            total = _file_rows(path)
        tally = {"single": [], "single_n": 0, "unconverged": [], "unconverged_n": 0, "missing": [], "missing_n": 0,
                 "zero_vi": [], "zero_vi_n": 0}
        bar = _progress(progress, total)
        try:
            for frame in frames:
                fr = _Frame(frame, plan)
                if on_piece is not None:
                    on_piece(fr.counts.size)
                for a, b, parts in (fr.gathered(chunk_size) if gathered else
                                    ((a, b, ((a, b),)) for a, b in fr.chunks(chunk_size))):
                    try:
                        out = _pool_chunk(fr, a, b, tally, None if target is None else target(b - a))
                    except DataError:
                        # bad input in chunks pooled together: the error of the chunks one by one
                        # (which rule is checked first, how many studies break it are per chunk)
                        for first, last in parts:
                            _pool_chunk(fr, first, last, None)
                        raise
                    _tally(tally, out, plan.by)
                    if bar is not None:
                        bar[0].advance(bar[1], int(fr.counts[a:b].sum()))
                    yield out
        finally:
            if bar is not None:
                bar[0].stop()
        if warn:
            _warn(tally, plan)

    return plan, run()


def iter_batch(table, *, by: str = "analysis", measure: str | None = None,
               columns: Mapping[str, str] | None = None, studlab: str = "study", chunk_size: int | None = None,
               tau2_ci: bool = True, progress: bool = False, **settings) -> Iterator:
    """Pool ``table`` chunk by chunk, yielding one DataFrame of results per chunk.

    Arguments are those of :func:`batch` (pandas DataFrames and files only).  Warnings about
    one-study analyses and estimators that did not converge are given once, at the end.
    """
    plan, chunks = _pooled_chunks(table, by=by, measure=measure, columns=columns, studlab=studlab,
                                  chunk_size=chunk_size, tau2_ci=tau2_ci, progress=progress, settings=settings)
    for out in chunks:
        yield _frame_of(out, plan)


def iter_batch_columns(table, *, by: str = "analysis", measure: str | None = None,
                       columns: Mapping[str, str] | None = None, studlab: str = "study", chunk_size: int | None = None,
                       tau2_ci: bool = True, progress: bool = False, **settings) -> Iterator[dict]:
    """:func:`iter_batch`'s chunks as dicts of columns (name to array, in the columns' order),
    the arrays its DataFrames are made of, without making the DataFrames.

    For writers that take columns (``metareview batch`` hands a CSV's to pyarrow): making a
    chunk's DataFrame and taking its 35 columns back out costs pandas about 1.7 ms a chunk of
    2,500 analyses of k = 20, 40% of the time pooling it takes, in the thread that pools.  The numeric columns are
    numpy arrays; a text column is given as pandas would hold it or as the array it is made
    from (a ``pandas.Series`` of it gives the DataFrame's type)."""
    plan, chunks = _pooled_chunks(table, by=by, measure=measure, columns=columns, studlab=studlab,
                                  chunk_size=chunk_size, tau2_ci=tau2_ci, progress=progress, settings=settings)
    for out in chunks:
        yield _columns_of(out, plan)


def _tally(tally: dict, out: dict, by: str) -> None:
    single = out["k"] == 1
    unconv = ~out["tau2_converged"]
    tally["single_n"] += int(single.sum())
    tally["unconverged_n"] += int(unconv.sum())
    for key, sel in (("single", single), ("unconverged", unconv)):
        room = 5 - len(tally[key])
        if room > 0 and sel.any():
            tally[key].extend(_id(x) for x in out[by][sel][:room])


def _tally_missing(tally: dict, frame: _Frame, rows, missing: np.ndarray, where: np.ndarray) -> None:
    """Count the study rows not pooled for an empty cell, keeping the first five to name."""
    hits = np.flatnonzero(missing)
    tally["missing_n"] += int(hits.size)
    for pos in hits[:max(0, 5 - len(tally["missing"]))]:
        row = (rows.start + int(pos)) if isinstance(rows, slice) else int(rows[pos])
        tally["missing"].append(f"analysis {_id(frame.ids[frame.codes[row]])!r} study {frame._row_study(row)!r} "
                                f"(column '{where[pos]}')")


def _warn(tally: dict, plan: _Plan) -> None:
    def some(ids, n):
        more = f" and {n - len(ids)} more" if n > len(ids) else ""
        return ", ".join(repr(i) for i in ids) + more
    if tally.get("missing_n"):
        more = tally["missing_n"] - len(tally["missing"])
        warnings.warn(f"{tally['missing_n']} study row(s) not pooled, value missing: {', '.join(tally['missing'])}"
                      + (f" and {more} more" if more > 0 else "") + " (as metafor's na.action = \"na.omit\")",
                      MetaReviewWarning, stacklevel=3)
    if tally.get("zero_vi_n"):
        warnings.warn(f"{tally['zero_vi_n']} analysis(es) with a sampling variance 0 "
                      f"({some(tally['zero_vi'], tally['zero_vi_n'])}): {rules.ZERO_VARIANCE_NOTE}",
                      MetaReviewWarning, stacklevel=3)
    if tally["single_n"]:
        warnings.warn(f"{tally['single_n']} analysis(es) with one study ({some(tally['single'], tally['single_n'])}): "
                      "tau² = 0, Q = 0 and I² = 0 as metafor sets them", SmallSampleWarning, stacklevel=3)
    if tally["unconverged_n"]:
        warnings.warn(f"the {plan.settings.method_tau2} estimator of tau² did not converge for "
                      f"{tally['unconverged_n']} analysis(es) ({some(tally['unconverged'], tally['unconverged_n'])}); "
                      "the last iterate is reported and tau2_converged is False", ConvergenceWarning,
                      stacklevel=3)


def _progress(show: bool, total: int | None):
    if not show:
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("pooling"), BarColumn(), MofNCompleteColumn(), TextColumn("study rows"),
                   TimeElapsedColumn(), console=Console(stderr=True), transient=False)
    task = bar.add_task("pooling", total=total)
    bar.start()
    return bar, task


def batch(table, *, by: str = "analysis", measure: str | None = None, columns: Mapping[str, str] | None = None,
          studlab: str = "study", chunk_size: int | None = None, tau2_ci: bool = True, progress: bool = False,
          client=None, **settings):
    """Pool every analysis of a long table; one row of pooled results per analysis.

    ``table`` is a pandas DataFrame, a path to a CSV/TSV, Parquet or XLSX file, or a
    ``dask.dataframe.DataFrame``; ``by`` names its analysis id column.  The study design
    is read from the column names as :func:`metareview.metaanalysis` reads it (``columns``
    maps roles to other names; ``studlab`` names the study label column, used in error
    messages), ``measure`` defaults as there, and ``settings`` are the settings of the
    single-analysis API that change numbers (``method_tau2``, ``level``, ``random_ci``,
    ``adhoc_hakn``, ``prediction``, ``i2_method``, ``incr``, ``method_incr``,
    ``incr_style``, ``exact_smd``, ``allstudies``); the method is inverse variance.

    Columns: the analysis id, then :data:`POOLED_COLUMNS` (the pooled fields of the
    ``pool --json`` contract, flattened: ``common_estimate`` is ``common.estimate``, ``q``
    is ``heterogeneity.q``; I² in percent) and, for transformed measures,
    :data:`BACKTRANSFORMED_COLUMNS`.  Rows come in the order in which analyses first
    appear.  ``tau2_ci=False`` skips the iterative Q-profile interval of tau² (half to two
    thirds of the time of a DerSimonian-Laird batch); its columns are then NaN.

    Analyses are pooled a chunk at a time, which bounds memory: by default chunks of about
    :data:`CHUNK_CELLS` padded cells, or ``chunk_size`` analyses (fewer when one is large);
    files are streamed a million rows at a time (``FILE_ROWS``), so in a larger file the
    rows of each analysis must be consecutive.  A Dask
    DataFrame is pooled partition by partition on ``client`` (a ``distributed.Client``;
    default: the current client, or a local cluster started for the call); an analysis
    split between partitions is first brought together by a shuffle on ``by``.

    >>> import pandas as pd
    >>> t = pd.DataFrame({"analysis": ["a", "a", "b", "b"], "events": [8, 26, 6, 12], "n": [10, 31, 9, 20]})
    >>> r = batch(t)
    >>> r["analysis"].tolist(), [round(x, 4) for x in r["bt_random_estimate"]]
    (['a', 'b'], [0.8287, 0.6201])
    """
    if type(table).__module__.split(".")[0] == "dask":
        return _batch_dask(table, by=by, measure=measure, columns=columns, studlab=studlab,
                           chunk_size=chunk_size, tau2_ci=tau2_ci, client=client, settings=settings)
    if client is not None:
        raise SettingsError("client= is for Dask DataFrames; this table is pooled in this process")
    return _batch_frame(table, by=by, measure=measure, columns=columns, studlab=studlab, chunk_size=chunk_size,
                        tau2_ci=tau2_ci, progress=progress, settings=settings)


def _batch_frame(table, *, warn: bool = True, **kwargs):
    import pandas as pd

    by = kwargs["by"]
    results = _Columns()
    plan, chunks = _pooled_chunks(table, warn=warn, on_piece=results.start, gathered=True, target=results.target,
                                  **kwargs)
    results.floats = _float_columns(plan)  # (before the first piece: chunks come as they are asked for)
    for part in chunks:
        results.add(part)
    columns = results.columns()
    if columns is None:
        return _empty(plan, table[by].dtype if isinstance(table, pd.DataFrame) else object)
    # one table at the end rather than one per chunk
    out = _frame_of(columns, plan)
    if isinstance(table, pd.DataFrame) and out[by].dtype != table[by].dtype:
        out[by] = out[by].astype(table[by].dtype)
    return out


# ----- Dask --------------------------------------------------------------------------

def _pool_partition(part, kwargs: dict):
    # no warnings from workers (they have no one to tell): the flags are in the columns
    return _batch_frame(part, warn=False, progress=False, **kwargs)


def _batch_dask(ddf, *, by, measure, columns, studlab, chunk_size, tau2_ci, client, settings):
    names = list(ddf.columns)
    plan = _make_plan(names, by=by, measure=measure, columns=columns, studlab=studlab, tau2_ci=tau2_ci,
                      settings=settings)
    kwargs = dict(by=by, measure=measure, columns=columns, studlab=studlab, chunk_size=chunk_size,
                  tau2_ci=tau2_ci, settings=settings)
    meta = _empty(plan, ddf[by].dtype)
    own = None
    if client is None:
        from distributed import Client, LocalCluster
        try:
            from distributed import get_client
            client = get_client()
        except ValueError:
            own = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
            client = Client(own)
    try:
        if ddf.npartitions > 1 and _straddles(ddf, by, client):
            ddf = ddf.shuffle(on=by)
        pooled = ddf.map_partitions(_pool_partition, kwargs, meta=meta)
        result = client.compute(pooled).result()
    finally:
        if own is not None:
            client.close()
            own.close()
    return result.reset_index(drop=True)


def _straddles(ddf, by: str, client) -> bool:
    """Whether an analysis id occurs in more than one partition."""
    per_part = ddf[by].map_partitions(lambda s: s.drop_duplicates(), meta=ddf[by]._meta)
    ids = client.compute(per_part).result()
    return bool(ids.duplicated().any())
