"""The Selects behind :mod:`metrics.analysis.outlets`: the queue histogram (from ``rollup_queue`` when it
answers exactly, else from the queue records), the outlets in scope, CSAT and complaints per outlet,
and the audits' items. Every value is a bound parameter; every query carries the filters' slices and the
user's scope through :func:`metrics.query.where.slice_conditions`, with the region taken as the
outlet's (a city manager sees the outlets of their city) and the tier, segment, SLA level and account
manager as the customer's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime

import sqlalchemy as sa

from metrics.ingest import queue_rollup as qr
from metrics.model import schema as s
from metrics.model.filters import Filters
from metrics.model.registry import Ctx, get
from metrics.query.dialect import days_between
from metrics.query.where import DaySpan, slice_conditions
from metrics.query.where import date_literal as _d
from metrics.query.where import timestamp_literal as _ts

DAY_DIMS = ("outlet_id", "day", "weekday", "hour", "service_type", "tier", "region_id", "kind")  # SQL groups
MONDAY = date(2000, 1, 3)  # weekdays are counted from it


class Bounds(DaySpan):
    """Days [start, stop) of the period up to the as-of date (``stop``: the day after the last one)."""


class _Columns(dict):
    """Columns by name, also as attributes (what :func:`slice_conditions` reads of a table)."""

    def __getattr__(self, name: str) -> sa.ColumnElement:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class _View:
    """A table-like set of columns from several tables: the outlet's region, the customer's tier …"""

    def __init__(self, **columns: sa.ColumnElement) -> None:
        self.c = _Columns(columns)


def _conditions(f: Filters, o: sa.FromClause, tier: sa.ColumnElement, c: sa.FromClause | None,
                outlet: sa.ColumnElement, channel: sa.ColumnElement | None = None) -> list:
    """The filters and scope on a fact at an outlet ``o``: the region is the outlet's, the tier
    ``tier`` (the customer's or the rollup's), the other customer slices those of ``c`` (None: the
    rollup, which is only read when it needs none of them), the outlet filter and a hall manager's
    outlets on the fact's ``outlet``."""
    cols = {"region_id": o.c.region_id, "tier": tier}
    if c is not None:
        cols.update(segment=c.c.segment, sla_level=c.c.sla_level, account_manager_id=c.c.account_manager_id)
    return slice_conditions(f, _View(**cols), channel, outlet)


def rollup_answers(f: Filters) -> bool:
    """Whether ``rollup_queue`` holds every column the filters and scope need (no segment or SLA-level
    slice, no account manager's portfolio)."""
    return not (f.segments or f.sla_levels or (f.scope is not None and f.scope.manager_id is not None))


def queue_histogram(f: Filters, b: Bounds, dims: Sequence[str], outlet_id: int | None, from_rollup: bool,
                    extra: Sequence[sa.ColumnElement] = (), target_minutes: float | None = None) -> sa.Select:
    """``dims`` (of :data:`DAY_DIMS`) and ``wait_min`` with the queue sums (:data:`queue_rollup.SUMS`)
    of the visits that arrived in the period, from the rollup or from the queue records; ``extra``:
    conditions on the outlets (``s.outlets``)."""
    o = s.outlets
    if from_rollup:
        r = qr.rollup_queue
        conds = [r.c.day >= _d(b.start), r.c.day < _d(b.stop), *_conditions(f, o, r.c.tier, None, r.c.outlet_id)]
        cols = [*[r.c[k] for k in qr.KEYS], r.c.wait_min, *[r.c[n] for n in qr.SUMS]]
        by_region = f.regions or (f.scope is not None and f.scope.regions is not None)
        if extra or by_region or {"region_id", "kind"} & set(dims):
            cols += [o.c.region_id, o.c.kind]
            from_ = r.join(o, o.c.outlet_id == r.c.outlet_id)
        else:  # nothing of the outlet's is asked: no join (the rollup's rows are as many as the records)
            from_ = r
        outlet = r.c.outlet_id
    else:
        q, c = s.queue_records, s.customers
        conds = [q.c.arrived_at >= _ts(b.start_ts), q.c.arrived_at < _ts(b.stop_ts),
                 *_conditions(f, o, c.c.tier, c, q.c.outlet_id)]
        cols = [*qr.record_columns(), o.c.region_id, o.c.kind]
        from_ = qr.record_from().join(o, o.c.outlet_id == q.c.outlet_id)
        outlet = q.c.outlet_id
    if outlet_id is not None:
        conds.append(outlet == outlet_id)
    per = sa.select(*cols).select_from(from_).where(*conds, *extra).subquery("per")
    if "weekday" in dims:  # 0 = Monday: whole days since a Monday, modulo 7 (the same on every database)
        per = sa.select(*per.c, (days_between(_d(MONDAY), per.c.day) % 7).label("weekday")).subquery("perw")
    if target_minutes is not None:  # the totals per group: no minute histogram
        return qr.aggregate(per, dims, summed=from_rollup, by_minute=False, target_minutes=target_minutes)
    return qr.aggregate(per, dims, summed=from_rollup)


