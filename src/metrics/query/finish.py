"""A compiled query's aggregate columns as the tidy frame every caller reads: the group-by columns,
then ``value``, ``n`` and the 95% interval ``lower``/``upper`` (:func:`finish`), with groups too small
for an aggregate-only scope blanked (:func:`suppress_small_groups`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from metrics.access.scope import Scope
from metrics.model.registry import Metric, dim_column
from metrics.query import kinds

RESULT_COLUMNS = ("value", "n", "lower", "upper")
TIME_DIMS = ("month", "week")


def finish(metric: Metric, raw: pd.DataFrame, by: tuple[str, ...]) -> pd.DataFrame:
    """Turn the aggregate columns of a compiled query into value, n, lower, upper.

    A metric with needed columns (``Metric.needs``) also gets ``missing``: for a group with rows
    but none with those columns known, the columns' names (comma-separated), value/lower/upper
    NaN and n 0 (unknown, not 0%); None on the other groups."""
    df = raw.copy()
    dims = [dim_column(d) for d in by]
    for col in df.columns.difference(dims):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    k = metric.kind
    kinds.of(metric).finish(metric, df)
    for d in dims:
        if d in TIME_DIMS:
            df[d] = pd.to_datetime(df[d])
        elif d == "region_id":
            df[d] = df[d].astype("Int64")
    extra = [c for c in ("events", "exposure") if c in df.columns and k == "rate"]
    extra += ["customers"] if "customers" in df.columns else []  # aggregate-only scopes (compiler)
    # A group exists when it has data: n > 0; a rate when it has exposure (0 events is a rate of 0).
    has_data = df["exposure"].fillna(0) > 0 if k == "rate" else df["n"].fillna(0) > 0
    if metric.needs:  # rows the data cannot answer: a needed column unknown on every row of the group
        unknown = (df["rows"].fillna(0) > 0) & (df["known"].fillna(0) == 0)
        df.loc[unknown, ["value", "lower", "upper"]] = np.nan
        df.loc[unknown, "n"] = 0.0
        df["missing"] = np.where(unknown, ",".join(metric.needs), None)
        has_data = has_data | unknown
        extra.append("missing")
    out = df[dims + list(RESULT_COLUMNS) + extra]
    out = out[has_data]
    return out.sort_values(dims, na_position="last").reset_index(drop=True) if dims else out.reset_index(drop=True)


def suppress_small_groups(df: pd.DataFrame, scope: Scope | None) -> pd.DataFrame:
    """For aggregate-only scopes (viewers): blank value/n/lower/upper of groups behind which stand
    fewer than ``scope.min_group_size`` distinct customers (the ``customers`` column the compiler adds
    for such scopes; ``n`` where it is missing) and flag them in ``suppressed``; else unchanged.
    The ``customers`` column itself is dropped."""
    if scope is None or not scope.aggregates_only:
        return df
    basis = df["customers"] if "customers" in df.columns else df["n"]
    small = pd.to_numeric(basis, errors="coerce").fillna(0) < scope.min_group_size
    df = df.drop(columns=["customers"], errors="ignore")
    df.loc[small, ["value", "lower", "upper", "n"]] = np.nan
    for col in ("events", "exposure"):
        if col in df.columns:
            df.loc[small, col] = np.nan
    df["suppressed"] = small.to_numpy()
    return df


__all__ = ["RESULT_COLUMNS", "finish", "suppress_small_groups"]
