"""The complaints behind an outlet (issue 19, the Outlets page's "the complaints behind it"): the
complaints raised at one hall or outlet in the period by category — the league's complaint count of
:mod:`metrics.analysis.outlets`, split — and, for the roles that may see lists, the most recent ones
with their descriptions masked (:func:`metrics.present.masking.mask`). A complaint is a ticket of kind
``complaint`` whose ``outlet_id`` is the outlet, opened in the period up to the as-of date, in the
filters' customer slices and the user's scope."""

from __future__ import annotations

import numpy as np
import pandas as pd

from metrics.access.users import require_rows
from metrics.analysis import outlets as ol
from metrics.analysis import outlets_sql as q
from metrics.model.filters import Filters
from metrics.present.masking import mask
from metrics.query.warehouse import Warehouse


def complaint_categories(wh: Warehouse, f: Filters, outlet_id: int) -> pd.DataFrame:
    """The complaints opened at one outlet in the period by category (the league's ``complaints``, split):
    category, complaints, share (of the outlet's complaints), most first. Aggregate-only users: a category
    of fewer complaints than the scope's minimum group — every one of an outlet the league blanks — is
    blanked (``suppressed``)."""
    ol.check_outlet(wh, f, outlet_id)
    df = wh.read(q.outlet_complaint_rows(f, ol.bounds(wh, f), outlet_id, by_category=True))
    df["complaints"] = pd.to_numeric(df["complaints"]).astype("int64")
    total = int(df["complaints"].sum())
    df["share"] = df["complaints"] / total if total else np.nan
    df = df.sort_values(["complaints", "category"], ascending=[False, True], kind="stable").reset_index(drop=True)
    small = ol.withheld_rows(f, df["complaints"]) | np.full(len(df), bool(ol.withheld_outlets(wh, f, outlet_id)))
    return ol.blank_rows(df, small, ["category"])


def recent_complaints(wh: Warehouse, f: Filters, outlet_id: int, n: int = 10) -> pd.DataFrame:
    """The ``n`` most recent complaints opened at one outlet in the period, newest first: ticket_id,
    opened_at, category, priority, resolved_at and the description **masked**
    (:func:`metrics.present.masking.mask`: phone numbers, names, addresses … replaced). A list of
    tickets: refused to aggregate-only users (:class:`ScopeError`)."""
    require_rows(f.scope)
    ol.check_outlet(wh, f, outlet_id)
    df = wh.read(q.outlet_complaint_rows(f, ol.bounds(wh, f), outlet_id, by_category=False, limit=max(1, int(n))))
    df["ticket_id"] = pd.to_numeric(df["ticket_id"]).astype("int64")
    df["description"] = [mask(v) if isinstance(v, str) else None for v in df["description"]]
    return df.reset_index(drop=True)
