"""SLA views the metric registry alone cannot give: availability against the committed targets of
``sla_policies``, and service speed and compliance side by side per tier.

Everything here builds on :meth:`Warehouse.metric` (same filters, same definitions) plus one small
read of ``sla_policies``. No Streamlit; results are tidy frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa

from metrics.analysis import stats
from metrics.model import schema as s
from metrics.model import ticket_status, vocabulary
from metrics.model.filters import Filters
from metrics.model.i18n import catalogue
from metrics.query.warehouse import Warehouse

SERVICE_METRICS = {
    "median_hours": "resolution_hours_median",
    "p90_hours": "resolution_hours_p90",
    "compliance": "sla_resolution_compliance",
    "response_compliance": "sla_response_compliance",
}


def availability_targets(wh: Warehouse) -> pd.DataFrame:
    """The committed circuit availability per SLA level: ``sla_level``, ``target`` (share 0–1).

    ``sla_policies`` repeats the target for every priority; the strictest one is taken.
    """
    p = s.sla_policies
    df = wh.read(sa.select(p.c.sla_level, sa.func.max(p.c.availability_target).label("target"))
                 .group_by(p.c.sla_level))
    df["target"] = pd.to_numeric(df["target"], errors="coerce").astype(float)
    return df.sort_values("sla_level").reset_index(drop=True)


def availability_vs_target(wh: Warehouse, f: Filters) -> pd.DataFrame:
    """Availability per SLA level with its target: ``sla_level``, ``value``, ``n`` (circuits),
    ``lower``, ``upper`` (empty), ``target``, ``met`` (bool), ``gap`` (value − target, share).

    Levels without circuits in scope are left out; a level without a policy has target NaN.
    """
    df = wh.metric("availability", f, ("sla_level",))
    df = df[df["sla_level"].notna() & (df["n"].fillna(0) > 0)]
    df = df.merge(availability_targets(wh), on="sla_level", how="left")
    df["gap"] = df["value"] - df["target"]
    df["met"] = df["value"] >= df["target"]
    return _ladder(df, "sla_level", ladder("sla_level"))


@dataclass(frozen=True)
class DueTimes:
    """Where the loaded tickets' due times come from (all tickets, no filters): ``tickets``, ``given``
    (by the data: ``due_source`` 'file'), ``derived`` (from ``sla_policies``: 'policy') and
    ``policies`` (rows of ``sla_policies``); ``undated``: tickets resolved by their status without a
    resolution time (:mod:`metrics.model.ticket_status`: left out of resolution times and compliance)."""

    tickets: int
    given: int
    derived: int
    policies: int
    undated: int = 0

    @property
    def none(self) -> bool:
        """No ticket has a due time: SLA compliance cannot be computed for any filter."""
        return self.tickets > 0 and self.given + self.derived == 0


def due_times(wh: Warehouse) -> DueTimes:
    """How many tickets have due times, and which way they came (:mod:`metrics.ingest.due_times`).
    A ticket counts as having them when either due time is known (as the derived step classifies it)."""
    t, p = s.tickets, s.sla_policies
    known = sa.or_(t.c.response_due_at.isnot(None), t.c.resolution_due_at.isnot(None))
    derived = sa.and_(known, t.c.due_source == "policy")
    row = wh.read(sa.select(sa.func.count().label("tickets"),
                            sa.func.sum(sa.case((sa.and_(known, ~derived), 1), else_=0)).label("given"),
                            sa.func.sum(sa.case((derived, 1), else_=0)).label("derived"),
                            sa.func.sum(sa.case((ticket_status.undated(t), 1), else_=0)).label("undated"))).iloc[0]
    n_policies = wh.read(sa.select(sa.func.count().label("n")).select_from(p)).iloc[0]["n"]
    return DueTimes(*(int(row[c] or 0) for c in ("tickets", "given", "derived")), int(n_policies or 0),
                    undated=int(row["undated"] or 0))


def policies(wh: Warehouse) -> pd.DataFrame:
    """The SLA commitments: sla_level, priority, response/resolution/on-site hours, availability."""
    p = s.sla_policies
    return _ladder(wh.read(sa.select(p).order_by(p.c.sla_level, p.c.priority)), "sla_level", ladder("sla_level"))


def service_by(wh: Warehouse, f: Filters, dim: str = "tier") -> pd.DataFrame:
    """Resolution speed and SLA compliance per ``dim`` (tier or sla_level), in ladder order.

    Columns: ``dim``, ``median_hours``, ``p90_hours``, ``n_resolved`` (tickets resolved),
    ``compliance``, ``compliance_lower``, ``compliance_upper``, ``n_decided`` (met + breached on the
    resolution clock), ``response_compliance``. Hours are from opening to resolution.
    """
    out = None
    for col, metric_id in SERVICE_METRICS.items():
        m = wh.metric(metric_id, f, (dim,))
        m = m[m[dim].notna()]
        keep = {"value": col}
        if metric_id == "resolution_hours_median":
            keep["n"] = "n_resolved"
        if metric_id == "sla_resolution_compliance":
            keep |= {"lower": "compliance_lower", "upper": "compliance_upper", "n": "n_decided"}
        m = m[[dim, *keep]].rename(columns=keep)
        out = m if out is None else out.merge(m, on=dim, how="outer")
    out = _ladder(out, dim, ladder(dim))
    if dim == "tier":  # the consumer ladder: tiers of customers without an SLA level of their own
        c = s.customers
        consumer = set(wh.read(sa.select(c.c.tier).where(c.c.sla_level.is_(None)).distinct())["tier"].astype(str))
        out.attrs["ladder"] = [v for v in ladder(dim) if v in consumer]
    return out


def ladder(dim: str) -> list[str]:
    """The codes of ``dim`` (tier, sla_level) from most to least valuable, the differentiated-service
    ladder: the data's order (``vocabulary`` table), else the catalogue's. The theme shows the same."""
    rank = vocabulary.rank(dim, vocabulary.section_codes(catalogue(), dim))
    return sorted(rank, key=rank.__getitem__)


@dataclass(frozen=True)
class TierGap:
    """The top and bottom rung of a ladder present in the data, for the plain-words answer."""

    top: str
    bottom: str
    top_median: float
    bottom_median: float
    top_p90: float
    bottom_p90: float
    top_compliance: float
    bottom_compliance: float
    verdict: str  # "yes" (faster and more compliant), "no" (neither faster nor more compliant), "mixed"
    significant: bool  # compliance difference significant at 5% (two-proportion z test) and visible

    def figures(self) -> dict[str, float]:
        """The medians, p90s and compliance of both rungs, for the sentence that answers the question."""
        return {k: getattr(self, k) for k in ("top_median", "bottom_median", "top_p90", "bottom_p90",
                                              "top_compliance", "bottom_compliance")}


def tier_gap(service: pd.DataFrame, dim: str = "tier") -> TierGap | None:
    """Compare the most and least valuable tier present in a :func:`service_by` frame.

    Consumer tiers only for ``dim="tier"`` (enterprise customers have their own SLA levels: the
    frame's ``attrs["ladder"]`` from :func:`service_by`); None when fewer than two rungs have
    resolved tickets.
    """
    rungs = service.attrs.get("ladder") or ladder(dim)
    df = service[service[dim].isin(rungs) & service["median_hours"].notna() & service["compliance"].notna()]
    if len(df) < 2:
        return None
    df = _ladder(df, dim, rungs)
    top, bottom = df.iloc[0], df.iloc[-1]
    k1, n1 = top["compliance"] * top["n_decided"], top["n_decided"]
    k2, n2 = bottom["compliance"] * bottom["n_decided"], bottom["n_decided"]
    p = float(stats.two_proportion_p(k1, n1, k2, n2))
    verdict, visible = tier_verdict(top, bottom)
    return TierGap(str(top[dim]), str(bottom[dim]), float(top["median_hours"]), float(bottom["median_hours"]),
                   float(top["p90_hours"]), float(bottom["p90_hours"]),
                   float(top["compliance"]), float(bottom["compliance"]), verdict,
                   bool(np.isfinite(p) and p < 0.05 and visible))


# the precision the answer quotes its figures with (catalogue page.sla.answer_*): a difference the
# sentence cannot show does not count
SHOWN = {"median_hours": "{:.1f}", "p90_hours": "{:.0f}", "compliance": "{:.0%}"}


def _shown_sign(top: float, bottom: float, fmt: str) -> int:
    """-1, 0, +1: how ``top`` compares with ``bottom`` as the sentence shows them (equal text: 0)."""
    a, b = fmt.format(top), fmt.format(bottom)
    return 0 if a == b or not (np.isfinite(top) and np.isfinite(bottom)) else (1 if top > bottom else -1)


def tier_verdict(top: pd.Series, bottom: pd.Series) -> tuple[str, bool]:
    """("yes" | "no" | "mixed", compliance difference visible) for the top and bottom rung of a
    :func:`service_by` frame, from the figures the answer quotes, as it quotes them.

    Three aspects, each better (+1), the same (0) or worse (−1) for the top rung: the median hours
    (lower is better; equal to one decimal: the same), the p90 hours (to the hour) and the resolution
    compliance (higher is better; the same when the two 95% intervals overlap or the percentages read
    alike). "yes": a faster median and a higher compliance, the p90 not worse; "no": no aspect
    better; "mixed" otherwise. So equal medians or overlapping intervals never give "yes"."""
    median = -_shown_sign(top["median_hours"], bottom["median_hours"], SHOWN["median_hours"])
    p90 = -_shown_sign(top["p90_hours"], bottom["p90_hours"], SHOWN["p90_hours"])
    visible = _shown_sign(top["compliance"], bottom["compliance"], SHOWN["compliance"]) != 0
    lo_t, hi_t = top.get("compliance_lower", np.nan), top.get("compliance_upper", np.nan)
    lo_b, hi_b = bottom.get("compliance_lower", np.nan), bottom.get("compliance_upper", np.nan)
    apart = bool(np.isfinite([lo_t, hi_t, lo_b, hi_b]).all() and (lo_t > hi_b or lo_b > hi_t))
    compliance = _shown_sign(top["compliance"], bottom["compliance"], SHOWN["compliance"]) if apart else 0
    if median > 0 and compliance > 0 and p90 >= 0:
        return "yes", visible
    if max(median, p90, compliance) <= 0:
        return "no", visible
    return "mixed", visible


def _ladder(df: pd.DataFrame, dim: str, rungs: list[str]) -> pd.DataFrame:
    rank = {v: i for i, v in enumerate(rungs)}
    key = df[dim].map(lambda v: (rank.get(str(v), len(rungs)), str(v)))
    return df.iloc[sorted(range(len(df)), key=lambda i: key.iloc[i])].reset_index(drop=True)
