"""Account health score of enterprise customers (issue 18 item 3, docs/health.md): an explainable
composite of six parts — SLA compliance, availability, complaints, satisfaction, the six-month spend
trend and churn risk — each scored 0–100, weighted by data (``data/health_weights.toml``).

A customer's score is Σ wᵢ·sᵢ ÷ Σ wᵢ over the parts it has data for: a missing part (no circuits, no
survey answers, no stored churn score) is named and its weight shared out, never scored 0. The score is
computed *as of a day* from the data before it (one SQL aggregate per source over all the days at once,
:mod:`metrics.analysis.health_sql`), which gives the monthly history, the trend arrow (against the
previous month's score) and "what moved it": the change split exactly over the parts known in both
months (each part's weighted change; the largest one moved it). The stored churn scores are used only on
days on or after the fit's as-of date, so the back-test never sees the future.

Its ability to rank departures is measured on a time split (:func:`backtest`): the score as of a cut-off
``horizon_days`` before the day looked at, the outcome a departure in the following ``horizon_days``;
AUC with a DeLong 95% interval (:func:`delong_auc`), n and departures."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from metrics.access.users import ScopeError, require_rows
from metrics.analysis import health_sql as q
from metrics.analysis.stats import Z95
from metrics.model.filters import Filters
from metrics.model.i18n import t
from metrics.query.warehouse import Warehouse

PARTS = ("sla_compliance", "availability", "complaints", "satisfaction", "spend_trend", "churn_risk")
WEIGHTS_PATH = Path(__file__).resolve().parents[3] / "data" / "health_weights.toml"
NUMBERS = ("window_months", "satisfaction_months", "history_months", "complaints_zero", "availability_full",
           "availability_zero", "spend_zero", "churn_zero", "trend_step", "horizon_days")
WHOLE = ("window_months", "satisfaction_months", "history_months", "horizon_days")
MIN_CLASS = 10  # departures (and stayers) needed before an AUC is shown


class WeightsError(ValueError):
    """A weights file that cannot be used: ``key`` (catalogue) and ``params`` make its one line."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(f"{key} {params}")
        self.key, self.params = key, params


def load_weights(path: str | Path | None = None) -> dict:
    """The parsed and checked weights file (default :data:`WEIGHTS_PATH`): ``weights`` (part -> a
    non-negative number, parts not named weigh 0), ``segments`` and the numbers of :data:`NUMBERS`.
    Raises :class:`WeightsError` on anything unusable."""
    p = Path(path) if path is not None else WEIGHTS_PATH
    try:
        with p.open("rb") as fh:
            raw = tomllib.load(fh)
    except OSError:
        raise WeightsError("health.weights_error.unreadable", file=p.name) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        raise WeightsError("health.weights_error.not_toml", file=p.name) from None
    w = raw.get("weights")
    if not isinstance(w, dict) or not w:
        raise WeightsError("health.weights_error.no_weights", file=p.name)
    unknown = [k for k in w if k not in PARTS]
    if unknown:
        raise WeightsError("health.weights_error.unknown_part", part=unknown[0], parts=", ".join(PARTS))
    bad = [k for k, v in w.items() if isinstance(v, bool) or not isinstance(v, int | float) or not v >= 0]
    if bad or sum(w.values()) <= 0:
        raise WeightsError("health.weights_error.bad_weight", part=bad[0] if bad else "")
    default = _defaults()
    cfg = {"weights": {k: float(w.get(k, 0.0)) for k in PARTS}}
    for k in NUMBERS:
        v = raw.get(k, default.get(k))
        if isinstance(v, bool) or not isinstance(v, int | float) or (k in WHOLE and (v != int(v) or v < 1)):
            raise WeightsError("health.weights_error.bad_number", name=k)
        cfg[k] = int(v) if k in WHOLE else float(v)
    seg = raw.get("segments", default.get("segments"))
    if not isinstance(seg, list) or not seg or not all(isinstance(x, str) for x in seg):
        raise WeightsError("health.weights_error.bad_number", name="segments")
    cfg["segments"] = tuple(seg)
    if not cfg["availability_zero"] < cfg["availability_full"] or cfg["spend_zero"] >= 0 or \
            cfg["complaints_zero"] <= 0 or cfg["churn_zero"] <= 0:
        raise WeightsError("health.weights_error.bad_scale")
    return cfg


