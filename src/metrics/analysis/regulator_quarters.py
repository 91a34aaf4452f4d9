"""The regulator's period: a calendar quarter (``2026Q3``), its months, and the month ends at which a
regulator counts the users (:data:`POINTS`). Read by :mod:`metrics.analysis.regulator`,
:mod:`metrics.analysis.regulator_users`, :mod:`metrics.analysis.regulator_acma` and the regulator's views."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from metrics.query.where import midnight

POINTS = ("quarter_end", "second_month_end", "average")
_QUARTER = re.compile(r"^\s*(\d{4})\s*-?\s*[Qq]\s*([1-4])\s*$")


@dataclass(frozen=True)
class Quarter:
    """A calendar quarter (``2026Q3``)."""

    year: int
    q: int

    @property
    def start(self) -> date:
        return date(self.year, 3 * self.q - 2, 1)

    @property
    def stop(self) -> date:
        """The first day after the quarter."""
        return date(self.year + 1, 1, 1) if self.q == 4 else date(self.year, 3 * self.q + 1, 1)

    def months(self) -> list[date]:
        """The first days of its three months."""
        return [date(self.year, 3 * self.q - 2 + i, 1) for i in range(3)]

    def shifted(self, quarters: int) -> Quarter:
        n = self.year * 4 + self.q - 1 + quarters
        return Quarter(n // 4, n % 4 + 1)

    @classmethod
    def of(cls, day: date) -> Quarter:
        """The quarter holding ``day``."""
        return cls(day.year, (day.month - 1) // 3 + 1)

    def instants(self) -> tuple[datetime, datetime]:
        """The quarter's first instant and the first instant after it: [start, stop) as timestamps."""
        return midnight(self.start), midnight(self.stop)

    def __str__(self) -> str:
        return f"{self.year}Q{self.q}"


def parse_quarter(text: str) -> Quarter:
    """``2026Q3`` (also ``2026-Q3``, ``2026q3``) → Quarter; ValueError otherwise."""
    m = _QUARTER.match(str(text))
    if not m:
        raise ValueError(text)
    return Quarter(int(m[1]), int(m[2]))


def month_end(month: date) -> date:
    """The last day of ``month`` (any day of it)."""
    nxt = date(month.year + 1, 1, 1) if month.month == 12 else date(month.year, month.month + 1, 1)
    return nxt - timedelta(days=1)


def point_months(quarter: Quarter, point: str) -> list[date]:
    """The months (first days) whose month-end counts make the denominator at ``point``."""
    months = quarter.months()
    return {"quarter_end": months[2:], "second_month_end": months[1:2], "average": months}[point]
