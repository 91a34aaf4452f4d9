"""Plausibility limits for dates and times: the window a real event of this data can lie in.

One implausible value (a ticket dated ``99999`` read as an Excel serial day, ``2173-10-13``) must
not rule the whole database: the importer rejects values outside the window (reason
``implausible_date``) and the as-of date (:func:`metrics.ingest.load.refresh_derived`) ignores rows
outside it. The window is configurable through the environment of the CLI and the dashboard:

* ``SERVICEWATCH_EARLIEST_DATE`` (ISO date, default ``1990-01-01``): nothing before it;
* ``SERVICEWATCH_FUTURE_DAYS`` (whole days, default 1): events up to today plus this margin
  (time zones and clocks of the source systems);
* commitments that may lie ahead (due times, a contract's end, a target's start) get
  ``SERVICEWATCH_FUTURE_DAYS_PLANNED`` (default 731 days).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

EARLIEST_ENV = "SERVICEWATCH_EARLIEST_DATE"
FUTURE_ENV = "SERVICEWATCH_FUTURE_DAYS"
PLANNED_ENV = "SERVICEWATCH_FUTURE_DAYS_PLANNED"
DEFAULT_EARLIEST = dt.date(1990, 1, 1)
DEFAULT_FUTURE_DAYS = 1
DEFAULT_PLANNED_DAYS = 731

# (table, column) of dates that may lie in the future: commitments and plans, not events
PLANNED: frozenset[tuple[str, str]] = frozenset({
    ("tickets", "response_due_at"), ("tickets", "resolution_due_at"),
    ("services", "end_date"), ("targets", "valid_from"),
})


class SettingError(ValueError):
    """A plausibility setting in the environment is not usable."""


@dataclass(frozen=True)
class Window:
    """Dates from ``earliest`` to ``latest`` (both inclusive) are plausible."""

    earliest: dt.date
    latest: dt.date

    def text(self) -> str:
        return f"{self.earliest.isoformat()}–{self.latest.isoformat()}"


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isascii() or not raw.isdigit() or int(raw) > 36_500:
        raise SettingError(f"{name}={raw!r}: a whole number of days from 0 to 36500")
    return int(raw)


def earliest() -> dt.date:
    raw = os.environ.get(EARLIEST_ENV, "").strip()
    if not raw:
        return DEFAULT_EARLIEST
    try:
        value = dt.date.fromisoformat(raw)
    except ValueError:
        raise SettingError(f"{EARLIEST_ENV}={raw!r}: not a date (YYYY-MM-DD)") from None
    if not dt.date(1900, 1, 1) <= value <= dt.date.today():
        raise SettingError(f"{EARLIEST_ENV}={raw!r}: between 1900-01-01 and today")
    return value


def window(table: str = "", column: str = "", today: dt.date | None = None) -> Window:
    """The plausible window for ``table.column`` (events by default) as of ``today``."""
    today = today or dt.date.today()
    planned = (table, column) in PLANNED
    days = _int_env(PLANNED_ENV, DEFAULT_PLANNED_DAYS) if planned else _int_env(FUTURE_ENV, DEFAULT_FUTURE_DAYS)
    return Window(earliest(), today + dt.timedelta(days=days))


def latest_event(today: dt.date | None = None) -> dt.date:
    """The last plausible day of an event (ticket, survey, start or end of a customer)."""
    return window(today=today).latest
