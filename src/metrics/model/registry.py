"""Every metric, declared once.

A :class:`Metric` says what it means (labels, unit, direction), where it reads (``source``), how
it aggregates (``kind``) and with which row expressions. The compiler (:mod:`metrics.query.compiler`)
turns a metric plus filters plus group-by into one SQLAlchemy Core ``Select``; the engine
(:mod:`metrics.query.warehouse`) finishes the value and its 95% interval from the aggregated columns.
Definitions and their conventions are documented in ``docs/metrics.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import sqlalchemy as sa

from metrics.model import dimensions, ticket_status
from metrics.model import schema as s
from metrics.model.exposures import CUSTOMER_MONTHS, EXPOSURES, SERVICE_HOURS, Exposure, Span

# Dimensions each source can be cut by (metrics.model.dimensions declares them); `region` groups at a
# chosen level of the hierarchy.
CUSTOMER_DIMS = dimensions.CUSTOMER_DIMS
SOURCE_DIMS: dict[str, tuple[str, ...]] = {
    "tickets": CUSTOMER_DIMS + ("channel", "outlet", "category", "kind", "priority", "month", "week"),
    "surveys": CUSTOMER_DIMS + ("channel", "outlet", "survey_kind", "month", "week"),
    "customers": CUSTOMER_DIMS + ("channel", "month"),
    "billing": CUSTOMER_DIMS + ("channel", "month"),
    "availability": CUSTOMER_DIMS + ("month",),
    "complaints": CUSTOMER_DIMS + ("channel", "outlet", "category", "month"),
}
DIMENSIONS = dimensions.NAMES
KINDS = ("share", "mean", "nps", "rate", "quantile", "count", "sum", "stock", "availability")


@dataclass(frozen=True)
class Ctx:
    """What a row expression may refer to: the tables and the as-of instant (exclusive)."""

    as_of_end: sa.ColumnElement  # timestamp: midnight after the as-of day
    t: sa.Table = s.tickets
    sv: sa.Table = s.surveys
    c: sa.Table = s.customers
    b: sa.Table = s.billing_monthly

    def known(self, col: sa.ColumnElement) -> sa.ColumnElement:
        """True when the event in ``col`` happened and is known as of the as-of date."""
        return sa.and_(col.isnot(None), col < self.as_of_end)

    def unknown(self, col: sa.ColumnElement) -> sa.ColumnElement:
        return sa.or_(col.is_(None), col >= self.as_of_end)


Expr = Callable[[Ctx], sa.ColumnElement]


@dataclass(frozen=True)
class Metric:
    """One metric. ``num``/``den`` are row conditions (share kind); ``value`` a row value
    (mean, quantile, sum); ``where`` restricts the rows; ``q`` is the quantile.

    Over time at risk (``exposure``, :class:`Exposure`; expressions over a :class:`Span`): a rate
    counts ``num`` per exposure row and bucket (churns), or the rows of ``events_from`` (tickets of
    ``fixed_kinds`` meeting ``where``: complaints), per ``per`` units of exposure; a stock counts the
    rows where ``value`` holds at the bucket's end; an availability is 1 − ``num`` (hours on the
    exposure's event rows where ``where``) ÷ the exposure. ``interval``: how the 95% interval is
    made (``poisson``: exact Garwood; None: none).

    ``needs``: columns of the source table that a source may leave unknown (NULL: the file had no
    such column). A row counts only where they are all known; a group whose rows all have one
    unknown is *missing* (value NaN, n 0, the columns named), never 0 (docs/metrics.md)."""

    id: str
    label_en: str
    label_zh: str
    unit: str
    kind: str
    source: str
    higher_is_better: bool | None
    description: str
    num: Expr | None = None
    den: Expr | None = None
    value: Expr | None = None
    where: Expr | None = None
    q: float | None = None
    fixed_kinds: tuple[str, ...] = ()
    dims: tuple[str, ...] = field(default=())
    needs: tuple[str, ...] = ()
    decimals: int | None = None  # as shown (shares as %); None: the unit's (metrics.present.formatting)
    exposure: Exposure | None = None
    events_from: str | None = None
    per: float = 1.0
    interval: str | None = None

    def __post_init__(self) -> None:
        if not self.dims:
            object.__setattr__(self, "dims", SOURCE_DIMS[self.source])

    def label(self, lang: str) -> str:
        return self.label_zh if lang == "zh" else self.label_en

    def known(self, x: Ctx) -> sa.ColumnElement:
        """True on a row whose ``needs`` columns are all known (NOT NULL)."""
        t = x.t if self.source == "tickets" else x.sv
        return sa.and_(sa.true(), *[t.c[col].isnot(None) for col in self.needs])

    def covered(self, x: Ctx) -> sa.ColumnElement:
        """The rows the metric would count were every ``needs`` column known: a share's
        denominator; all rows of the source otherwise (``where`` may read the unknown column)."""
        return self.den(x) if self.kind == "share" else sa.true()


def _resolved(x: Ctx) -> sa.ColumnElement:
    """Resolved as of the as-of date: by its resolution time or by its status (model.ticket_status)."""
    return ticket_status.resolved(x.t, x.as_of_end)


def _timed(x: Ctx) -> sa.ColumnElement:
    """Resolved with a known resolution time (durations: a status without a time has none)."""
    return x.known(x.t.c.resolved_at)


def _sla(done: str, due: str, unknown: Expr | None = None) -> tuple[Expr, Expr]:
    """(met, met-or-breached) for an SLA clock: a ticket not done by its due time is breached once
    the due time has passed as of the as-of date; one not done and not yet due is left out, and so
    is one whose outcome is ``unknown`` (resolved by its status, without a time)."""

    def met(x: Ctx) -> sa.ColumnElement:
        d, u = x.t.c[done], x.t.c[due]
        return sa.and_(u.isnot(None), x.known(d), d <= u)

    def decided(x: Ctx) -> sa.ColumnElement:
        d, u = x.t.c[done], x.t.c[due]
        past_due = u < x.as_of_end if unknown is None else sa.and_(u < x.as_of_end, sa.not_(unknown(x)))
        return sa.and_(u.isnot(None), sa.or_(x.known(d), past_due))

    return met, decided


_resp_met, _resp_decided = _sla("first_response_at", "response_due_at")
_res_met, _res_decided = _sla("resolved_at", "resolution_due_at", lambda x: ticket_status.undated(x.t))


def _resolution_hours(x: Ctx) -> sa.ColumnElement:
    from metrics.query.dialect import hours_between

    return hours_between(x.t.c.opened_at, x.t.c.resolved_at)


def _restored(x: Span) -> sa.ColumnElement:
    """An outage's end: its restoration, or the as-of instant while it lasts."""
    return sa.func.coalesce(x.o.c.restored_at, x.as_of_end)


