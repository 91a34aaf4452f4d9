"""The filter model: period presets, the URL query string (round trip, bad input), validation."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics.model.filters import Filters, preset_period
from metrics.model.links import parse_query


@pytest.mark.parametrize(("as_of", "want"), [
    (date(2026, 10, 31), (date(2026, 10, 1), date(2026, 10, 31))),  # as_of closes a month: that month
    (date(2026, 10, 15), (date(2026, 9, 1), date(2026, 9, 30))),
    (date(2026, 3, 1), (date(2026, 2, 1), date(2026, 2, 28))),
    (date(2024, 3, 5), (date(2024, 2, 1), date(2024, 2, 29))),  # leap year
    (date(2026, 1, 7), (date(2025, 12, 1), date(2025, 12, 31))),  # across the new year
])
def test_last_month(as_of: date, want: tuple[date, date]) -> None:
    assert preset_period("last_month", as_of) == want


@pytest.mark.parametrize(("as_of", "want"), [
    (date(2026, 9, 30), (date(2026, 7, 1), date(2026, 9, 30))),  # as_of closes a quarter
    (date(2026, 10, 31), (date(2026, 7, 1), date(2026, 9, 30))),
    (date(2026, 8, 15), (date(2026, 4, 1), date(2026, 6, 30))),
    (date(2026, 2, 10), (date(2025, 10, 1), date(2025, 12, 31))),
    (date(2025, 12, 31), (date(2025, 10, 1), date(2025, 12, 31))),
    (date(2026, 4, 1), (date(2026, 1, 1), date(2026, 3, 31))),
])
def test_last_quarter(as_of: date, want: tuple[date, date]) -> None:
    assert preset_period("last_quarter", as_of) == want


def test_ytd_and_last_12_months() -> None:
    assert preset_period("ytd", date(2026, 10, 15)) == (date(2026, 1, 1), date(2026, 10, 15))
    assert preset_period("ytd", date(2026, 1, 1)) == (date(2026, 1, 1), date(2026, 1, 1))
    assert preset_period("last_12_months", date(2026, 10, 15)) == (date(2025, 10, 1), date(2026, 9, 30))
    assert preset_period("last_12_months", date(2026, 10, 31)) == (date(2025, 11, 1), date(2026, 10, 31))


def test_unknown_preset_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown period preset"):
        preset_period("last_fortnight", date(2026, 1, 1))


# -- query string -----------------------------------------------------------------------------------
DEFAULT = Filters(date(2026, 7, 1), date(2026, 9, 30))
NAMES = st.sampled_from(("gold", "silver", "hotline", "web_app", "billing", "P1", "complaint", "中文"))


@st.composite
def any_filters(draw: st.DrawFn) -> Filters:
    a, b = draw(st.dates(date(2020, 1, 1), date(2030, 12, 31))), draw(st.dates(date(2020, 1, 1), date(2030, 12, 31)))
    names = st.lists(NAMES, max_size=3, unique=True).map(tuple)
    return Filters(
        min(a, b), max(a, b),
        as_of=draw(st.one_of(st.none(), st.dates(date(2020, 1, 1), date(2030, 12, 31)))),
        comparison=draw(st.sampled_from(("previous", "year_ago", "none"))),
        regions=tuple(draw(st.lists(st.integers(1, 999), max_size=3, unique=True))),
        tiers=draw(names), segments=draw(names), channels=draw(names), categories=draw(names),
        kinds=draw(names), survey_kinds=draw(names), priorities=draw(names), sla_levels=draw(names),
    )


@settings(max_examples=60, deadline=None)
@given(f=any_filters())
def test_query_string_round_trip(f: Filters) -> None:
    q = f.to_query()
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in q.items())
    assert parse_query(q, DEFAULT).filters == f
    assert hash(parse_query(q, DEFAULT).filters) == hash(f)


def test_query_string_leaves_defaults_out() -> None:
    assert DEFAULT.to_query() == {"from": "2026-07-01", "to": "2026-09-30"}
    f = DEFAULT.with_(tiers=["gold", "silver"], regions=[2], comparison="year_ago", as_of=date(2026, 9, 15))
    assert f.to_query() == {"from": "2026-07-01", "to": "2026-09-30", "as_of": "2026-09-15",
                            "cmp": "year_ago", "region": "2", "tier": "gold,silver"}


@pytest.mark.parametrize(("query", "want"), [
    ({}, DEFAULT),
    ({"from": "yesterday"}, DEFAULT),  # malformed date: keep the default
    ({"from": "2026-13-01", "to": "2026-02-30"}, DEFAULT),
    ({"from": "2026-10-01", "to": "2026-09-01"}, DEFAULT),  # ends before it starts: the default
    ({"cmp": "last_decade"}, DEFAULT),
    ({"as_of": "not-a-date"}, DEFAULT),
    ({"region": "2,x,-3,,4"}, DEFAULT.with_(regions=(2, 4))),
    ({"tier": ",gold,,"}, DEFAULT.with_(tiers=("gold",))),
    ({"tier": ""}, DEFAULT),
    ({"from": "2026-08-01"}, DEFAULT.with_(start=date(2026, 8, 1))),
    ({"unknown": "1", "to": "2026-12-31"}, DEFAULT.with_(end=date(2026, 12, 31))),
])
def test_from_query_tolerates_bad_input(query: dict, want: Filters) -> None:
    assert parse_query(query, DEFAULT).filters == want


def test_invalid_filters_are_rejected() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        Filters(date(2026, 2, 1), date(2026, 1, 31))
    with pytest.raises(ValueError, match="unknown comparison"):
        Filters(date(2026, 1, 1), date(2026, 1, 31), comparison="last_year")


def test_lists_become_tuples_so_filters_stay_hashable() -> None:
    f = Filters(date(2026, 1, 1), date(2026, 1, 31), tiers=["gold"], regions=[2, 3])  # type: ignore[arg-type]
    assert f.tiers == ("gold",) and f.regions == (2, 3)
    assert {f: 1}[Filters(date(2026, 1, 1), date(2026, 1, 31), tiers=("gold",), regions=(2, 3))] == 1
    assert f.days == 31


def test_narrowed_to_the_values_picked_in_a_chart() -> None:
    f = Filters(start=date(2026, 1, 1), end=date(2026, 3, 31), tiers=("gold",))
    assert f.narrowed("region", ["12", "3"]).regions == (12, 3)
    assert f.narrowed("channel", ["hotline"]).channels == ("hotline",) and f.narrowed("channel", []).tiers == ("gold",)
    with pytest.raises(ValueError):
        f.narrowed("month", ["2026-01"])
