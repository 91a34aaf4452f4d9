"""Features of the churn-risk model: one row per customer and landmark date, from SQL aggregates.

A *landmark* is a day L on which we stand and ask "will this customer leave in the next 90 days?".
For every customer active on L the database computes what a manager would know that morning —
complaints, unresolved complaints and breached commitments in the 90 days before L, the latest
satisfaction and recommendation answers of the year before L (four 90-day windows), billed revenue
of the months starting in the 90 days before L against the 90 days before those — plus the
outcome: did the customer leave in [L, L + 90 days)? Windows keep every count on the same footing
whatever the tenure (a ten-year customer does not look safer for having more tickets in total).
Landmarks are 90 days apart, so a
ticket falls in exactly one window, whose index k = ⌊(S − day − 1) / 90⌋ (S the scoring landmark) is
integer arithmetic: one grouped pass per source (tickets, surveys, billing) serves every landmark,
with no range join. Customers × landmarks is one join with the small landmark table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import sqlalchemy as sa

from metrics.backends.connect import DatabaseError, describe_error, engine_url
from metrics.model import schema as s
from metrics.model import ticket_status
from metrics.model.filters import Filters
from metrics.query.dialect import days_between
from metrics.query.warehouse import Warehouse
from metrics.query.where import midnight, slice_conditions

HORIZON_DAYS = 90
WINDOW_DAYS = 90
CAP = 5  # counts above this are treated as 5 (a few extreme customers should not drive the fit)


@dataclass(frozen=True)
class Landmark:
    id: int
    day: date

    @property
    def ts(self) -> datetime:
        return midnight(self.day)


def landmarks(as_of: date, earliest: date) -> tuple[list[Landmark], Landmark, Landmark]:
    """(training landmarks, holdout landmark, scoring landmark).

    The scoring landmark is the day after the as-of date; the holdout landmark lies 90 days before it
    (its outcomes fill the last 90 days of data); training landmarks step back 90 days at a time
    while at least ``earliest`` (so their outcomes end before the holdout's begin: a time split)."""
    score = Landmark(0, as_of + timedelta(days=1))
    test = Landmark(1, score.day - timedelta(days=HORIZON_DAYS))
    train, day, i = [], test.day - timedelta(days=HORIZON_DAYS), 2
    while day >= earliest:
        train.append(Landmark(i, day))
        day -= timedelta(days=HORIZON_DAYS)
        i += 1
    return train, test, score


def _score_day(lms: list[Landmark]) -> date:
    """S: landmark k is S − 90k days (checked: the event tables index their windows from S)."""
    lm = lms[0]
    score = lm.day + timedelta(days=WINDOW_DAYS * lm.id)
    assert all(x.day + timedelta(days=WINDOW_DAYS * x.id) == score for x in lms), "landmarks 90 days apart"
    return score


def _landmark_table(lms: list[Landmark]) -> sa.Subquery:
    def row(lm: Landmark) -> sa.Select:
        cols = {
            "lm_id": (lm.id, sa.Integer), "lm": (lm.day, sa.Date), "lm_ts": (lm.ts, sa.DateTime),
            "hz": (lm.day + timedelta(days=HORIZON_DAYS), sa.Date),
        }
        return sa.select(*[sa.cast(sa.literal(v, t), t).label(k) for k, (v, t) in cols.items()])

    return sa.union_all(*[row(lm) for lm in lms]).subquery("lms") if len(lms) > 1 else row(lms[0]).subquery("lms")


def sample_condition(customer_id: sa.ColumnElement, tier: sa.ColumnElement,
                     fractions: dict[str, float]) -> sa.ColumnElement | None:
    """A reproducible pseudo-random sample of customers, its fraction per tier: (id·37 mod 1009) <
    1009·fraction. None when every fraction is 1."""
    if all(f >= 1 for f in fractions.values()):
        return None
    bucket = (customer_id * 37) % 1009
    cases = [(tier == t, bucket < int(round(1009 * f))) for t, f in fractions.items() if f < 1]
    return sa.case(*[(cond, sa.case((keep, 1), else_=0)) for cond, keep in cases], else_=1) == 1


def read_frame(wh: Warehouse, stmt: sa.Executable) -> pd.DataFrame:
    """Like ``Warehouse.read`` but fast for large results: DuckDB hands its columns to pandas
    directly (``cursor.df()``, ~8× faster than building rows); other databases go through rows."""
    if wh.dialect != "duckdb":
        return wh.read(stmt)
    try:
        with wh.engine.connect() as conn:
            return conn.execute(wh.adapt(stmt, conn)).cursor.df()
    except sa.exc.SQLAlchemyError as exc:
        raise DatabaseError(describe_error(exc, engine_url(wh.engine))) from None


def table_counts(wh: Warehouse) -> dict[str, int]:
    """Rows in tickets, surveys and billing (the model drops the features of an empty source)."""
    stmt = sa.select(*[sa.select(sa.func.count()).select_from(t).scalar_subquery().label(t.name)
                       for t in (s.tickets, s.surveys, s.billing_monthly)])
    return {k: int(v) for k, v in wh.read(stmt).iloc[0].items()}


def features(wh: Warehouse, f: Filters, lms: list[Landmark], fractions: dict[str, float] | None = None,
             sources: dict[str, int] | None = None) -> pd.DataFrame:
    """One row per (customer active on the landmark day, landmark), in that key order: ids, tier, segment, channel,
    monthly_revenue, tenure_days, event (left within 90 days, as known at the as-of date), time
    (days to leaving, or 90), and the service features (0 where a source has no rows)."""
    as_of = wh.resolve_as_of(f)
    c, lm = s.customers, _landmark_table(lms)
    sample = sample_condition(c.c.customer_id, c.c.tier, fractions or {})
    sources = sources if sources is not None else table_counts(wh)

    known_end = sa.and_(c.c.end_date.isnot(None), c.c.end_date <= sa.cast(sa.literal(as_of, sa.Date), sa.Date))
    left = sa.and_(known_end, c.c.end_date < lm.c.hz)
    conds = [c.c.start_date < lm.c.lm, sa.or_(sa.not_(known_end), c.c.end_date >= lm.c.lm)]
    scope_conds = slice_conditions(f, c, c.c.acquisition_channel) + ([sample] if sample is not None else [])
    conds += scope_conds
    scope = _Scope(tuple(scope_conds))
    base = read_frame(wh, sa.select(
        c.c.customer_id, lm.c.lm_id, c.c.tier, c.c.segment, c.c.acquisition_channel.label("channel"),
        c.c.sla_level, c.c.region_id, c.c.account_manager_id, c.c.monthly_revenue,
        days_between(c.c.start_date, lm.c.lm).label("tenure_days"),
        sa.case((left, 1), else_=0).label("event"),
        sa.case((left, days_between(lm.c.lm, c.c.end_date)), else_=HORIZON_DAYS).label("time"),
    ).select_from(c.join(lm, sa.and_(*conds))))
    keys = ["customer_id", "lm_id"]
    parts = [base]
    score, max_k = _score_day(lms), max(x.id for x in lms)
    if sources.get("tickets"):
        parts.append(_tickets(wh, score, max_k, scope))
    if sources.get("surveys"):
        parts += [_latest(wh, score, max_k, s.surveys.c.csat, "csat_latest", scope),
                  _latest(wh, score, max_k, s.surveys.c.nps, "nps_latest", scope)]
    if sources.get("billing_monthly"):
        parts.append(_billing(wh, score, max_k, scope))
    for p in parts:
        for k in keys:
            p[k] = pd.to_numeric(p[k]).astype("int64")
    df = base.set_index(keys)
    for p in parts[1:]:
        df = df.join(p.set_index(keys), how="left")
    df = df.reset_index()
    for col in ("complaints_90d", "unresolved_complaints_90d", "sla_breaches_90d", "revenue_recent",
                "revenue_prior", "months_recent", "months_prior"):
        df[col] = pd.to_numeric(df.get(col, 0), errors="coerce").fillna(0.0).astype(float) if col in df else 0.0
    for col in ("csat_latest", "nps_latest"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float) if col in df else np.nan
    for col in ("customer_id", "lm_id", "event", "time", "tenure_days"):
        df[col] = pd.to_numeric(df[col]).astype("int64")
    df["monthly_revenue"] = pd.to_numeric(df["monthly_revenue"]).astype(float)
    # in key order, not the database's (which differs between databases and runs): the subsample of
    # the proportional-hazards check and the holdout bootstrap draw rows by position
    return df.sort_values(keys, kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class _Scope:
    """The customers in scope (filters and sample), to restrict event tables by a join."""

    conds: tuple

    def join(self, from_: sa.FromClause, customer_id: sa.ColumnElement) -> tuple[sa.FromClause, list]:
        if not self.conds:
            return from_, []
        c = s.customers
        return from_.join(c, c.c.customer_id == customer_id), list(self.conds)


def _window(col: sa.ColumnElement, score: date) -> sa.ColumnElement:
    """Index k of the 90-day window [S − 90(k+1), S − 90k) holding the day of ``col`` (S = the scoring
    landmark): landmark k's look-back window. Integer arithmetic, no range join."""
    d = days_between(col, sa.cast(sa.literal(score, sa.Date), sa.Date))
    return sa.cast(sa.func.floor((d - 1) / sa.literal(float(WINDOW_DAYS))), sa.Integer)


def _before(col: sa.ColumnElement, k: sa.ColumnElement, score: date) -> sa.ColumnElement:
    """``col`` happened before landmark k (its day before S − 90k)."""
    return days_between(col, sa.cast(sa.literal(score, sa.Date), sa.Date)) > k * WINDOW_DAYS


def _tickets(wh: Warehouse, score: date, max_k: int, scope: _Scope) -> pd.DataFrame:
    t = s.tickets
    k = _window(t.c.opened_at, score)
    complaint = t.c.kind == "complaint"
    # resolved by its status without a time: resolved (the extract's status), never a breach (unknown)
    undated = ticket_status.undated(t)
    resolved_before = sa.or_(sa.and_(t.c.resolved_at.isnot(None), _before(t.c.resolved_at, k, score)), undated)
    unsatisfied = sa.and_(t.c.revisited_at.isnot(None), _before(t.c.revisited_at, k, score),
                          t.c.revisit_satisfied == sa.false())
    unresolved = sa.and_(complaint, sa.or_(sa.not_(resolved_before), unsatisfied))
    breached = sa.and_(t.c.resolution_due_at.isnot(None), _before(t.c.resolution_due_at, k, score),
                       sa.or_(sa.and_(t.c.resolved_at.is_(None), sa.not_(undated)),
                              t.c.resolved_at > t.c.resolution_due_at))
    one = lambda cond: sa.func.sum(sa.case((cond, 1), else_=0))  # noqa: E731
    from_, conds = scope.join(t, t.c.customer_id)
    inner = (sa.select(t.c.customer_id, k.label("lm_id"), complaint.label("complaint"), unresolved.label("unresolved"),
                       breached.label("breached"))
             .select_from(from_).where(*conds, t.c.opened_at < sa.cast(sa.literal(score, sa.Date), sa.DateTime))
             .subquery("tk"))
    stmt = (sa.select(inner.c.customer_id, inner.c.lm_id, one(inner.c.complaint).label("complaints_90d"),
                      one(inner.c.unresolved).label("unresolved_complaints_90d"),
                      one(inner.c.breached).label("sla_breaches_90d"))
            .where(inner.c.lm_id <= max_k).group_by(inner.c.customer_id, inner.c.lm_id))
    return read_frame(wh, stmt)


def _latest(wh: Warehouse, score: date, max_k: int, col: sa.ColumnElement, name: str,
            scope: _Scope) -> pd.DataFrame:
    """The latest non-null answer of ``col`` per customer and 90-day window; a landmark then takes
    the newest among its own and the three windows before (≈ a year)."""
    sv = s.surveys
    k = _window(sv.c.answered_at, score)
    from_, conds = scope.join(sv, sv.c.customer_id)
    inner = (sa.select(sv.c.customer_id, k.label("lm_id"), col.label(name), sv.c.answered_at, sv.c.survey_id)
             .select_from(from_).where(col.isnot(None), *conds,
                                       sv.c.answered_at < sa.cast(sa.literal(score, sa.Date), sa.DateTime))
             .subquery("sv"))
    rn = sa.func.row_number().over(partition_by=(inner.c.customer_id, inner.c.lm_id),
                                   order_by=(inner.c.answered_at.desc(), inner.c.survey_id.desc()))
    ranked = sa.select(inner.c.customer_id, inner.c.lm_id, inner.c[name], rn.label("rn")).where(
        inner.c.lm_id <= max_k + 3).subquery("ranked")
    df = read_frame(wh, sa.select(ranked.c.customer_id, ranked.c.lm_id, ranked.c[name]).where(ranked.c.rn == 1))
    df[name] = pd.to_numeric(df[name]).astype(float)
    df["lm_id"] = pd.to_numeric(df["lm_id"]).astype("int64")
    wide = df.pivot(index="customer_id", columns="lm_id", values=name)
    wide = wide.reindex(columns=range(max_k + 4))
    out = {j: wide[j].fillna(wide[j + 1]).fillna(wide[j + 2]).fillna(wide[j + 3]) for j in range(max_k + 1)}
    long = pd.DataFrame(out).rename_axis(columns="lm_id").stack().rename(name).reset_index()
    return long


def _billing(wh: Warehouse, score: date, max_k: int, scope: _Scope) -> pd.DataFrame:
    """Billed revenue per customer and 90-day window (months whose first day is in it): landmark k's
    recent spend is window k, its prior spend window k + 1."""
    b = s.billing_monthly
    k = _window(b.c.month, score)
    from_, conds = scope.join(b, b.c.customer_id)
    inner = (sa.select(b.c.customer_id, k.label("lm_id"), b.c.revenue).select_from(from_)
             .where(*conds, b.c.month < sa.cast(sa.literal(score, sa.Date), sa.Date)).subquery("bm"))
    df = read_frame(wh, sa.select(inner.c.customer_id, inner.c.lm_id, sa.func.sum(inner.c.revenue).label("revenue"),
                           sa.func.count().label("months"))
                 .where(inner.c.lm_id <= max_k + 1).group_by(inner.c.customer_id, inner.c.lm_id))
    for col in ("lm_id", "revenue", "months"):
        df[col] = pd.to_numeric(df[col])
    recent = df.rename(columns={"revenue": "revenue_recent", "months": "months_recent"})
    prior = df.assign(lm_id=df["lm_id"] - 1).rename(columns={"revenue": "revenue_prior", "months": "months_prior"})
    return recent.merge(prior, on=["customer_id", "lm_id"], how="outer")