def _outage_hours(x: Span) -> sa.ColumnElement:
    """Hours of an outage inside the bucket (negative when it lies outside: counted as 0)."""
    from metrics.query.dialect import hours_between

    return hours_between(sa.func.greatest(x.o.c.started_at, x.start_ts), sa.func.least(_restored(x), x.stop_ts))


def _outage_in_bucket(x: Span) -> sa.ColumnElement:
    return sa.and_(x.o.c.started_at < x.stop_ts, _restored(x) > x.start_ts)


METRICS: tuple[Metric, ...] = (
    Metric(id="tickets", label_en="Tickets", label_zh="工单量",
           unit="tickets", kind="count", source="tickets", higher_is_better=None,
           description="Tickets opened in the period."),
    Metric(id="csat", label_en="CSAT", label_zh="满意度",
           unit="share", kind="share", source="surveys", higher_is_better=True,
           description="Share of CSAT answers of 4 or 5 (on 1–5) among all CSAT answers.",
           num=lambda x: x.sv.c.csat >= 4, den=lambda x: x.sv.c.csat.isnot(None)),
    Metric(id="csat_mean", label_en="CSAT (mean score)", label_zh="满意度均分",
           unit="score_1_5", kind="mean", source="surveys", higher_is_better=True,
           description="Mean CSAT answer on the 1–5 scale.",
           value=lambda x: x.sv.c.csat),
    Metric(id="nps", label_en="NPS", label_zh="净推荐值",
           unit="points", kind="nps", source="surveys", higher_is_better=True,
           description="100 × (share of 9–10 − share of 0–6) among NPS answers.",
           value=lambda x: x.sv.c.nps),
    Metric(id="ces_mean", label_en="Customer effort (mean)", label_zh="客户费力度均分",
           unit="score_1_7", kind="mean", source="surveys", higher_is_better=True,
           description="Mean customer-effort answer on the CES 2.0 agreement scale 1–7 (higher: easier).",
           value=lambda x: x.sv.c.ces),
    Metric(id="complaint_rate", label_en="Complaint rate", label_zh="投诉率",
           unit="per_1000_customer_months", kind="rate", source="complaints", higher_is_better=False,
           description="Complaints opened per 1,000 active customers per month.",
           exposure=CUSTOMER_MONTHS, events_from="tickets", fixed_kinds=("complaint",), per=1000.0,
           interval="poisson"),
    Metric(id="fcr_rate", label_en="First-contact resolution", label_zh="首问解决率",
           unit="share", kind="share", source="tickets", higher_is_better=True,
           description="Share of tickets resolved at first contact.",
           num=lambda x: x.t.c.first_contact_resolved, den=lambda x: sa.true(), needs=("first_contact_resolved",)),
    Metric(id="complaint_fcr_rate", label_en="Complaint first-contact resolution", label_zh="投诉首问解决率",
           unit="share", kind="share", source="tickets", higher_is_better=True,
           description="Share of complaints resolved at first contact (fcr_rate over complaint tickets only).",
           num=lambda x: x.t.c.first_contact_resolved, den=lambda x: sa.true(), fixed_kinds=("complaint",),
           needs=("first_contact_resolved",)),
    Metric(id="resolution_hours_median", label_en="Resolution time (median)", label_zh="处理时长中位数",
           unit="hours", kind="quantile", source="tickets", higher_is_better=False,
           description="Median hours from opening to resolution, tickets resolved as of the as-of date.",
           value=_resolution_hours, where=_timed, q=0.5),
    Metric(id="resolution_hours_p90", label_en="Resolution time (p90)", label_zh="处理时长P90",
           unit="hours", kind="quantile", source="tickets", higher_is_better=False,
           description="90th percentile of hours from opening to resolution.",
           value=_resolution_hours, where=_timed, q=0.9),
    Metric(id="sla_response_compliance", label_en="SLA response compliance", label_zh="SLA响应达标率",
           unit="share", kind="share", source="tickets", higher_is_better=True,
           description="Responses on time ÷ (on time + breached); not-yet-due open tickets excluded.",
           num=_resp_met, den=_resp_decided),
    Metric(id="sla_resolution_compliance", label_en="SLA resolution compliance", label_zh="SLA修复达标率",
           unit="share", kind="share", source="tickets", higher_is_better=True,
           description="Resolutions on time ÷ (on time + breached); open past due counts as breached; "
                       "resolved without a time left out.",
           num=_res_met, den=_res_decided),
    Metric(id="reopen_rate", label_en="Reopen rate", label_zh="重开率",
           unit="share", kind="share", source="tickets", higher_is_better=False,
           description="Share of resolved tickets that were reopened.",
           num=lambda x: x.t.c.reopened, den=_resolved, needs=("reopened",)),
    Metric(id="escalation_rate", label_en="Escalation rate", label_zh="升级率",
           unit="share", kind="share", source="tickets", higher_is_better=False,
           description="Share of tickets escalated.",
           num=lambda x: x.t.c.escalated, den=lambda x: sa.true(), needs=("escalated",)),
    Metric(id="revisit_rate", label_en="Revisit completion", label_zh="回访完成率",
           unit="share", kind="share", source="tickets", higher_is_better=True,
           description="Share of resolved complaints revisited (回访) as of the as-of date.",
           num=lambda x: x.known(x.t.c.revisited_at), den=_resolved, fixed_kinds=("complaint",)),
    Metric(id="revisit_satisfaction", label_en="Revisit satisfaction", label_zh="回访满意率",
           unit="share", kind="share", source="tickets", higher_is_better=True,
           description="Share of revisited complaints where the customer said they were satisfied.",
           num=lambda x: x.t.c.revisit_satisfied == sa.true(),
           den=lambda x: sa.and_(x.known(x.t.c.revisited_at), x.t.c.revisit_satisfied.isnot(None)),
           fixed_kinds=("complaint",)),
    Metric(id="compensation_total", label_en="Compensation paid", label_zh="赔付金额",
           unit="currency", kind="sum", source="tickets", higher_is_better=False,
           description="Sum of SLA compensation on tickets opened in the period (CNY).",
           value=lambda x: x.t.c.compensation, where=lambda x: x.t.c.compensation > 0, needs=("compensation",)),
    Metric(id="availability", label_en="Circuit availability", label_zh="专线可用率",
           unit="share", kind="availability", source="availability", higher_is_better=True,
           description="1 − downtime ÷ in-service time of the enterprise circuits in scope.", decimals=2,
           exposure=SERVICE_HOURS, num=_outage_hours, where=_outage_in_bucket),
    Metric(id="churn_rate", label_en="Churn rate (monthly)", label_zh="月流失率",
           unit="share_per_month", kind="rate", source="customers", higher_is_better=False,
           description="Customers leaving in the period ÷ customer-months at risk.",
           exposure=CUSTOMER_MONTHS, num=lambda x: sa.and_(x.ended >= x.start, x.ended < x.stop),
           interval="poisson"),
    Metric(id="active_customers", label_en="Active customers", label_zh="在网客户数",
           unit="customers", kind="stock", source="customers", higher_is_better=True,
           description="Customers active on the last day of the period (or month).",
           exposure=CUSTOMER_MONTHS,
           value=lambda x: sa.and_(x.c.c.start_date < x.stop, sa.or_(x.ended.is_(None), x.ended >= x.stop))),
    Metric(id="revenue", label_en="Revenue", label_zh="收入",
           unit="currency", kind="sum", source="billing", higher_is_better=True,
           description="Billed revenue of the months that start in the period (CNY).",
           value=lambda x: x.b.c.revenue),
)

