"""Key drivers of satisfaction (issue 17 item 2): which parts of the service experience move CSAT,
NPS and CES, as relative importance with bootstrap intervals, and how a unit performs on each.

**Rows.** Post-interaction surveys answered in the period, each joined to the ticket it rates and
to the customer (only they have a service experience to explain: relationship and mystery-shopper
surveys rate no ticket), read with ONE SQL query that also computes every driver per row: hours to
resolution, first-contact resolution, reopened, escalated, SLA resolution breached (the registry's
``sla_resolution_compliance`` conditions: met / decided), revisited before the answer, the
customer's contacts (tickets) in the 90 days up to the rated ticket, the ticket's channel and kind
and the customer's tier. The filters apply as for every survey metric (public where-clauses,
scope included) plus the ticket filters (category, priority, ticket kind). Above :data:`ROW_CAP`
surveys, a fixed pseudo-random sample of :data:`ROW_CAP` is drawn in SQL (ordered by a hash of the
survey id), so the same data always gives the same sample; the number eligible is reported.

**Model.** The score (CSAT 1–5, NPS 0–10, CES 1–7 as points) on all drivers by least squares;
a categorical driver is its block of dummy columns (reference: its most frequent level; levels with
fewer than :data:`MIN_LEVEL_ROWS` rows pooled), hours to resolution enter as log(1 + hours), contacts
capped at :data:`MAX_CONTACTS`. Importance is the Shapley decomposition of (adjusted) R² over the
driver groups, LMG (:mod:`metrics.analysis.relative_importance`, which says why LMG rather than
relative weights), with percentile-bootstrap intervals (:data:`N_BOOT` resamples, seed
:data:`SEED`). A driver whose column is unknown (NULL) on every row — the source had no such column —
or known on fewer than :data:`MIN_KNOWN` of the rows, or without variation, is left out with that
reason; the model uses the rows where every remaining driver is known.

**Performance.** For the drivers that are a service outcome (not the mix of channels, tiers and
kinds), the share of rated tickets where it went well (resolved within :data:`GOOD_HOURS` h, at
first contact, not reopened, …) for a unit and for the organisation, with Wilson intervals.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import sqlalchemy as sa

from metrics.analysis import stats
from metrics.analysis.relative_importance import lmg
from metrics.model import registry
from metrics.model import schema as s
from metrics.model.filters import Filters
from metrics.model.registry import Ctx
from metrics.query.compiler import Window
from metrics.query.dialect import hours_after, hours_between
from metrics.query.warehouse import Warehouse
from metrics.query.where import slice_conditions, timestamp_literal

SCORES = ("csat", "nps", "ces")
ROW_CAP = 50_000  # surveys in the model at most: above it a fixed sample (the bootstrap's cost grows with the rows)
N_BOOT = 200  # bootstrap resamples of the rows
SEED = 20261206
MIN_ROWS = 200  # fewer complete rows: no model (importance on a handful of answers would be noise)
MIN_KNOWN = 0.5  # a driver known on fewer of the rows than this is left out
MIN_LEVEL_ROWS = 30  # a channel/tier/kind level with fewer rows is pooled into "other"
MAX_CONTACTS = 10  # contacts in 90 days counted up to this
GOOD_HOURS = 24.0  # performance: resolved within this many hours
CONTACT_WINDOW_HOURS = 90 * 24.0
OTHER = "other"


@dataclass(frozen=True)
class Driver:
    """One driver: ``kind`` flag (0/1), number or category; ``good``: the performance test on its
    row value (None: a mix, not a performance)."""

    name: str
    kind: str
    good: str | None = None  # "one", "zero", "within_hours", "single"


DRIVERS = (
    Driver("resolution_hours", "number", "within_hours"),
    Driver("first_contact_resolved", "flag", "one"),
    Driver("reopened", "flag", "zero"),
    Driver("escalated", "flag", "zero"),
    Driver("sla_breached", "flag", "zero"),
    Driver("revisited", "flag", "one"),
    Driver("contacts_90d", "number", "single"),
    Driver("channel", "category"),
    Driver("tier", "category"),
    Driver("ticket_kind", "category"),
)
BY_NAME = {d.name: d for d in DRIVERS}


@dataclass(frozen=True)
class DriversResult:
    """The key-driver model of one score. ``importance``: one row per driver in the model (driver,
    kind, importance, lower, upper, includes_zero, share (of the explained R²), direction, beta,
    beta_lower, beta_upper, rank), strongest first; ``left_out``: driver, reason (``unknown``,
    ``sparse``, ``constant``), known (share of rows); ``coefficients``: driver, level, beta, lower,
    upper (a category's levels against ``reference``). ``reason`` is set (``too_few``) when no model
    could be fitted."""

    score: str
    importance: pd.DataFrame
    left_out: pd.DataFrame
    coefficients: pd.DataFrame
    n: int
    n_eligible: int
    r2: float = float("nan")
    r2_adj: float = float("nan")
    r2_lower: float = float("nan")
    r2_upper: float = float("nan")
    n_boot: int = N_BOOT
    seed: int = SEED
    cap: int = ROW_CAP
    reference: dict = field(default_factory=dict)
    reason: str | None = None

    @property
    def sampled(self) -> bool:
        """True when the model read a sample of the eligible surveys (more than :data:`ROW_CAP`)."""
        return self.n_eligible > self.cap


def driver_rows(wh: Warehouse, f: Filters, score: str, cap: int = ROW_CAP) -> tuple[pd.DataFrame, int]:
    """(rows, eligible): one row per post-interaction survey in ``f`` that gave ``score``, with the
    score and every driver (NULL where unknown), at most ``cap`` of them (a fixed sample);
    ``eligible`` is how many surveys qualified before sampling. One SQL query."""
    if score not in SCORES:
        raise ValueError(f"unknown score {score!r}; use one of {', '.join(SCORES)}")
    w = Window.of(f, wh.resolve_as_of(f))
    sv, t, c = s.surveys, s.tickets, s.customers
    x = Ctx(as_of_end=timestamp_literal(w.as_of_end))
    sla = registry.get("sla_resolution_compliance")
    conds = [sv.c.answered_at >= timestamp_literal(w.start_ts), sv.c.answered_at < timestamp_literal(w.stop_ts),
             sv.c[score].isnot(None), sv.c.ticket_id.isnot(None)]
    if f.survey_kinds:
        conds.append(sv.c.kind.in_(f.survey_kinds))
    ticket_conds = [col.in_(values) for values, col in ((f.categories, t.c.category), (f.priorities, t.c.priority),
                                                        (f.kinds, t.c.kind)) if values]
    if ticket_conds:
        conds.append(sv.c.ticket_id.in_(sa.select(t.c.ticket_id).where(*ticket_conds)))
    conds += slice_conditions(f, c, sv.c.channel)
    # the sample is drawn before the tickets are joined: a fixed pseudo-random order of the survey ids
    draw = sa.func.row_number().over(order_by=[(sa.cast(sv.c.survey_id, sa.BigInteger) * 40503) % 1000003,
                                               sv.c.survey_id])
    eligible = (sa.select(sv.c[score].label("score"), sv.c.customer_id, sv.c.ticket_id, sv.c.answered_at,
                          c.c.tier.label("tier"), sa.func.count().over().label("eligible"), draw.label("draw"))
                .select_from(sv.join(c, c.c.customer_id == sv.c.customer_id)).where(*conds).subquery("e"))
    b = sa.select(eligible).where(eligible.c.draw <= cap).subquery("b")
    t2 = s.tickets.alias("t2")
    contacts = (sa.select(sa.func.count()).select_from(t2)
                .where(t2.c.customer_id == b.c.customer_id, t2.c.opened_at <= t.c.opened_at,
                       t2.c.opened_at > hours_after(t.c.opened_at, -CONTACT_WINDOW_HOURS))
                .scalar_subquery())
    stmt = (sa.select(
        b.c.score,
        sa.case((x.known(t.c.resolved_at), hours_between(t.c.opened_at, t.c.resolved_at)),
                else_=None).label("resolution_hours"),
        t.c.first_contact_resolved, t.c.reopened, t.c.escalated,
        sa.case((sla.den(x), sa.case((sla.num(x), 0), else_=1)), else_=None).label("sla_breached"),
        sa.case((sa.and_(t.c.revisited_at.isnot(None), t.c.revisited_at <= b.c.answered_at), 1),
                else_=0).label("revisited"),
        t.c.channel.label("channel"), b.c.tier, t.c.kind.label("ticket_kind"), b.c.eligible,
        contacts.label("contacts_90d"))
        .select_from(b.join(t, t.c.ticket_id == b.c.ticket_id))
        .order_by(b.c.draw))  # a fixed row order: the seeded bootstrap draws rows by position
    rows = wh.read(stmt)
    eligible = int(rows["eligible"].iloc[0]) if len(rows) else 0
    return rows.drop(columns="eligible"), eligible


def _numeric(col: pd.Series) -> pd.Series:
    """Numbers and flags (True/False/None as read) as floats, NaN where unknown."""
    if col.dtype == object:
        col = col.where(col.notna(), np.nan).astype(float)
    return pd.to_numeric(col, errors="coerce").astype(float)


def _design(rows: pd.DataFrame) -> tuple[pd.DataFrame, list[Driver], pd.DataFrame, dict]:
    """(prepared columns per driver, drivers kept, left out with reasons, categories' reference levels)."""
    prepared, kept, out, reference = {}, [], [], {}
    n = len(rows)
    for d in DRIVERS:
        raw = rows[d.name]
        if d.kind == "category":
            col = raw.astype(object).where(raw.notna(), None)
        else:
            col = _numeric(raw)
            if d.name == "resolution_hours":
                col = np.log1p(col.clip(lower=0))
            elif d.name == "contacts_90d":
                col = col.clip(upper=MAX_CONTACTS)
        known = float(col.notna().mean()) if n else 0.0
        if known == 0:
            out.append((d.name, "unknown", known))
            continue
        if known < MIN_KNOWN:
            out.append((d.name, "sparse", known))
            continue
        if d.kind == "category":
            counts = col.value_counts()
            small = set(counts[counts < MIN_LEVEL_ROWS].index)
            col = col.map(lambda v, small=small: OTHER if v in small else v)
            if col.dropna().nunique() < 2:
                out.append((d.name, "constant", known))
                continue
            reference[d.name] = str(col.value_counts().index[0])
        elif col.dropna().nunique() < 2:
            out.append((d.name, "constant", known))
            continue
        prepared[d.name] = col
        kept.append(d)
    left = pd.DataFrame(out, columns=["driver", "reason", "known"])
    return pd.DataFrame(prepared, index=rows.index), kept, left, reference


def organisation_filters(f: Filters) -> Filters:
    """The filters of the organisation's driver model for a page's, a card's or the pack's filters
    ``f``: ``f`` without its regions and outlets (a unit — a city, a hall — is compared against the
    organisation's model, not modelled alone) and without its survey kinds (the model reads
    post-interaction surveys whatever the page's kind); the period, the user's scope and every other
    slice (tier, channel, …) kept. The one definition the Overview's card, the Satisfaction page and
    the meeting pack use, so that they name the same drivers for the same filters."""
    return f.with_(survey_kinds=(), regions=(), outlets=())


def key_drivers(wh: Warehouse, f: Filters, score: str, n_boot: int = N_BOOT, seed: int = SEED,
                cap: int = ROW_CAP) -> DriversResult:
    """The key-driver model of ``score`` (csat, nps, ces) for the surveys of ``f``: importance as
    Shapley shares of adjusted R² (score points², shares of variance) with ``n_boot`` seeded
    bootstrap intervals, the model's R² with its interval and n, each driver's direction."""
    rows, eligible = driver_rows(wh, f, score, cap)
    return fit(rows, score, eligible, n_boot, seed, cap)


def fit(rows: pd.DataFrame, score: str, eligible: int | None = None, n_boot: int = N_BOOT, seed: int = SEED,
        cap: int = ROW_CAP) -> DriversResult:
    """The model of :func:`key_drivers` on rows already read (columns ``score`` and the drivers')."""
    eligible = len(rows) if eligible is None else eligible
    design, kept, left, reference = _design(rows)
    y = _numeric(rows["score"]) if len(rows) else pd.Series(dtype=float)
    complete = design.notna().all(axis=1) & y.notna()
    design, y = design[complete], y[complete]
    empty = DriversResult(score, pd.DataFrame(), left, pd.DataFrame(), int(len(y)), eligible, n_boot=n_boot,
                          seed=seed, cap=cap, reference=reference, reason="too_few")
    if len(y) < MIN_ROWS or not kept:
        return empty
    columns, groups, labels = [], [], []
    for d in kept:
        if d.kind == "category":
            levels = [v for v in sorted(design[d.name].unique(), key=str) if v != reference[d.name]]
            block = [(design[d.name] == v).astype(float).to_numpy() for v in levels]
            labels += [(d.name, str(v)) for v in levels]
        else:
            block = [design[d.name].astype(float).to_numpy()]
            labels.append((d.name, None))
        groups.append(list(range(len(columns), len(columns) + len(block))))
        columns += block
    imp = lmg(y.to_numpy(float), np.column_stack(columns), groups, n_boot=n_boot, seed=seed)
    coef = pd.DataFrame({"driver": [a for a, _ in labels], "level": [b for _, b in labels], "beta": imp.beta,
                         "lower": imp.beta_lower, "upper": imp.beta_upper})
    table = []
    for j, d in enumerate(kept):
        single = d.kind != "category"
        beta = coef.iloc[groups[j][0]] if single else None
        direction = "levels"
        if single:
            direction = "raises" if beta["lower"] > 0 else "lowers" if beta["upper"] < 0 else "unclear"
        table.append({"driver": d.name, "kind": d.kind, "importance": imp.share[j], "lower": imp.share_lower[j],
                      "upper": imp.share_upper[j], "includes_zero": bool(imp.share_lower[j] <= 0 <= imp.share_upper[j]),
                      "share": imp.share[j] / imp.r2_adj if imp.r2_adj > 0 else np.nan, "direction": direction,
                      "beta": beta["beta"] if single else np.nan, "beta_lower": beta["lower"] if single else np.nan,
                      "beta_upper": beta["upper"] if single else np.nan})
    importance = pd.DataFrame(table)
    # strongest first, but a driver indistinguishable from no effect never ranks above one that is not
    importance = importance.sort_values(["includes_zero", "importance"], ascending=[True, False], kind="stable")
    importance = importance.reset_index(drop=True)
    importance["rank"] = np.arange(1, len(importance) + 1)
    return DriversResult(score, importance, left, coef, imp.n, eligible, imp.r2, imp.r2_adj, imp.r2_lower,
                         imp.r2_upper, n_boot, seed, cap, reference)


def _good(d: Driver, col: pd.Series) -> pd.Series:
    """1.0 where the driver went well on a row, 0.0 where not, NaN where unknown."""
    v = _numeric(col)
    test = {"one": v == 1, "zero": v == 0, "within_hours": v <= GOOD_HOURS, "single": v <= 1}[d.good]
    return test.astype(float).where(v.notna())


def performance_of(rows: pd.DataFrame) -> pd.DataFrame:
    """Per outcome driver: value (share of rated tickets where it went well), n (rows known), lower,
    upper (Wilson 95%), and mean: the driver's own mean (a flag's rate — breach rate, FCR rate —,
    mean hours to resolution, mean contacts in 90 days). Drivers unknown on every row get NaN and n 0."""
    out = []
    for d in DRIVERS:
        if d.good is None or d.name not in rows.columns:
            continue
        good = _good(d, rows[d.name])
        k, n = float(good.sum()), int(good.notna().sum())
        lo, hi = stats.wilson(k, n)
        raw = _numeric(rows[d.name])
        out.append({"driver": d.name, "value": k / n if n else np.nan, "n": n, "lower": float(lo), "upper": float(hi),
                    "mean": float(raw.mean()) if n else np.nan})
    return pd.DataFrame(out, columns=["driver", "value", "n", "lower", "upper", "mean"])


def performance(wh: Warehouse, f: Filters, score: str, cap: int = ROW_CAP) -> pd.DataFrame:
    """How the unit of ``f`` (its regions) performs on each outcome driver against the organisation
    (``f`` without regions, same scope and other slices), on the surveys of ``score``: driver,
    org_value, org_n, org_lower, org_upper, org_mean, then unit_… and gap (unit − org, share points) with
    ``worse``/``better`` when ``f`` names regions: a two-proportion test at 5% of the unit against the
    rest of the organisation (org − unit, independent of the unit), the direction the unit against the
    rest; shares in [0, 1]."""
    org = performance_of(driver_rows(wh, replace(f, regions=()), score, cap)[0])
    out = org.rename(columns={k: f"org_{k}" for k in ("value", "n", "lower", "upper", "mean")})
    if not f.regions:
        return out
    unit = performance_of(driver_rows(wh, f, score, cap)[0])
    out = out.merge(unit.rename(columns={k: f"unit_{k}" for k in ("value", "n", "lower", "upper", "mean")}),
                    on="driver")
    out["gap"] = out["unit_value"] - out["org_value"]
    k_unit = out["unit_value"] * out["unit_n"]
    k_rest = out["org_value"] * out["org_n"] - k_unit
    n_rest = out["org_n"] - out["unit_n"]
    with np.errstate(invalid="ignore", divide="ignore"):
        diff = out["unit_value"] - k_rest / n_rest
    p = np.where(n_rest > 0, stats.two_proportion_p(k_unit, out["unit_n"], k_rest, n_rest), np.nan)
    out["worse"] = (diff < 0) & (p < 0.05)
    out["better"] = (diff > 0) & (p < 0.05)
    return out
