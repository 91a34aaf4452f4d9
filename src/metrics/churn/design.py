"""The churn model's design matrix, decided by the data: which levels, which terms, and why not others.

No code list is written here: the tiers, segments, acquisition channels and SLA levels are whatever
the training rows hold. Per category the **reference** is the most common level (by training rows);
a level with fewer than ``MIN_LEVEL_ROWS`` rows or fewer than ``MIN_LEVEL_EVENTS`` departures is
**pooled** into ``other`` (a level too small to estimate its own ratio). A candidate term is
**dropped**, with its reason, when its source table is empty, its column holds no values, it is the
same for every training row, or it is determined by the terms before it (e.g. a segment implied by
the tier: the residual of regressing it on them is zero). Terms enter in a fixed order: tier,
segment, channel, SLA level, then the numeric terms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from metrics.churn.features import CAP

CATEGORIES = ("tier", "segment", "channel", "sla_level")  # frame column = term prefix
OTHER, NONE = "other", "none"  # pooled rare levels; a missing (NULL) value
MIN_LEVEL_ROWS = 50
MIN_LEVEL_EVENTS = 5
SERVICE_TERMS = {  # term -> source table it needs
    "complaints_90d": "tickets", "unresolved_complaints_90d": "tickets", "sla_breaches_90d": "tickets",
    "dissatisfied": "surveys", "detractor": "surveys", "spend_decline_10pct": "billing_monthly",
}
NUMERIC = ("tenure_years", *SERVICE_TERMS)
SNAPSHOT_TERMS = ("monthly_revenue_100",)  # customer attributes used only when fitting a snapshot
_RAW = {"dissatisfied": ("csat_latest", "CSAT answers"), "detractor": ("nps_latest", "NPS answers"),
        "spend_decline_10pct": ("months_prior", "billed months before a landmark's window")}


@dataclass(frozen=True)
class Design:
    """What a fit decided: the terms in order, per category its reference, kept levels and pooled
    levels, and each dropped candidate with its reason."""

    terms: tuple[str, ...]
    references: dict[str, str]
    levels: dict[str, tuple[str, ...]]
    pooled: dict[str, tuple[str, ...]]
    dropped: tuple[tuple[str, str], ...]

    def matrix(self, df: pd.DataFrame) -> pd.DataFrame:
        """The model matrix of a feature frame with this design's terms (for scoring new rows)."""
        return _columns(df, self.levels, self.pooled)[list(self.terms)]

    def describe_references(self) -> str:
        return "; ".join(f"{k} = {v}" for k, v in self.references.items())

    def describe_pooled(self) -> str:
        return "; ".join(f"{k}: {', '.join(v)}" for k, v in self.pooled.items() if v)

    def describe_dropped(self) -> str:
        return "; ".join(f"{t}: {r}" for t, r in self.dropped)


def level_values(col: pd.Series) -> pd.Series:
    """Category codes as text; NULL becomes ``none``."""
    return col.astype(object).where(col.notna(), NONE).astype(str)


def numeric_terms(df: pd.DataFrame) -> pd.DataFrame:
    """Tenure in years (capped at 10), counts capped at 5, dissatisfied (latest CSAT ≤ 3), detractor
    (latest NPS ≤ 6), spend decline in tens of percent (recent 90 days' monthly average vs the 90
    days before), monthly revenue per 100."""
    x = pd.DataFrame(index=df.index)
    x["tenure_years"] = np.minimum(df["tenure_days"] / 365.25, 10.0)
    for col in ("complaints_90d", "unresolved_complaints_90d", "sla_breaches_90d"):
        x[col] = np.minimum(df[col], CAP)
    x["dissatisfied"] = (df["csat_latest"] <= 3).astype(float)
    x["detractor"] = (df["nps_latest"] <= 6).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        recent = df["revenue_recent"] / df["months_recent"]
        prior = df["revenue_prior"] / df["months_prior"]
        decline = np.where((df["months_recent"] > 0) & (df["months_prior"] > 0) & (prior > 0),
                           np.clip(1 - recent / prior, 0, 1), 0.0)
    x["spend_decline_10pct"] = 10 * decline
    x["monthly_revenue_100"] = df["monthly_revenue"].astype(float) / 100
    return x


