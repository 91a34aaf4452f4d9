"""An independent pandas implementation of every metric in ``docs/metrics.md``.

Written from the document, not from the compiler: it reads the raw demo frames (table name ->
DataFrame, as ``metrics.demo.generator.generate`` returns them) and answers
``reference(frames, metric_id, filters, by, as_of, region_level)`` with the same tidy columns as
``Warehouse.metric``: the group-by columns (``region`` -> ``region_id``), then ``value``, ``n``,
``lower``, ``upper``. Only :mod:`metrics.analysis.stats` (tested on its own in ``test_stats.py``) and the
:class:`metrics.model.filters.Filters` dataclass are shared with the engine.

Conventions of the tidy result, mirrored from the engine:
- a group exists when it has data: ``n > 0`` (for rates: customer-months at risk > 0; for
  complaint_rate cut by channel or category: complaints > 0), or, for a metric over a flag or
  amount a source may leave unknown (``NEEDS``), when it has rows but none with it known: value
  NaN, n 0;
- time groups are ``datetime64`` (first day of the month / ISO week), ``region_id`` is ``Int64``;
- rows are sorted by the group-by columns, missing values (NULL ``sla_level``) last.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from metrics.analysis import stats
from metrics.model.filters import Filters

DAYS_PER_MONTH = 365.25 / 12
CUSTOMER_DIMS = ("tier", "segment", "sla_level")

# metric id -> (source, kind); written out from the document's table
METRICS = {
    "tickets": ("tickets", "count"),
    "csat": ("surveys", "share"),
    "csat_mean": ("surveys", "mean"),
    "nps": ("surveys", "nps"),
    "ces_mean": ("surveys", "mean"),
    "complaint_rate": ("complaints", "rate"),
    "fcr_rate": ("tickets", "share"),
    "complaint_fcr_rate": ("tickets", "share"),
    "resolution_hours_median": ("tickets", "quantile"),
    "resolution_hours_p90": ("tickets", "quantile"),
    "sla_response_compliance": ("tickets", "share"),
    "sla_resolution_compliance": ("tickets", "share"),
    "reopen_rate": ("tickets", "share"),
    "escalation_rate": ("tickets", "share"),
    "revisit_rate": ("tickets", "share"),
    "revisit_satisfaction": ("tickets", "share"),
    "compensation_total": ("tickets", "sum"),
    "availability": ("availability", "availability"),
    "churn_rate": ("customers", "rate"),
    "active_customers": ("customers", "stock"),
    "revenue": ("billing", "sum"),
}
# dimensions each metric may be cut by (the document's "Filters and dimensions")
_CUST = ("region", "tier", "segment", "sla_level")
DIMS = {
    "tickets": _CUST + ("channel", "category", "kind", "priority", "month", "week"),
    "surveys": _CUST + ("channel", "survey_kind", "month", "week"),
    "customers": _CUST + ("channel", "month"),
    "billing": _CUST + ("channel", "month"),
    "availability": _CUST + ("month",),
    "complaints": _CUST + ("channel", "category", "month"),
}


def dims_of(metric_id: str) -> tuple[str, ...]:
    return DIMS[METRICS[metric_id][0]]


def col(dim: str) -> str:
    return "region_id" if dim == "region" else dim


# ---------------------------------------------------------------------------------------------
class _Window:
    """[start, stop) in days; events known strictly before ``as_of_end`` (midnight after as_of)."""

    def __init__(self, f: Filters, as_of: date) -> None:
        stop = max(min(f.end, as_of) + timedelta(days=1), f.start)
        self.start = pd.Timestamp(f.start)
        self.stop = pd.Timestamp(stop)
        self.as_of_end = pd.Timestamp(as_of + timedelta(days=1))

    def months(self) -> list[tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp]]:
        """(calendar month, bucket start, bucket end): the window's months, clipped to it."""
        out = []
        m = self.start.to_period("M").start_time
        while m < self.stop:
            nxt = m + pd.offsets.MonthBegin(1)
            out.append((m, max(m, self.start), min(nxt, self.stop)))
            m = nxt
        return out


