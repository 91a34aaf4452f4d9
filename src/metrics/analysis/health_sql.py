"""The Selects behind :mod:`metrics.analysis.health`: per customer and *point* (the exclusive end of a
month of history, or a back-test's cut-off), one aggregate per source — tickets (complaints, SLA
resolutions decided and met), surveys (CSAT), billing (the six months' spend in two halves), circuits
(in-service and outage hours). The points are a small literal table joined on the event's date, so a
customer's whole history is one query per source. Every value is a bound parameter; every query carries
the filters' slices and the user's scope (:func:`metrics.query.where.slice_conditions`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from metrics.model import filters
from metrics.model import schema as s
from metrics.model.filters import Filters
from metrics.model.registry import Ctx, get
from metrics.query.dialect import days_between, hours_between
from metrics.query.where import midnight, slice_conditions


@dataclass(frozen=True)
class Point:
    """One day a score is computed as of: ``stop`` is the day after it (exclusive); the windows start on
    ``window`` (tickets, outages), ``satisfaction`` (surveys); spend: months [``m0``, ``m3``) and
    [``m3``, ``m6``) — the six complete calendar months ending by ``stop``."""

    id: int
    stop: date
    window: date
    satisfaction: date
    m0: date
    m3: date
    m6: date


def add_months(d: date, k: int) -> date:
    """The first day of the month ``k`` months from ``d``'s month."""
    return filters.add_months(d.replace(day=1), k)


def point(i: int, stop: date, window_months: int, satisfaction_months: int) -> Point:
    """The point whose last day is ``stop`` − 1 day; windows counted back from ``stop``'s month start
    when ``stop`` is a month's first day, else from ``stop`` itself (same months back)."""
    m6 = stop if stop.day == 1 else stop.replace(day=1)

    def back(k: int) -> date:
        return add_months(stop, -k) if stop.day == 1 else _same_day(stop, -k)

    return Point(i, stop, back(window_months), back(satisfaction_months), add_months(m6, -6), add_months(m6, -3), m6)


def _same_day(d: date, k: int) -> date:
    """``d``'s day of the month ``k`` months away (that month's last day at most)."""
    return filters.add_months(d, k)


def points_table(points: list[Point]) -> sa.Subquery:
    """The points as a literal table: pid, p (date), p_ts, w_d, w_ts, s_ts, m0, m3, m6."""
    def ts(d: date) -> datetime:
        return midnight(d)

    def row(p: Point) -> sa.Select:
        cols = {"pid": (p.id, sa.Integer), "p": (p.stop, sa.Date), "p_ts": (ts(p.stop), sa.DateTime),
                "w_d": (p.window, sa.Date), "w_ts": (ts(p.window), sa.DateTime),
                "s_ts": (ts(p.satisfaction), sa.DateTime), "m0": (p.m0, sa.Date), "m3": (p.m3, sa.Date),
                "m6": (p.m6, sa.Date)}
        return sa.select(*[sa.cast(sa.literal(v, t), t).label(k) for k, (v, t) in cols.items()])

    rows = [row(p) for p in points]
    return (sa.union_all(*rows) if len(rows) > 1 else rows[0]).subquery("pts")


def _customers(f: Filters, segments: tuple[str, ...], manager_id: int | None,
               customer_id: int | None) -> list:
    """The enterprise customers in the filters and scope (and of one manager / one customer)."""
    c = s.customers
    conds = [c.c.segment.in_(segments), *slice_conditions(f, c, c.c.acquisition_channel)]
    if manager_id is not None:
        conds.append(c.c.account_manager_id == manager_id)
    if customer_id is not None:
        conds.append(c.c.customer_id == customer_id)
    return conds


def _count(cond: sa.ColumnElement, name: str) -> sa.ColumnElement:
    return sa.func.sum(sa.case((cond, 1), else_=0)).label(name)


def base(f: Filters, pts: sa.Subquery, segments: tuple[str, ...], manager_id: int | None,
         customer_id: int | None) -> sa.Select:
    """Customers × points where the customer is active on the point's day (started by it, not ended by
    it): pid, customer_id, name, tier, manager_id, end_date."""
    c = s.customers
    active = sa.and_(c.c.start_date < pts.c.p, sa.or_(c.c.end_date.is_(None), c.c.end_date >= pts.c.p))
    return (sa.select(pts.c.pid, c.c.customer_id, c.c.name, c.c.tier, c.c.account_manager_id.label("manager_id"),
                      c.c.end_date)
            .select_from(c.join(pts, active)).where(*_customers(f, segments, manager_id, customer_id)))


def tickets(f: Filters, pts: sa.Subquery, segments: tuple[str, ...], manager_id: int | None,
            customer_id: int | None) -> sa.Select:
    """Per point and customer, tickets opened in [window, point): complaints, and the resolutions due
    and decided (``sla_decided``) and on time (``sla_met``) as known on the point's day (the
    registry's ``sla_resolution_compliance``)."""
    c, t = s.customers, s.tickets
    sla = get("sla_resolution_compliance")
    x = Ctx(as_of_end=pts.c.p_ts)
    on = sa.and_(t.c.opened_at >= pts.c.w_ts, t.c.opened_at < pts.c.p_ts)
    return (sa.select(pts.c.pid, t.c.customer_id, _count(t.c.kind == "complaint", "complaints"),
                      _count(sla.den(x), "sla_decided"), _count(sa.and_(sla.den(x), sla.num(x)), "sla_met"))
            .select_from(t.join(c, c.c.customer_id == t.c.customer_id).join(pts, on))
            .where(*_customers(f, segments, manager_id, customer_id)).group_by(pts.c.pid, t.c.customer_id))


