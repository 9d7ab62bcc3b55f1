"""Reading study tables: CSV, TSV and XLSX into columns of text or numbers.

CSV and TSV are read with the standard library (fast start-up for the command line);
XLSX with pandas/openpyxl, imported only when needed.
"""

from __future__ import annotations

import csv
from pathlib import Path

from .exceptions import DataError

SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xls")


def read_table(path: str | Path) -> dict[str, list]:
    """Columns of a study table as lists (cells as text for CSV/TSV); a UTF-8 BOM is ignored."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"file not found: {p}", rule="file exists")
    suffix = p.suffix.lower()
    if suffix in (".xlsx", ".xls"):
        import pandas as pd
        try:
            frame = pd.read_excel(p)
        except Exception as exc:  # openpyxl raises many kinds
            raise DataError(f"cannot read {p} as a spreadsheet: {exc}", rule="readable file") from None
        return {str(c): frame[c].tolist() for c in frame.columns}
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        text = p.read_text(encoding="latin-1")
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise DataError(f"{p} is empty", rule="non-empty file")
    if suffix == ".tsv":
        delim = "\t"
    else:
        try:
            delim = csv.Sniffer().sniff(lines[0], delimiters=",;\t").delimiter
        except csv.Error:
            delim = ","
    rows = list(csv.reader(lines, delimiter=delim))
    header = [h.strip() for h in rows[0]]
    if len(set(header)) != len(header):
        dup = sorted({h for h in header if header.count(h) > 1})
        raise DataError(f"{p}: duplicate column name(s) {', '.join(dup)}", column=dup[0], rule="unique columns")
    cols: dict[str, list] = {h: [] for h in header}
    for line_no, row in enumerate(rows[1:], start=2):
        if len(row) > len(header):
            raise DataError(f"{p}, line {line_no}: {len(row)} cells for {len(header)} columns",
                            rule="one cell per column")
        row = row + [""] * (len(header) - len(row))
        for h, cell in zip(header, row):
            cols[h].append(cell.strip())
    return cols


def parse_col_maps(items: list[str] | None) -> dict[str, str]:
    """``ROLE=COLUMN`` strings from the command line as a mapping."""
    out: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            raise DataError(f"--col takes ROLE=COLUMN, not {item!r}", rule="ROLE=COLUMN")
        role, col = item.split("=", 1)
        out[role.strip()] = col.strip()
    return out
