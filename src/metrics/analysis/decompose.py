"""What drove the change: a metric's change against the comparison period split over one dimension.

A rate, share or mean is a ratio of additive sums, so over the groups ``g`` of one dimension (the
regions one level down, the tiers, the channels, the categories) its value is ``V = Σ w_g·r_g``: ``r_g``
the group's own value, ``w_g`` the group's share of the metric's volume (a share's denominator, a
mean's or NPS's answers, a rate's exposure). The change ``V₁ − V₀`` is split exactly (Kitagawa /
shift-share with symmetric weights) into each group's

* **rate effect** ``(r₁ − r₀)·(w₁ + w₀)/2``: the group itself got better or worse, and
* **mix effect** ``(w₁ − w₀)·((r₁ + r₀)/2 − V̄)``: its share of the volume changed, ``V̄ = (V₀ + V₁)/2``;

their sum is the group's **contribution** ``w₁r₁ − w₀r₀ − (w₁ − w₀)·V̄``, and the contributions add up
to the total change to rounding. The mix effect is centred on the overall value ``V̄`` — the textbook
``(w₁ − w₀)·(r₁ + r₀)/2`` plus a term whose sum over the groups is 0 (``Σ(w₁ − w₀) = 0``), so every total
is the same — because otherwise a group of average value whose share shrank would show a large negative
"contribution" that the other groups' growth cancels; centred, volume moving between groups of equal
value explains nothing. Conventions (still exact):

* a group present in one period only (no volume in the other) takes ``r`` of the period it has in both
  places: its rate effect is 0 and its whole contribution (``± w·r``) is mix;
* a rate's events cut by a dimension of the events but not of the exposure (complaints by ticket channel
  or category: customer-months have no channel) are components, not a partition: ``r_g`` is the group's
  events per the whole exposure and ``w_g = 1``, so the contribution is the rate effect and mix is 0;
* rows in no group of the dimension (customers outside every region of the level) would leave a
  remainder; it is reported as its own row (``unassigned``), never dropped.

The aggregates are the metric's own (``Warehouse.aggregates``: the kinds' columns from the rollups or the
raw rows, in one round trip per dimension); no metric formula is written again here. Decomposable kinds:
share, mean, nps, rate (:data:`KINDS`); counts, sums, stocks, quantiles and availability are refused
(:class:`NotDecomposable`): a total has no rate/mix split, a quantile is not a ratio of sums, and
availability has no variance model for an interval.

**Intervals** (95%): delta method with the weights held fixed (the volumes are known, the group values
are the estimates): ``Var(r)`` per kind — a share's binomial ``p̃(1 − p̃)/den`` with ``p̃ = (num+1)/(den+2)``,
a mean's ``s²/n`` (the period's pooled ``s²`` for a group of one answer), NPS's
``100²(p + d − (p − d)²)/n`` (with ``(k+1)/(n+3)``), a rate's Poisson ``per²·max(events, 1)/exposure²``
— the floors keep an empty or tiny group from a zero-width interval. A contribution whose interval
includes 0 is ``noise``; within a dimension, non-noise contributions come first, then by size.

**Ranking dimensions** (:func:`explain`): ``score`` = the share of the gross movement ``Σ|c_g|`` that
the non-noise groups carry *beyond their share of the volume* — ``Σ_{g not noise} |c_g − b_g·Δ| / Σ|c_g|``
(capped at 1), ``b_g`` the group's mean volume share (events share for components). A uniform shift of
every group explains nothing (each carries its share); one region that moved explains much. Ties: fewer
groups first. Pure apart from the reads; no Streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from metrics.analysis import league, stats
from metrics.model import i18n
from metrics.model.filters import Filters
from metrics.model.registry import Metric, dim_column, get
from metrics.query import comparable, kinds
from metrics.query import warehouse as warehouse_mod

KINDS = ("share", "mean", "nps", "rate")
DIMS = ("region", "tier", "channel", "category")  # the default dimensions, in this order for ties
REFUSALS = ("kind", "dimension", "lowest_level", "no_comparison", "no_data", "missing", "suppressed")
UNASSIGNED = "__unassigned__"
SUPPRESSED = "__suppressed__"  # the groups a viewer may not see one by one, pooled
GROUP_COLUMNS = ("key", "name_zh", "name_en", "w_cmp", "w", "value_cmp", "value", "n_cmp", "n",
                 "contribution", "lower", "upper", "rate_effect", "rate_lower", "rate_upper",
                 "mix_effect", "mix_lower", "mix_upper", "noise", "main", "present")


class NotDecomposable(ValueError):
    """The metric or dimension cannot be decomposed; ``reason`` is one of :data:`REFUSALS`."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason


