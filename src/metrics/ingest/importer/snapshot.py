"""A snapshot extract of customers (``--snapshot-date``): the file gives each customer's tenure and a
churn flag instead of dates; :func:`derive_dates` turns them into ``start_date`` (the snapshot date less
the tenure) and ``end_date`` (the snapshot date for churned customers), rejecting tenures and flags that
cannot be read. Called by :class:`~metrics.ingest.importer.validate.Validator` on each chunk.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from metrics.ingest.importer.parse import parse
from metrics.ingest.importer.row_checks import Reject, isnull, translate

MAX_TENURE = {"tenure_months": 1200, "tenure_days": 36_600}  # a hundred years


def derive_dates(src: dict[str, pa.Array], snapshot_date: dt.date, churned_aliases: dict[str, str] | None,
                 reject: Reject) -> None:
    """Set ``src``'s start_date = snapshot - tenure (calendar months or days) and end_date = the
    snapshot date for churned customers, as text like the file's; a date the file gives itself wins.
    ``churned_aliases``: the mapping's values for the flag ({Left: yes, Active: no}), if any."""
    tenure_col = "tenure_months" if "tenure_months" in src else "tenure_days"
    tenure, bad = parse(src[tenure_col], "int")
    reject(bad, tenure_col, "not_integer")
    flag = src["churned"]
    if churned_aliases is not None:
        flag = translate(flag, churned_aliases)
    churned, cbad = parse(flag, "bool")
    reject(cbad, "churned", "not_boolean")
    reject(isnull(churned) & ~cbad, "churned", "missing")
    reject(isnull(tenure) & ~bad, tenure_col, "missing")
    n_t = np.asarray(tenure.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
    limit = MAX_TENURE[tenure_col]
    too_big = (n_t < 0) | (n_t > limit)
    reject(too_big & ~isnull(tenure), tenure_col, "out_of_range", f"0–{limit}")
    n_t = np.where(too_big, 0, n_t)
    snap = pd.Timestamp(snapshot_date)
    if tenure_col == "tenure_days":
        start = snap - pd.to_timedelta(n_t, unit="D")
    else:  # calendar months back, the day of the month kept (clipped to the month's last day)
        total = snap.year * 12 + snap.month - 1 - n_t
        first = pd.to_datetime(pd.DataFrame({"year": total // 12, "month": total % 12 + 1, "day": 1}))
        day = np.minimum(snap.day, first.dt.days_in_month.to_numpy())
        start = first + pd.to_timedelta(day - 1, unit="D")
    start_text = pa.array(pd.Series(start).dt.strftime("%Y-%m-%d"), pa.string())
    start_text = pc.if_else(pa.array(isnull(tenure)), pa.scalar(None, pa.string()), start_text)
    is_churned = np.asarray(churned.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
    end_text = pa.array(np.where(is_churned, snap.strftime("%Y-%m-%d"), None), pa.string())
    for col, computed in (("start_date", start_text), ("end_date", end_text)):
        if col in src:
            given = pc.utf8_trim_whitespace(pc.cast(src[col], pa.string()))
            given = pc.if_else(pc.equal(given, "").fill_null(True), pa.scalar(None, pa.string()), given)
            src[col] = pc.coalesce(given, computed)
        else:
            src[col] = computed