BY_ID: dict[str, Metric] = {m.id: m for m in METRICS}


class UnknownMetric(KeyError):
    pass


def dim_column(dim: str) -> str:
    """Name of the result column for a group-by dimension (``region`` → ``region_id``)."""
    d = dimensions.BY_NAME.get(dim)
    return d.result_column if d is not None else dim


def get(metric_id: str) -> Metric:
    try:
        return BY_ID[metric_id]
    except KeyError:
        raise UnknownMetric(metric_id) from None


def events_of(m: Metric) -> Metric:
    """The events a rate counts on event rows (``events_from``): the count metric of that source,
    narrowed to ``m.fixed_kinds`` and ``m.where`` (complaint rate: the tickets of kind complaint)."""
    count = next(k for k in METRICS if k.source == m.events_from and k.kind == "count")
    return replace(count, fixed_kinds=m.fixed_kinds, where=m.where)


EXPOSED_KINDS = ("rate", "stock", "availability")
_SPAN = Span(*[sa.literal(None, sa.Date)] * 5, as_of_end=sa.literal(None, sa.DateTime))


def _exposure_problems(m: Metric) -> list[str]:
    """A metric over time at risk: its kind is one, its exposure is declared, the expressions it
    needs are there, build against the data model and read only the exposure's tables."""
    if (m.kind in EXPOSED_KINDS) != (m.exposure is not None):
        return [f"{m.id}: kinds {', '.join(EXPOSED_KINDS)} and only they declare an exposure"]
    if m.exposure is None:
        return [f"{m.id}: {name} applies to metrics over an exposure" for name in ("events_from", "interval")
                if getattr(m, name) is not None]
    e, problems = m.exposure, []
    if EXPOSURES.get(e.name) is not e:
        problems.append(f"{m.id}: unknown exposure {e.name}")
    if m.interval not in ({"rate": ("poisson", None)}.get(m.kind, (None,))):
        problems.append(f"{m.id}: kind {m.kind} has no interval {m.interval}")
    if not m.per > 0:
        problems.append(f"{m.id}: per must be positive")
    if m.events_from is not None:
        if m.kind != "rate" or e is not CUSTOMER_MONTHS or m.num is not None:
            problems.append(f"{m.id}: events_from counts a rate's events on customer-months instead of num")
        if not any(k.source == m.events_from and k.kind == "count" for k in METRICS):
            problems.append(f"{m.id}: events_from {m.events_from} has no count metric")
    else:
        wanted = {"rate": ("num",), "stock": ("value",), "availability": ("num", "where")}[m.kind]
        problems += [f"{m.id}: {m.kind} needs {name}" for name in wanted if getattr(m, name) is None]
    if m.fixed_kinds and m.events_from != "tickets":
        problems.append(f"{m.id}: fixed_kinds applies to events counted on tickets")
    allowed = {e.table.name, "customers"} | ({e.events.name} if e.events is not None else set())
    exprs = {"num": m.num, "den": m.den, "value": m.value, "where": m.where if m.events_from is None else None,
             "begin": e.begin, "end": e.end, "alive": e.alive}
    problems += _built_problems(m, exprs, _SPAN, allowed, "its exposure")
    if m.events_from is not None:  # where narrows the event rows
        problems += _built_problems(m, {"where": m.where}, Ctx(as_of_end=sa.literal(None, sa.DateTime)),
                                    {m.events_from, "customers"}, "its events")
    return problems