_ANCESTORS: dict[int, dict[int, dict[str, int]]] = {}


def _ancestors(regions: pd.DataFrame) -> dict[int, dict[str, int]]:
    """region_id -> {level: ancestor id at that level}, the region itself included."""
    if id(regions) not in _ANCESTORS:
        _ANCESTORS[id(regions)] = _walk_up(regions)
    return _ANCESTORS[id(regions)]


def _walk_up(regions: pd.DataFrame) -> dict[int, dict[str, int]]:
    parent = {int(r.region_id): (None if pd.isna(r.parent_id) else int(r.parent_id))
              for r in regions.itertuples()}
    level = dict(zip(regions["region_id"].astype(int), regions["level"], strict=True))
    out = {}
    for rid in parent:
        chain, cur = {}, rid
        while cur is not None:
            chain[level[cur]] = cur
            cur = parent[cur]
        out[rid] = chain
    return out


def _inside(regions: pd.DataFrame, roots: tuple[int, ...]) -> set[int]:
    """The regions in ``roots`` and all their descendants."""
    anc = _ancestors(regions)
    roots_set = set(int(r) for r in roots)
    return {rid for rid in anc if roots_set & set(anc[rid].values())}


_WITH_REGION: dict[tuple, pd.DataFrame] = {}


def _customers(frames: dict, f: Filters, region_level: str, channel: bool) -> pd.DataFrame:
    """Customers in the slice (region, tier, segment, sla_level, optionally acquisition channel),
    with the dimension columns ``region`` (at ``region_level``), tier, segment, sla_level and
    ``acq_channel``."""
    key = (id(frames["customers"]), region_level)
    if key not in _WITH_REGION:
        c = frames["customers"].copy()
        anc = _ancestors(frames["regions"])
        c["region"] = [anc[int(r)].get(region_level) for r in c["region_id"]]
        _WITH_REGION[key] = c
    c = _WITH_REGION[key]
    keep = np.ones(len(c), bool)
    if f.regions:
        keep &= c["region_id"].astype(int).isin(_inside(frames["regions"], f.regions)).to_numpy()
    for name, column in (("tiers", "tier"), ("segments", "segment"), ("sla_levels", "sla_level")):
        if getattr(f, name):
            keep &= c[column].isin(getattr(f, name)).to_numpy()
    if channel and f.channels:
        keep &= c["acquisition_channel"].isin(f.channels).to_numpy()
    c = c[keep]
    return c.rename(columns={"acquisition_channel": "acq_channel"})[
        ["customer_id", "region", *CUSTOMER_DIMS, "acq_channel", "start_date", "end_date"]]


def _month(ts: pd.Series) -> pd.Series:
    return ts.dt.to_period("M").dt.start_time


def _week(ts: pd.Series) -> pd.Series:
    day = ts.dt.normalize()
    return day - pd.to_timedelta(day.dt.weekday, unit="D")


def _known(ts: pd.Series, w: _Window) -> pd.Series:
    return ts.notna() & (ts < w.as_of_end)


def _group(df: pd.DataFrame, by: tuple[str, ...], agg) -> pd.DataFrame:
    """Apply ``agg`` (frame -> dict of aggregates) per group (NULL keys kept), or once."""
    if not by:
        return pd.DataFrame([agg(df)])
    rows = []
    for key, part in df.groupby(list(by), dropna=False, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(by, key, strict=True)), **agg(part)})
    if not rows:
        return pd.DataFrame(columns=list(by) + list(agg(df.iloc[:0])))
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
_EVENTS: dict[tuple, pd.DataFrame] = {}


def _events(frames: dict, metric_id: str, f: Filters, w: _Window, level: str) -> pd.DataFrame:
    """Rows of a ticket / survey / billing metric in the window and slice, with dimension columns
    (cached: the metrics of one source share them)."""
    source = METRICS[metric_id][0]
    complaints_only = metric_id in ("revisit_rate", "revisit_satisfaction", "complaint_rate", "complaint_fcr_rate")
    key = (id(frames), source, complaints_only, f, w.stop, level)
    if key not in _EVENTS:
        _EVENTS[key] = _select_events(frames, source, complaints_only, f, w, level)
    return _EVENTS[key]


