"""Voice of the customer: complaint topics over time and by group, the rising ones, the top three, and
example quotes with personal data masked (issue 20).

Every answer reads ``ticket_topics`` (tagged at load time, :mod:`metrics.ingest.topics`) joined to the
tickets and customers for the filters, never the texts themselves — except :func:`quotes`, which reads
the ``n`` texts it shows and masks them (:func:`metrics.present.masking.mask`) before returning.

The tickets counted are those with a text opened in the period (``Filters.start`` … ``end``), cut by
the filters' slices and the user's scope (:func:`metrics.query.where.slice_conditions`), their kinds,
categories and priorities when chosen. A topic's **share** is its texts over all texts of the group.

**Rising** (:func:`rising_topics`): a topic's share in the period against the comparison period, by a
two-proportion z test (:func:`metrics.analysis.stats.two_proportion_p`), p-values Holm-corrected over
every (group, topic) tested (:func:`metrics.analysis.stats.holm`), as the league tables do; flagged
when the corrected p is below 5% and the share rose. A topic with fewer than :data:`MIN_TEXTS` texts in
both periods together is not tested (no verdict on noise).

**Viewers** (``Filters.scope.aggregates_only``): a row behind fewer distinct customers than the scope's
``min_group_size`` (in the period, or for :func:`rising_topics` in either period) keeps its group, month
and topic but its figures are blanked and ``suppressed`` is True, as the outlets' and the regulator's
tables do (:func:`metrics.analysis.outlets.blank_rows`); :func:`quotes` refuses them
(:func:`metrics.access.users.require_rows`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import sqlalchemy as sa

from metrics.access.users import require_rows
from metrics.analysis import stats
from metrics.analysis.league import scope_for
from metrics.analysis.outlets import blank_rows, withheld_rows
from metrics.ingest import topic_text
from metrics.ingest.topics import BUILT_KEY, ticket_topics, topic_terms
from metrics.model import schema as s
from metrics.model.filters import Filters
from metrics.model.i18n import t
from metrics.present.masking import mask
from metrics.query.dialect import month_start
from metrics.query.warehouse import Warehouse
from metrics.query.where import end_of_day, midnight, slice_conditions
from metrics.query.where import timestamp_literal as _ts

BY = ("region", "tier", "segment", "channel")  # the groups a topic can be cut by
MIN_TEXTS = 10
ALPHA = 0.05
NOT_BUILT = "topics.reason.not_built"
NO_TEXT = "topics.reason.no_text"


def built(wh: Warehouse) -> bool:
    """Whether the topics are tagged (``ticket_topics`` complete)."""
    m = s.meta
    return len(wh.read(sa.select(m.c.value).where(m.c.key == BUILT_KEY))) > 0


def _conditions(f: Filters) -> list:
    tk, c = s.tickets, s.customers
    stop = end_of_day(f.end)
    conds = [tk.c.opened_at >= _ts(midnight(f.start)), tk.c.opened_at < _ts(stop),
             *slice_conditions(f, c, tk.c.channel)]
    for values, col in ((f.kinds, tk.c.kind), (f.categories, tk.c.category), (f.priorities, tk.c.priority)):
        if values:
            conds.append(col.in_(values))
    return conds


def _group(wh: Warehouse, f: Filters, by: str | None) -> tuple[Filters, list, list[sa.ColumnElement], list]:
    """The filters, extra joins, group columns and conditions for a cut by ``by``."""
    if by is None:
        return f, [], [], []
    if by not in BY:
        raise ValueError(f"unknown group {by!r}; use one of {', '.join(BY)}")
    if by == "region":
        rf, level = scope_for("region", f, wh.regions())
        rc = s.region_closure.alias("rc_topics")
        return rf, [(rc, sa.and_(rc.c.descendant_id == s.customers.c.region_id, rc.c.ancestor_level == level))], \
            [rc.c.ancestor_id.label("region_id")], []
    col = s.tickets.c.channel if by == "channel" else s.customers.c[by]
    return f, [], [col.label(by)], []


def _select(f: Filters, joins: list, cols: list, extra: list) -> sa.Select:
    tt, tk, c = ticket_topics, s.tickets, s.customers
    src = tt.join(tk, tk.c.ticket_id == tt.c.ticket_id).join(c, c.c.customer_id == tk.c.customer_id)
    for table, on in joins:
        src = src.join(table, on)
    return (sa.select(*cols, tt.c.topic, sa.func.count().label("n"), sa.func.avg(tt.c.sentiment).label("sentiment"),
                      sa.func.count(sa.distinct(tk.c.customer_id)).label("customers"))
            .select_from(src).where(*_conditions(f), *extra).group_by(*cols, tt.c.topic))


def _counts(wh: Warehouse, f: Filters, by: str | None, month: bool = False) -> pd.DataFrame:
    rf, joins, cols, extra = _group(wh, f, by)
    if month:
        cols = [month_start(s.tickets.c.opened_at).label("month"), *cols]
    df = wh.read(_select(rf, joins, cols, extra))
    df["n"] = pd.to_numeric(df["n"]).astype(int)
    df["customers"] = pd.to_numeric(df["customers"]).astype(int)
    df["sentiment"] = pd.to_numeric(df["sentiment"]).astype(float)
    if month and len(df):
        df["month"] = pd.to_datetime(df["month"]).dt.date
    return df


def _withheld(f: Filters, df: pd.DataFrame, keep: list[str], basis: pd.Series | None = None) -> pd.DataFrame:
    """``df`` with the rows behind fewer customers than a viewer's minimum group blanked (``basis``:
    the customers per row, ``df["customers"]`` by default); unchanged for other users."""
    small = withheld_rows(f, df["customers"] if basis is None else basis)
    return blank_rows(df, small, keep)


def _reason(df: pd.DataFrame, key: str) -> pd.DataFrame:
    df.attrs["reason"] = key
    return df


def _shares(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    total = df.groupby(keys, dropna=False)["n"].transform("sum") if keys else pd.Series(df["n"].sum(), df.index)
    df["total"] = total.astype(int)
    df["share"] = df["n"] / df["total"]
    lo, hi = stats.wilson(df["n"], df["total"])
    df["lower"], df["upper"] = lo, hi
    return df


def topic_trend(wh: Warehouse, f: Filters, by: str | None = None) -> pd.DataFrame:
    """Texts per month and topic (and group ``by``): month, [group], topic, n, total (texts of the month
    and group), share, lower, upper (95% Wilson), sentiment (mean, -1 … 1), customers (distinct);
    a viewer's small rows blanked (module docstring). Empty with ``attrs["reason"]`` when the topics
    are not tagged or no text falls in the filters."""
    if not built(wh):
        return _reason(pd.DataFrame(), NOT_BUILT)
    df = _counts(wh, f, by, month=True)
    if df.empty:
        return _reason(df, NO_TEXT)
    keys = ["month", *([] if by is None else [_col(by)])]
    df = _shares(df, keys).sort_values([*keys, "n"], ascending=[True] * len(keys) + [False]).reset_index(drop=True)
    return _withheld(f, df, [*keys, "topic"])


def _col(by: str) -> str:
    return "region_id" if by == "region" else by


def top_types(wh: Warehouse, f: Filters, n: int = 3, by: str | None = None) -> pd.DataFrame:
    """The ``n`` topics with the most texts in the period (per group ``by``): [group], rank, topic, n,
    total, share, lower, upper, sentiment, customers (distinct). Ties keep the topic code order; a
    viewer's small rows keep their group, rank and topic, their figures blanked (module docstring)."""
    if not built(wh):
        return _reason(pd.DataFrame(), NOT_BUILT)
    df = _counts(wh, f, by)
    if df.empty:
        return _reason(df, NO_TEXT)
    keys = [] if by is None else [_col(by)]
    df = _shares(df, keys).sort_values([*keys, "n", "topic"], ascending=[True] * len(keys) + [False, True])
    df["rank"] = (df.groupby(keys).cumcount() if keys else pd.Series(np.arange(len(df)), df.index)) + 1
    cols = [*keys, "rank", "topic", "n", "total", "share", "lower", "upper", "sentiment", "customers"]
    return _withheld(f, df.loc[df["rank"] <= n, cols].reset_index(drop=True), [*keys, "rank", "topic"])