def queue_totals(f: Filters, b: Bounds, dims: Sequence[str], outlet_id: int | None, from_rollup: bool,
                 target_minutes: float, extra: Sequence[sa.ColumnElement] = ()) -> sa.Select:
    """Per group of ``dims``: the queue sums (:data:`queue_rollup.SUMS`) and ``within`` (waits under
    ``target_minutes``: whole minutes below it), in one aggregate."""
    return queue_histogram(f, b, dims, outlet_id, from_rollup, extra, target_minutes)


def queue_quantiles(f: Filters, b: Bounds, dims: Sequence[str], outlet_id: int | None, from_rollup: bool,
                    extra: Sequence[sa.ColumnElement] = ()) -> sa.Select:
    """Per group of ``dims`` with waits: the median and 90th percentile of the waits in whole minutes
    (``median_wait_min``, ``p90_wait_min``: the midpoint m + 0.5 of the smallest minute m whose cumulative
    count of waits reaches ⌈p × n⌉), computed in the database from the minute histogram with window
    sums (one row per group comes back; the window carries only the counts)."""
    per = queue_histogram(f, b, dims, outlet_id, from_rollup, extra).subquery("h")
    part = [per.c[d] for d in dims]
    h = (sa.select(*part, per.c.wait_min, per.c.waited).where(per.c.wait_min.isnot(None), per.c.waited > 0)
         .subquery("hw"))
    part = [h.c[d] for d in dims]
    w = sa.select(*h.c, sa.func.sum(h.c.waited).over(partition_by=part, order_by=h.c.wait_min, rows=(None, 0))
                  .label("cum"),
                  sa.func.sum(h.c.waited).over(partition_by=part, order_by=h.c.wait_min, rows=(None, None))
                  .label("tot")).subquery("w")  # the same ordering as cum: one sort for both

    def quantile(p: float, name: str) -> sa.ColumnElement:
        need = sa.func.ceil(sa.literal(p, sa.Double) * w.c.tot - sa.literal(1e-9, sa.Double))
        mid = sa.literal(qr.RESOLUTION_MIN / 2, sa.Double)  # the minute bin's midpoint, as outlets.quantile_minutes
        return (sa.func.min(sa.case((w.c.cum >= need, w.c.wait_min))) + mid).label(name)

    keys = [w.c[d] for d in dims]
    return sa.select(*keys, quantile(0.5, "median_wait_min"), quantile(0.9, "p90_wait_min")).group_by(*keys)


def audit_summary(f: Filters, b: Bounds, since: date) -> sa.Select:
    """Per outlet in scope: audits in [``since``, stop) and their mean score (0–100, each audit
    100 × Σ score ÷ Σ max_score)."""
    a, i, o = s.audits, s.audit_items, s.outlets
    per = (sa.select(a.c.outlet_id, a.c.audit_id, sa.func.sum(i.c.score).label("score"),
                     sa.func.sum(i.c.max_score).label("max_score"))
           .select_from(a.join(i, i.c.audit_id == a.c.audit_id).join(o, o.c.outlet_id == a.c.outlet_id))
           .where(a.c.audited_on >= _d(since), a.c.audited_on < _d(b.stop), *outlet_conditions(f, o))
           .group_by(a.c.outlet_id, a.c.audit_id).subquery("per"))
    score = sa.case((per.c.max_score > 0, 100 * per.c.score / per.c.max_score))
    return (sa.select(per.c.outlet_id, sa.func.count().label("audits"), sa.func.avg(score).label("audit_score"))
            .group_by(per.c.outlet_id))


