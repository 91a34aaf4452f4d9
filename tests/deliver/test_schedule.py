"""next_due / last_due against hand-worked calendars: Asia/Shanghai (UTC+8, no daylight saving) and
America/New_York (the 2026 spring-forward night, 8 March, and fall-back night, 1 November), weekdays,
month ends (monthly:31 on the last day of a short month)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from metrics.deliver.schedule import Schedule, ScheduleError, last_due, next_due


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_daily_in_shanghai_is_utc_minus_8() -> None:
    s = Schedule.parse("daily", "08:00")
    assert next_due(s, utc(2026, 10, 5, 0, 0)) == utc(2026, 10, 6, 0, 0)  # 08:00 CST = 00:00 UTC, strictly after
    assert next_due(s, utc(2026, 10, 5, 23, 59)) == utc(2026, 10, 6, 0, 0)
    assert next_due(s, utc(2026, 10, 4, 23, 59)) == utc(2026, 10, 5, 0, 0)
    # just after midnight local (16:30 UTC the day before) the same local day's 08:00 is next
    assert next_due(Schedule.parse("daily", "00:15"), utc(2026, 10, 5, 16, 0)) == utc(2026, 10, 5, 16, 15)


def test_weekly_on_monday() -> None:
    s = Schedule.parse("weekly:mon", "09:30")
    assert s.every == "weekly:MON"
    # 2026-10-05 is a Monday: 09:30 CST = 01:30 UTC
    assert next_due(s, utc(2026, 10, 1)) == utc(2026, 10, 5, 1, 30)
    assert next_due(s, utc(2026, 10, 5, 1, 30)) == utc(2026, 10, 12, 1, 30)
    assert last_due(s, utc(2026, 10, 11, 0, 0)) == utc(2026, 10, 5, 1, 30)


@pytest.mark.parametrize(("after", "due"), [
    (utc(2026, 1, 31, 1), utc(2026, 2, 28, 0)),  # February 2026 has 28 days: its last day
    (utc(2028, 2, 1), utc(2028, 2, 29, 0)),  # 2028 is a leap year
    (utc(2026, 2, 28, 0), utc(2026, 3, 31, 0)),
    (utc(2026, 4, 1), utc(2026, 4, 30, 0)),  # April: 30 days
])
def test_monthly_31_falls_on_a_short_months_last_day(after: datetime, due: datetime) -> None:
    assert next_due(Schedule.parse("monthly:31", "08:00"), after) == due


def test_monthly_first_day() -> None:
    s = Schedule.parse("monthly:1", "08:00")
    assert next_due(s, utc(2026, 10, 15)) == utc(2026, 11, 1, 0)
    assert last_due(s, utc(2026, 10, 15)) == utc(2026, 10, 1, 0)
    # 2026-10-31 23:00 UTC is already 1 November 07:00 in Shanghai: not yet due
    assert last_due(s, utc(2026, 10, 31, 23)) == utc(2026, 10, 1, 0)


def test_daylight_saving_zone() -> None:
    s = Schedule.parse("daily", "02:30", "America/New_York")
    # 7 March (EST, UTC-5): 07:30 UTC; 8 March 02:30 does not exist: 03:30 EDT = 07:30 UTC; 9 March EDT: 06:30 UTC
    assert next_due(s, utc(2026, 3, 6, 12)) == utc(2026, 3, 7, 7, 30)
    assert next_due(s, utc(2026, 3, 7, 12)) == utc(2026, 3, 8, 7, 30)
    assert next_due(s, utc(2026, 3, 8, 12)) == utc(2026, 3, 9, 6, 30)
    fall = Schedule.parse("daily", "01:30", "America/New_York")
    # 1 November 01:30 happens twice (EDT then EST): the first, 05:30 UTC; once that day only
    assert next_due(fall, utc(2026, 10, 31, 12)) == utc(2026, 11, 1, 5, 30)
    assert next_due(fall, utc(2026, 11, 1, 5, 30)) == utc(2026, 11, 2, 6, 30)


@pytest.mark.parametrize(("every", "at", "zone", "word"), [
    ("fortnightly", "08:00", "Asia/Shanghai", "schedule"),
    ("monthly:32", "08:00", "Asia/Shanghai", "schedule"),
    ("weekly:MO", "08:00", "Asia/Shanghai", "schedule"),
    ("daily", "24:00", "Asia/Shanghai", "time"),
    ("daily", "8:00", "Asia/Shanghai", "time"),
    ("daily", "08:00", "Mars/Olympus", "time zone"),
])
def test_invalid_schedules_are_refused(every: str, at: str, zone: str, word: str) -> None:
    with pytest.raises(ScheduleError, match=word):
        Schedule.parse(every, at, zone)
