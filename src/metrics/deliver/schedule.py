"""When a subscription is due: ``daily``, ``weekly:MON`` … ``weekly:SUN``, ``monthly:1`` …
``monthly:31``, at ``HH:MM`` wall-clock time in an IANA time zone (default Asia/Shanghai).

Pure functions of their arguments (no clock, no database), so they are tested by hand-written cases.
Rules chosen where a calendar is ambiguous:

* ``monthly:N`` in a month with fewer than N days is due on that month's last day (``monthly:31``
  is due on 28 or 29 February, 30 April …): a monthly pack is never skipped for a short month.
* A wall-clock time that does not exist (the hour skipped when daylight saving starts) is due at
  the same offset after the gap (02:30 on the spring-forward night becomes 03:30); a time that
  occurs twice (when it ends) is due at its first occurrence. Either way once per day.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from metrics.model import i18n

DEFAULT_TIME_ZONE = "Asia/Shanghai"
WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_SCHEDULE = re.compile(r"^(daily|weekly:(MON|TUE|WED|THU|FRI|SAT|SUN)|monthly:([1-9]|[12][0-9]|3[01]))$")
_TIME = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


class ScheduleError(i18n.Worded, ValueError):
    """An invalid schedule, time or time zone: one line, ``str()`` in English (logs), :meth:`text` in a
    user's language (the catalogue's ``deliver.schedule.*``)."""


@dataclass(frozen=True)
class Schedule:
    every: str  # daily | weekly:MON | monthly:1
    at: time
    zone: ZoneInfo

    @classmethod
    def parse(cls, every: str, at: str, zone: str = DEFAULT_TIME_ZONE) -> Schedule:
        every = (every or "").strip()
        if every.lower().startswith("weekly:"):
            every = "weekly:" + every[7:].upper()
        if not _SCHEDULE.match(every):
            raise ScheduleError.said("deliver.schedule.bad_every", every=repr(every))
        m = _TIME.match((at or "").strip())
        if not m:
            raise ScheduleError.said("deliver.schedule.bad_time", at=repr(at))
        try:
            tz = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ScheduleError.said("deliver.schedule.bad_zone", zone=repr(zone)) from None
        return cls(every, time(int(m.group(1)), int(m.group(2))), tz)

    def matches(self, day: date) -> bool:
        """Whether the schedule fires on the local calendar ``day``."""
        if self.every == "daily":
            return True
        kind, arg = self.every.split(":")
        if kind == "weekly":
            return day.weekday() == WEEKDAYS.index(arg)
        last = calendar.monthrange(day.year, day.month)[1]
        return day.day == min(int(arg), last)

    def at_on(self, day: date) -> datetime:
        """The UTC instant of the schedule's time on the local ``day`` (gaps and folds as above)."""
        # fold=0 (PEP 495): of a time that occurs twice the first; a time in the spring-forward gap is
        # read with the offset before the gap, i.e. the same wall-clock distance after it (02:30 -> 03:30)
        return datetime.combine(day, self.at, self.zone).astimezone(UTC)


def next_due(schedule: Schedule, after: datetime) -> datetime:
    """The first occurrence strictly after ``after`` (an aware datetime, or naive UTC), in UTC."""
    if after.tzinfo is None:
        after = after.replace(tzinfo=UTC)
    day = after.astimezone(schedule.zone).date() - timedelta(days=1)
    for _ in range(400):  # monthly needs at most 31 days; a year bounds every rule
        if schedule.matches(day):
            due = schedule.at_on(day)
            if due > after:
                return due
        day += timedelta(days=1)
    raise AssertionError("no occurrence within a year")  # unreachable: every rule fires monthly


def last_due(schedule: Schedule, now: datetime) -> datetime | None:
    """The newest occurrence at or before ``now`` (UTC), within the last 32 days; None if none."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    day = now.astimezone(schedule.zone).date() + timedelta(days=1)
    for _ in range(33):
        if schedule.matches(day):
            due = schedule.at_on(day)
            if due <= now:
                return due
        day -= timedelta(days=1)
    return None
