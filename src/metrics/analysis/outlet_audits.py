"""The mystery shoppers' audits of the outlets (issue 19, docs/outlets.md): each audit's score, one
outlet's audits item by item, and the checklist items an outlet failed in audits in a row. An audit's
score (0–100) = 100 × Σ score ÷ Σ max_score over its items; an item is failed when it scores below the
rules file's ``[audits] fail_below`` share of its max_score. Aggregate-only users (viewers) get nothing
of an outlet the league (:func:`metrics.analysis.outlets.outlet_league`) blanks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import sqlalchemy as sa

from metrics.analysis import outlets as ol
from metrics.analysis import outlets_sql as q
from metrics.analysis.outlet_rules import Rules
from metrics.model import schema as s
from metrics.model.filters import Filters
from metrics.query.warehouse import Warehouse


def audit_scores(wh: Warehouse, f: Filters, outlet_id: int | None = None, since=None) -> pd.DataFrame:  # noqa: ANN001
    """One row per audit of the outlets in scope up to the period's end (from ``since``, a date; None:
    any time): outlet_id, audit_id, audited_on, items, audit_score = 100 × Σ score ÷ Σ max_score.
    Aggregate-only users: the scores of an outlet the league blanks are blanked (``suppressed``)."""
    items = wh.read(q.audit_item_rows(f, ol.bounds(wh, f), outlet_id, since))
    for col in ("score", "max_score"):
        items[col] = pd.to_numeric(items[col], errors="coerce").astype(float)
    out = items.groupby(["outlet_id", "audit_id", "audited_on"], as_index=False).agg(
        items=("item", "size"), score=("score", "sum"), max_score=("max_score", "sum"))
    with np.errstate(invalid="ignore", divide="ignore"):
        out["audit_score"] = np.where(out["max_score"] > 0, 100 * out["score"] / out["max_score"], np.nan)
    out["outlet_id"] = pd.to_numeric(out["outlet_id"]).astype("int64")
    out = out.drop(columns=["score", "max_score"])
    return ol.blank_rows(out, out["outlet_id"].isin(ol.withheld_outlets(wh, f, outlet_id)).to_numpy(),
                         ["outlet_id", "audit_id", "audited_on", "items"])


def audit_trend(wh: Warehouse, f: Filters, outlet_id: int) -> pd.DataFrame:
    """One outlet's audits up to the period's end, item by item: audit_id, audited_on, auditor, item,
    score, max_score, share (score ÷ max_score) and audit_score (the audit's 0–100), oldest first.
    Aggregate-only users: an outlet the league blanks has its auditors and scores blanked
    (``suppressed``)."""
    ol.check_outlet(wh, f, outlet_id)
    items = wh.read(q.audit_item_rows(f, ol.bounds(wh, f), outlet_id, None))
    for col in ("score", "max_score"):
        items[col] = pd.to_numeric(items[col], errors="coerce").astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        items["share"] = np.where(items["max_score"] > 0, items["score"] / items["max_score"], np.nan)
    sums = items.groupby("audit_id")[["score", "max_score"]].sum(min_count=1)  # the audits' scores from these items
    with np.errstate(invalid="ignore", divide="ignore"):
        totals = (100 * sums["score"] / sums["max_score"].where(sums["max_score"] > 0)).rename("audit_score")
    out = items.merge(totals.reset_index(), on="audit_id", how="left").drop(columns="outlet_id").reset_index(drop=True)
    hidden = np.full(len(out), bool(ol.withheld_outlets(wh, f, outlet_id)))  # the scope's queries once
    return ol.blank_rows(out, hidden, ["audit_id", "audited_on", "item"])


def repeated_failures(wh: Warehouse, f: Filters, min_repeats: int = 3, fail_below: float | None = None,
                      rules: Rules | None = None) -> pd.DataFrame:
    """Checklist items an outlet failed (score below ``fail_below`` × max_score; default the rules
    file's ``[audits] fail_below``) in at least ``min_repeats`` of its audits in a row (audits that did
    not check the item are skipped), up to the period's end: outlet_id, name, item, repeats (the longest
    run), first_on, last_on (its audits' dates) and current (the run reaches the outlet's latest audit of
    that item). Longest runs first. Aggregate-only users: none of an outlet the league blanks."""
    if fail_below is None:
        fail_below = ol.checked_rules(rules).fail_below
    cols = ["outlet_id", "name", "item", "repeats", "first_on", "last_on", "current"]
    runs = wh.read(q.failure_runs(f, ol.bounds(wh, f), fail_below, max(1, int(min_repeats))))
    if runs.empty:
        return pd.DataFrame(columns=cols)
    for col in ("outlet_id", "repeats", "last_no", "audits_of_item"):
        runs[col] = pd.to_numeric(runs[col]).astype("int64")
    runs["current"] = runs["last_no"] == runs["audits_of_item"]
    runs = runs[~runs["outlet_id"].isin(ol.withheld_outlets(wh, f))]  # a viewer: not of an outlet the league blanks
    if runs.empty:
        return pd.DataFrame(columns=cols)
    runs = (runs.sort_values(["outlet_id", "item", "repeats", "last_no"], kind="stable")
            .groupby(["outlet_id", "item"], as_index=False).tail(1))  # the longest run, the later of equals
    o = s.outlets
    names = wh.read(sa.select(o.c.outlet_id, o.c.name).where(o.c.outlet_id.in_([int(v) for v in runs["outlet_id"]])))
    names["outlet_id"] = pd.to_numeric(names["outlet_id"]).astype("int64")
    out = runs.merge(names, on="outlet_id", how="left")[cols]
    out["first_on"], out["last_on"] = (pd.to_datetime(out[c]).dt.date for c in ("first_on", "last_on"))
    return out.sort_values(["repeats", "outlet_id", "item"], ascending=[False, True, True]).reset_index(drop=True)

