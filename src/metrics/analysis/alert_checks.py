"""Whether one alert rule fires on the newest month (or week: ``grain``), and its figures
(:func:`metrics.alerts.evaluate`).

* ``control``: the newest point of the metric's control chart over the last :data:`WINDOW_MONTHS`
  months signals by one of ``run_rules`` (all four of :data:`metrics.analysis.control.RULES` when none);
* ``target``: the month's status against its target is red (:func:`metrics.analysis.drill.status`);
* ``change``: against the month before (or the same month a year before: ``against="yoy"``), worse by
  more than chance: the 95% interval of the difference, ``Δ ± 1.96·sqrt(se² + se_cmp²)`` (each ``se``
  from that month's own 95% interval), excludes zero.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from metrics.analysis import control, drill
from metrics.model.filters import Filters, add_months
from metrics.model.registry import get

WINDOW_MONTHS = 24  # control charts: the newest month and the 23 before it
WINDOW_WEEKS = 52  # weekly control charts: the newest week and the 51 before it
GRAINS = ("month", "week")


def period_start(day: date, grain: str = "month") -> date:
    """The first day of the month, or the Monday of the week, holding ``day``: the period a check judges."""
    return day.replace(day=1) if grain == "month" else day - timedelta(days=day.weekday())


def window_start(period: date, grain: str = "month") -> date:
    """The first day of the control chart's window ending with ``period`` (24 months or 52 weeks)."""
    if grain == "month":
        return add_months(period, -(WINDOW_MONTHS - 1))
    return period - timedelta(weeks=WINDOW_WEEKS - 1)


AGAINST = ("prev", "yoy")  # a change rule's comparison: the period before, or the same period a year before


def judge(wh, kind: str, metric: str, f: Filters, month: date, *, min_n: int = control.MIN_N,
          run_rules: str | None = None, grain: str = "month", baseline: tuple[date, date] | None = None,
          against: str = "prev") -> dict | None:
    """The alert's figures when the rule fires on ``f`` (the newest month, or with ``grain="week"`` the
    newest week starting on ``month``), else None. ``baseline``: a control rule's own (first, last)
    period the limits come from (default: every point before the last six of the window; a stored
    baseline older than the window widens the chart back to it); ``against``: a change rule's
    comparison, ``prev`` (the period before) or ``yoy`` (the same month a year before, or the week
    52 weeks before)."""
    m = get(metric)
    if kind == "control":
        start = window_start(month, grain)
        if baseline is not None:
            start = min(start, period_start(baseline[0], grain))
        window = f.with_(start=start)
        try:
            chart = control.for_metric(wh, metric, window, grain=grain, min_n=min_n, baseline=baseline)
        except ValueError:  # the rule's baseline holds no point with data (a reload dropped it): no verdict
            return None
        last = chart.last
        if last is None or pd.Timestamp(last["period"]).date() != month:
            return None
        wanted = set(run_rules.split(",")) if isinstance(run_rules, str) and run_rules else set(control.RULES)
        fired = [r for r in str(last["rules"]).split(",") if r in wanted]
        if not fired:
            return None
        return {"value": float(last["value"]), "centre": float(last["centre"]), "lower": float(last["lcl"]),
                "upper": float(last["ucl"]), "n": float(last["n"]), "signal": ",".join(fired)}
    if kind == "target":
        df = wh.metric(metric, f)
        if not len(df):
            return None
        row = df.iloc[0]
        goal = drill.target_for(wh.targets(), metric, f, drill.ancestors(wh.regions()))
        if drill.status(row["value"], goal, m.higher_is_better, row["lower"], row["upper"]) != "red":
            return None
        return {"value": float(row["value"]), "centre": float(goal), "lower": float(row["lower"]),
                "upper": float(row["upper"]), "n": float(row["n"]), "signal": "red"}
    if grain == "week":  # the same days of the week before (a week so far against the same days), or 52 weeks before
        back = timedelta(weeks=52 if against == "yoy" else 1)
        now = wh.metric(metric, f.with_(comparison="none"))
        before = wh.metric(metric, f.with_(start=f.start - back, end=f.end - back, comparison="none"))
        if not len(now) or not len(before) or pd.isna(before["value"].iloc[0]):
            return None
    else:
        fc = f.with_(comparison="year_ago" if against == "yoy" else "previous")
        now = wh.compare(metric, fc)
        before = wh.metric(metric, fc.comparison_filters())
        if not len(now) or not len(before) or pd.isna(now["value_cmp"].iloc[0]):
            return None
    a, b = now.iloc[0], before.iloc[0]
    se = np.hypot((a["upper"] - a["lower"]) / 3.92, (b["upper"] - b["lower"]) / 3.92)
    delta = float(a["value"] - b["value"])
    lo, hi = delta - 1.96 * se, delta + 1.96 * se
    worse = (delta < 0) if m.higher_is_better else (delta > 0) if m.higher_is_better is False else True
    if not (np.isfinite(se) and (lo > 0 or hi < 0) and worse):
        return None
    return {"value": float(a["value"]), "centre": float(b["value"]), "lower": float(lo), "upper": float(hi),
            "n": float(a["n"]), "signal": ("change_week" if grain == "week" else "change")
            + ("_yoy" if against == "yoy" else "")}
