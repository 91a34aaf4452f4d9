"""Spreadsheet-safe cells for every CSV and Excel file the product writes (CLI, dashboard, reports).

A text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by Excel and
LibreOffice as a formula (``=HYPERLINK(...)``, ``+SUM(1,2)``); such cells get a leading ``'`` so they
open as the text they are, and no text cell can start a new row. Numbers, dates and booleans are
left as they are.
"""

from __future__ import annotations

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """``value`` with a leading ``'`` when it is text a spreadsheet would read as a formula. A carriage
    return inside text becomes a line feed: CSV writers quote a field with a line feed but not one with
    a lone CR, which a spreadsheet reads as a new row (whose first cell could be ``=…``)."""
    if not isinstance(value, str):
        return value
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    return "'" + text if value.startswith(FORMULA_START) or text.startswith("\n") else text


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells and column names are :func:`safe_cell`; numeric, date and
    boolean columns unchanged."""
    out = df.copy()
    for i in range(out.shape[1]):
        col = out.iloc[:, i]
        if (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_datetime64_any_dtype(col)
                or pd.api.types.is_bool_dtype(col) or isinstance(col.dtype, pd.PeriodDtype)):
            continue
        out.isetitem(i, col.astype(object).map(safe_cell))
    out.columns = [safe_cell(c) for c in out.columns]
    return out
