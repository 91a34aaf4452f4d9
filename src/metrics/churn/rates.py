"""Churn views beyond the registry: annualised rates with intervals and why customers left.

Same filter conditions as the metric compiler (:func:`metrics.query.where.slice_conditions`), so the reasons add
up to the churned customers the ``churn_rate`` metric counts. No Streamlit; tidy frames.
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from metrics.access.users import withheld
from metrics.analysis import stats
from metrics.model import schema as s
from metrics.model.filters import Filters
from metrics.query.compiler import Window
from metrics.query.warehouse import Warehouse
from metrics.query.where import date_literal, slice_conditions


def churn_by(wh: Warehouse, f: Filters, by: tuple[str, ...] = ()) -> pd.DataFrame:
    """The monthly churn rate per group with its annualised equivalent.

    Columns: group-by columns, ``value``, ``n`` (customers who left), ``lower``, ``upper`` (monthly,
    exact Poisson), ``events``, ``exposure`` (customer-months), then ``annual``, ``annual_lower``,
    ``annual_upper`` = 1 − (1 − monthly)¹² (shares 0–1; assumes a constant monthly rate).
    """
    df = wh.metric("churn_rate", f, by)
    for src, dst in (("value", "annual"), ("lower", "annual_lower"), ("upper", "annual_upper")):
        df[dst] = stats.annualise(df[src])
    return df


def churn_reasons(wh: Warehouse, f: Filters) -> pd.DataFrame:
    """Why customers who left in the window left: ``churn_reason`` (None when unrecorded), ``n``
    (customers), ``share`` of all leavers in scope; most frequent first.

    A customer leaves in the window when its end_date is in [start, stop) and known as of the as-of
    date — the events of ``churn_rate`` for the same filters (channel = acquisition channel).
    """
    w = Window.of(f, wh.resolve_as_of(f))
    c = s.customers
    as_of_excl = date_literal(w.as_of_end.date())
    conds = [c.c.end_date >= date_literal(w.start), c.c.end_date < date_literal(w.stop), c.c.end_date < as_of_excl]
    conds += slice_conditions(f, c, c.c.acquisition_channel)
    stmt = (sa.select(c.c.churn_reason, sa.func.count().label("n")).where(*conds)
            .group_by(c.c.churn_reason))
    df = wh.read(stmt)
    df["n"] = pd.to_numeric(df["n"]).astype(int)
    total = df["n"].sum()  # one row per customer: the distinct customers who left
    if withheld(f.scope, int(total)):  # a viewer: too few leavers to show why they left
        return pd.DataFrame(columns=["churn_reason", "n", "share"])
    df["share"] = df["n"] / total if total else pd.Series(dtype=float)
    return df.sort_values(["n", "churn_reason"], ascending=[False, True], na_position="last").reset_index(drop=True)