def _select_events(frames: dict, source: str, complaints_only: bool, f: Filters, w: _Window,
                   level: str) -> pd.DataFrame:
    if source in ("tickets", "complaints"):
        t = frames["tickets"]
        t = t[(t["opened_at"] >= w.start) & (t["opened_at"] < w.stop)]
        kinds = ("complaint",) if complaints_only else f.kinds
        if kinds:
            t = t[t["kind"].isin(kinds)]
        if f.categories:
            t = t[t["category"].isin(f.categories)]
        if f.priorities:
            t = t[t["priority"].isin(f.priorities)]
        if f.channels:
            t = t[t["channel"].isin(f.channels)]
        time = "opened_at"
    elif source == "surveys":
        t = frames["surveys"]
        t = t[(t["answered_at"] >= w.start) & (t["answered_at"] < w.stop)]
        if f.survey_kinds:
            t = t[t["kind"].isin(f.survey_kinds)]
        if f.channels:
            t = t[t["channel"].isin(f.channels)]
        t = t.rename(columns={"kind": "survey_kind"})
        time = "answered_at"
    else:  # billing: months whose first day is in the window
        t = frames["billing_monthly"]
        t = t[(t["month"] >= w.start) & (t["month"] < w.stop)]
        time = "month"
    c = _customers(frames, f, level, channel=source == "billing")
    t = t.merge(c.drop(columns=["start_date", "end_date"]), on="customer_id", how="inner")
    if source == "billing":
        t["channel"] = t["acq_channel"]
    t["month"] = _month(t[time])
    t["week"] = _week(t[time])
    return t


def _sums(df: pd.DataFrame, by: tuple[str, ...], cols: list[str]) -> pd.DataFrame:
    """Column sums per group (NULL keys kept), or one row of totals."""
    if not by:
        return pd.DataFrame([{c: df[c].sum() for c in cols}])
    return df.groupby(list(by), dropna=False, sort=False)[cols].sum().reset_index()


def _event_metric(rows: pd.DataFrame, metric_id: str, w: _Window, by: tuple[str, ...]) -> pd.DataFrame:
    """Aggregates of a ticket / survey / billing metric per group: value, n and interval parts."""
    kind = METRICS[metric_id][1]
    if kind == "count":
        out = _sums(rows.assign(n=1), by, ["n"])
        out["value"] = out["n"].astype(float)
    elif kind == "share":
        num, den = _share_parts(metric_id, w)
        d = den(rows)
        parts = rows.assign(k=(num(rows) & d).astype(int), n=d.astype(int))
        if metric_id in NEEDS:  # the rows it would count were the flag known, and those known
            covered = _covered(metric_id, w)(rows)
            parts = parts.assign(rows_=covered.astype(int), known_=d.astype(int))
        out = _sums(parts, by, ["k", "n"] + (["rows_", "known_"] if metric_id in NEEDS else []))
    elif kind == "mean":
        v = rows[{"csat_mean": "csat", "ces_mean": "ces"}[metric_id]].astype(float)
        parts = rows.assign(n=v.notna().astype(int), total=v.fillna(0.0), total_sq=(v * v).fillna(0.0))
        out = _sums(parts, by, ["n", "total", "total_sq"])
        with np.errstate(invalid="ignore", divide="ignore"):
            out["value"] = out["total"] / out["n"]
    elif kind == "nps":
        v = rows["nps"].astype(float)
        parts = rows.assign(n=v.notna().astype(int), promoters=(v >= 9).astype(int),
                            detractors=(v <= 6).astype(int))
        out = _sums(parts, by, ["n", "promoters", "detractors"])
        with np.errstate(invalid="ignore", divide="ignore"):
            out["value"] = 100.0 * (out["promoters"] - out["detractors"]) / out["n"]
    elif kind == "quantile":  # continuous percentile (linear interpolation) of resolution hours
        q = {"resolution_hours_median": 0.5, "resolution_hours_p90": 0.9}[metric_id]
        done = rows[_known(rows["resolved_at"], w)]
        done = done.assign(hours=(done["resolved_at"] - done["opened_at"]).dt.total_seconds() / 3600.0)

        def quantile(d: pd.DataFrame) -> dict:
            h = d["hours"].to_numpy(float)
            return {"n": len(h), "value": float(np.quantile(h, q, method="linear")) if len(h) else np.nan}
        out = _group(done, by, quantile)
    elif metric_id == "compensation_total":  # sum over the tickets that carry a compensation
        amount = rows["compensation"].astype(float)  # NaN: unknown
        paid = amount > 0
        parts = rows.assign(n=paid.astype(int), value=amount.where(paid, 0.0), rows_=1,
                            known_=amount.notna().astype(int))
        out = _sums(parts, by, ["n", "value", "rows_", "known_"])
    elif metric_id == "revenue":
        out = _sums(rows.assign(n=1, value=rows["revenue"].astype(float)), by, ["n", "value"])
    else:
        raise KeyError(metric_id)
    return out


