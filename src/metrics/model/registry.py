"""Every metric, declared once.

A :class:`Metric` says what it means (labels, unit, direction), where it reads (``source``), how
it aggregates (``kind``) and with which row expressions. The compiler (:mod:`metrics.query.compiler`)
turns a metric plus filters plus group-by into one SQLAlchemy Core ``Select``; the engine
(:mod:`metrics.query.warehouse`) finishes the value and its 95% interval from the aggregated columns.
Definitions and their conventions are documented in ``docs/metrics.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa

from metrics.model import dimensions
from metrics.model import schema as s

# Dimensions each source can be cut by (metrics.model.dimensions declares them); `region` groups at a
# chosen level of the hierarchy.
CUSTOMER_DIMS = dimensions.CUSTOMER_DIMS
SOURCE_DIMS: dict[str, tuple[str, ...]] = {
    "tickets": CUSTOMER_DIMS + ("channel", "category", "kind", "priority", "month", "week"),
    "surveys": CUSTOMER_DIMS + ("channel", "survey_kind", "month", "week"),
    "customers": CUSTOMER_DIMS + ("channel", "month"),
    "billing": CUSTOMER_DIMS + ("channel", "month"),
    "availability": CUSTOMER_DIMS + ("month",),
    "complaints": CUSTOMER_DIMS + ("channel", "category", "month"),
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


def _complaint(x: Ctx) -> sa.ColumnElement:
    return x.t.c.kind == "complaint"


def _resolved(x: Ctx) -> sa.ColumnElement:
    return x.known(x.t.c.resolved_at)


def _sla(done: str, due: str) -> tuple[Expr, Expr]:
    """(met, met-or-breached) for an SLA clock: a ticket not done by its due time is breached once
    the due time has passed as of the as-of date; one not done and not yet due is left out."""

    def met(x: Ctx) -> sa.ColumnElement:
        d, u = x.t.c[done], x.t.c[due]
        return sa.and_(u.isnot(None), x.known(d), d <= u)

    def decided(x: Ctx) -> sa.ColumnElement:
        d, u = x.t.c[done], x.t.c[due]
        return sa.and_(u.isnot(None), sa.or_(x.known(d), u < x.as_of_end))

    return met, decided


_resp_met, _resp_decided = _sla("first_response_at", "response_due_at")
_res_met, _res_decided = _sla("resolved_at", "resolution_due_at")


def _resolution_hours(x: Ctx) -> sa.ColumnElement:
    from metrics.query.dialect import hours_between

    return hours_between(x.t.c.opened_at, x.t.c.resolved_at)


METRICS: tuple[Metric, ...] = (
    Metric("tickets", "Tickets", "工单量", "tickets", "count", "tickets", None,
           "Tickets opened in the period."),
    Metric("csat", "CSAT", "满意度", "share", "share", "surveys", True,
           "Share of CSAT answers of 4 or 5 (on 1–5) among all CSAT answers.",
           num=lambda x: x.sv.c.csat >= 4, den=lambda x: x.sv.c.csat.isnot(None)),
    Metric("csat_mean", "CSAT (mean score)", "满意度均分", "score_1_5", "mean", "surveys", True,
           "Mean CSAT answer on the 1–5 scale.", value=lambda x: x.sv.c.csat),
    Metric("nps", "NPS", "净推荐值", "points", "nps", "surveys", True,
           "100 × (share of 9–10 − share of 0–6) among NPS answers."),
    Metric("ces_mean", "Customer effort (mean)", "客户费力度均分", "score_1_7", "mean", "surveys", True,
           "Mean customer-effort answer on the CES 2.0 agreement scale 1–7 (higher: easier).",
           value=lambda x: x.sv.c.ces),
    Metric("complaint_rate", "Complaint rate", "投诉率", "per_1000_customer_months", "rate",
           "complaints", False,
           "Complaints opened per 1,000 active customers per month."),
    Metric("fcr_rate", "First-contact resolution", "首问解决率", "share", "share", "tickets", True,
           "Share of tickets resolved at first contact.",
           num=lambda x: x.t.c.first_contact_resolved, den=lambda x: sa.true(),
           needs=("first_contact_resolved",)),
    Metric("resolution_hours_median", "Resolution time (median)", "处理时长中位数", "hours",
           "quantile", "tickets", False,
           "Median hours from opening to resolution, tickets resolved as of the as-of date.",
           value=_resolution_hours, where=_resolved, q=0.5),
    Metric("resolution_hours_p90", "Resolution time (p90)", "处理时长P90", "hours", "quantile",
           "tickets", False, "90th percentile of hours from opening to resolution.",
           value=_resolution_hours, where=_resolved, q=0.9),
    Metric("sla_response_compliance", "SLA response compliance", "SLA响应达标率", "share", "share",
           "tickets", True, "Responses on time ÷ (on time + breached); not-yet-due open tickets excluded.",
           num=_resp_met, den=_resp_decided),
    Metric("sla_resolution_compliance", "SLA resolution compliance", "SLA修复达标率", "share", "share",
           "tickets", True, "Resolutions on time ÷ (on time + breached); open past due counts as breached.",
           num=_res_met, den=_res_decided),
    Metric("reopen_rate", "Reopen rate", "重开率", "share", "share", "tickets", False,
           "Share of resolved tickets that were reopened.",
           num=lambda x: x.t.c.reopened, den=_resolved, needs=("reopened",)),
    Metric("escalation_rate", "Escalation rate", "升级率", "share", "share", "tickets", False,
           "Share of tickets escalated.", num=lambda x: x.t.c.escalated, den=lambda x: sa.true(),
           needs=("escalated",)),
    Metric("revisit_rate", "Revisit completion", "回访完成率", "share", "share", "tickets", True,
           "Share of resolved complaints revisited (回访) as of the as-of date.",
           num=lambda x: x.known(x.t.c.revisited_at), den=_resolved, fixed_kinds=("complaint",)),
    Metric("revisit_satisfaction", "Revisit satisfaction", "回访满意率", "share", "share", "tickets",
           True, "Share of revisited complaints where the customer said they were satisfied.",
           num=lambda x: x.t.c.revisit_satisfied == sa.true(),
           den=lambda x: sa.and_(x.known(x.t.c.revisited_at), x.t.c.revisit_satisfied.isnot(None)),
           fixed_kinds=("complaint",)),
    Metric("compensation_total", "Compensation paid", "赔付金额", "currency", "sum", "tickets", False,
           "Sum of SLA compensation on tickets opened in the period (CNY).",
           value=lambda x: x.t.c.compensation, where=lambda x: x.t.c.compensation > 0,
           needs=("compensation",)),
    Metric("availability", "Circuit availability", "专线可用率", "share", "availability",
           "availability", True, "1 − downtime ÷ in-service time of the enterprise circuits in scope."),
    Metric("churn_rate", "Churn rate (monthly)", "月流失率", "share_per_month", "rate", "customers",
           False, "Customers leaving in the period ÷ customer-months at risk."),
    Metric("active_customers", "Active customers", "在网客户数", "customers", "stock", "customers",
           True, "Customers active on the last day of the period (or month)."),
    Metric("revenue", "Revenue", "收入", "currency", "sum", "billing", True,
           "Billed revenue of the months that start in the period (CNY)."),
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


def validate() -> list[str]:
    """Problems in the registry (empty when sound): kinds, sources, dims, required expressions."""
    problems = []
    for m in METRICS:
        if m.kind not in KINDS:
            problems.append(f"{m.id}: unknown kind {m.kind}")
        if m.source not in SOURCE_DIMS:
            problems.append(f"{m.id}: unknown source {m.source}")
        problems += [f"{m.id}: unknown dimension {d}" for d in m.dims if d not in DIMENSIONS]
        if m.kind == "share" and (m.num is None or m.den is None):
            problems.append(f"{m.id}: share needs num and den")
        if m.kind in ("mean", "quantile") and m.value is None:
            problems.append(f"{m.id}: {m.kind} needs value")
        if m.kind == "quantile" and not (m.q and 0 < m.q < 1):
            problems.append(f"{m.id}: quantile needs q in (0, 1)")
        if m.needs and (m.source not in ("tickets", "surveys") or m.kind not in ("share", "mean", "sum")):
            problems.append(f"{m.id}: needs applies to share, mean and sum metrics of tickets or surveys")
        fact = s.tickets if m.source == "tickets" else s.surveys
        problems += [f"{m.id}: needs unknown column {col}" for col in m.needs if col not in fact.c]
    if len(BY_ID) != len(METRICS):
        problems.append("duplicate metric ids")
    return problems
