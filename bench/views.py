"""What the benchmark times: the engine calls behind the dashboard's default views, and a naive
pandas version of a few representative metrics.

The default view is the one a user lands on: the last complete quarter before the as-of date,
compared with the previous quarter, all regions; trends cover the 12 months up to the period end
(see ``app.py`` and ``pages/``). Each :class:`Call` is one ``Warehouse.metric``/``compare`` call,
which is what a page asks for (before Streamlit's cache).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import numpy as np
import pandas as pd
import sqlalchemy as sa

from metrics.model import schema as s
from metrics.model.filters import Filters, add_months, preset_period
from metrics.query.warehouse import Warehouse

# app.py (Overview): KPI cards, each with compare() and a 12-month trend; movers default
OVERVIEW_KPIS = ("csat", "nps", "complaint_rate", "sla_resolution_compliance", "fcr_rate", "churn_rate",
                 "active_customers")


@dataclass(frozen=True)
class Call:
    method: str  # "metric" or "compare"
    metric: str
    by: tuple[str, ...] = ()
    level: str = "city"
    period: str = "period"  # "period" (the default filters) or "trend" (12 months to the period end)

    @property
    def label(self) -> str:
        by = "+".join(self.by) or "total"
        return f"{self.method}({self.metric}, {by}{', 12 months' if self.period == 'trend' else ''})"


def default_filters(as_of: date) -> dict[str, Filters]:
    start, end = preset_period("last_quarter", as_of)
    f = Filters(start=start, end=end)
    return {"period": f, "trend": f.with_(start=add_months(end.replace(day=1), -11), comparison="none")}


def _m(metric: str, *by: str, period: str = "period", level: str = "city") -> Call:
    return Call("metric", metric, tuple(by), level, period)


def _c(metric: str, *by: str, level: str = "city") -> Call:
    return Call("compare", metric, tuple(by), level)


VIEWS: dict[str, tuple[Call, ...]] = {
    "overview": tuple(c for k in OVERVIEW_KPIS for c in (_c(k), _m(k, "month", period="trend")))
    + (_c("complaint_rate", "region"),),
    "satisfaction": tuple(c for k in ("csat", "nps") for c in (
        _c(k), _m(k, "channel"), _m(k, "tier"), _m(k, "region"), _m(k, "survey_kind"),
        _m(k, "month", period="trend"))) + (_c("csat_mean"), _c("ces_mean")),
    "complaints": (_c("tickets"), _c("complaint_rate"), _c("resolution_hours_median"),
                   _c("resolution_hours_p90"), _m("complaint_rate", "region"), _m("complaint_rate", "channel"),
                   _m("complaint_rate", "category"), _m("complaint_rate", "month", period="trend"),
                   _m("resolution_hours_median", "tier"), _m("resolution_hours_median", "priority")),
    "sla": (_c("sla_resolution_compliance"), _c("sla_response_compliance"), _c("compensation_total"),
            _c("availability"), _m("sla_response_compliance", "tier"), _m("sla_resolution_compliance", "tier"),
            _m("sla_resolution_compliance", "region"), _m("sla_resolution_compliance", "month", period="trend"),
            _m("resolution_hours_p90", "tier"), _m("compensation_total", "month"),
            _m("availability", "region"), _m("availability", "month", period="trend")),
    "churn": (_c("churn_rate"), _c("active_customers"), _m("churn_rate", "tier"), _m("churn_rate", "channel"),
              _m("churn_rate", "region"), _m("churn_rate", "month", period="trend"),
              _m("active_customers", "month", period="trend")),
    "regions": (_c("csat", "region"), _m("csat"), _c("complaint_rate", "region"), _m("complaint_rate")),
}


def run_call(wh: Warehouse, call: Call, filters: dict[str, Filters]) -> pd.DataFrame:
    f = filters[call.period]
    fn = wh.compare if call.method == "compare" else wh.metric
    return fn(call.metric, f, call.by, call.level)


# ---------------------------------------------------------------------------------------------
# naive: one SELECT * of the rows the metric needs, then filter, group and compute in pandas


def read_all(wh: Warehouse, stmt: sa.Select) -> pd.DataFrame:
    """All rows of ``stmt`` as a DataFrame, by the fastest client path of the database."""
    with wh.engine.connect() as conn:
        if wh.dialect == "duckdb":
            sql = str(stmt.compile(dialect=conn.dialect))
            return conn.connection.driver_connection.execute(sql).df()
        return pd.read_sql(stmt, conn)


def _tickets_customers() -> sa.Select:
    t, c = s.tickets, s.customers
    return sa.select(t, *[col for col in c.c if col.name != "customer_id"]).select_from(
        t.join(c, c.c.customer_id == t.c.customer_id))


def _window(f: Filters, as_of: date) -> tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp]:
    stop = min(f.end, as_of) + timedelta(days=1)
    end = datetime.combine(as_of + timedelta(days=1), time())
    return pd.Timestamp(f.start), pd.Timestamp(stop), pd.Timestamp(end)


def naive_csat_by_month(wh: Warehouse, filters: dict[str, Filters], as_of: date) -> pd.Series:
    df = read_all(wh, sa.select(s.surveys))
    start, stop, _ = _window(filters["trend"], as_of)
    df = df[(df["answered_at"] >= start) & (df["answered_at"] < stop) & df["csat"].notna()]
    g = df.assign(top=df["csat"] >= 4).groupby(df["answered_at"].dt.to_period("M").dt.start_time)["top"]
    return g.mean()


def naive_nps(wh: Warehouse, filters: dict[str, Filters], as_of: date) -> pd.Series:
    df = read_all(wh, sa.select(s.surveys))
    start, stop, _ = _window(filters["period"], as_of)
    v = df.loc[(df["answered_at"] >= start) & (df["answered_at"] < stop), "nps"].dropna()
    return pd.Series([100 * ((v >= 9).mean() - (v <= 6).mean())])


def naive_tickets_by_channel(wh: Warehouse, filters: dict[str, Filters], as_of: date) -> pd.Series:
    df = read_all(wh, sa.select(s.tickets))
    start, stop, _ = _window(filters["period"], as_of)
    df = df[(df["opened_at"] >= start) & (df["opened_at"] < stop)]
    return df.groupby("channel").size().astype(float)


def naive_sla_resolution_by_city(wh: Warehouse, filters: dict[str, Filters], as_of: date) -> pd.Series:
    df = read_all(wh, _tickets_customers())
    regions = read_all(wh, sa.select(s.regions))
    start, stop, end = _window(filters["period"], as_of)
    df = df[(df["opened_at"] >= start) & (df["opened_at"] < stop)]
    city = regions.set_index("region_id")["parent_id"]
    done, due = df["resolved_at"], df["resolution_due_at"]
    known = done.notna() & (done < end)
    met = due.notna() & known & (done <= due)
    decided = due.notna() & (known | (due < end))
    g = pd.DataFrame({"city": df["region_id"].map(city), "met": met & decided, "decided": decided})
    sums = g.groupby("city")[["met", "decided"]].sum()
    sums = sums[sums["decided"] > 0]
    return sums["met"] / sums["decided"]


def naive_resolution_median_by_tier(wh: Warehouse, filters: dict[str, Filters], as_of: date) -> pd.Series:
    df = read_all(wh, _tickets_customers())
    start, stop, end = _window(filters["period"], as_of)
    df = df[(df["opened_at"] >= start) & (df["opened_at"] < stop)]
    df = df[df["resolved_at"].notna() & (df["resolved_at"] < end)]
    hours = (df["resolved_at"] - df["opened_at"]).dt.total_seconds() / 3600.0
    return hours.groupby(df["tier"]).median()


NaiveFn = Callable[[Warehouse, dict[str, Filters], date], pd.Series]
# name -> (pandas version, the engine call it reproduces, relative tolerance of the comparison)
NAIVE: dict[str, tuple[NaiveFn, Call, float]] = {
    "csat by month (12 months)": (naive_csat_by_month, _m("csat", "month", period="trend"), 1e-9),
    "nps (quarter)": (naive_nps, _m("nps"), 1e-9),
    "tickets by channel (quarter)": (naive_tickets_by_channel, _m("tickets", "channel"), 0.0),
    "sla_resolution_compliance by city (quarter)": (
        naive_sla_resolution_by_city, _m("sla_resolution_compliance", "region"), 1e-9),
    "resolution_hours_median by tier (quarter)": (
        naive_resolution_median_by_tier, _m("resolution_hours_median", "tier"), 1e-6),
}


def same_values(naive: pd.Series, engine: pd.DataFrame, rtol: float) -> bool:
    """Whether the naive figures equal the engine's (both sorted by their group key)."""
    got = np.asarray(naive.sort_index().to_numpy(), dtype=float)
    want = engine["value"].to_numpy(dtype=float)
    return len(got) == len(want) and bool(np.allclose(got, want, rtol=rtol, atol=1e-12))
