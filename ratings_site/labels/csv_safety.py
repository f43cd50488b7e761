"""Spreadsheet formula injection in CSV exports (issue 12, defect 9).

One job. A text cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is run as
a formula by Excel, LibreOffice and Google Sheets (`=HYPERLINK(...)` from a manifest's
subject column, say). Such cells get a leading apostrophe, which spreadsheets show as text
(OWASP's advice). Only text is touched: numbers (a negative mean) stay numbers. Parquet keeps
typed values and is not escaped.

Rows end in CRLF (RFC 4180): pandas quotes a field only for the characters of its line
terminator, so with "\n" a bare carriage return in a subject went out unquoted and split the
row in two for every reader.
"""
from __future__ import annotations

import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def cell_escape(value):
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def frame_formula_escape(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells cannot run as formulas."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(cell_escape)
    return out


def frame_to_csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame_formula_escape(frame).to_csv(index=False, lineterminator="\r\n").encode()