def _share_parts(metric_id: str, w: _Window):
    """(numerator, denominator) row conditions of a share metric, per docs/metrics.md."""
    true = lambda d: pd.Series(True, index=d.index)  # noqa: E731
    resolved = lambda d: _known(d["resolved_at"], w)  # noqa: E731

    def sla(done: str, due: str):
        def met(d):
            return d[due].notna() & _known(d[done], w) & (d[done] <= d[due])

        def decided(d):
            return d[due].notna() & (_known(d[done], w) | (d[due] < w.as_of_end))
        return met, decided

    def flag(name: str):
        return lambda d: d[name].eq(True)  # NULL (unknown) is not True

    def known(name: str, base):  # a flag counts only where it is known (docs/metrics.md)
        return lambda d: base(d) & d[name].notna()

    parts = {
        "csat": (lambda d: d["csat"] >= 4, lambda d: d["csat"].notna()),
        "fcr_rate": (flag("first_contact_resolved"), known("first_contact_resolved", true)),
        "complaint_fcr_rate": (flag("first_contact_resolved"), known("first_contact_resolved", true)),
        "escalation_rate": (flag("escalated"), known("escalated", true)),
        "reopen_rate": (flag("reopened"), known("reopened", resolved)),
        "sla_response_compliance": sla("first_response_at", "response_due_at"),
        "sla_resolution_compliance": sla("resolved_at", "resolution_due_at"),
        "revisit_rate": (lambda d: _known(d["revisited_at"], w), resolved),
        "revisit_satisfaction": (
            flag("revisit_satisfied"),
            lambda d: _known(d["revisited_at"], w) & d["revisit_satisfied"].notna()),
    }
    num, den = parts[metric_id]
    return (lambda d: num(d).fillna(False).astype(bool)), (lambda d: den(d).fillna(False).astype(bool))


# Metrics over a flag or amount a source may not have (NULL = unknown), per docs/metrics.md: the
# column, and the rows the metric would count were it known (_covered)
NEEDS = {"fcr_rate": "first_contact_resolved", "complaint_fcr_rate": "first_contact_resolved",
         "reopen_rate": "reopened", "escalation_rate": "escalated", "compensation_total": "compensation"}


def _covered(metric_id: str, w: _Window):
    if metric_id == "reopen_rate":
        return lambda d: _known(d["resolved_at"], w)
    return lambda d: pd.Series(True, index=d.index)


# ---------------------------------------------------------------------------------------------
def _buckets(w: _Window, by: tuple[str, ...]) -> list[tuple[pd.Timestamp | None, pd.Timestamp, pd.Timestamp]]:
    if "month" in by:
        return w.months()
    return [(None, w.start, w.stop)]


