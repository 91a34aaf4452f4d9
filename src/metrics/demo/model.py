"""Shared constants and the customer population of the demo generator (see :mod:`metrics.demo.generator`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from metrics.demo.util import Clock

CHANNELS = ("service_hall", "partner_hall", "hotline", "account_manager", "agent", "web_app")
CONSUMER_TIERS = ("diamond", "gold", "silver", "standard")
SLA_LEVELS = ("gold", "silver", "bronze")
# Customer classes: codes 0-3 consumer tiers, 4-6 enterprise by SLA level.
CLASS_TIER = ("diamond", "gold", "silver", "standard", "enterprise", "enterprise", "enterprise")
CLASS_SLA = (None, None, None, None, "gold", "silver", "bronze")
CHURN_REASONS = ("to_competitor", "price", "service_quality", "relocation", "other")

DETERIORATING_CITY = 4  # 东江市 Dongjiang: worse over the last quarter before `end`
# Enterprise SLA policies: (level, priority, response h, resolution h, on-site h, availability)
SLA_POLICIES = (
    ("gold", "P1", 0.25, 4.0, 2.0, 0.9995), ("gold", "P2", 0.5, 8.0, 4.0, 0.9995),
    ("gold", "P3", 2.0, 24.0, 8.0, 0.9995),
    ("silver", "P1", 0.5, 6.0, 4.0, 0.999), ("silver", "P2", 1.0, 12.0, 8.0, 0.999),
    ("silver", "P3", 4.0, 48.0, 24.0, 0.999),
    ("bronze", "P1", 1.0, 8.0, 6.0, 0.995), ("bronze", "P2", 2.0, 24.0, 12.0, 0.995),
    ("bronze", "P3", 8.0, 72.0, None, 0.995),
)
# Consumer commitments (hours) per tier x priority: (response, resolution)
CONSUMER_HOURS = {
    "diamond": ((0.5, 12.0), (1.0, 24.0), (2.0, 48.0)),
    "gold": ((1.0, 24.0), (2.0, 36.0), (4.0, 72.0)),
    "silver": ((2.0, 24.0), (4.0, 48.0), (8.0, 72.0)),
    "standard": ((4.0, 48.0), (8.0, 72.0), (24.0, 120.0)),
}


def commitment_hours() -> tuple[np.ndarray, np.ndarray]:
    """(response, resolution) hours as arrays [class, priority] for classes 0-6 and P1-P3."""
    resp = np.zeros((7, 3))
    res = np.zeros((7, 3))
    for c, tier in enumerate(CONSUMER_TIERS):
        for p, (a, b) in enumerate(CONSUMER_HOURS[tier]):
            resp[c, p], res[c, p] = a, b
    for level, prio, a, b, _, _ in SLA_POLICIES:
        c = 4 + SLA_LEVELS.index(level)
        p = int(prio[1]) - 1
        resp[c, p], res[c, p] = a, b
    return resp, res


@dataclass
class Population:
    """Customer arrays shared by the generator modules (index = customer_id - 1)."""

    cls: np.ndarray  # class code 0-6
    region_id: np.ndarray  # district
    city_id: np.ndarray
    acq: np.ndarray  # acquisition channel code
    manager_id: np.ndarray  # float, NaN when none
    start_day: np.ndarray  # days since t0 (negative: before the history window)
    revenue: np.ndarray  # CNY per month
    end_day: np.ndarray | None = None  # days since t0, -1 = active
    reason: np.ndarray | None = None  # churn reason code, -1 = none
    bad_events: np.ndarray | None = None  # count of breached / unresolved complaints

    @property
    def n(self) -> int:
        return len(self.cls)

    @property
    def enterprise(self) -> np.ndarray:
        return self.cls >= 4




def quarter_start(clock: Clock) -> dt.date:
    """First day of the last three calendar months before ``clock.end`` (the "last quarter")."""
    m = clock.end.month - 3
    y = clock.end.year + (m - 1) // 12
    return dt.date(y, (m - 1) % 12 + 1, 1)


def decline_ramp(clock: Clock, hours: np.ndarray, city_id: np.ndarray) -> np.ndarray:
    """0 outside the deteriorating city / last quarter, else rising from 0.4 to 1.0 by ``end``."""
    q = clock.day_of(quarter_start(clock)) * 24.0
    frac = (np.asarray(hours, dtype=float) - q) / (clock.hours - q)
    return np.where((city_id == DETERIORATING_CITY) & (frac >= 0), 0.4 + 0.6 * np.clip(frac, 0, 1), 0.0)
