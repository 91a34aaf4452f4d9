"""Fair comparisons of regions (or other groups): league tables with tests, and funnel plots.

Pure functions over the tidy frames of :meth:`Warehouse.metric` / :meth:`Warehouse.compare`; no
database access, no Streamlit. Each group is tested against *the rest* of the scope (the scope's
total minus the group), so a big region is not compared with itself:

- shares: two-proportion z test (:func:`stats.two_proportion_p`) on numerator/denominator;
- rates: conditional Poisson test (:func:`stats.two_rate_p`) on events/exposure;
- means and NPS: z test from the 95% intervals (standard error = half-width / 1.96; the rest's
  standard error scaled from the total's by √(N / (N − n)));
- other kinds (counts, sums, quantiles, availability): not tested.

p-values are Holm-corrected over the groups, so "significantly better/worse" holds for the
table as a whole at the chosen level (5% by default).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from metrics.access.users import allowed_regions
from metrics.analysis import stats
from metrics.model.filters import Filters
from metrics.model.registry import Metric

TESTED_KINDS = ("share", "rate", "mean", "nps")
VERDICTS = ("better", "worse", "higher", "lower", "no_evidence", "not_tested")


def scope(f: Filters, regions: pd.DataFrame) -> tuple[Filters, str]:
    """The filters and region level of a league: cities of the province without a region filter,
    the districts of the selected city, or of the city around a selected district. Without a region
    filter a user's scope (``f.scope.regions``) counts as the choice: a city manager's league is the
    districts of the city, not a province of one city."""
    chosen = f.regions or (f.scope.regions if f.scope is not None and f.scope.regions else ())
    if len(chosen) != 1:
        return f, "city"
    row = regions.loc[regions["region_id"] == chosen[0]]
    if row.empty:
        return f, "city"
    level = row["level"].iloc[0]
    if level == "province":
        return f.with_(regions=()), "city"
    if level == "district":  # the city around it, if the user may see it; a scope of one district stays as it is
        parent = int(row["parent_id"].iloc[0])
        allowed = allowed_regions(f.scope, regions)  # a district manager's pack names their district: no wider
        return (f.with_(regions=(parent,)) if f.regions and (allowed is None or parent in allowed) else f), "district"
    if not (regions["parent_id"] == chosen[0]).any():  # a city without districts (a one-level tree)
        return f, str(level)
    return f, "district"


def scope_for(dim: str, f: Filters, regions: pd.DataFrame) -> tuple[Filters, str]:
    """The filters and region level of a figure by ``dim``: by region, the league's (:func:`scope`);
    by another dimension, the filters as they are (the level only matters to regions)."""
    rf, level = scope(f, regions)
    return (rf if dim == "region" else f), level


def _total(total: pd.DataFrame, col: str) -> float:
    return float(total[col].iloc[0]) if len(total) and col in total.columns else np.nan


def rest_test(metric: Metric, groups: pd.DataFrame, total: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(value of the rest of the scope, two-sided p-value) for each group against the rest."""
    n = groups["n"].to_numpy(float)
    value = groups["value"].to_numpy(float)
    nan = np.full(len(groups), np.nan)
    big_n, big_value = _total(total, "n"), _total(total, "value")
    if metric.kind == "share":
        k1 = np.round(value * n)
        k_all = np.round(big_value * big_n)
        k2, n2 = k_all - k1, big_n - n
        ok = n2 > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            rest = np.where(ok, k2 / n2, np.nan)
        return rest, np.where(ok, stats.two_proportion_p(k1, n, k2, n2), np.nan)
    if metric.kind == "rate":
        if "exposure" not in groups.columns:
            return nan, nan
        scale = metric.per
        e1, t1 = groups["events"].to_numpy(float), groups["exposure"].to_numpy(float)
        e2, t2 = _total(total, "events") - e1, _total(total, "exposure") - t1
        ok = (t2 > 1e-9) & (e2 >= 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            rest = np.where(ok, scale * e2 / t2, np.nan)
        return rest, np.where(ok, stats.two_rate_p(e1, t1, e2, t2), np.nan)
    if metric.kind in ("mean", "nps"):
        se1 = (groups["upper"].to_numpy(float) - groups["lower"].to_numpy(float)) / (2 * stats.Z95)
        se_all = (_total(total, "upper") - _total(total, "lower")) / (2 * stats.Z95)
        n2 = big_n - n
        ok = n2 > 1
        with np.errstate(invalid="ignore", divide="ignore"):
            rest = np.where(ok, (big_value * big_n - value * n) / n2, np.nan)
            se2 = se_all * np.sqrt(big_n / n2)
            z = (value - rest) / np.sqrt(se1**2 + se2**2)
            p = stats.normal_p(z)
        return rest, np.where(ok & np.isfinite(z), p, np.nan)
    return nan, nan


def league(metric: Metric, groups: pd.DataFrame, total: pd.DataFrame, key: str = "region_id",
           alpha: float = 0.05) -> pd.DataFrame:
    """A league table: each group's value against the rest, Holm-corrected, best first.

    ``groups``: the metric (or compare) frame cut by ``key``; ``total``: the one-row frame of the
    same metric for the whole scope. Returns ``key``, value, n, lower, upper, (value_cmp, delta
    when given), rest_value, p_value, p_adjusted, verdict (see :data:`VERDICTS`), rank (1 = best;
    highest value first when the metric has no direction).
    """
    cols = [key, "value", "n", "lower", "upper"] + [c for c in ("value_cmp", "delta") if c in groups.columns]
    out = groups[cols].copy().reset_index(drop=True)
    if out.empty:
        return out.assign(rest_value=[], p_value=[], p_adjusted=[], verdict=[], rank=[])
    if metric.kind in TESTED_KINDS:
        rest, p = rest_test(metric, groups.reset_index(drop=True), total)
    else:
        rest, p = np.full(len(out), np.nan), np.full(len(out), np.nan)
    out["rest_value"] = rest
    out["p_value"] = p
    adjusted = np.full(len(out), np.nan)
    tested = np.isfinite(p)
    if tested.any():
        adjusted[tested] = stats.holm(p[tested])
    out["p_adjusted"] = adjusted
    above = out["value"].to_numpy(float) > rest
    significant = adjusted < alpha
    if metric.higher_is_better is None:
        good, bad = "higher", "lower"
        better = above
    else:
        good, bad = "better", "worse"
        better = above if metric.higher_is_better else ~above
    out["verdict"] = np.where(~tested, "not_tested",
                              np.where(significant, np.where(better, good, bad), "no_evidence"))
    descending = metric.higher_is_better is not False
    out = out.sort_values("value", ascending=not descending, na_position="last").reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    return out


def funnel(groups: pd.DataFrame, total: pd.DataFrame, scale: float = 1000.0,
           key: str = "region_id", points: int = 120) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """Data of a funnel plot of a Poisson rate (e.g. complaints per 1,000 customer-months).

    ``groups`` has ``key``, value, events, exposure (a rate metric cut by region); ``total`` the
    scope's one-row frame. Returns (points: key, value, events, exposure, position ∈ {above_998,
    above_95, within, below_95, below_998}; limits: exposure, lo95, hi95, lo998, hi998; the overall
    rate). Limits come from :func:`stats.funnel_limits` around the overall rate.
    """
    pts = groups[[key, "value", "events", "exposure"]].copy().reset_index(drop=True)
    overall = _total(total, "value")
    if pts.empty or not np.isfinite(overall) or pts["exposure"].max() <= 0:
        empty = pd.DataFrame(columns=["exposure", "lo95", "hi95", "lo998", "hi998"])
        return pts.assign(position=[]), empty, overall
    lo_x = max(pts["exposure"].min() * 0.5, 1.0)
    hi_x = pts["exposure"].max() * 1.5
    grid = np.geomspace(lo_x, hi_x, points)
    lo95, hi95 = stats.funnel_limits(overall, grid, scale, 0.95)
    lo998, hi998 = stats.funnel_limits(overall, grid, scale, 0.998)
    limits = pd.DataFrame({"exposure": grid, "lo95": lo95, "hi95": hi95, "lo998": lo998, "hi998": hi998})
    x = pts["exposure"].to_numpy(float)
    own95 = stats.funnel_limits(overall, x, scale, 0.95)
    own998 = stats.funnel_limits(overall, x, scale, 0.998)
    v = pts["value"].to_numpy(float)
    pts["position"] = np.select(
        [v > own998[1], v > own95[1], v < own998[0], v < own95[0]],
        ["above_998", "above_95", "below_998", "below_95"], default="within")
    return pts, limits, overall
