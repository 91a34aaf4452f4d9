"""Star ratings of outlets (issue 19) from rules that are data: ``data/outlet_stars.toml`` (or a file
given with ``servicewatch stars --rules FILE``) weighs four component scores (0–100) into one score and
maps it to 1–5 stars; :func:`star_ratings` compares the result with each outlet's current rating.

Components (docs/outlets.md): waiting = 100 × the share of waits under ``target_minutes``; audits = the
mean audit score of the period; satisfaction = 100 × CSAT; complaints = max(0, 100 −
``points_per_complaint`` × complaints per 1,000 visits). Score = Σ weight × component ÷ Σ weight over
the components with data. The change code: ``gain``, ``lose``, ``same``; ``unrated`` (no current stars),
``no_data`` (no component), ``too_small`` (fewer than :data:`metrics.analysis.outlets.MIN_RANK_N` waits:
no change proposed on noise). ``driver``: for a gain, the component whose weighted distance above the next
star's threshold is largest; for a loss, the one furthest below the current star's threshold.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from metrics.analysis import outlets as ol
from metrics.analysis.outlet_rules import (  # noqa: F401 - re-exported: the rules as the stars' callers know them
    COMPONENTS,
    RULES_PATH,
    STARS,
    Rules,
    RulesError,
    check_rules,
    load_rules,
)
from metrics.model.filters import Filters
from metrics.query.warehouse import Warehouse


def components(league: pd.DataFrame, rules: Rules) -> pd.DataFrame:
    """The component scores (0–100, NaN: no data) of each row of an outlet league."""
    per = pd.to_numeric(league["complaints_per_1000"], errors="coerce").astype(float)
    return pd.DataFrame({
        "score_waiting": 100 * pd.to_numeric(league["within_target"], errors="coerce").astype(float),
        "score_audits": pd.to_numeric(league["audit_score"], errors="coerce").astype(float),
        "score_satisfaction": 100 * pd.to_numeric(league["csat"], errors="coerce").astype(float),
        "score_complaints": np.clip(100 - rules.points_per_complaint * per, 0, None),
    }, index=league.index)


def stars_of(score: float, rules: Rules) -> float:
    """The stars a score earns (NaN for NaN)."""
    if not np.isfinite(score):
        return np.nan
    return float(max((s for s in STARS if score >= rules.thresholds[s]), default=STARS[0]))


def rate(league: pd.DataFrame, rules: Rules) -> pd.DataFrame:
    """Scores, stars, change and driver for the rows of an outlet league (pure: the hand-checkable part)."""
    comp = components(league, rules)
    names = [f"score_{c}" for c in COMPONENTS]
    w = np.array([rules.weights.get(c, 0.0) for c in COMPONENTS])
    vals = comp[names].to_numpy(float)
    have = np.isfinite(vals) & (w > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(have.any(axis=1), np.nansum(np.where(have, vals * w, 0.0), axis=1)
                         / np.where(have, w, 0.0).sum(axis=1), np.nan)
    out = league[["outlet_id", "name", "stars"]].copy().reset_index(drop=True)
    out["score"] = score
    out["computed_stars"] = [stars_of(v, rules) for v in score]
    out = pd.concat([out, comp.reset_index(drop=True)], axis=1)
    waited = pd.to_numeric(league["waited"], errors="coerce").fillna(0).to_numpy(float)
    current = pd.to_numeric(league["stars"], errors="coerce").to_numpy(float)
    new = out["computed_stars"].to_numpy(float)
    change = np.select([~np.isfinite(new), ~np.isfinite(current), waited < ol.MIN_RANK_N, new > current, new < current],
                       ["no_data", "unrated", "too_small", "gain", "lose"], "same")
    th = np.array([np.nan, *[rules.thresholds[s] for s in STARS], np.nan])  # index: stars (0 and 6: none)
    stars_now = np.where(np.isfinite(current), current, 0).astype(int).clip(0, 5)
    edge = np.where(change == "gain", th[np.minimum(stars_now + 1, 6)], th[stars_now])[:, None]
    pull = np.where(have, w * (vals - edge), np.nan)
    with np.errstate(invalid="ignore"):
        up = np.nanargmax(np.where(np.isnan(pull), -np.inf, pull), axis=1)
        down = np.nanargmin(np.where(np.isnan(pull), np.inf, pull), axis=1)
    names = np.array(COMPONENTS, dtype=object)
    out["change"] = change
    out["driver"] = np.where(change == "gain", names[up], np.where(change == "lose", names[down], None))
    out["computed_stars"] = out["computed_stars"].astype("Int64")
    out["stars"] = pd.to_numeric(out["stars"], errors="coerce").astype("Int64")
    return out


def star_ratings(wh: Warehouse, f: Filters, rules: Rules | None = None,
                 league: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per outlet in the regions and scope: outlet_id, name, stars (current), score (0–100),
    computed_stars, score_waiting, score_audits, score_satisfaction, score_complaints, change (gain, lose,
    same, unrated, no_data, too_small) and driver (the component that moved it most). Gains and losses
    first."""
    rules = rules or load_rules()
    if league is None:  # a page that shows the league at the rules' target passes it (no second query)
        league = ol.outlet_league(wh, f, rules.target_minutes)
    out = rate(league, rules)
    first = out["change"].map({"gain": 0, "lose": 0}).fillna(1)
    out = out.assign(_o=first).sort_values(["_o", "outlet_id"], kind="stable")
    return out.drop(columns="_o").reset_index(drop=True)