def surveys(f: Filters, pts: sa.Subquery, segments: tuple[str, ...], manager_id: int | None,
            customer_id: int | None) -> sa.Select:
    """Per point and customer, CSAT answers in [satisfaction window, point) and those of 4–5 (the
    registry's ``csat``)."""
    c, sv = s.customers, s.surveys
    csat = get("csat")
    x = Ctx(as_of_end=pts.c.p_ts)
    on = sa.and_(sv.c.answered_at >= pts.c.s_ts, sv.c.answered_at < pts.c.p_ts)
    return (sa.select(pts.c.pid, sv.c.customer_id, _count(csat.den(x), "csat_n"),
                      _count(sa.and_(csat.den(x), csat.num(x)), "csat_good"))
            .select_from(sv.join(c, c.c.customer_id == sv.c.customer_id).join(pts, on))
            .where(*_customers(f, segments, manager_id, customer_id)).group_by(pts.c.pid, sv.c.customer_id))


def billing(f: Filters, pts: sa.Subquery, segments: tuple[str, ...], manager_id: int | None,
            customer_id: int | None) -> sa.Select:
    """Per point and customer, billed revenue (CNY) of the six months in two halves (``spend_prev3``,
    ``spend_last3``) and the months billed in the first half (``months_prev``)."""
    c, bm = s.customers, s.billing_monthly
    first = sa.and_(bm.c.month >= pts.c.m0, bm.c.month < pts.c.m3)
    on = sa.and_(bm.c.month >= pts.c.m0, bm.c.month < pts.c.m6)
    return (sa.select(pts.c.pid, bm.c.customer_id,
                      sa.func.sum(sa.case((first, bm.c.revenue), else_=0.0)).label("spend_prev3"),
                      sa.func.sum(sa.case((bm.c.month >= pts.c.m3, bm.c.revenue), else_=0.0)).label("spend_last3"),
                      _count(first, "months_prev"))
            .select_from(bm.join(c, c.c.customer_id == bm.c.customer_id).join(pts, on))
            .where(*_customers(f, segments, manager_id, customer_id)).group_by(pts.c.pid, bm.c.customer_id))


def service_hours(f: Filters, pts: sa.Subquery, segments: tuple[str, ...], manager_id: int | None,
                  customer_id: int | None) -> sa.Select:
    """Per point and customer, the hours its circuits were in service in [window, point)."""
    c, sv = s.customers, s.services
    end = sa.func.least(sa.func.coalesce(sv.c.end_date, pts.c.p), pts.c.p)
    on = sa.and_(sv.c.start_date < pts.c.p, sa.func.coalesce(sv.c.end_date, pts.c.p) > pts.c.w_d)
    days = days_between(sa.func.greatest(sv.c.start_date, pts.c.w_d), end)
    return (sa.select(pts.c.pid, sv.c.customer_id, (sa.func.sum(days) * 24.0).label("service_hours"))
            .select_from(sv.join(c, c.c.customer_id == sv.c.customer_id).join(pts, on))
            .where(*_customers(f, segments, manager_id, customer_id)).group_by(pts.c.pid, sv.c.customer_id))


def outage_hours(f: Filters, pts: sa.Subquery, segments: tuple[str, ...], manager_id: int | None,
                 customer_id: int | None) -> sa.Select:
    """Per point and customer, the hours of its circuits' outages inside [window, point) (an outage not
    restored by the point lasts to it)."""
    c, sv, o = s.customers, s.services, s.outages
    restored = sa.func.coalesce(o.c.restored_at, pts.c.p_ts)
    on = sa.and_(o.c.started_at < pts.c.p_ts, restored > pts.c.w_ts)
    hours = hours_between(sa.func.greatest(o.c.started_at, pts.c.w_ts), sa.func.least(restored, pts.c.p_ts))
    return (sa.select(pts.c.pid, sv.c.customer_id, sa.func.sum(hours).label("outage_hours"))
            .select_from(o.join(sv, sv.c.service_id == o.c.service_id)
                         .join(c, c.c.customer_id == sv.c.customer_id).join(pts, on))
            .where(*_customers(f, segments, manager_id, customer_id))
            .group_by(pts.c.pid, sv.c.customer_id))


def churn_risk(f: Filters, segments: tuple[str, ...], manager_id: int | None, customer_id: int | None) -> sa.Select:
    """The stored churn scores (the newest fit): customer_id, churn_probability_90d."""
    from metrics.churn.store import churn_scores

    c = s.customers
    return (sa.select(churn_scores.c.customer_id, churn_scores.c.churn_probability_90d)
            .select_from(churn_scores.join(c, c.c.customer_id == churn_scores.c.customer_id))
            .where(*_customers(f, segments, manager_id, customer_id)))
