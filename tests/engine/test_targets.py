"""Which target applies (drill.target_for): the most specific matching row, then the latest valid."""

from __future__ import annotations

from datetime import date

import pandas as pd

from metrics.analysis.drill import target_for
from metrics.model.filters import Filters

ANCESTORS = {201: [201, 2, 1], 2: [2, 1], 3: [3, 1]}
TARGETS = pd.DataFrame([
    # metric, region, tier, channel, valid_from, value
    ("csat", None, None, None, "2025-01-01", 0.80),
    ("csat", None, None, None, "2026-01-01", 0.82),   # newer general target
    ("csat", None, None, None, "2027-01-01", 0.99),   # not valid yet
    ("csat", 2, None, None, "2025-06-01", 0.85),      # a city
    ("csat", 2, "gold", None, "2025-06-01", 0.90),    # a city and a tier
    ("csat", None, None, "hotline", "2025-06-01", 0.70),
    ("nps", None, None, None, "2025-01-01", 30.0),
], columns=["metric", "region_id", "tier", "channel", "valid_from", "value"])


def f(**kw) -> Filters:
    return Filters(start=date(2026, 7, 1), end=date(2026, 9, 30)).with_(**kw)


def test_general_target_is_the_latest_valid() -> None:
    assert target_for(TARGETS, "csat", f(), ANCESTORS) == 0.82
    assert target_for(TARGETS, "csat", f(), ANCESTORS, on=date(2025, 3, 1)) == 0.80
    assert target_for(TARGETS, "nps", f(), ANCESTORS) == 30.0
    assert target_for(TARGETS, "fcr_rate", f(), ANCESTORS) is None


def test_most_specific_row_wins() -> None:
    assert target_for(TARGETS, "csat", f(regions=(2,)), ANCESTORS) == 0.85
    assert target_for(TARGETS, "csat", f(regions=(201,)), ANCESTORS) == 0.85  # a district inherits its city's
    assert target_for(TARGETS, "csat", f(regions=(201,), tiers=("gold",)), ANCESTORS) == 0.90
    assert target_for(TARGETS, "csat", f(regions=(3,), tiers=("gold",)), ANCESTORS) == 0.82  # another city
    assert target_for(TARGETS, "csat", f(channels=("hotline",)), ANCESTORS) == 0.70
    # several tiers or channels chosen: only targets without a tier or channel apply
    assert target_for(TARGETS, "csat", f(regions=(2,), tiers=("gold", "silver")), ANCESTORS) == 0.85
    assert target_for(TARGETS, "csat", f(channels=("hotline", "app")), ANCESTORS) == 0.82