def _customer_frame(frames: dict, f: Filters, w: _Window, by: tuple[str, ...], level: str,
                    channel: bool) -> pd.DataFrame:
    """Per customer and bucket: at-risk days, churn events, active at the bucket's last day."""
    c = _customers(frames, f, level, channel)
    c = c.assign(channel=c["acq_channel"])
    end_known = c["end_date"].where(c["end_date"] < w.as_of_end)  # end known as of the as-of date
    # in scope: started before the window ends, not gone before it starts
    c = c[(c["start_date"] < w.stop) & (end_known.isna() | (end_known >= w.start))]
    end_known = end_known.loc[c.index]
    life_end = end_known.fillna(w.stop)
    parts = []
    for month, b_start, b_end in _buckets(w, by):
        lo = c["start_date"].where(c["start_date"] > b_start, b_start)
        hi = life_end.where(life_end < b_end, b_end)
        days = ((hi - lo).dt.days).clip(lower=0)
        part = c.assign(
            days=days,
            events=((end_known >= b_start) & (end_known < b_end)).astype(int),
            active=((c["start_date"] < b_end) & (end_known.isna() | (end_known >= b_end))).astype(int),
        )
        part["month"] = month
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def _customer_metric(frames, metric_id, f, w, by, level) -> pd.DataFrame:
    cm = _customer_frame(frames, f, w, by, level, channel=True)
    if metric_id == "active_customers":
        out = _sums(cm.assign(n=cm["active"]), by, ["n"])
        out["value"] = out["n"].astype(float)
        return out
    out = _sums(cm, by, ["events", "days"])
    return out.assign(exposure=out["days"] / DAYS_PER_MONTH)


def _complaint_rate(frames, f, w, by, level) -> pd.DataFrame:
    t = _events(frames, "complaint_rate", f, w, level)
    num = _sums(t.assign(events=1), by, ["events"])
    den_by = tuple(d for d in by if d not in ("channel", "category"))
    cm = _customer_frame(frames, f, w, den_by, level, channel=False)  # the whole customer base
    den = _sums(cm, den_by, ["days"])
    den = den.assign(exposure=den["days"] / DAYS_PER_MONTH).drop(columns=["days"])
    keys = [d for d in den_by]
    if len(den_by) == len(by):  # every group of the base, complaints or not
        out = den.merge(num, on=keys, how="left") if keys else den.assign(events=num["events"].iloc[0])
        out["events"] = out["events"].fillna(0)
        return out
    out = num.merge(den, on=keys, how="left") if keys else num.assign(exposure=den["exposure"].iloc[0])
    return out[out["events"] > 0]


def _availability(frames, f, w, by, level) -> pd.DataFrame:
    c = _customers(frames, f, level, channel=False).drop(columns=["start_date", "end_date", "acq_channel"])
    sv = frames["services"].drop(columns=["sla_level"]).merge(c, on="customer_id", how="inner")
    sv_end = sv["end_date"].fillna(w.stop)
    keep = (sv["start_date"] < w.stop) & (sv_end > w.start)
    sv, sv_end = sv[keep], sv_end[keep]
    o = frames["outages"]
    o = o.assign(restored=o["restored_at"].fillna(w.as_of_end))
    svc_parts, down_parts = [], []
    for month, b_start, b_end in _buckets(w, by):
        lo = sv["start_date"].where(sv["start_date"] > b_start, b_start)
        hi = sv_end.where(sv_end < b_end, b_end)
        days = (hi - lo).dt.days
        part = sv.assign(days=days, month=month)
        part = part[part["days"] > 0]
        svc_parts.append(part)
        oo = o.merge(part[["service_id", *[d for d in by if d != "month"], "month"]], on="service_id")
        s_ = oo["started_at"].where(oo["started_at"] > b_start, b_start)
        e_ = oo["restored"].where(oo["restored"] < b_end, b_end)
        oo["hours"] = ((e_ - s_).dt.total_seconds() / 3600.0).clip(lower=0)
        down_parts.append(oo)
    svc = pd.concat(svc_parts, ignore_index=True)
    down = pd.concat(down_parts, ignore_index=True)
    out = _group(svc, by, lambda d: {"n": d["service_id"].nunique(), "service_hours": 24.0 * d["days"].sum()})
    dn = _group(down, by, lambda d: {"downtime_hours": d["hours"].sum()})
    keys = list(by)
    if keys and len(out):
        dn = dn if len(dn) else pd.DataFrame(columns=keys + ["downtime_hours"])
        out = out.merge(dn, on=keys, how="left")
    else:
        out["downtime_hours"] = dn["downtime_hours"].iloc[0] if len(dn) else 0.0
    out["downtime_hours"] = out["downtime_hours"].fillna(0.0).astype(float)
    out["value"] = 1 - out["downtime_hours"] / out["service_hours"]
    return out