def _columns(df: pd.DataFrame, levels: dict[str, tuple[str, ...]], pooled: dict[str, tuple[str, ...]]) -> pd.DataFrame:
    parts = []
    for cat, kept in levels.items():
        v = level_values(df[cat])
        v = v.where(~v.isin(pooled.get(cat, ())), OTHER)
        parts.append(pd.DataFrame({f"{cat}_{lv}": (v == lv).astype(float) for lv in kept}, index=df.index))
    return pd.concat([*parts, numeric_terms(df)], axis=1)


def decide(df: pd.DataFrame, missing: list[str], snapshot: bool = False) -> Design:
    """The design for training rows ``df`` (with ``event``); ``missing`` lists empty source tables."""
    events = df["event"].to_numpy().astype(bool)
    references, levels, pooled, dropped = {}, {}, {}, []
    for cat in CATEGORIES:
        v = level_values(df[cat])
        rows = v.value_counts()
        ev = v[events].value_counts().reindex(rows.index, fill_value=0)
        rare = tuple(sorted(str(lv) for lv in rows.index
                            if rows[lv] < MIN_LEVEL_ROWS or ev[lv] < MIN_LEVEL_EVENTS))
        v = v.where(~v.isin(rare), OTHER)
        counts = v.value_counts()
        pooled[cat] = rare
        if len(counts) < 2:
            only = counts.index[0] if len(counts) else NONE
            dropped.append((cat, f"one level only ({only}) in the training rows"))
            continue
        ref = str(counts.index[0])  # most common; value_counts sorts by count, ties by first seen
        references[cat] = f"{ref} (most common, {counts.iloc[0] / len(v):.0%} of rows)"
        levels[cat] = tuple(str(lv) for lv in counts.index[1:])
    x = _columns(df, levels, pooled)
    candidates = [c for c in x.columns if c not in (*NUMERIC, *SNAPSHOT_TERMS)] + list(NUMERIC)
    candidates += list(SNAPSHOT_TERMS) if snapshot else []
    kept: list[str] = []
    for term in candidates:
        reason = _why_not(term, df, x, kept, missing)
        if reason:
            dropped.append((term, reason))
        else:
            kept.append(term)
    levels = {cat: tuple(lv for lv in lvs if f"{cat}_{lv}" in kept) for cat, lvs in levels.items()}
    return Design(tuple(kept), references, levels, pooled, tuple(dropped))


def _why_not(term: str, df: pd.DataFrame, x: pd.DataFrame, kept: list[str], missing: list[str]) -> str | None:
    table = SERVICE_TERMS.get(term)
    if table in missing:
        return f"no rows in {table}"
    raw = _RAW.get(term)
    if raw and (df[raw[0]].isna() | (df[raw[0]] == 0)).all():
        return f"no {raw[1]} in the training rows"
    col = x[term].to_numpy(float)
    if np.nanstd(col) == 0:
        return f"the same value ({col[0]:g}) in every training row"
    if kept:
        a = np.column_stack([np.ones(len(col)), x[kept].to_numpy(float)])
        coef, *_ = np.linalg.lstsq(a, col, rcond=None)
        resid = col - a @ coef
        if resid.var() < 1e-10 * col.var():
            names = [k for k, b in zip(kept, coef[1:], strict=True) if abs(b) > 1e-6]
            reason = "determined by " + (", ".join(names) if names else "the other terms")
            cat = next((c for c in CATEGORIES if term.startswith(f"{c}_")), None)
            if cat and any(n.startswith(f"{cat}_") for n in names):  # a nested level: the others' baseline
                reason += f" (so the other {cat} terms compare with {term[len(cat) + 1:]})"
            return reason
    return None