def _built_problems(m: Metric, exprs: dict, x: Ctx | Span, allowed: set[str] | None, scope: str) -> list[str]:
    """Each expression builds over ``x`` (every column it names exists) and reads only ``allowed``."""
    problems = []
    for name, expr in exprs.items():
        if expr is None:
            continue
        try:
            built = expr(x)
        except (AttributeError, KeyError) as exc:
            problems.append(f"{m.id}: {name} names a column the data model lacks ({exc})")
            continue
        tables = {c.table.name for c in sa.sql.visitors.iterate(built) if isinstance(c, sa.Column)}
        if allowed is not None and not tables <= allowed:
            problems.append(f"{m.id}: {name} reads {', '.join(sorted(tables - allowed))} outside {scope}")
    return problems


def _expression_problems(m: Metric) -> list[str]:
    """Each row expression of ``m`` builds against the data model (every column it names exists)
    and reads only the tables of the metric's source."""
    if m.exposure is not None:
        return _exposure_problems(m)
    allowed = {"tickets": {"tickets", "customers"}, "surveys": {"surveys", "customers"},
               "billing": {"billing_monthly", "customers"}}.get(m.source)
    exprs = {name: getattr(m, name) for name in ("num", "den", "value", "where")}
    return _built_problems(m, exprs, Ctx(as_of_end=sa.literal(None, sa.DateTime)), allowed, "its source")


