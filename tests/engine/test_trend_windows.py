"""The trend windows of the pages (Filters.last_months, reaching_months, about_a_year) and the
movers ranking (metrics.analysis.movers.top_moves) and the region rule of a figure by a dimension
(metrics.analysis.league.scope_for), against dates, orders and regions worked out by hand."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from metrics.analysis.movers import top_moves
from metrics.model.filters import Filters


def test_last_months_is_the_twelve_calendar_months_up_to_the_end_month() -> None:
    f = Filters(start=date(2025, 11, 10), end=date(2025, 12, 15), tiers=("gold",))
    w = f.last_months(12)
    assert (w.start, w.end, w.comparison, w.tiers) == (date(2025, 1, 1), date(2025, 12, 15), "none", ("gold",))
    assert f.last_months(3).start == date(2025, 10, 1)
    long = Filters(start=date(2023, 1, 1), end=date(2025, 3, 31))  # a longer period is cut to the year
    assert long.last_months(12).start == date(2024, 4, 1)


def test_reaching_months_widens_a_short_period_and_keeps_a_long_one() -> None:
    short = Filters(start=date(2025, 6, 1), end=date(2025, 6, 30))
    assert (short.reaching_months().start, short.reaching_months().comparison) == (date(2024, 7, 1), "none")
    long = Filters(start=date(2023, 5, 17), end=date(2025, 6, 30))
    assert long.reaching_months().start == date(2023, 5, 17)


def test_about_a_year_keeps_a_period_over_330_days_and_its_comparison() -> None:
    almost = Filters(start=date(2025, 1, 15), end=date(2025, 12, 31), comparison="year_ago")  # 351 days
    assert almost.about_a_year() == almost
    quarter = Filters(start=date(2025, 10, 1), end=date(2025, 12, 31), comparison="year_ago")
    w = quarter.about_a_year()
    assert (w.start, w.end, w.comparison) == (date(2025, 1, 1), date(2025, 12, 31), "year_ago")


def test_top_moves_ranks_by_the_size_of_the_change_and_counts_those_without_one() -> None:
    moves = pd.DataFrame({"tier": list("abcdefghijk"),
                          "delta": [0.1, -0.5, np.nan, 0.3, -0.05, 0.2, 0.01, -0.02, 0.4, np.nan, 0.03]})
    top, dropped = top_moves(moves)
    assert dropped == 2
    assert list(top["tier"]) == ["b", "i", "d", "f", "a", "e", "k", "h"]  # |delta| 0.5 0.4 0.3 0.2 0.1 0.05 ...
    assert list(top_moves(moves, top=2)[0]["tier"]) == ["b", "i"]
    none, dropped = top_moves(moves.assign(delta=np.nan))
    assert none.empty and dropped == 11
    assert top_moves(moves.drop(columns="delta").head(0))[1] == 0


def test_scope_for_applies_the_league_rule_only_to_figures_by_region() -> None:
    from metrics.analysis.league import scope_for

    regions = pd.DataFrame({"region_id": [1, 2, 3, 4], "level": ["province", "city", "district", "district"],
                            "parent_id": [None, 1, 2, 2]})
    district = Filters(start=date(2025, 1, 1), end=date(2025, 1, 31), regions=(3,))
    by_region, level = scope_for("region", district, regions)
    assert (by_region.regions, level) == ((2,), "district")  # the districts of the city around it
    by_tier, level = scope_for("tier", district, regions)
    assert (by_tier.regions, level) == ((3,), "district")  # the filters as they are
    province = district.with_(regions=(1,))
    assert scope_for("region", province, regions) == (province.with_(regions=()), "city")