def rising_topics(wh: Warehouse, f: Filters, by: str | None = None, alpha: float = ALPHA) -> pd.DataFrame:
    """Each topic's share in the period against the comparison period (see the module docstring):
    [group], topic, n, total, share, lower, upper, n_prev, total_prev, share_prev, change (share points),
    p, p_holm, rising (bool), tested (bool); flagged and most significant first. A viewer's rows behind
    too few customers in either period are blanked and never flagged (module docstring). Empty with
    ``attrs["reason"]`` when not tagged, no text, or no comparison period."""
    if not built(wh):
        return _reason(pd.DataFrame(), NOT_BUILT)
    prev_f = f.comparison_filters()
    if prev_f is None:
        return _reason(pd.DataFrame(), "topics.reason.no_comparison")
    now, prev = _counts(wh, f, by), _counts(wh, prev_f, by)
    if now.empty:
        return _reason(now, NO_TEXT)
    keys = [] if by is None else [_col(by)]
    now, prev = _shares(now, keys), _shares(prev, keys) if len(prev) else prev.assign(total=0)
    prev_tot = prev.groupby(keys)["n"].sum() if keys else None
    df = now.merge(prev[[*keys, "topic", "n", "customers"]].rename(columns={"n": "n_prev", "customers": "cust_prev"}),
                   on=[*keys, "topic"], how="left")
    df["n_prev"] = df["n_prev"].fillna(0).astype(int)
    prev_c = df.pop("cust_prev").fillna(0).astype(int)  # none then: nobody's texts to hide
    basis = np.where(prev_c > 0, np.minimum(df["customers"], prev_c), df["customers"])
    if keys:
        df["total_prev"] = df[keys[0]].map(prev_tot).fillna(0).astype(int)
    else:
        df["total_prev"] = int(prev["n"].sum()) if len(prev) else 0
    with np.errstate(invalid="ignore", divide="ignore"):
        df["share_prev"] = np.where(df["total_prev"] > 0, df["n_prev"] / df["total_prev"].replace(0, np.nan), np.nan)
    df["change"] = df["share"] - df["share_prev"]
    df["tested"] = (df["total_prev"] > 0) & (df["n"] + df["n_prev"] >= MIN_TEXTS)
    df["p"] = np.nan
    tested = df.loc[df["tested"]]
    df.loc[df["tested"], "p"] = stats.two_proportion_p(tested["n"], tested["total"], tested["n_prev"],
                                                       tested["total_prev"])
    df["p_holm"] = np.nan
    if df["tested"].any():
        df.loc[df["tested"], "p_holm"] = stats.holm(df.loc[df["tested"], "p"].to_numpy())
    df["rising"] = df["tested"] & (df["p_holm"] < alpha) & (df["change"] > 0)
    df = _withheld(f, df, [*keys, "topic", "rising", "tested"], basis)
    if "suppressed" in df.columns:
        df["rising"] = df["rising"] & ~df["suppressed"]
    df = df.sort_values(["rising", "p_holm", "n"], ascending=[False, True, False], na_position="last")
    return df.reset_index(drop=True)