def _defaults() -> dict:
    try:
        with WEIGHTS_PATH.open("rb") as fh:
            return tomllib.load(fh)
    except OSError:
        return {}


# -- the parts, the score, what moved it (pure) -------------------------------------------------
def part_scores(raw: pd.DataFrame, cfg: dict) -> pd.DataFrame:
    """The six part scores (0–100, NaN: no data) from the per-customer figures: sla_decided, sla_met,
    service_hours, outage_hours, complaints, csat_n, csat_good, spend_prev3, spend_last3, months_prev,
    churn_probability_90d (NaN: not known on that day)."""
    def num(col: str) -> np.ndarray:
        return pd.to_numeric(raw[col], errors="coerce").to_numpy(float) if col in raw else np.full(len(raw), np.nan)

    with np.errstate(invalid="ignore", divide="ignore"):
        dec, met = num("sla_decided"), num("sla_met")
        sla = np.where(dec > 0, 100 * met / dec, np.nan)
        hours, down = num("service_hours"), np.nan_to_num(num("outage_hours"))
        avail = 1 - np.clip(down, 0, None) / hours
        lo, hi = cfg["availability_zero"], cfg["availability_full"]
        availability = np.where(hours > 0, 100 * np.clip((avail - lo) / (hi - lo), 0, 1), np.nan)
        complaints = 100 * np.clip(1 - np.nan_to_num(num("complaints")) / cfg["complaints_zero"], 0, 1)
        n, good = num("csat_n"), num("csat_good")
        satisfaction = np.where(n > 0, 100 * good / n, np.nan)
        prev, last, months = num("spend_prev3"), num("spend_last3"), np.nan_to_num(num("months_prev"))
        change = np.where((months >= 3) & (prev > 0), np.nan_to_num(last) / prev - 1, np.nan)
        spend = 100 * np.clip(1 - np.minimum(change, 0) / cfg["spend_zero"], 0, 1)
        churn = 100 * np.clip(1 - num("churn_probability_90d") / cfg["churn_zero"], 0, 1)
    return pd.DataFrame({"sla_compliance": sla, "availability": availability, "complaints": complaints,
                         "satisfaction": satisfaction, "spend_trend": spend, "churn_risk": churn}, index=raw.index)


def combine(parts: pd.DataFrame, weights: dict[str, float]) -> tuple[pd.Series, pd.DataFrame]:
    """(score, contributions): score = Σ wᵢ·sᵢ ÷ Σ wᵢ over the parts present (NaN when none is);
    contribution of a part = its share of the weight × its score (points; they add up to the score)."""
    w = np.array([weights.get(p, 0.0) for p in PARTS])
    s = parts[list(PARTS)].to_numpy(float)
    present = np.isfinite(s) & (w > 0)
    total = (present * w).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(present, w / total[:, None], 0.0)
    contrib = pd.DataFrame(np.where(present, share * np.nan_to_num(s), 0.0), columns=list(PARTS), index=parts.index)
    score = pd.Series(np.where(total > 0, contrib.sum(axis=1), np.nan), index=parts.index)
    return score, contrib


def effective_weights(parts: pd.DataFrame, weights: dict[str, float]) -> pd.DataFrame:
    """Each part's weight after the missing parts' weight is shared out (fractions; 0 when missing)."""
    w = np.array([weights.get(p, 0.0) for p in PARTS])
    present = np.isfinite(parts[list(PARTS)].to_numpy(float)) & (w > 0)
    total = (present * w).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(present, w / total[:, None], 0.0)
    return pd.DataFrame(out, columns=list(PARTS), index=parts.index)


