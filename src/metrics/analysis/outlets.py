"""Service halls and outlets (issue 19): how long customers wait, how the mystery shoppers score the
halls, and which outlets lead — the figures a city's channel manager judges their halls by.

Definitions (docs/outlets.md). A visit is a queue record (a ticket drawn at the hall's machine) that
arrived in the period, up to the as-of date. Waiting time = called_at − arrived_at, service time =
ended_at − started_at, in seconds rounded to the second, shown in minutes; a visit never called has no
waiting time (abandoned ones mostly: their share is shown apart). Means and shares are exact; medians and
90th percentiles are read from a histogram of whole minutes (floored), :data:`RESOLUTION_MIN`: the
median is the middle ``m + 0.5`` of the smallest whole minute ``m`` with at least half of the waits
below ``m + 1`` minutes (the bin's midpoint, not its floor, which would be ~0.5 min low) — the same
from the rollup (:mod:`metrics.ingest.queue_rollup`) and from the raw records. Within target: the
share of waits under ``target_minutes`` (called in less than N × 60 s), with its Wilson interval.

Region filters and a city manager's scope apply to the outlet's city; tier, segment, SLA level and an
account manager's portfolio to the customer of the visit (a visit without a customer has no tier). The
league ranks on the lower bound of the within-target share's 95% interval; an outlet with fewer than
:data:`MIN_RANK_N` waits is not ranked (``rank_note`` small or no_data), as in
:mod:`metrics.analysis.portfolio`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import numpy as np
import pandas as pd
import sqlalchemy as sa

from metrics.access.users import ScopeError, withheld
from metrics.analysis import outlet_rules, stats
from metrics.analysis import outlets_sql as q
from metrics.ingest import queue_rollup as qr
from metrics.model import schema as s
from metrics.model.filters import Filters
from metrics.query.comparable import MIN_N
from metrics.query.warehouse import Warehouse

RESOLUTION_MIN = qr.RESOLUTION_MIN  # minutes: the resolution of medians and percentiles of waits
MIN_RANK_N = MIN_N  # waits behind a ranked within-target share: fewer, no rank
MIN_LANE_N = 20  # waits on each side of a VIP lane comparison: fewer, too_small
PATTERNS = ("hour", "weekday", "service_type", "tier", "hour_weekday")
SUMS = qr.SUMS


def bounds(wh: Warehouse, f: Filters) -> q.Bounds:
    """The period's days up to the as-of date (refuses a region outside the user's scope)."""
    last = max(f.start, min(f.end, wh.resolve_as_of(f)))
    return q.Bounds(start=f.start, stop=last + timedelta(days=1))


def checked_rules(given: outlet_rules.Rules | None = None) -> outlet_rules.Rules:
    """``given`` or the checked rules file (:func:`metrics.analysis.outlet_rules.load_rules`): the waiting
    target, the VIP tiers and minimum worthwhile saving, the audits' fail share;
    :class:`~metrics.analysis.outlet_rules.RulesError` when it cannot be used."""
    return given if given is not None else outlet_rules.load_rules()


def _target(target_minutes: float | None) -> float:
    """``target_minutes`` or the rules file's ``target_minutes``."""
    return float(target_minutes) if target_minutes is not None else checked_rules().target_minutes


# -- the queue histogram and its summary -------------------------------------------------------------
def histogram(wh: Warehouse, f: Filters, dims: Sequence[str], outlet_id: int | None = None) -> pd.DataFrame:
    """``dims`` (``outlet_id``, ``day``, ``weekday`` 0 = Monday … 6, ``hour``, ``service_type``, ``tier``,
    ``region_id``), ``wait_min`` and the queue sums of the visits in the period and scope; from the
    rollup when it is built and answers these filters, else from the queue records (the same numbers)."""
    sql_dims = [("day" if d == "weekday" else d) for d in dims]
    sql_dims = list(dict.fromkeys(sql_dims))
    b = bounds(wh, f)
    df = wh.read(q.queue_histogram(f, b, sql_dims, outlet_id, _from_rollup(wh, f)))
    for col in SUMS:
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float).fillna(0.0)
    df["wait_min"] = pd.to_numeric(df["wait_min"], errors="coerce").astype(float)
    for col in ("outlet_id", "hour", "region_id"):
        if col in df.columns:
            df[col] = pd.to_numeric(df[col]).astype("int64")
    if "weekday" in dims:
        df["weekday"] = pd.to_datetime(df["day"]).dt.weekday
    if list(sql_dims) != list(dims):
        df = df.groupby([*dims, "wait_min"], dropna=False, as_index=False)[list(SUMS)].sum()
    return df


