"""Vectorised helpers for the demo generator: time axis, seasonality, categorical draws.

Internally the generator measures time in float hours since ``t0`` (midnight of the first day of
the history window) and dates in integer days since ``t0``; these helpers turn them into
``datetime64[ns]`` columns at the end.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

# Spring Festival (春节) dates; ticket volume peaks around them.
SPRING_FESTIVAL = {
    2020: "2020-01-25", 2021: "2021-02-12", 2022: "2022-02-01", 2023: "2023-01-22",
    2024: "2024-02-10", 2025: "2025-01-29", 2026: "2026-02-17", 2027: "2027-02-06",
    2028: "2028-01-26", 2029: "2029-02-13", 2030: "2030-02-03",
}
HOUR_WEIGHT = np.array(
    [0.12, 0.08, 0.06, 0.05, 0.05, 0.08, 0.2, 0.45, 0.8, 1.3, 1.45, 1.4,
     1.05, 1.15, 1.35, 1.35, 1.3, 1.2, 1.0, 0.95, 0.9, 0.75, 0.5, 0.25]
)
WEEKDAY_WEIGHT = np.array([1.15, 1.02, 1.0, 1.0, 1.05, 0.88, 0.8])  # Monday first


@dataclass(frozen=True)
class Clock:
    """The history window: ``t0`` (first day, midnight) to the end of day ``end``."""

    t0: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.t0).days + 1

    @property
    def hours(self) -> float:
        return self.days * 24.0

    def day_of(self, d: dt.date) -> int:
        return (d - self.t0).days

    def timestamps(self, hours: np.ndarray) -> np.ndarray:
        """Float hours since t0 (NaN = missing) -> datetime64[ns], rounded to the second."""
        hours = np.asarray(hours, dtype=float)
        ok = np.isfinite(hours)
        sec = np.zeros(len(hours), dtype=np.int64)
        sec[ok] = np.round(hours[ok] * 3600.0).astype(np.int64)
        base = np.datetime64(self.t0, "s")
        out = (base + sec.astype("timedelta64[s]")).astype("datetime64[ns]")
        out[~ok] = np.datetime64("NaT")
        return out

    def dates(self, days: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
        """Integer days since t0 -> datetime64[ns] at midnight; ``valid`` False gives NaT."""
        base = np.datetime64(self.t0, "D")
        out = (base + np.asarray(days, dtype=np.int64).astype("timedelta64[D]")).astype("datetime64[ns]")
        if valid is not None:
            out[~valid] = np.datetime64("NaT")
        return out

    def month_index(self, days: np.ndarray) -> np.ndarray:
        """Month number (0 = month of t0) of each day offset."""
        d = (np.datetime64(self.t0, "D") + np.asarray(days, dtype=np.int64).astype("timedelta64[D]"))
        m = d.astype("datetime64[M]").astype(np.int64)
        return m - np.datetime64(self.t0, "M").astype(np.int64)


def seasonal_weights(clock: Clock) -> np.ndarray:
    """Relative ticket intensity per hour of the history: daily, weekly and yearly cycles.

    Yearly: a summer peak (July-August, heat and typhoons), a Spring Festival peak and the
    National Day Golden Week (1-7 October).
    """
    days = np.arange(clock.days)
    dates = np.datetime64(clock.t0, "D") + days.astype("timedelta64[D]")
    weekday = (dates.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    doy = (dates - dates.astype("datetime64[Y]")).astype(np.int64)
    year = dates.astype("datetime64[Y]").astype(np.int64) + 1970
    day_w = 1.0 + 0.3 * np.exp(-(((doy - 205) / 28.0) ** 2))
    for y in np.unique(year):
        sf = np.datetime64(SPRING_FESTIVAL.get(int(y), f"{int(y)}-02-01"), "D")
        dist = (dates - sf).astype(np.int64)
        day_w += 0.35 * np.exp(-((dist / 6.0) ** 2))
        gw = (dates - np.datetime64(f"{int(y)}-10-01", "D")).astype(np.int64)
        day_w += np.where((gw >= 0) & (gw < 7), 0.2, 0.0)
    day_w = day_w * WEEKDAY_WEIGHT[weekday]
    return (day_w[:, None] * HOUR_WEIGHT[None, :]).ravel()


class SeasonalSampler:
    """Draw times in [a, b) hours with density proportional to :func:`seasonal_weights`."""

    def __init__(self, clock: Clock) -> None:
        w = seasonal_weights(clock)
        self.grid = np.arange(len(w) + 1, dtype=float)
        self.cum = np.concatenate([[0.0], np.cumsum(w)])

    def sample(self, rng: np.random.Generator, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        la = np.interp(a, self.grid, self.cum)
        lb = np.interp(b, self.grid, self.cum)
        x = la + rng.random(len(la)) * (lb - la)
        t = np.interp(x, self.cum, self.grid)
        return np.clip(t, a, np.nextafter(b, a))


def choice(rng: np.random.Generator, n: int, p: list[float] | np.ndarray) -> np.ndarray:
    """``n`` draws of category codes 0..K-1 with probabilities ``p`` (normalised)."""
    cum = np.cumsum(np.asarray(p, dtype=float))
    return np.searchsorted(cum / cum[-1], rng.random(n), side="right").astype(np.int8)


def choice_by_group(rng: np.random.Generator, groups: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Per-row category codes; row i uses probability row ``table[groups[i]]`` (rows normalised)."""
    table = np.asarray(table, dtype=float)
    cum = np.cumsum(table / table.sum(axis=1, keepdims=True), axis=1)
    u = rng.random(len(groups))
    out = np.zeros(len(groups), dtype=np.int8)
    for k in range(table.shape[1] - 1):
        out += u >= cum[groups, k]
    return out


def pick(labels: list[str] | tuple[str, ...], codes: np.ndarray) -> np.ndarray:
    """Object array of labels for integer codes (shares the label objects: cheap in memory)."""
    return np.asarray(labels, dtype=object)[codes]


def bernoulli(rng: np.random.Generator, p: np.ndarray | float, n: int | None = None) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    size = n if n is not None else p.shape
    return rng.random(size) < p


def city_of(regions: pd.DataFrame) -> dict[object, object]:
    """Each region's city (itself for a city; None for a region above the cities)."""
    parent = dict(zip(regions["region_id"], regions["parent_id"], strict=True))
    level = dict(zip(regions["region_id"], regions["level"], strict=True))
    out = {}
    for r in level:
        x = r
        while x in level and level[x] != "city" and pd.notna(parent.get(x)):
            x = parent[x]
        out[r] = x if level.get(x) == "city" else None
    return out
