"""Which metrics the loaded data supports: per metric of the registry, the rows it reads, how many
of them have every column it needs known, and what is missing (a table empty, a column unknown on
every row). Counted in SQL (one query per table); used by ``servicewatch coverage`` and the Data page.

A column is *known* on a row when it is NOT NULL. For the flags and amounts a source may not have
(``Metric.needs``) NULL means the file had no such column; for the other needed columns (a score,
a time, a due time) NULL on every row means the same in practice: the metric has nothing to count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa

from metrics.model import schema as s
from metrics.model import ticket_status
from metrics.model.i18n import label, t
from metrics.model.registry import METRICS, Metric


@dataclass(frozen=True)
class Need:
    """Rows of ``table`` (only tickets of ``kind`` when set) with every one of ``columns`` (values a
    source may lack: a flag, an amount, a score, a due time) and ``events`` (times: NULL is also
    "not yet", so only a column unknown on every row is reported) known."""

    table: str
    columns: tuple[str, ...] = ()
    kind: str | None = None
    events: tuple[str, ...] = ()

    @property
    def all_columns(self) -> tuple[str, ...]:
        return self.events + self.columns


_T, _S = "tickets", "surveys"
# what each metric reads beyond its own definition's expressions (docs/metrics.md); the first is
# the rows the metric counts (its row in the coverage frame), the others must not be empty either
NEEDS: dict[str, tuple[Need, ...]] = {
    "tickets": (Need(_T),),
    "csat": (Need(_S, ("csat",)),),
    "csat_mean": (Need(_S, ("csat",)),),
    "nps": (Need(_S, ("nps",)),),
    "ces_mean": (Need(_S, ("ces",)),),
    "complaint_rate": (Need(_T, kind="complaint"), Need("customers")),
    "resolution_hours_median": (Need(_T, events=("resolved_at",)),),
    "resolution_hours_p90": (Need(_T, events=("resolved_at",)),),
    "sla_response_compliance": (Need(_T, ("response_due_at",), events=("first_response_at",)),),
    "sla_resolution_compliance": (Need(_T, ("resolution_due_at",), events=("resolved_at",)),),
    "fcr_rate": (Need(_T, ("first_contact_resolved",)),),
    "complaint_fcr_rate": (Need(_T, ("first_contact_resolved",), kind="complaint"),),
    "reopen_rate": (Need(_T, ("reopened",), events=("resolved_at",)),),
    "escalation_rate": (Need(_T, ("escalated",)),),
    "compensation_total": (Need(_T, ("compensation",)),),
    "revisit_rate": (Need(_T, kind="complaint", events=("resolved_at", "revisited_at")),),
    "revisit_satisfaction": (Need(_T, kind="complaint", events=("revisited_at", "revisit_satisfied")),),
    "availability": (Need("services"), Need("outages")),
    # departures: end_date NULL is also "still a customer", so only a column unknown on every row counts
    "churn_rate": (Need("customers"), Need("customers", events=("end_date",))),
    "active_customers": (Need("customers"),),
    "revenue": (Need("billing_monthly", ("revenue",)),),
}
TABLES = {"tickets": s.tickets, "surveys": s.surveys, "customers": s.customers, "services": s.services,
          "outages": s.outages, "billing_monthly": s.billing_monthly}
COLUMNS = ("metric", "label", "table", "rows", "known", "share", "supported", "missing", "note")


def needs_of(m: Metric) -> tuple[Need, ...]:
    """What ``m`` needs (:data:`NEEDS`); KeyError for a metric not declared there."""
    if m.id not in NEEDS:
        raise KeyError(f"coverage: no needs declared for metric {m.id}")
    return NEEDS[m.id]


def validate() -> list[str]:
    """Problems in :data:`NEEDS` (empty when sound): every metric covered, every column exists."""
    problems = []
    for m in METRICS:
        try:
            needs = needs_of(m)
        except KeyError as exc:
            problems.append(str(exc))
            continue
        for n in needs:
            table = TABLES.get(n.table)
            if table is None:
                problems.append(f"{m.id}: unknown table {n.table}")
                continue
            problems += [f"{m.id}: unknown column {n.table}.{c}" for c in n.all_columns if c not in table.c]
        problems += [f"{m.id}: needed column {c} not in its coverage" for c in m.needs if c not in needs[0].columns]
    return problems


def counts(engine: sa.Engine) -> dict[Need, tuple[int, int, int]]:
    """(rows, rows with every column known, rows with its ``columns`` known) of each need of every
    metric: one query per table."""
    needs = {n for m in METRICS for n in needs_of(m)}
    out: dict[Need, tuple[int, int, int]] = {}
    with engine.connect() as conn:
        for name, table in TABLES.items():
            mine = sorted((n for n in needs if n.table == name), key=repr)
            if not mine:
                continue
            cols = []
            for n in mine:
                base = table.c.kind == n.kind if n.kind else sa.true()
                values = sa.and_(base, *[table.c[c].isnot(None) for c in n.columns])
                known = sa.and_(values, *[table.c[c].isnot(None) for c in n.events])
                cols += [sa.func.sum(sa.case((cond, 1), else_=0)) for cond in (base, known, values)]
            row = conn.execute(sa.select(*cols).select_from(table)).one()
            for i, n in enumerate(mine):
                out[n] = tuple(int(v or 0) for v in row[3 * i: 3 * i + 3])
    return out


def _table(name: str, lang: str) -> str:
    return t(f"coverage.table.{name}", lang)


def reason(n: Need, rows: int, known: int, values: int, lang: str, unknown: list[str] | None = None) -> str:
    """What a need lacks, in ``lang`` ("" when nothing): its table empty, columns unknown on every
    row (``unknown``), or its ``columns`` known on only ``values`` of ``rows`` rows."""
    if rows == 0:
        if n.kind:
            return t("coverage.no_kind", lang, kind=label("kind", n.kind, lang))
        return t("coverage.empty", lang, table=_table(n.table, lang))
    names = "、".join if lang == "zh" else ", ".join
    if known == 0:
        cols = names(t(f"coverage.column.{c}", lang) for c in (unknown or n.all_columns))
        return t("coverage.no_column", lang, table=_table(n.table, lang), column=cols)
    if values < rows:
        cols = names(t(f"coverage.column.{c}", lang) for c in n.columns)
        return t("coverage.partial", lang, column=cols, known=f"{values:,}", rows=f"{rows:,}")
    return ""


def coverage(source: sa.Engine | Any, lang: str = "en") -> pd.DataFrame:
    """One row per metric of the registry: ``metric``, ``label``, ``table`` (the rows it counts),
    ``rows``, ``known`` (rows with every needed column known), ``share`` (known ÷ rows), ``supported``
    (every need has rows with its columns known), ``missing`` (what is missing as ``table.column``
    codes, or the table, comma-separated; "" when nothing) and ``note`` (the same in ``lang``, or
    how much is known when partly). ``source``: an engine, or a Warehouse (its engine)."""
    engine = getattr(source, "engine", source)
    got = counts(engine)
    unknown_cols = _all_unknown_columns(engine, got)
    undated = undated_resolved(engine)
    rows = []
    for m in METRICS:
        needs = needs_of(m)
        first = needs[0]
        n_rows, n_known, _ = got[first]
        codes, notes = [], []
        for n in needs:
            r, k, v = got[n]
            if r == 0:
                codes.append(n.table if not n.kind else f"{n.table}[kind={n.kind}]")
            elif k == 0:
                codes += [f"{n.table}.{c}" for c in unknown_cols.get(n, n.all_columns)]
            text = reason(n, r, k, v, lang, unknown_cols.get(n) if k == 0 else None)
            if text:
                notes.append(text)
        if undated and m.id in TIMED_METRICS:
            notes.append(t("coverage.undated", lang, n=f"{undated:,}"))
        supported = all(got[n][1] > 0 for n in needs)  # some row with every needed column known
        rows.append({"metric": m.id, "label": m.label(lang), "table": first.table, "rows": n_rows,
                     "known": n_known, "share": n_known / n_rows if n_rows else float("nan"),
                     "supported": supported, "missing": ",".join(codes), "note": "; ".join(notes)})
    return pd.DataFrame(rows, columns=list(COLUMNS))


# the metrics that read resolution times: a ticket resolved by its status without one is left out
TIMED_METRICS = frozenset({"resolution_hours_median", "resolution_hours_p90", "sla_resolution_compliance"})


def undated_resolved(engine: sa.Engine) -> int:
    """Tickets resolved by their status without a resolution time (0 on a database without
    ``tickets.status``): counted as resolved, left out of :data:`TIMED_METRICS`."""
    t = s.tickets
    with engine.connect() as conn:
        old = conn.dialect.name != "spark" and (  # Spark: file tables, always written whole
            not sa.inspect(conn).has_table(t.name) or not ticket_status.has_column(conn))
        if old:
            return 0
        n = conn.execute(sa.select(sa.func.count()).select_from(t).where(ticket_status.undated(t))).scalar()
    return int(n or 0)


def _all_unknown_columns(engine: sa.Engine, got: dict[Need, tuple[int, int, int]]) -> dict[Need, list[str]]:
    """For needs with rows but none with all columns known: the columns unknown on every row."""
    out: dict[Need, list[str]] = {}
    with engine.connect() as conn:
        for n, (r, k, _) in got.items():
            if r == 0 or k > 0:
                continue
            cols = n.all_columns
            if len(cols) < 2:
                out[n] = list(cols)
                continue
            table = TABLES[n.table]
            base = table.c.kind == n.kind if n.kind else sa.true()
            row = conn.execute(sa.select(*[sa.func.count(table.c[c]) for c in cols])
                               .select_from(table).where(base)).one()
            out[n] = [c for c, v in zip(cols, row, strict=True) if not v] or list(cols)
    return out


def status(df: pd.DataFrame) -> pd.Series:
    """``supported``, ``partly`` (supported, with a note) or ``unsupported`` per row of :func:`coverage`."""
    partly = df["note"].astype(str).str.len() > 0
    return pd.Series(["unsupported" if not ok else "partly" if p else "supported"
                      for ok, p in zip(df["supported"], partly, strict=True)], index=df.index)


def missing_text(metric_id: str, missing: str, lang: str) -> str:
    """The KPI card's line for a figure the data cannot give: "no data: the imported tickets have no
    first_contact_resolved column" (``missing``: the ``missing`` column of a metric's frame)."""
    from metrics.model.registry import get

    m = get(metric_id)
    names = "、".join if lang == "zh" else ", ".join
    cols = names(t(f"coverage.column.{c}", lang) for c in missing.split(",") if c)
    return t("coverage.no_data", lang, reason=t("coverage.no_column", lang, table=_table(m.source, lang),
                                                column=cols))