def compare(now: pd.DataFrame, prev: pd.DataFrame, weights: dict[str, float], step: float) -> pd.DataFrame:
    """Against the previous month, on the parts known in both (re-weighted over them): ``change``
    (points), ``trend`` (up, down, steady when |change| < ``step``; none without a previous score),
    ``moved`` (the part whose weighted change is largest in size) and ``moved_by`` (its points; the
    parts' changes add up to ``change``)."""
    both = now[list(PARTS)].where(prev[list(PARTS)].notna())
    before = prev[list(PARTS)].where(now[list(PARTS)].notna())
    s1, c1 = combine(both, weights)
    s0, c0 = combine(before, weights)
    change = s1 - s0
    d = np.where(change.notna().to_numpy()[:, None], (c1 - c0).to_numpy(), np.nan)
    size = np.where(np.isfinite(d), np.abs(d), -1.0)
    top = size.argmax(axis=1) if len(d) else np.zeros(0, int)
    has = size.max(axis=1, initial=-1.0) > 0
    rows = np.arange(len(d))
    moved = pd.Series([PARTS[k] if ok else None for k, ok in zip(top, has, strict=True)], index=now.index,
                      dtype=object)
    moved_by = pd.Series(np.where(has, d[rows, top] if len(d) else 0.0, np.nan), index=now.index)
    trend = np.where(change.isna(), "none", np.where(change >= step, "up", np.where(change <= -step, "down", "steady")))
    return pd.DataFrame({"change": change, "trend": trend, "moved": moved, "moved_by": moved_by}, index=now.index)