def quantile_minutes(hist: pd.DataFrame, keys: Sequence[str], p: float) -> pd.Series:
    """Per group of ``keys``: the midpoint m + 0.5 of the smallest whole minute m with at least a share
    ``p`` of the waits in minutes ≤ m (the inverted CDF of waits floored to minutes, read at the middle
    of the minute's bin, not its floor); indexed by the keys."""
    h = hist[hist["wait_min"].notna() & (hist["waited"] > 0)]
    h = h.groupby([*keys, "wait_min"], dropna=False, as_index=False)["waited"].sum()
    h = h.sort_values([*keys, "wait_min"], kind="stable")
    g = h.groupby(list(keys), dropna=False, sort=False)["waited"]
    need = np.maximum(1.0, np.ceil(p * g.transform("sum").to_numpy() - 1e-9))
    reached = h[g.cumsum().to_numpy() >= need]
    return reached.groupby(list(keys), dropna=False, sort=False)["wait_min"].first() + RESOLUTION_MIN / 2


def summarise(hist: pd.DataFrame, keys: Sequence[str], target_minutes: float | None = None) -> pd.DataFrame:
    """Per group of ``keys``: visits, abandoned, abandoned_share(_lower/_upper), waited, mean_wait_min,
    median_wait_min, p90_wait_min (whole minutes, :data:`RESOLUTION_MIN`), within_target(_lower/_upper)
    (waits under ``target_minutes``; None: the rules file's), served and mean_service_min."""
    keys, target_minutes = list(keys), _target(target_minutes)
    if hist.empty:
        hist = hist.assign(**{k: pd.Series(dtype=float) for k in keys if k not in hist.columns})
    within = hist.assign(within=np.where(hist["wait_min"] < target_minutes, hist["waited"], 0.0))
    out = within.groupby(keys, dropna=False, as_index=False)[[*SUMS, "within"]].sum()
    for col, p in (("median_wait_min", 0.5), ("p90_wait_min", 0.9)):
        quant = quantile_minutes(hist, keys, p).rename(col)
        out = out.merge(quant.reset_index(), on=keys, how="left") if len(out) else out.assign(**{col: np.nan})
    return _finish(out)