# ---------------------------------------------------------------------------------------------
def reference(frames: dict[str, pd.DataFrame], metric_id: str, f: Filters, by: tuple[str, ...] = (),
              as_of: date | None = None, region_level: str = "city") -> pd.DataFrame:
    """The tidy result of ``metric_id`` for filters ``f`` grouped by ``by``, computed in pandas."""
    by = tuple(by)
    as_of = as_of or f.as_of
    if as_of is None:
        raise ValueError("reference() needs the as-of date")
    bad = [d for d in by if d not in dims_of(metric_id)]
    if bad:
        raise ValueError(f"{metric_id} cannot be cut by {bad}")
    source, kind = METRICS[metric_id]
    w = _Window(f, as_of)
    if source == "customers":
        out = _customer_metric(frames, metric_id, f, w, by, region_level)
    elif source == "complaints":
        out = _complaint_rate(frames, f, w, by, region_level)
    elif source == "availability":
        out = _availability(frames, f, w, by, region_level)
    else:
        rows = _events(frames, metric_id, f, w, region_level)
        out = _event_metric(rows, metric_id, w, by)
    return _finish(out, kind, metric_id, by)


def _finish(out: pd.DataFrame, kind: str, metric_id: str, by: tuple[str, ...]) -> pd.DataFrame:
    out = out.copy()
    nan = np.full(len(out), np.nan)
    if kind == "share":
        out["k"] = out.get("k", pd.Series(dtype=float)).astype(float)
        out["n"] = out.get("n", pd.Series(dtype=float)).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["value"] = out["k"] / out["n"]
        out["lower"], out["upper"] = stats.wilson(out["k"], out["n"])
    elif kind == "mean" and len(out):
        out["lower"], out["upper"] = stats.mean_interval(out["total"], out["total_sq"], out["n"])
    elif kind == "nps" and len(out):
        out["lower"], out["upper"] = stats.nps_interval(out["promoters"], out["detractors"], out["n"])
    elif kind == "rate":
        scale = 1000.0 if metric_id == "complaint_rate" else 1.0
        if len(out):
            out = out[out["exposure"] > 0].copy()
            out["n"] = out["events"].astype(float)
            out["value"] = scale * out["events"] / out["exposure"]
            out["lower"], out["upper"] = stats.poisson_rate_interval(out["events"], out["exposure"], scale)
    else:
        out["lower"], out["upper"] = nan, nan
    for c in ("value", "n", "lower", "upper"):
        if c not in out.columns:
            out[c] = pd.Series(dtype=float)
    if kind != "rate":
        keep = out["n"].fillna(0) > 0
        if metric_id in NEEDS and len(out):  # rows, none with the column known: missing, not 0
            unknown = (out["rows_"] > 0) & (out["known_"] == 0)
            out.loc[unknown, ["value", "lower", "upper"]] = np.nan
            out.loc[unknown, "n"] = 0.0
            keep |= unknown
        out = out[keep]
    out = out.rename(columns={"region": "region_id"})
    cols = [col(d) for d in by]
    for d in by:
        if d in ("month", "week"):
            out[d] = pd.to_datetime(out[d])
        elif d == "region":
            out["region_id"] = out["region_id"].astype("Int64")
        else:
            out[d] = out[d].astype(object).where(out[d].notna(), None)
    out = out[cols + ["value", "n", "lower", "upper"]].astype(
        {"value": float, "n": float, "lower": float, "upper": float})
    if cols:
        out = out.sort_values(cols, na_position="last")
    return out.reset_index(drop=True)