def failure_runs(f: Filters, b: Bounds, fail_below: float, min_repeats: int) -> sa.Select:
    """Runs of audits in a row (per outlet and item, audits that did not check the item skipped) in
    which the item scored below ``fail_below`` × max_score, up to the period's end, of at least
    ``min_repeats``: outlet_id, item, repeats, first_on, last_on, last_no (the run's last audit's place
    in the outlet's audits of the item) and audits_of_item (their count) — gaps and islands in SQL."""
    a, i, o = s.audits, s.audit_items, s.outlets
    failed = sa.case((i.c.score < sa.literal(fail_below, sa.Double) * i.c.max_score, 1), else_=0)
    key, order = [a.c.outlet_id, i.c.item], [a.c.audited_on, a.c.audit_id]
    rows = (sa.select(a.c.outlet_id, i.c.item, a.c.audited_on, failed.label("failed"),
                      sa.func.row_number().over(partition_by=key, order_by=order).label("rn"),
                      sa.func.row_number().over(partition_by=[*key, failed], order_by=order).label("rn_same"),
                      sa.func.count().over(partition_by=key).label("n"))
            .select_from(a.join(i, i.c.audit_id == a.c.audit_id).join(o, o.c.outlet_id == a.c.outlet_id))
            .where(a.c.audited_on < _d(b.stop), *outlet_conditions(f, o)).subquery("rows"))
    island = (rows.c.rn - rows.c.rn_same).label("island")
    return (sa.select(rows.c.outlet_id, rows.c.item, sa.func.count().label("repeats"),
                      sa.func.min(rows.c.audited_on).label("first_on"), sa.func.max(rows.c.audited_on).label("last_on"),
                      sa.func.max(rows.c.rn).label("last_no"), sa.func.max(rows.c.n).label("audits_of_item"))
            .where(rows.c.failed == 1).group_by(rows.c.outlet_id, rows.c.item, island)
            .having(sa.func.count() >= min_repeats))


def outlet_conditions(f: Filters, o: sa.FromClause) -> list:
    """The filters' regions and outlets and the user's scope on the outlet's own region and id (for lists
    of outlets, where the customer's slices do not apply; an account manager sees the outlets of their
    scope's regions, or all, the figures being those of their customers; a hall manager their outlets)."""
    scope = None if f.scope is None else replace(f.scope, manager_id=None)
    return slice_conditions(f.with_(tiers=(), segments=(), sla_levels=(), scope=scope), o, None, o.c.outlet_id)


def outlet_rows(f: Filters, outlet_id: int | None = None) -> sa.Select:
    """The outlets in the filters' regions and the user's scope: outlet_id, name, kind, region_id,
    vip_room, stars, stars_since."""
    o = s.outlets
    conds = outlet_conditions(f, o) + ([o.c.outlet_id == outlet_id] if outlet_id is not None else [])
    return (sa.select(o.c.outlet_id, o.c.name, o.c.kind, o.c.region_id, o.c.vip_room, o.c.stars, o.c.stars_since)
            .where(*conds).order_by(o.c.outlet_id))


def _fact_from(fact: sa.Table, f: Filters) -> sa.FromClause:
    """A fact table at outlets joined to the outlets and its customers only when the filters or the
    scope need them (the conditions of :func:`_conditions` name only those tables' columns)."""
    o, c = s.outlets, s.customers
    from_: sa.FromClause = fact
    scope = f.scope
    if f.regions or (scope is not None and scope.regions is not None):
        from_ = from_.join(o, o.c.outlet_id == fact.c.outlet_id)
    if f.tiers or f.segments or f.sla_levels or (scope is not None and scope.manager_id is not None):
        from_ = from_.outerjoin(c, c.c.customer_id == fact.c.customer_id)
    return from_