def validate() -> list[str]:
    """Problems in the registry (empty when sound): kinds, sources, dims, required expressions, the
    columns the expressions name (tests/test_architecture.py runs it)."""
    problems = []
    for m in METRICS:
        if m.kind not in KINDS:
            problems.append(f"{m.id}: unknown kind {m.kind}")
        if m.source not in SOURCE_DIMS:
            problems.append(f"{m.id}: unknown source {m.source}")
        problems += [f"{m.id}: unknown dimension {d}" for d in m.dims if d not in DIMENSIONS]
        if m.kind == "share" and (m.num is None or m.den is None):
            problems.append(f"{m.id}: share needs num and den")
        if m.kind in ("mean", "quantile", "nps", "sum") and m.value is None:
            problems.append(f"{m.id}: {m.kind} needs value")
        problems += _expression_problems(m) + (_exposure_problems(m) if m.exposure is None else [])
        if m.kind == "quantile" and not (m.q and 0 < m.q < 1):
            problems.append(f"{m.id}: quantile needs q in (0, 1)")
        if m.needs and (m.source not in ("tickets", "surveys") or m.kind not in ("share", "mean", "sum")):
            problems.append(f"{m.id}: needs applies to share, mean and sum metrics of tickets or surveys")
        fact = s.tickets if m.source == "tickets" else s.surveys
        problems += [f"{m.id}: needs unknown column {col}" for col in m.needs if col not in fact.c]
    if len(BY_ID) != len(METRICS):
        problems.append("duplicate metric ids")
    return problems