def _finish(out: pd.DataFrame) -> pd.DataFrame:
    """Means, shares and intervals from the sums, ``within`` and the quantiles of each group."""
    for col in (*SUMS, "within", "median_wait_min", "p90_wait_min"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    for col in SUMS:
        out[col] = out[col].fillna(0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["mean_wait_min"] = np.where(out["waited"] > 0, out["wait_s"] / out["waited"] / 60, np.nan)
        out["mean_service_min"] = np.where(out["served"] > 0, out["service_s"] / out["served"] / 60, np.nan)
    quantiles = out[["median_wait_min", "p90_wait_min"]]
    out = out.drop(columns=["median_wait_min", "p90_wait_min"])
    out[["median_wait_min", "p90_wait_min"]] = quantiles.to_numpy()
    _share(out, "abandoned_share", out["abandoned"], out["visits"])
    _share(out, "within_target", out["within"], out["waited"])
    for col in ("visits", "abandoned", "waited", "served"):
        out[col] = out[col].round().astype("int64")
    return out.drop(columns=["within", "wait_sq"])


def _from_rollup(wh: Warehouse, f: Filters) -> bool:
    return wh.use_rollups and q.rollup_answers(f) and qr.is_built(wh)


def summary(wh: Warehouse, f: Filters, keys: Sequence[str], outlet_id: int | None = None,
            target_minutes: float | None = None) -> pd.DataFrame:
    """:func:`summarise` of the visits in the period and scope by ``keys``, computed in the database
    (one row per group comes back)."""
    keys, target_minutes = list(keys), _target(target_minutes)
    b, rollup = bounds(wh, f), _from_rollup(wh, f)
    parts = [wh.read(q.queue_totals(f, b, keys, outlet_id, rollup, target_minutes)),
             wh.read(q.queue_quantiles(f, b, keys, outlet_id, rollup))]
    for df in parts:
        for col in ("outlet_id", "hour", "region_id", "weekday"):
            if col in df.columns:
                df[col] = pd.to_numeric(df[col]).astype("int64")
    return _finish(parts[0].merge(parts[1], on=keys, how="left"))


def _share(df: pd.DataFrame, col: str, k: pd.Series, n: pd.Series) -> None:
    k, n = k.to_numpy(float), n.to_numpy(float)
    lo, hi = stats.wilson(k, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        df[col] = np.where(n > 0, k / n, np.nan)
    df[f"{col}_lower"], df[f"{col}_upper"] = np.where(n > 0, lo, np.nan), np.where(n > 0, hi, np.nan)


# -- the outlets -------------------------------------------------------------------------------------
def outlets_in_scope(wh: Warehouse, f: Filters, outlet_id: int | None = None) -> pd.DataFrame:
    """The outlets in the filters' regions and the user's scope (outlet_id, name, kind, region_id,
    vip_room, stars, stars_since)."""
    df = wh.read(q.outlet_rows(f, outlet_id))
    df["outlet_id"] = pd.to_numeric(df["outlet_id"]).astype("int64")
    df["stars"] = pd.to_numeric(df["stars"], errors="coerce").astype("Int64")
    return df


def check_outlet(wh: Warehouse, f: Filters, outlet_id: int) -> pd.Series:
    """The outlet ``outlet_id`` if the user's scope holds it (whatever the region and outlet filters);
    :class:`ScopeError` otherwise (or unknown)."""
    df = outlets_in_scope(wh, f.with_(regions=(), outlets=()), outlet_id)
    if df.empty:
        raise ScopeError.said("scope_refusal.outlet_or_unknown")
    return df.iloc[0]


def outlet_league(wh: Warehouse, f: Filters, target_minutes: float | None = None) -> pd.DataFrame:
    """One row per outlet in the regions and scope: outlet_id, name, kind, region_id, vip_room, stars,
    visits, abandoned, abandoned_share(_lower/_upper), waited, mean_wait_min, median_wait_min,
    p90_wait_min (whole minutes), within_target(_lower/_upper), mean_service_min, csat_n, csat(_lower/
    _upper), complaints, complaints_per_1000 (visits; exact Poisson interval _lower/_upper), audits,
    audit_score (mean of the period's audits, 0–100), rank (1 = best on the lower bound of
    within_target; NaN: unranked) and rank_note (small, no_data). A channel filter does not apply (an
    outlet is itself a channel; the queue has none): visits, CSAT and complaints are all the outlet's.
    Aggregate-only users: outlets with
    fewer visits than the scope's minimum are blanked (``suppressed``)."""
    b = bounds(wh, f)
    base = outlets_in_scope(wh, f)
    figures = summary(wh, f, ["outlet_id"], None, target_minutes)
    df = base.merge(figures, on="outlet_id", how="left")
    known = pd.Timestamp(wh.resolve_as_of(f) + timedelta(days=1)).to_pydatetime()
    fo = f.with_(channels=())  # an outlet is itself a channel: visits, CSAT and complaints all ignore the slice
    for part in (wh.read(q.survey_figures(fo, b, known)), wh.read(q.complaint_figures(fo, b))):
        part["outlet_id"] = pd.to_numeric(part["outlet_id"]).astype("int64")
        df = df.merge(part, on="outlet_id", how="left")
    for col in ("visits", "abandoned", "waited", "served", "csat_n", "csat_good", "complaints"):
        df[col] = pd.to_numeric(df[col], errors="coerce").fillna(0).round().astype("int64")
    _share(df, "csat", df["csat_good"], df["csat_n"])
    k, n = df["complaints"].to_numpy(float), df["visits"].to_numpy(float)
    lo, hi = stats.poisson_rate_interval(k, n, scale=1000)
    with np.errstate(invalid="ignore", divide="ignore"):
        df["complaints_per_1000"] = np.where(n > 0, 1000 * k / n, np.nan)
    df["complaints_per_1000_lower"] = np.where(n > 0, lo, np.nan)
    df["complaints_per_1000_upper"] = np.where(n > 0, hi, np.nan)
    audits = wh.read(q.audit_summary(f, b, f.start))
    audits["outlet_id"] = pd.to_numeric(audits["outlet_id"]).astype("int64")
    audits["audit_score"] = pd.to_numeric(audits["audit_score"], errors="coerce").astype(float)
    df = df.merge(audits, on="outlet_id", how="left")
    df["audits"] = pd.to_numeric(df["audits"], errors="coerce").fillna(0).astype("int64")
    df = _rank(df)
    return _suppress(df, f).reset_index(drop=True)


def _rank(df: pd.DataFrame) -> pd.DataFrame:
    n = df["waited"].to_numpy(float)
    rankable = np.isfinite(df["within_target_lower"].to_numpy(float)) & (n >= MIN_RANK_N)
    df["rank_note"] = np.where(n >= MIN_RANK_N, None, np.where(n > 0, "small", "no_data"))
    df["rank"] = df["within_target_lower"].where(rankable).rank(ascending=False, method="min")
    return df.sort_values(["rank", "visits", "outlet_id"], ascending=[True, False, True], na_position="last",
                          kind="stable")


def withheld_rows(f: Filters, counts: pd.Series) -> np.ndarray:
    """Per row: withheld from an aggregate-only user (fewer visits or waits than the scope's minimum
    group, :func:`metrics.access.users.withheld`)."""
    return np.array([withheld(f.scope, int(v) if pd.notna(v) else 0) for v in counts], dtype=bool)


def blank_rows(df: pd.DataFrame, small: np.ndarray, keep: Sequence[str]) -> pd.DataFrame:
    """The rows ``small`` with every column but ``keep`` blanked (numbers NaN, codes None) and flagged
    in ``suppressed``; ``df`` unchanged when none is."""
    if not small.any():
        return df
    df = df.copy()
    for col in df.columns.difference(list(keep)):
        if pd.api.types.is_numeric_dtype(df[col]) and not pd.api.types.is_bool_dtype(df[col]):
            df[col] = df[col].astype(float).where(~small)
        else:
            df[col] = df[col].astype(object).where(~small, None)
    df["suppressed"] = small
    return df


def withheld_outlets(wh: Warehouse, f: Filters, outlet_id: int | None = None) -> set[int]:
    """For an aggregate-only user (a viewer): the outlets in scope (or the one asked for) with fewer
    visits in the period than the scope's minimum group — those :func:`outlet_league` blanks, and whose
    queue, VIP lane (here) and audits (metrics.analysis.outlet_audits) are withheld too; empty for everyone else."""
    if f.scope is None or not f.scope.aggregates_only:
        return set()
    sums = wh.read(q.queue_totals(f, bounds(wh, f), ["outlet_id"], outlet_id, _from_rollup(wh, f), _target(None)))
    visits = dict(zip(pd.to_numeric(sums["outlet_id"]).astype("int64"),
                      pd.to_numeric(sums["visits"], errors="coerce").fillna(0), strict=True))
    ids = outlets_in_scope(wh, f, outlet_id)["outlet_id"]
    return {int(o) for o in ids if withheld(f.scope, int(visits.get(int(o), 0)))}


def _suppress(df: pd.DataFrame, f: Filters) -> pd.DataFrame:
    small = withheld_rows(f, df["visits"])
    if not small.any():
        return df
    df = df.copy()
    for col in df.columns.difference(["outlet_id", "name", "kind", "region_id"]):
        df[col] = df[col].astype(object)
        df.loc[small, col] = None
    df["suppressed"] = small
    return df


def outlet_groups(wh: Warehouse, f: Filters, by: str = "kind", target_minutes: float | None = None) -> pd.DataFrame:
    """The queue figures of :func:`summarise` summed over the outlets of each ``kind`` or city
    (``region``: the outlet's region_id), with the number of outlets that had visits."""
    if by not in ("kind", "region"):
        raise ValueError(f"unknown grouping {by!r}; use kind or region")
    col = "region_id" if by == "region" else "kind"
    out = summary(wh, f, [col], None, target_minutes)
    per = summary(wh, f, ["outlet_id"], None, target_minutes)
    per[col] = per["outlet_id"].map(outlets_in_scope(wh, f).set_index("outlet_id")[col])
    out.insert(1, "outlets", out[col].map(per[per["visits"] > 0].groupby(col)["outlet_id"].nunique()).fillna(0)
               .astype("int64"))
    return out.sort_values("visits", ascending=False, kind="stable").reset_index(drop=True)


def queue_pattern(wh: Warehouse, f: Filters, outlet_id: int | None = None, by: str = "hour",
                  target_minutes: float | None = None) -> pd.DataFrame:
    """The queue by ``by`` (one of :data:`PATTERNS`; hour_weekday: weekday × hour) at one outlet or all
    in scope: the group columns, visits, share (of the visits; adds up to 1), the waits as in
    :func:`summarise`. Groups without visits are not listed. Aggregate-only users: groups of fewer
    visits than the scope's minimum are blanked (``suppressed``; all of an outlet the league blanks)."""
    if by not in PATTERNS:
        raise ValueError(f"unknown grouping {by!r}; use one of {', '.join(PATTERNS)}")
    if outlet_id is not None:
        check_outlet(wh, f, outlet_id)
    keys = ["weekday", "hour"] if by == "hour_weekday" else [by]
    out = summary(wh, f, keys, outlet_id, target_minutes)
    total = out["visits"].sum()
    out.insert(len(keys) + 1, "share", out["visits"] / total if total else np.nan)
    out = out.sort_values(keys, kind="stable", na_position="last").reset_index(drop=True)
    return blank_rows(out, withheld_rows(f, out["visits"]), keys)


def vip_lane(wh: Warehouse, f: Filters, outlet_id: int | None = None, vip_tiers: Sequence[str] | None = None,
             rules: outlet_rules.Rules | None = None) -> pd.DataFrame:
    """Does the VIP room work: per outlet with a VIP room (or the one asked for), the mean wait of the
    VIP tiers (``vip_tiers``, default the rules file's ``[vip] tiers``) against every other identified
    customer's: n_vip, n_other (waits), mean_wait_vip_min, mean_wait_other_min, saving_min = other − vip
    (minutes; positive: VIPs wait less) with its Welch 95% interval (saving_lower, saving_upper), and
    verdict (:func:`welch`): ``works``, ``does_not``, ``unclear`` or ``too_small``, the worthwhile saving
    being the rules' ``[vip] min_saving_minutes`` (``rules``: checked rules, default the rules file's;
    :class:`~metrics.analysis.outlet_stars.RulesError` when it cannot be used). Aggregate-only users: a
    hall with fewer waits on a side than the scope's minimum group (so every hall the league blanks) has
    its figures and verdict blanked (``suppressed``)."""
    rules_ = checked_rules(rules)
    if vip_tiers is None:
        vip_tiers = rules_.vip_tiers
    if outlet_id is None:
        base = outlets_in_scope(wh, f)
        base = base[base["vip_room"].map(lambda v: bool(v) if pd.notna(v) else False).astype(bool)]
        extra = [s.outlets.c.vip_room == sa.true()]
    else:
        base, extra = check_outlet(wh, f, outlet_id).to_frame().T, []
    sums = wh.read(q.queue_totals(f, bounds(wh, f), ["outlet_id", "tier"], outlet_id, _from_rollup(wh, f),
                                  rules_.target_minutes, extra))
    sums = sums[sums["tier"].notna()]
    sums = sums.assign(vip=sums["tier"].isin(list(vip_tiers)),
                       outlet_id=pd.to_numeric(sums["outlet_id"]).astype("int64"))
    for col in ("waited", "wait_s", "wait_sq"):
        sums[col] = pd.to_numeric(sums[col], errors="coerce").astype(float).fillna(0.0)
    side = sums.groupby(["outlet_id", "vip"])[["waited", "wait_s", "wait_sq"]].sum().unstack("vip", fill_value=0.0)
    ids = base["outlet_id"].astype("int64").to_numpy()
    side = side.reindex(ids, fill_value=0.0)

    def col(name: str, vip: bool) -> np.ndarray:
        return side[(name, vip)].to_numpy(float) if (name, vip) in side.columns else np.zeros(len(ids))

    out = pd.DataFrame({"outlet_id": ids, **welch(*(col(c, True) for c in ("waited", "wait_s", "wait_sq")),
                                                  *(col(c, False) for c in ("waited", "wait_s", "wait_sq")),
                                                  min_saving=rules_.min_saving_min)})
    base = base[["outlet_id", "name", "region_id", "vip_room"]].astype({"outlet_id": "int64"})
    out = base.merge(out, on="outlet_id", how="left").reset_index(drop=True)
    small = withheld_rows(f, out["n_vip"]) | withheld_rows(f, out["n_other"])  # both shown: its visits too
    return blank_rows(out, small, ["outlet_id", "name", "region_id", "vip_room"])


def welch(n1: np.ndarray, s1: np.ndarray, ss1: np.ndarray, n2: np.ndarray, s2: np.ndarray,
          ss2: np.ndarray, min_saving: float = 0.0) -> dict[str, np.ndarray]:
    """Welch's comparison of the mean waits of the VIP side (1) and the others (2) from their counts,
    sums and sums of squares (seconds): the columns of :func:`vip_lane` after outlet_id (minutes). The
    verdict on the saving's 95% interval: ``works`` (lower bound above 0), ``does_not`` (upper bound at
    or below 0, or below ``min_saving`` minutes — not worth the room), ``unclear`` (otherwise: too
    uncertain to tell), ``too_small`` (fewer than :data:`MIN_LANE_N` waits on a side)."""
    sps = stats.scipy_stats()  # scipy.stats imported on use (a second of start-up otherwise)

    with np.errstate(invalid="ignore", divide="ignore"):
        m1, m2 = np.where(n1 > 0, s1 / n1 / 60, np.nan), np.where(n2 > 0, s2 / n2 / 60, np.nan)
        v1 = np.clip(ss1 - n1 * (s1 / n1) ** 2, 0, None) / (n1 - 1) / 3600  # minutes²
        v2 = np.clip(ss2 - n2 * (s2 / n2) ** 2, 0, None) / (n2 - 1) / 3600
        a1, a2 = v1 / n1, v2 / n2
        se2 = a1 + a2
        dof = np.where(se2 > 0, se2**2 / (a1**2 / (n1 - 1) + a2**2 / (n2 - 1)), np.inf)
        half = sps.t.ppf(0.975, np.where(np.isfinite(dof) & (dof > 0), dof, np.inf)) * np.sqrt(se2)
    small = np.minimum(n1, n2) < MIN_LANE_N
    diff = m2 - m1
    lo, hi = np.where(small, np.nan, diff - half), np.where(small, np.nan, diff + half)
    with np.errstate(invalid="ignore"):
        verdict = np.select([small, diff - half > 0, (diff + half <= 0) | (diff + half < min_saving)],
                            ["too_small", "works", "does_not"], "unclear")
    return {"n_vip": n1.round().astype("int64"), "n_other": n2.round().astype("int64"), "mean_wait_vip_min": m1,
            "mean_wait_other_min": m2, "saving_min": diff, "saving_lower": lo, "saving_upper": hi, "verdict": verdict}