def survey_figures(f: Filters, b: Bounds, known: datetime) -> sa.Select:
    """Per outlet: CSAT answers in the period (``csat_n``) and those of 4–5 (``csat_good``), as the
    registry's ``csat``."""
    sv, c, o = s.surveys, s.customers, s.outlets
    csat = get("csat")
    x = Ctx(as_of_end=_ts(known))
    kinds = [sv.c.kind.in_(f.survey_kinds)] if f.survey_kinds else []
    return (sa.select(sv.c.outlet_id, sa.func.sum(sa.case((csat.den(x), 1), else_=0)).label("csat_n"),
                      sa.func.sum(sa.case((sa.and_(csat.den(x), csat.num(x)), 1), else_=0)).label("csat_good"))
            .select_from(_fact_from(sv, f))
            .where(sv.c.outlet_id.isnot(None), sv.c.answered_at >= _ts(b.start_ts), sv.c.answered_at < _ts(b.stop_ts),
                   *kinds,
                   *_conditions(f, o, c.c.tier, c, sv.c.outlet_id, sv.c.channel))
            .group_by(sv.c.outlet_id))


def complaint_figures(f: Filters, b: Bounds) -> sa.Select:
    """Per outlet: tickets of kind ``complaint`` opened at it in the period."""
    t, c, o = s.tickets, s.customers, s.outlets
    return (sa.select(t.c.outlet_id, sa.func.count().label("complaints")).select_from(_fact_from(t, f))
            .where(t.c.outlet_id.isnot(None), t.c.kind == "complaint", t.c.opened_at >= _ts(b.start_ts),
                   t.c.opened_at < _ts(b.stop_ts),
                   *_conditions(f, o, c.c.tier, c, t.c.outlet_id, t.c.channel))
            .group_by(t.c.outlet_id))


def audit_item_rows(f: Filters, b: Bounds, outlet_id: int | None, since: date | None) -> sa.Select:
    """One row per audit item of the outlets in scope audited in [``since`` (None: any time), stop):
    outlet_id, audit_id, audited_on, auditor, item, score, max_score."""
    a, i, o = s.audits, s.audit_items, s.outlets
    conds = [a.c.audited_on < _d(b.stop), *outlet_conditions(f, o)]
    if since is not None:
        conds.append(a.c.audited_on >= _d(since))
    if outlet_id is not None:
        conds.append(a.c.outlet_id == outlet_id)
    return (sa.select(a.c.outlet_id, a.c.audit_id, a.c.audited_on, a.c.auditor, i.c.item, i.c.score, i.c.max_score)
            .select_from(a.join(i, i.c.audit_id == a.c.audit_id).join(o, o.c.outlet_id == a.c.outlet_id))
            .where(*conds).order_by(a.c.outlet_id, a.c.audited_on, a.c.audit_id, i.c.item))


def outlet_complaint_rows(f: Filters, b: Bounds, outlet_id: int, by_category: bool, limit: int = 10) -> sa.Select:
    """The complaints (tickets of kind ``complaint``) opened at the outlet ``outlet_id`` in the period, in
    the filters' customer slices and the user's scope, as :func:`complaint_figures` counts them: per
    category (``by_category``: category, complaints) or the ``limit`` most recent (ticket_id, opened_at,
    category, priority, resolved_at, description — unmasked: the caller masks it)."""
    t, c, o = s.tickets, s.customers, s.outlets
    f = f.with_(channels=())  # as the league: an outlet is itself a channel, the channel slice does not apply
    conds = [t.c.outlet_id == outlet_id, t.c.kind == "complaint", t.c.opened_at >= _ts(b.start_ts),
             t.c.opened_at < _ts(b.stop_ts), *_conditions(f, o, c.c.tier, c, t.c.outlet_id, t.c.channel)]
    from_ = _fact_from(t, f)
    if by_category:
        return (sa.select(t.c.category, sa.func.count().label("complaints")).select_from(from_).where(*conds)
                .group_by(t.c.category))
    return (sa.select(t.c.ticket_id, t.c.opened_at, t.c.category, t.c.priority, t.c.resolved_at, t.c.description)
            .select_from(from_).where(*conds).order_by(t.c.opened_at.desc(), t.c.ticket_id.desc()).limit(limit))