@dataclass
class Decomposition:
    """One metric's change over one dimension. ``value``/``value_cmp``/``delta`` in the metric's unit
    (shares 0–1); ``groups``: one row per group (:data:`GROUP_COLUMNS`), non-noise first then by size;
    ``reason``: why there is no change to split (a :mod:`metrics.query.comparable` code or
    ``no_comparison``/``no_data``/``missing``), then ``groups`` is empty and ``delta`` NaN."""

    metric_id: str
    dim: str
    level: str
    value: float
    value_cmp: float
    delta: float
    groups: pd.DataFrame = field(repr=False)
    score: float = 0.0
    reason: str | None = None
    delta_lower: float = np.nan  # the change's 95% interval (the groups' variances, weights fixed)
    delta_upper: float = np.nan

    @property
    def ok(self) -> bool:
        return self.reason is None

    @property
    def significant(self) -> pd.DataFrame:
        """The groups whose contribution is distinguishable from noise, largest first."""
        return self.groups[~self.groups["noise"]]


def check(metric_id: str, dim: str | None = None) -> Metric:
    """The metric, when it (and ``dim``) can be decomposed; :class:`NotDecomposable` otherwise
    (``UnknownMetric`` for an unknown id)."""
    m = get(metric_id)
    if m.kind not in KINDS:
        raise NotDecomposable("kind", f"{metric_id}: a {m.kind} cannot be decomposed (kinds: {', '.join(KINDS)})")
    if dim is not None and (dim not in m.dims or dim in ("month", "week")):
        raise NotDecomposable("dimension", f"{metric_id} cannot be cut by {dim!r}")
    return m


def dimensions_of(metric_id: str) -> tuple[str, ...]:
    """The default dimensions a metric is decomposed over (:data:`DIMS` it can be cut by)."""
    m = check(metric_id)
    return tuple(d for d in DIMS if d in m.dims)


def is_component(m: Metric, dim: str) -> bool:
    """True when ``dim`` splits a rate's events but not its exposure (components, ``w = 1``)."""
    return m.kind == "rate" and m.events_from is not None and not kinds.exposure_dims((dim,))