def quotes(wh: Warehouse, f: Filters, topic: str, n: int = 5) -> pd.DataFrame:
    """Up to ``n`` of the newest texts of ``topic`` in the filters, personal data masked: opened_at,
    region_id, sentiment, quote. Row-level: an aggregate-only scope (a viewer) is refused with
    :class:`metrics.access.users.ScopeError` (:func:`metrics.access.users.require_rows`)."""
    require_rows(f.scope, "quotes_of_the_customers_words")  # viewers: aggregates only
    if not built(wh):
        return _reason(pd.DataFrame(), NOT_BUILT)
    tt, tk, c = ticket_topics, s.tickets, s.customers
    stmt = (sa.select(tk.c.opened_at, c.c.region_id, tt.c.sentiment, tk.c.description)
            .select_from(tt.join(tk, tk.c.ticket_id == tt.c.ticket_id).join(c, c.c.customer_id == tk.c.customer_id))
            .where(tt.c.topic == topic, *_conditions(f)).order_by(tk.c.opened_at.desc(), tk.c.ticket_id).limit(n))
    df = wh.read(stmt)
    df["quote"] = [mask(x) for x in df.pop("description")]  # masked before anything else sees it
    return df if len(df) else _reason(df, NO_TEXT)


def topic_names(wh: Warehouse, lang: str) -> dict[str, str]:
    """Display names of the topics: the dictionary's (``data/complaint_topics.toml``) in ``lang``, a
    discovered topic's top three words, and the catalogue's name for :data:`topic_text.OTHER`."""
    names = {code: spec.get(lang) or spec.get("en") or code for code, spec in topic_text.lexicon().topics.items()}
    if built(wh):
        for row in wh.read(sa.select(topic_terms.c.topic, topic_terms.c.terms)).itertuples():
            names[row.topic] = t("topics.discovered", lang, words=" / ".join(str(row.terms).split(" ")[:3]))
    names[topic_text.OTHER] = t("topics.other", lang)
    return names


__all__ = ["BY", "built", "quotes", "rising_topics", "top_types", "topic_names", "topic_trend"]
