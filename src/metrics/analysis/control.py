"""Control charts (process-behaviour charts) with run rules, over the engine's monthly or weekly frames.

Three charts, chosen by the metric (:func:`chart_kind`):

* **u-chart** for rates per exposure (complaints per 1,000 customer-months): ``a_i`` the point's
  exposure in units of ``per`` (1,000 customer-months), ``ū = Σ events / Σ a`` over the baseline,
  limits ``ū ± 3·sqrt(ū / a_i)`` (Poisson).
* **p-chart** for shares (CSAT, FCR, SLA compliance) and for churn (departures per customer-month):
  ``p̄ = Σ p_i·n_i / Σ n_i`` over the baseline, limits ``p̄ ± 3·sqrt(p̄(1 − p̄) / n_i)`` (binomial).
* **individuals (XmR) chart** for means and medians (resolution time): centre the baseline's mean,
  ``σ = MR̄ / 1.128`` (MR̄ the mean moving range of consecutive baseline points), constant limits.

Limits of u- and p-charts vary with each point's volume; lower limits are clipped at 0 (and upper
ones of p-charts at 1). **Baseline**: by default every point before the last :data:`RECENT` (6), so
the newest half-year is judged against the history before it; with fewer than :data:`MIN_BASELINE`
points left that way, all points. The caller may pass its own (first, last) period instead.

**Run rules** (Western Electric / Nelson), on each point's standardised distance ``z = (x − centre) / σ_i``:

1. ``beyond_3sigma``: one point beyond 3σ;
2. ``two_of_three_2sigma``: 2 of 3 consecutive points beyond 2σ on one side (the point itself one of them);
3. ``eight_one_side``: 8 points in a row on one side of the centre;
4. ``six_trend``: 6 points in a row steadily rising or falling (5 rises or 5 falls; on ``z``, so a
   change of volume alone is no trend).

A point with fewer than ``min_n`` observations (default 30: tickets or surveys for shares and means,
customer-months for rates) gets no ``z``: it never signals and breaks every run. A chart is *in
control* when no rule fires on any point.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from metrics.model.registry import get

RULES = ("beyond_3sigma", "two_of_three_2sigma", "eight_one_side", "six_trend")
KINDS = ("u", "p", "xmr")
MIN_N = 30
RECENT = 6  # default baseline: every point before the last RECENT
MIN_BASELINE = 8  # … unless that leaves fewer points: then all points
D2 = 1.128  # d2 for moving ranges of two points


@dataclass(frozen=True)
class ControlChart:
    """A chart's points and what it says.

    ``points``: ``period``, ``value``, ``n``, ``centre``, ``sigma`` (of that point), ``lcl``, ``ucl``
    (3σ), ``z``, ``baseline`` (bool), ``rules`` (the rules that fire on the point, comma-separated,
    "" when none) and ``signal`` (bool)."""

    kind: str
    centre: float
    baseline: tuple[date, date] | None
    points: pd.DataFrame
    min_n: int = MIN_N

    @property
    def in_control(self) -> bool:
        return not bool(self.points["signal"].any()) if len(self.points) else True

    @property
    def last(self) -> pd.Series | None:
        return self.points.iloc[-1] if len(self.points) else None


def chart_kind(metric_id: str) -> str:
    """Which chart a metric gets: ``u`` (rates per exposure with ``per`` > 1), ``p`` (shares; rates per
    customer-month such as churn), ``xmr`` (means, medians and everything else)."""
    m = get(metric_id)
    if m.kind == "rate":
        return "u" if m.per != 1 else "p"
    if m.kind in ("share", "availability"):
        return "p"
    return "xmr"


def default_baseline(periods: pd.Series, recent: int = RECENT) -> pd.Series:
    """Baseline mask: every point before the last ``recent``; all points if that leaves fewer than
    :data:`MIN_BASELINE`."""
    n = len(periods)
    mask = np.arange(n) < n - recent
    if mask.sum() < MIN_BASELINE:
        mask[:] = True
    return pd.Series(mask, index=periods.index)


def compute(frame: pd.DataFrame, kind: str, *, period: str = "period", baseline: tuple[date, date] | None = None,
            min_n: int = MIN_N, per: float = 1.0) -> ControlChart:
    """The control chart of ``frame`` (one row per period, sorted by it).

    Columns read: ``value`` and ``n`` (p and XmR charts: a share in [0, 1] or a measurement, and the
    observations behind it); for u-charts ``events`` and ``exposure`` (raw units; ``per`` scales the
    rate: value = per · events / exposure). ``baseline``: (first, last) period, inclusive."""
    if kind not in KINDS:
        raise ValueError(f"unknown chart kind {kind!r}; use one of {', '.join(KINDS)}")
    df = frame.sort_values(period).reset_index(drop=True).copy()
    df = df.rename(columns={period: "period"})
    if kind == "u":
        df["value"] = per * df["events"] / df["exposure"]
        size = df["exposure"].astype(float) / per  # a_i: inspection units
        volume = df["exposure"].astype(float)
    else:
        size = df["n"].astype(float)
        volume = size
    df["n"] = volume
    usable = df["value"].notna() & (size > 0)
    if baseline is None:
        base = default_baseline(df["period"]) & usable
    else:
        when = pd.to_datetime(df["period"])
        base = (when >= pd.Timestamp(baseline[0])) & (when <= pd.Timestamp(baseline[1])) & usable
        if not base.any():
            raise ValueError("the baseline holds no point with data")
    df["baseline"] = base.to_numpy()
    b = df[df["baseline"]]
    if kind == "u":
        centre = float(b["events"].sum() / size[df["baseline"]].sum())
        sigma = np.sqrt(centre / size.where(size > 0))
    elif kind == "p":
        centre = float((b["value"] * b["n"]).sum() / b["n"].sum())
        sigma = np.sqrt(centre * (1 - centre) / size.where(size > 0))
    else:
        centre = float(b["value"].mean())
        mr = b["value"].diff().abs().dropna()
        sigma = pd.Series(float(mr.mean()) / D2 if len(mr) else np.nan, index=df.index)
    df["centre"] = centre
    df["sigma"] = sigma.astype(float)
    low, high = centre - 3 * df["sigma"], centre + 3 * df["sigma"]
    df["lcl"] = low.clip(lower=0) if kind in ("u", "p") else low
    df["ucl"] = high.clip(upper=1) if kind == "p" else high
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (df["value"] - centre) / df["sigma"]
    z = z.where(usable & (volume >= min_n) & (df["sigma"] > 0))
    df["z"] = z
    fired = run_rules(z.to_numpy(dtype=float))
    df["rules"] = [",".join(r for r in RULES if fired[r][i]) for i in range(len(df))]
    df["signal"] = df["rules"] != ""
    shown = b["period"]
    span = (pd.Timestamp(shown.iloc[0]).date(), pd.Timestamp(shown.iloc[-1]).date()) if len(shown) else None
    cols = ["period", "value", "n", "centre", "sigma", "lcl", "ucl", "z", "baseline", "rules", "signal"]
    return ControlChart(kind, centre, span, df[cols], min_n)


def run_rules(z: np.ndarray) -> dict[str, np.ndarray]:
    """Per rule, whether it fires on each point (the point completing the pattern), given standardised
    distances ``z`` (NaN: no signal, and a break in every run)."""
    n = len(z)
    ok = ~np.isnan(z)
    zz = np.where(ok, z, 0.0)
    out = {r: np.zeros(n, dtype=bool) for r in RULES}
    out["beyond_3sigma"] = ok & (np.abs(zz) > 3)
    for i in range(n):
        if not ok[i]:
            continue
        w = slice(max(0, i - 2), i + 1)
        wz, wok = zz[w], ok[w]
        for side in (1, -1):
            if side * zz[i] > 2 and int((wok & (side * wz > 2)).sum()) >= 2:
                out["two_of_three_2sigma"][i] = True
        if i >= 7 and ok[i - 7:i + 1].all():
            run = zz[i - 7:i + 1]
            out["eight_one_side"][i] = bool((run > 0).all() or (run < 0).all())
        if i >= 5 and ok[i - 5:i + 1].all():
            steps = np.diff(zz[i - 5:i + 1])
            out["six_trend"][i] = bool((steps > 0).all() or (steps < 0).all())
    return out


def for_metric(wh, metric_id: str, f, *, grain: str = "month", baseline: tuple[date, date] | None = None,
               min_n: int = MIN_N) -> ControlChart:
    """The control chart of one metric over ``f``'s period by ``grain`` (month or week), from
    :meth:`metrics.query.warehouse.Warehouse.metric`."""
    df = wh.metric(metric_id, f, (grain,))
    return from_metric_frame(df, metric_id, grain=grain, baseline=baseline, min_n=min_n)


def from_metric_frame(df: pd.DataFrame, metric_id: str, *, grain: str = "month",
                      baseline: tuple[date, date] | None = None, min_n: int = MIN_N) -> ControlChart:
    """:func:`compute` on a tidy frame of :meth:`Warehouse.metric` by ``grain``."""
    m, kind = get(metric_id), chart_kind(metric_id)
    frame = df.rename(columns={grain: "period"})
    if m.kind == "rate" and kind == "p":  # churn: departures per customer-month as a share
        frame = frame.assign(value=frame["events"] / frame["exposure"], n=frame["exposure"])
    elif kind == "u" and "exposure" not in frame.columns:
        raise ValueError(f"{metric_id}: a u-chart needs events and exposure")
    if m.kind == "availability":
        frame = frame.assign(value=frame["value"].clip(0, 1))
    if len(frame) == 0:
        empty = pd.DataFrame(columns=["period", "value", "n", "centre", "sigma", "lcl", "ucl", "z", "baseline",
                                      "rules", "signal"])
        return ControlChart(kind, float("nan"), None, empty, min_n)
    return compute(frame, kind, baseline=baseline, min_n=min_n, per=m.per)