def parts(m: Metric, raw: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(volume, group value, variance of the group value) per row of a kind's aggregate frame; the
    value in the metric's unit (a rate per ``m.per``), NaN where the volume is 0."""
    def col(name: str) -> np.ndarray:
        if name not in raw:
            return np.zeros(len(raw))
        return pd.to_numeric(raw[name], errors="coerce").fillna(0.0).to_numpy(float)

    with np.errstate(invalid="ignore", divide="ignore"):
        if m.kind == "share":
            num, den = col("num"), col("den")
            p = (num + 1) / (den + 2)
            return den, num / den, p * (1 - p) / den
        if m.kind == "mean":
            total, sq, n = col("total"), col("total_sq"), col("n")
            pooled = (sq.sum() - total.sum() ** 2 / n.sum()) / (n.sum() - 1) if n.sum() > 1 else np.nan
            s2 = np.where(n > 1, (sq - total**2 / n) / (n - 1), pooled)
            return n, total / n, np.maximum(s2, 0.0) / n
        if m.kind == "nps":
            pro, det, n = col("promoters"), col("detractors"), col("n")
            p, d = (pro + 1) / (n + 3), (det + 1) / (n + 3)
            return n, 100 * (pro - det) / n, 100**2 * (p + d - (p - d) ** 2) / n
        events, exposure = col("events"), col("exposure")
        return exposure, m.per * events / exposure, m.per**2 * np.maximum(events, 1.0) / exposure**2


def shift_share(w0: np.ndarray, w1: np.ndarray, r0: np.ndarray, r1: np.ndarray, v0: np.ndarray,
                v1: np.ndarray, centre: float = 0.0) -> dict[str, np.ndarray]:
    """The symmetric Kitagawa split per group with 95% intervals. ``w``: volume shares (0 where the
    group is absent), ``r``: group values (NaN where absent), ``v``: their variances, ``centre``: the
    value the mix effect is measured from (``V̄``; 0: the textbook split). Returns contribution,
    rate_effect, mix_effect and their lower/upper bounds; rate + mix = w₁r₁ − w₀r₀ − (w₁ − w₀)·centre."""
    only1, only0 = w0 == 0, w1 == 0
    r0 = np.where(only1, r1, r0)  # absent before: the rate effect is 0, the contribution all mix
    r1 = np.where(only0, r0, r1)
    v0, v1 = np.where(only1, 0.0, v0), np.where(only0, 0.0, v1)
    r0, r1 = np.nan_to_num(r0), np.nan_to_num(r1)
    rate = (r1 - r0) * (w1 + w0) / 2
    mix = (w1 - w0) * ((r1 + r0) / 2 - centre)
    both = ~(only0 | only1)
    se_rate = np.where(both, (w1 + w0) / 2 * np.sqrt(v0 + v1), 0.0)
    # absent in one period: the mix is ±w·r of the other, with that period's variance
    se_mix = np.where(both, np.abs(w1 - w0) / 2 * np.sqrt(v0 + v1), np.sqrt(w1**2 * v1 + w0**2 * v0))
    se = np.sqrt(w1**2 * v1 + w0**2 * v0)
    z = stats.Z95
    return {"contribution": rate + mix, "lower": rate + mix - z * se, "upper": rate + mix + z * se,
            "rate_effect": rate, "rate_lower": rate - z * se_rate, "rate_upper": rate + z * se_rate,
            "mix_effect": mix, "mix_lower": mix - z * se_mix, "mix_upper": mix + z * se_mix}


def _total(wh: warehouse_mod.Warehouse, m: Metric, f: Filters) -> tuple[pd.DataFrame, float, float, float, str | None]:
    """(the raw total aggregates now/before, value, value_cmp, delta, reason) as ``Warehouse.compare``
    computes and masks them."""
    cf = f.comparison_filters()
    if cf is None:
        raws = wh.aggregates(m.id, [f], ())
        now = warehouse_mod.finish(m, raws[0], ())
        value = float(now["value"].iloc[0]) if len(now) else np.nan
        return raws + [raws[0].iloc[0:0]], value, np.nan, np.nan, "no_comparison"
    raws = wh.aggregates(m.id, [f, cf], ())
    now = warehouse_mod.suppress_small_groups(warehouse_mod.finish(m, raws[0], ()), f.scope)
    before = warehouse_mod.suppress_small_groups(warehouse_mod.finish(m, raws[1], ()), cf.scope)
    value = float(now["value"].iloc[0]) if len(now) else np.nan
    n_cmp = float(before["n"].iloc[0]) if len(before) else np.nan
    value_cmp = float(before["value"].iloc[0]) if len(before) else np.nan
    why = comparable.reason(m, cf, n_cmp, wh.first_records().get(m.source))
    if why is None and "missing" in now.columns and (now["missing"].notna().any() or before["missing"].notna().any()):
        why = "missing"
    hidden = [bool(x["suppressed"].any()) for x in (now, before) if "suppressed" in x.columns]
    if why is None and any(hidden):  # a viewer's scope too small to show
        why = "suppressed"
    if why is None and not np.isfinite(value):
        why = "no_data"
    if why is None and not np.isfinite(value_cmp):
        why = "no_data"
    return raws, value, value_cmp, (value - value_cmp if why is None else np.nan), why


def _names(wh: warehouse_mod.Warehouse, dim: str, keys: pd.Series, regions: pd.DataFrame | None
           ) -> tuple[list[str], list[str]]:
    if dim == "region" and regions is not None:
        r = regions.set_index("region_id")
        zh = [str(r.at[int(k), "name_zh"]) if pd.notna(k) and int(k) in r.index else str(k) for k in keys]
        en = [str(r.at[int(k), "name_en"]) if pd.notna(k) and int(k) in r.index else str(k) for k in keys]
        return zh, en
    wh.vocabulary()
    if dim == "outlet":  # tickets and surveys at no outlet: named as such, not "none"
        return tuple([i18n.t("explain.no_outlet", lang) if k is None or k != k else i18n.label(dim, k, lang)
                      for k in keys] for lang in ("zh", "en"))
    return ([i18n.label(dim, k, "zh") for k in keys], [i18n.label(dim, k, "en") for k in keys])


def _region_scope(f: Filters, regions: pd.DataFrame) -> tuple[Filters, str]:
    """The filters and level of a split by region one level down, with the same total as ``f``."""
    rf, level = league.scope_for("region", f, regions)
    if rf.regions != f.regions and f.regions and level == "district":  # a district: the city around it
        raise NotDecomposable("lowest_level", "a district has no lower region level to split by")
    return rf, level


def decompose(wh: warehouse_mod.Warehouse, metric_id: str, f: Filters, dim: str,
              total: tuple | None = None) -> Decomposition:
    """The change of ``metric_id`` under ``f`` against its comparison period, split over ``dim``
    (see the module docstring). Raises :class:`NotDecomposable` for a metric kind or dimension that
    cannot be split; a change that cannot be computed returns a Decomposition with ``reason``.
    ``total``: the scope's total as read once for several dimensions (:func:`explain`)."""
    m = check(metric_id, dim)
    regions = wh.regions() if dim == "region" else None
    df, level = _region_scope(f, regions) if regions is not None else (f, "city")
    raws_total, value, value_cmp, delta, why = total if total is not None else _total(wh, m, f)
    empty = pd.DataFrame(columns=list(GROUP_COLUMNS))
    if why is not None:
        return Decomposition(metric_id, dim, level, value, value_cmp, np.nan, empty, 0.0, why)
    cf = df.comparison_filters()
    key = dim_column(dim)
    now, before = wh.aggregates(metric_id, [df, cf], (dim,), level)
    for raw in (now, before):
        raw[key] = raw[key].astype(object).where(raw[key].notna(), None)
        if dim in ("region", "outlet"):  # integer ids (an outlet's name is registered under its id)
            raw[key] = [None if k is None else int(k) for k in raw[key]]
    merged = now.merge(before, on=key, how="outer", suffixes=("", "_cmp"))
    if dim == "outlet":  # ids stay integers beside the facts at no outlet (None), not floats
        merged[key] = pd.Series([None if pd.isna(k) else int(k) for k in merged[key]], index=merged.index,
                                dtype=object)
    vol1, r1, var1 = parts(m, merged[[c for c in now.columns]].fillna({c: 0 for c in now.columns if c != key}))
    prev = merged[[key] + [f"{c}_cmp" for c in before.columns if c != key]]
    prev.columns = [key] + [c for c in before.columns if c != key]
    vol0, r0, var0 = parts(m, prev.fillna({c: 0 for c in prev.columns if c != key}))
    component = is_component(m, dim)
    if component:  # each group's events over the whole exposure of the period
        t1 = float(pd.to_numeric(raws_total[0]["exposure"]).iloc[0])
        t0 = float(pd.to_numeric(raws_total[1]["exposure"]).iloc[0])
        e1 = pd.to_numeric(merged["events"], errors="coerce").fillna(0).to_numpy(float)
        e0 = pd.to_numeric(merged["events_cmp"], errors="coerce").fillna(0).to_numpy(float)
        r1, r0 = m.per * e1 / t1, m.per * e0 / t0
        var1, var0 = m.per**2 * np.maximum(e1, 1) / t1**2, m.per**2 * np.maximum(e0, 1) / t0**2
        w1 = w0 = np.ones(len(merged))
    else:
        w1 = vol1 / vol1.sum() if vol1.sum() > 0 else np.zeros(len(merged))
        w0 = vol0 / vol0.sum() if vol0.sum() > 0 else np.zeros(len(merged))
    split = shift_share(w0, w1, r0, r1, var0, var1, 0.0 if component else (value + value_cmp) / 2)
    zh, en = _names(wh, dim, merged[key], regions)
    keys = np.array(merged[key].to_list(), dtype=object)  # integer ids stay integers beside None
    out = pd.DataFrame({"key": keys, "name_zh": zh, "name_en": en, "w_cmp": w0, "w": w1,
                        "value_cmp": np.where(vol0 > 0, r0, np.nan) if not component else r0,
                        "value": np.where(vol1 > 0, r1, np.nan) if not component else r1,
                        "n_cmp": vol0, "n": vol1, **split})
    out["present"] = np.where(w0 == 0, "now_only", np.where(w1 == 0, "cmp_only", "both"))
    out["_small"] = _small(merged, f)
    out = out[(out["n"] > 0) | (out["n_cmp"] > 0) | (out["contribution"] != 0)]
    out = _pool_small(out)
    rest = delta - float(out["contribution"].sum())
    if abs(rest) > 1e-12 * max(1.0, abs(delta)):  # rows in no group of the dimension
        out = pd.concat([out, pd.DataFrame([{
            "key": UNASSIGNED, "name_zh": i18n.t("explain.unassigned", "zh"),
            "name_en": i18n.t("explain.unassigned", "en"),
            "contribution": rest, "lower": np.nan, "upper": np.nan, "rate_effect": np.nan, "mix_effect": np.nan,
            "present": "both"}])], ignore_index=True)
    out["noise"] = ~((out["lower"] > 0) | (out["upper"] < 0))
    out["main"] = np.where(out["mix_effect"].abs() > out["rate_effect"].abs(), "mix", "rate")
    out = out.assign(_size=-out["contribution"].abs()).sort_values(["noise", "_size"], kind="stable")
    out = out.drop(columns="_size").reset_index(drop=True)[list(GROUP_COLUMNS)]
    if dim in ("region", "outlet"):
        out["key"] = out["key"].astype(object)
    score = _score(out, delta, component)
    se = float(np.sqrt(np.nansum(((out["upper"] - out["lower"]) / (2 * stats.Z95)) ** 2)))
    return Decomposition(metric_id, dim, level, value, value_cmp, delta, out, score, None,
                         delta - stats.Z95 * se, delta + stats.Z95 * se)


def _small(merged: pd.DataFrame, f: Filters) -> np.ndarray:
    """Per group: fewer than the scope's ``min_group_size`` customers behind it in either period, for an
    aggregate-only scope (viewers; the compiler's ``customers`` column); all False otherwise."""
    if f.scope is None or not f.scope.aggregates_only:
        return np.zeros(len(merged), dtype=bool)
    least = f.scope.min_group_size
    out = np.zeros(len(merged), dtype=bool)
    for col in ("customers", "customers_cmp"):
        c = pd.to_numeric(merged[col], errors="coerce").fillna(0).to_numpy(float) if col in merged else None
        if c is None:  # no count of customers: every group is small
            return np.ones(len(merged), dtype=bool)
        out |= (c > 0) & (c < least)
    return out


def _pool_small(out: pd.DataFrame) -> pd.DataFrame:
    """The small groups of an aggregate-only scope pooled into one row (their contributions and effects
    summed, the interval from the summed variances, no values or weights): still exact, never one by one."""
    small = out["_small"].to_numpy(bool)
    out = out.drop(columns="_small")
    if not small.any():
        return out
    pool = out[small]
    se = float(np.sqrt((((pool["upper"] - pool["lower"]) / (2 * stats.Z95)) ** 2).sum()))
    c = float(pool["contribution"].sum())
    row = {"key": SUPPRESSED, "name_zh": i18n.t("explain.suppressed", "zh", k=int(small.sum())),
           "name_en": i18n.t("explain.suppressed", "en", k=int(small.sum())), "contribution": c,
           "lower": c - stats.Z95 * se, "upper": c + stats.Z95 * se, "rate_effect": float(pool["rate_effect"].sum()),
           "mix_effect": float(pool["mix_effect"].sum()), "present": "both"}
    return pd.concat([out[~small], pd.DataFrame([row])], ignore_index=True)


def _score(groups: pd.DataFrame, delta: float, component: bool) -> float:
    """The share of the gross movement carried by non-noise groups beyond their share of the volume."""
    g = groups[groups["key"] != UNASSIGNED]
    c = g["contribution"].to_numpy(float)
    gross = float(np.abs(c).sum())
    if gross == 0 or not np.isfinite(gross):
        return 0.0
    if component:
        v0, v1 = g["value_cmp"].to_numpy(float), g["value"].to_numpy(float)
        s0 = v0 / v0.sum() if v0.sum() > 0 else v1 / max(v1.sum(), 1e-300)
        s1 = v1 / v1.sum() if v1.sum() > 0 else s0
        base = (s0 + s1) / 2
    else:
        base = (g["w_cmp"].fillna(0).to_numpy(float) + g["w"].fillna(0).to_numpy(float)) / 2
    excess = np.abs(c - base * delta)[~g["noise"].to_numpy(bool)]
    return float(min(1.0, excess.sum() / gross))


def explain(wh: warehouse_mod.Warehouse, metric_id: str, f: Filters,
            dims: tuple[str, ...] | None = None) -> list[Decomposition]:
    """The decompositions over ``dims`` (default :func:`dimensions_of`), best explaining first (highest
    ``score``; ties: fewer groups, then :data:`DIMS` order). A dimension that cannot be split under these
    filters (a district has no lower level) is left out; the metric's own refusal is raised."""
    dims = dimensions_of(metric_id) if dims is None else dims
    total = _total(wh, check(metric_id), f)  # read once for every dimension
    out = []
    for d in dims:  # one after the other: DuckDB spreads each query over the cores already (threads: no gain)
        try:
            out.append(decompose(wh, metric_id, f, d, total))
        except NotDecomposable as exc:
            if exc.reason != "lowest_level":
                raise
    order = {d: i for i, d in enumerate(dims)}
    return sorted(out, key=lambda x: (-x.score, len(x.groups), order[x.dim]))
