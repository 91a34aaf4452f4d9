"""The Selects behind :mod:`metrics.analysis.portfolio`: one aggregate per source (customers, billing,
tickets, surveys), grouped by account manager, or one row per customer of a manager. Every value is a
bound parameter; every query carries the filters' slices and the user's scope
(:func:`metrics.query.where.slice_conditions`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from metrics.churn.store import churn_scores
from metrics.model import schema as s
from metrics.model import ticket_status
from metrics.model.filters import Filters
from metrics.model.registry import Ctx, get
from metrics.query.where import date_literal as _d
from metrics.query.where import slice_conditions
from metrics.query.where import timestamp_literal as _ts

COVERAGE_DAYS = (30, 90)


@dataclass(frozen=True)
class Bounds:
    """The period as the SQL sees it: days [start, stop), instants [start_ts, stop_ts); ``stop`` is the
    day after ``D``; ``known_ts`` the midnight after the as-of date (what is known, as the registry's)."""

    start: date
    stop: date
    start_ts: datetime
    stop_ts: datetime
    known_ts: datetime


def visits_table() -> sa.TableClause:
    """The ``visits`` table (visit_id, customer_id, manager_id, visit_date, kind, purpose, outcome,
    next_step): the data model's when it declares one, else the same name and columns for reading."""
    declared = getattr(s, "visits", None)
    if declared is not None:
        return declared
    return sa.table("visits", sa.column("customer_id", sa.Integer), sa.column("manager_id", sa.Integer),
                    sa.column("visit_date", sa.Date))


def _portfolio(f: Filters, manager_id: int | None, channel: sa.ColumnElement | None = None) -> list:
    c = s.customers
    conds = [c.c.account_manager_id.isnot(None), *slice_conditions(
        f, c, c.c.acquisition_channel if channel is None else channel)]
    return conds + ([c.c.account_manager_id == manager_id] if manager_id is not None else [])


def _active(b: Bounds) -> sa.ColumnElement:
    """Active on ``D``: started by it, not ended by it."""
    c = s.customers.c
    return sa.and_(c.start_date < _d(b.stop), sa.or_(c.end_date.is_(None), c.end_date >= _d(b.stop)))


def _count(cond: sa.ColumnElement, name: str) -> sa.ColumnElement:
    return sa.func.sum(sa.case((cond, 1), else_=0)).label(name)


def _sum(cond: sa.ColumnElement, value: sa.ColumnElement, name: str) -> sa.ColumnElement:
    return sa.func.sum(sa.case((cond, value), else_=0.0)).label(name)


def _last_visits(b: Bounds) -> sa.Subquery:
    v = visits_table()
    return (sa.select(v.c.customer_id, sa.func.max(v.c.visit_date).label("last_visit"))
            .where(v.c.visit_date < _d(b.stop)).group_by(v.c.customer_id).subquery("lv"))


def customer_figures(f: Filters, b: Bounds, manager_id: int | None, with_visits: bool, with_scores: bool) -> sa.Select:
    """Per manager and tier (additive, summed over tiers for a manager): customers (active on D),
    in_period, churned, revenue_lost (12 × monthly revenue of the churned, CNY a year), visited_30d/_90d
    (NULL without visits), revenue_at_risk (NULL without scores); groups with a customer in the period."""
    c, am = s.customers, s.account_managers
    in_period = sa.and_(c.c.start_date < _d(b.stop), sa.or_(c.c.end_date.is_(None), c.c.end_date >= _d(b.start)))
    churned = sa.and_(c.c.end_date.isnot(None), c.c.end_date >= _d(b.start), c.c.end_date < _d(b.stop))
    from_ = c.outerjoin(am, am.c.manager_id == c.c.account_manager_id)
    cols = [c.c.account_manager_id.label("manager_id"), c.c.tier, sa.func.max(am.c.name).label("manager_name"),
            _count(_active(b), "customers"), _count(in_period, "in_period"), _count(churned, "churned"),
            _sum(churned, c.c.monthly_revenue * 12, "revenue_lost")]
    if with_visits:
        lv = _last_visits(b)
        from_ = from_.outerjoin(lv, lv.c.customer_id == c.c.customer_id)
        day = b.stop - timedelta(days=1)
        cols += [_count(sa.and_(_active(b), lv.c.last_visit.isnot(None),
                                lv.c.last_visit >= _d(day - timedelta(days=n - 1))), f"visited_{n}d")
                 for n in COVERAGE_DAYS]
    else:
        cols += [sa.null().label(f"visited_{n}d") for n in COVERAGE_DAYS]
    if with_scores:
        from_ = from_.outerjoin(churn_scores, churn_scores.c.customer_id == c.c.customer_id)
        cols.append(_sum(sa.and_(_active(b), churn_scores.c.revenue_at_risk.isnot(None)),
                         churn_scores.c.revenue_at_risk, "revenue_at_risk"))
    else:
        cols.append(sa.null().label("revenue_at_risk"))
    return (sa.select(*cols).select_from(from_).where(*_portfolio(f, manager_id))
            .group_by(c.c.account_manager_id, c.c.tier).having(sa.func.sum(sa.case((in_period, 1), else_=0)) > 0))


def billing_figures(f: Filters, b: Bounds, manager_id: int | None) -> sa.Select:
    """Per manager and tier: revenue billed in the months that start in the period (CNY)."""
    c, bm = s.customers, s.billing_monthly
    return (sa.select(c.c.account_manager_id.label("manager_id"), c.c.tier, sa.func.sum(bm.c.revenue).label("revenue"))
            .select_from(bm.join(c, c.c.customer_id == bm.c.customer_id))
            .where(bm.c.month >= _d(b.start), bm.c.month < _d(b.stop), *_portfolio(f, manager_id))
            .group_by(c.c.account_manager_id, c.c.tier))


def _ticket_conditions(f: Filters, with_channel: bool = False) -> list:
    """The filters' conditions on the ticket itself: category, priority and (``with_channel``, where
    the customers' slices are applied apart) the ticket's channel."""
    t = s.tickets
    conds = [col.in_(values) for col, values in ((t.c.category, f.categories), (t.c.priority, f.priorities)) if values]
    return conds + ([t.c.channel.in_(f.channels)] if with_channel and f.channels else [])


def ticket_figures(f: Filters, b: Bounds, manager_id: int | None) -> sa.Select:
    """Per manager: complaints opened in the period, complaints open on D, and of the tickets opened in
    the period (of ``f.kinds`` when given) the resolutions due and decided (``sla_decided``) and on
    time (``sla_met``), as the registry's ``sla_resolution_compliance`` counts them."""
    c, t = s.customers, s.tickets
    sla = get("sla_resolution_compliance")
    x = Ctx(as_of_end=_ts(b.known_ts))
    opened = t.c.opened_at >= _ts(b.start_ts)
    complaint = t.c.kind == "complaint"
    kinds = t.c.kind.in_(f.kinds) if f.kinds else sa.true()
    return (sa.select(c.c.account_manager_id.label("manager_id"),
                      _count(sa.and_(complaint, opened), "complaints"),
                      _count(sa.and_(complaint, ticket_status.still_open(t, _ts(b.stop_ts))), "open_complaints"),
                      _count(sa.and_(opened, kinds, sla.den(x)), "sla_decided"),
                      _count(sa.and_(opened, kinds, sla.num(x)), "sla_met"))
            .select_from(t.join(c, c.c.customer_id == t.c.customer_id))
            .where(t.c.opened_at < _ts(b.stop_ts), *_ticket_conditions(f), *_portfolio(f, manager_id, t.c.channel))
            .group_by(c.c.account_manager_id))


def survey_figures(f: Filters, b: Bounds, manager_id: int | None) -> sa.Select:
    """Per manager: CSAT answers in the period (``csat_n``) and those of 4–5 (``csat_good``), as the
    registry's ``csat``."""
    c, sv = s.customers, s.surveys
    csat = get("csat")
    x = Ctx(as_of_end=_ts(b.known_ts))
    kinds = [sv.c.kind.in_(f.survey_kinds)] if f.survey_kinds else []
    return (sa.select(c.c.account_manager_id.label("manager_id"), _count(csat.den(x), "csat_n"),
                      _count(sa.and_(csat.den(x), csat.num(x)), "csat_good"))
            .select_from(sv.join(c, c.c.customer_id == sv.c.customer_id))
            .where(sv.c.answered_at >= _ts(b.start_ts), sv.c.answered_at < _ts(b.stop_ts), *kinds,
                   *_portfolio(f, manager_id, sv.c.channel))
            .group_by(c.c.account_manager_id))


def customer_rows(f: Filters, b: Bounds, manager_id: int, months: tuple[date, date, date], with_visits: bool,
                  with_scores: bool) -> sa.Select:
    """One row per customer of ``manager_id`` active on D: details, the six months' spend in two halves
    (``months``: first month, first of the last three, first month after), the months billed in the
    first half, the last visit up to D, complaints (in the period; open on D), the stored risk."""
    c, bm, t = s.customers, s.billing_monthly, s.tickets
    conds = [_active(b), *_portfolio(f, manager_id)]
    ids = sa.select(c.c.customer_id).where(*conds)
    m0, m3, m6 = (_d(m) for m in months)
    first_half = sa.and_(bm.c.month >= m0, bm.c.month < m3)
    spend = (sa.select(bm.c.customer_id, _sum(first_half, bm.c.revenue, "spend_prev3"),
                       _sum(bm.c.month >= m3, bm.c.revenue, "spend_last3"), _count(first_half, "months_prev"))
             .where(bm.c.month >= m0, bm.c.month < m6, bm.c.customer_id.in_(ids))
             .group_by(bm.c.customer_id).subquery("spend"))
    complaint = t.c.kind == "complaint"
    tk = (sa.select(t.c.customer_id, _count(t.c.opened_at >= _ts(b.start_ts), "complaints"),
                    _count(ticket_status.still_open(t, _ts(b.stop_ts)), "open_complaints"))
          .where(complaint, t.c.opened_at < _ts(b.stop_ts), t.c.customer_id.in_(ids),
                 *_ticket_conditions(f, with_channel=True))  # as ticket_figures counts them
          .group_by(t.c.customer_id).subquery("tk"))
    from_ = (c.outerjoin(spend, spend.c.customer_id == c.c.customer_id)
             .outerjoin(tk, tk.c.customer_id == c.c.customer_id))
    cols = [c.c.customer_id, c.c.name, c.c.tier, c.c.region_id, c.c.monthly_revenue, spend.c.spend_prev3,
            spend.c.spend_last3, spend.c.months_prev]
    if with_visits:
        lv = _last_visits(b)
        from_ = from_.outerjoin(lv, lv.c.customer_id == c.c.customer_id)
        cols.append(lv.c.last_visit)
    else:
        cols.append(sa.null().label("last_visit"))
    cols += [tk.c.open_complaints, tk.c.complaints]
    if with_scores:
        from_ = from_.outerjoin(churn_scores, churn_scores.c.customer_id == c.c.customer_id)
        cols += [churn_scores.c.churn_probability_90d, churn_scores.c.revenue_at_risk]
    else:
        cols += [sa.null().label("churn_probability_90d"), sa.null().label("revenue_at_risk")]
    return sa.select(*cols).select_from(from_).where(*conds)