def delong_auc(y: np.ndarray, risk: np.ndarray) -> tuple[float, float, float]:
    """AUC of ``risk`` (higher = more likely to leave) for the outcome ``y`` (ties count ½) with DeLong's
    95% interval (structural components from midranks, DeLong et al. 1988), clipped to [0, 1]."""
    y = np.asarray(y, bool)
    risk = np.asarray(risk, float)
    pos, neg = risk[y], risk[~y]
    n1, n0 = len(pos), len(neg)
    if n1 < 2 or n0 < 2:
        return np.nan, np.nan, np.nan
    both = pd.Series(np.concatenate([pos, neg])).rank().to_numpy()
    r_pos, r_neg = pd.Series(pos).rank().to_numpy(), pd.Series(neg).rank().to_numpy()
    auc = (both[:n1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)
    v10 = (both[:n1] - r_pos) / n0          # per departure: share of stayers ranked below
    v01 = 1 - (both[n1:] - r_neg) / n1      # per stayer: share of departures ranked above
    se = np.sqrt(v10.var(ddof=1) / n1 + v01.var(ddof=1) / n0)
    return float(auc), float(max(0.0, auc - Z95 * se)), float(min(1.0, auc + Z95 * se))


# -- the data --------------------------------------------------------------------------------------
@dataclass
class Health:
    """What :func:`health` answers: one row per customer (``customers``), their monthly ``history``,
    the back-test (``backtest``), the weights used, the day looked at and the notes (catalogue key,
    parameters)."""

    customers: pd.DataFrame
    history: pd.DataFrame
    backtest: dict
    weights: dict[str, float]
    day: date
    notes: list[tuple[str, dict]] = field(default_factory=list)


def look_day(wh: Warehouse, f: Filters) -> date:
    """The day a score is computed as of: the period's end, or the as-of date when earlier."""
    return max(f.start, min(f.end, wh.resolve_as_of(f)))


def history_points(day: date, cfg: dict) -> list[q.Point]:
    """The points of the history: the first days of the ``history_months`` − 1 months before ``day``'s
    month end (exclusive ends of whole months), and the day after ``day``."""
    stop = day + timedelta(days=1)
    last = stop if stop.day == 1 else stop.replace(day=1)  # the newest month start up to ``stop``
    n = cfg["history_months"]
    back = range(n - 1, 0, -1) if stop.day == 1 else range(n - 2, -1, -1)
    stops = [q.add_months(last, -i) for i in back] + [stop]
    return [q.point(i, s_, cfg["window_months"], cfg["satisfaction_months"]) for i, s_ in enumerate(stops)]


def _model_day(wh: Warehouse) -> date | None:
    from metrics.churn import store as churn_store

    m = churn_store.latest_model(wh)
    return churn_store.model_date(m) if m is not None else None


def figures(wh: Warehouse, f: Filters, points: list[q.Point], cfg: dict, manager_id: int | None = None,
            customer_id: int | None = None) -> pd.DataFrame:
    """Per point and active enterprise customer (pid, customer_id, name, tier, manager_id, end_date) the
    raw figures of :func:`part_scores`; the stored churn probability only on points after the fit's day."""
    pts = q.points_table(points)
    args = (f, pts, cfg["segments"], manager_id, customer_id)
    df = wh.read(q.base(*args))
    for sel in (q.tickets, q.surveys, q.billing, q.service_hours, q.outage_hours):
        df = df.merge(wh.read(sel(*args)), on=["pid", "customer_id"], how="left")
    fit_day = _model_day(wh)
    df["churn_probability_90d"] = np.nan
    if fit_day is not None:
        risk = wh.read(q.churn_risk(f, cfg["segments"], manager_id, customer_id)).set_index("customer_id")
        known = df["pid"].map({p.id: p.stop > fit_day for p in points}).astype(bool)
        df.loc[known, "churn_probability_90d"] = df.loc[known, "customer_id"].map(risk["churn_probability_90d"])
    return df


def _own_manager(f: Filters, manager_id: int | None) -> None:
    own = f.scope.manager_id if f.scope is not None else None
    if own is not None and manager_id is not None and own != manager_id:
        raise ScopeError.said("scope_refusal.manager_customers")


def health(wh: Warehouse, f: Filters, cfg: dict | None = None, manager_id: int | None = None,
           customer_id: int | None = None, with_backtest: bool = True) -> Health:
    """The health of the enterprise customers in the filters and scope (of one manager or customer):
    ``customers`` — customer_id, name, tier, manager_id, score (0–100), previous (last month's), change,
    trend, moved, moved_by, the six part scores, ``<part>_weight`` (the weight used, a fraction) and
    ``missing`` (the parts without data, comma-separated); lowest score first. ``history``: customer_id,
    day, score and the parts per month. Viewers (aggregates only) get no customer rows."""
    require_rows(f.scope, "account_health_lists")
    _own_manager(f, manager_id)
    cfg = cfg or load_weights()
    w = cfg["weights"]
    day = look_day(wh, f)
    points = history_points(day, cfg)
    raw = figures(wh, f, points, cfg, manager_id, customer_id)
    parts = part_scores(raw, cfg)
    score, _ = combine(parts, w)
    hist = pd.concat([raw[["pid", "customer_id"]], parts, score.rename("score")], axis=1)
    hist["day"] = hist["pid"].map({p.id: p.stop - timedelta(days=1) for p in points})
    last_id = points[-1].id
    mask = (raw["pid"] == last_id).to_numpy()
    now = raw[mask].set_index("customer_id")
    p_now = parts[mask].set_axis(now.index)
    prev = hist[hist["pid"] == last_id - 1].set_index("customer_id").reindex(now.index)
    p_prev = prev[list(PARTS)].astype(float)
    s_now, _ = combine(p_now, w)
    cmp = compare(p_now, p_prev, w, cfg["trend_step"])
    eff = effective_weights(p_now, w)
    out = now[["name", "tier", "manager_id"]].copy()
    out["score"], out["previous"] = s_now, prev["score"].astype(float)
    out = pd.concat([out, cmp, p_now, eff.add_suffix("_weight")], axis=1)
    out["missing"] = [",".join(p for p in PARTS if w[p] > 0 and not np.isfinite(r[p])) for _, r in p_now.iterrows()]
    out = out.reset_index().sort_values(["score", "customer_id"], na_position="last", kind="stable")
    notes = _notes(wh, points, cfg)
    bt = backtest(wh, f, cfg) if with_backtest else {}
    hist = hist.drop(columns="pid").sort_values(["customer_id", "day"]).reset_index(drop=True)
    hist = hist[["customer_id", "day", "score", *PARTS]].round(2)
    return Health(out.reset_index(drop=True), hist, bt, dict(w), day, notes)


def _notes(wh: Warehouse, points: list[q.Point], cfg: dict) -> list[tuple[str, dict]]:
    if cfg["weights"]["churn_risk"] <= 0:
        return []
    fit_day = _model_day(wh)
    if fit_day is None:
        return [("health.note.no_model", {})]
    if points[-1].stop <= fit_day:
        return [("health.note.model_later", {"day": fit_day.isoformat()})]
    return [("health.note.model_from", {"day": fit_day.isoformat()})]


def backtest(wh: Warehouse, f: Filters, cfg: dict) -> dict:
    """How well the score ranks departures on a time split: the score as of the cut-off (``horizon_days``
    before the day looked at, from the data before it; the stored churn scores only when fitted by
    then), the outcome a departure in the ``horizon_days`` after it, over the enterprise customers in the
    filters and scope active on the cut-off. Keys: cutoff, horizon_days, n (scored), departures,
    unscored, auc, auc_lower, auc_upper (DeLong 95%), parts (used), reason (None, ``too_few``,
    ``too_early``)."""
    day = look_day(wh, f)
    h = cfg["horizon_days"]
    cutoff = day - timedelta(days=h)
    out = {"cutoff": cutoff, "horizon_days": h, "n": 0, "departures": 0, "unscored": 0, "auc": np.nan,
           "auc_lower": np.nan, "auc_upper": np.nan, "parts": [], "reason": None}
    first, _ = wh.data_span()
    if cutoff <= first:
        return {**out, "reason": "too_early"}
    stop = cutoff + timedelta(days=1)
    raw = figures(wh, f, [q.point(0, stop, cfg["window_months"], cfg["satisfaction_months"])], cfg)
    parts = part_scores(raw, cfg)
    score, _ = combine(parts, cfg["weights"])
    end = pd.to_datetime(raw["end_date"])
    left = (end.notna() & (end < pd.Timestamp(stop + timedelta(days=h)))).to_numpy()
    ok = score.notna().to_numpy()
    used = [p for p in PARTS if cfg["weights"][p] > 0 and parts[p].notna().any()]
    out.update(n=int(ok.sum()), departures=int(left[ok].sum()), unscored=int((~ok).sum()), parts=used)
    if out["departures"] < MIN_CLASS or out["n"] - out["departures"] < MIN_CLASS:
        return {**out, "reason": "too_few"}
    auc, lo, hi = delong_auc(left[ok], 100 - score.to_numpy()[ok])
    return {**out, "auc": auc, "auc_lower": lo, "auc_upper": hi}


# -- in words (CLI, page) ------------------------------------------------------------------------
def weights_sentence(weights: dict[str, float], lang: str) -> str:
    """The parts' weights in words (shares of the total, in ``lang``)."""
    total = sum(weights.values())
    items = [t("health.weight_item", lang, part=t(f"health.part.{p}", lang), weight=f"{weights[p] / total:.0%}")
             for p in PARTS if weights.get(p, 0) > 0]
    return t("health.weights", lang, weights=t("plain.list_sep", lang).join(items))


def auc_sentence(bt: dict, lang: str) -> str:
    """The back-test in one sentence: the AUC with its interval, n and departures, or why there is none."""
    if not bt:
        return ""
    common = {"cutoff": bt["cutoff"].isoformat(), "days": bt["horizon_days"], "n": bt["n"],
              "departures": bt["departures"]}
    if bt["reason"] is not None:
        return t(f"health.auc_reason.{bt['reason']}", lang, min=MIN_CLASS, **common)
    parts = t("plain.list_sep", lang).join(t(f"health.part.{p}", lang) for p in bt["parts"])
    return t("health.auc", lang, auc=f"{bt['auc']:.3f}", lower=f"{bt['auc_lower']:.3f}",
             upper=f"{bt['auc_upper']:.3f}", parts=parts, **common)
