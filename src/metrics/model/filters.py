"""The one filter model every page, the CLI and the tests pass to the engine.

``Filters`` is frozen and hashable, so it is the Streamlit cache key as it is; it round-trips
through the URL query string (:meth:`Filters.to_query`, read back by :func:`metrics.model.links.parse_query`), so a link
reproduces a view.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta

from metrics.access.users import Scope
from metrics.model import dimensions

COMPARISONS = ("previous", "year_ago", "none")
PRESETS = ("last_month", "last_quarter", "ytd", "last_12_months", "custom")

# filter field -> query-string key
LIST_FIELDS = {d.field: d.url_key for d in dimensions.FILTERS}  # Filters field -> a link's key


@dataclass(frozen=True)
class Filters:
    """A period plus the slices of the business to look at.

    ``start`` and ``end`` are inclusive calendar dates. ``as_of`` is the last day whose events are
    known (None: the newest date in the data). Empty tuples mean "all".
    """

    start: date
    end: date
    as_of: date | None = None
    comparison: str = "previous"
    regions: tuple[int, ...] = ()
    tiers: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    outlets: tuple[int, ...] = ()  # outlet ids (keys as the source wrote them: metrics.model.keys)
    categories: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    survey_kinds: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()
    sla_levels: tuple[str, ...] = ()
    # Whose data: set by the app and `--as-user`, never from the URL (metrics.access.users). None: all.
    scope: Scope | None = None

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"period ends ({self.end}) before it starts ({self.start})")
        if self.comparison not in COMPARISONS:
            raise ValueError(f"unknown comparison {self.comparison!r}; use one of {', '.join(COMPARISONS)}")
        for name in LIST_FIELDS:
            value = getattr(self, name)
            if not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))

    # -- periods ------------------------------------------------------------------------------
    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def comparison_filters(self) -> Filters | None:
        """The same slices over the comparison period, or None when there is no comparison."""
        if self.comparison == "none":
            return None
        if self.comparison == "year_ago":
            start, end = _shift_years(self.start, -1), _shift_years(self.end, -1)
        elif _is_month_aligned(self.start, self.end):
            months = (self.end.year - self.start.year) * 12 + self.end.month - self.start.month + 1
            start = add_months(self.start, -months)
            end = add_months(self.start, 0) - timedelta(days=1)
        else:
            end = self.start - timedelta(days=1)
            start = end - timedelta(days=self.days - 1)
        # Same as-of as the current view: the comparison is judged on everything known now.
        return replace(self, start=start, end=end)

    # -- trend windows: a chart by month shows about a year, whatever the period ----------------
    def last_months(self, months: int = 12) -> Filters:
        """The ``months`` calendar months that end with the period's end month, without a
        comparison (the Overview's card lines)."""
        return self.with_(start=add_months(self.end.replace(day=1), 1 - months), comparison="none")

    def reaching_months(self, months: int = 12) -> Filters:
        """The period, started no later than the first day of the ``months``-th month back from its
        end (a longer period is kept whole), without a comparison (Satisfaction's trend)."""
        return self.with_(start=min(self.start, add_months(self.end.replace(day=1), 1 - months)), comparison="none")

    def about_a_year(self) -> Filters:
        """The period when it is nearly a year or longer (over 330 days), else the 12 calendar
        months that end with its end month; the comparison kept (Churn's trends)."""
        return self if self.days > 330 else self.with_(start=add_months(self.end.replace(day=1), -11))

    def with_(self, **changes: object) -> Filters:
        """A copy with some fields changed (tuples accepted as lists)."""
        return replace(self, **{k: tuple(v) if isinstance(v, list) else v for k, v in changes.items()})

    def scope_only(self) -> Filters:
        """These filters with every slice cleared: the user's scope (and the dates) alone — who a
        customer-level question may reach, whatever the page's filters."""
        return self.with_(**{d.field: () for d in dimensions.FILTERS})

    def narrowed(self, dim: str, values: Iterable[object]) -> Filters:
        """These filters narrowed to ``values`` of the dimension ``dim`` (values picked in a chart,
        as text: region and outlet ids become integers)."""
        field = dimensions.get(dim).field
        if field is None:
            raise ValueError(f"{dim} is not a filter")
        keyed = dimensions.get(dim).entity is not None  # region, outlet: integer ids
        picked = tuple(int(v) for v in values) if keyed else tuple(str(v) for v in values)
        return replace(self, **{field: picked})

    # -- URL query string ---------------------------------------------------------------------
    def to_query(
        self, region_keys: Mapping[int, str] | None = None, outlet_keys: Mapping[int, str] | None = None
    ) -> dict[str, str]:
        """Query-string parameters; lists are comma-joined, defaults left out; regions and outlets by
        their keys as the source wrote them when ``region_keys``/``outlet_keys`` (id -> key) are given,
        else by their ids."""
        q = {"from": self.start.isoformat(), "to": self.end.isoformat()}
        if self.as_of:
            q["as_of"] = self.as_of.isoformat()
        if self.comparison != "previous":
            q["cmp"] = self.comparison
        for name, key in LIST_FIELDS.items():
            values = getattr(self, name)
            if values:
                named = {"regions": region_keys, "outlets": outlet_keys}.get(name) or {}
                q[key] = ",".join(named.get(v, str(v)) for v in values)
        return q


# -- period presets -------------------------------------------------------------------------
def preset_period(name: str, as_of: date) -> tuple[date, date]:
    """(start, end) of a named period relative to ``as_of`` (inclusive dates).

    last_month and last_quarter are the last *complete* month/quarter before ``as_of`` unless
    ``as_of`` is itself the last day of one; ytd runs from 1 January to ``as_of``.
    """
    if name == "last_month":
        end = as_of if _is_month_end(as_of) else as_of.replace(day=1) - timedelta(days=1)
        return end.replace(day=1), end
    if name == "last_quarter":
        q_end_month = ((as_of.month - 1) // 3) * 3 + 3
        q_end = date(as_of.year, q_end_month, calendar.monthrange(as_of.year, q_end_month)[1])
        if q_end != as_of:
            q_end = add_months(q_end.replace(day=1), -3)
            q_end = q_end.replace(day=calendar.monthrange(q_end.year, q_end.month)[1])
        return add_months(q_end.replace(day=1), -2), q_end
    if name == "ytd":
        return date(as_of.year, 1, 1), as_of
    if name == "last_12_months":
        end = as_of if _is_month_end(as_of) else as_of.replace(day=1) - timedelta(days=1)
        return add_months(end.replace(day=1), -11), end
    raise ValueError(f"unknown period preset {name!r}; use one of {', '.join(PRESETS[:-1])}")


# -- periods that fit the data ---------------------------------------------------------------
def default_period(preset: str, first: date, last: date, snapshot: date | None = None) -> tuple[str, date, date]:
    """The window a view opens on, for the data's span ``first``–``last`` (inclusive days,
    :meth:`metrics.query.warehouse.Warehouse.data_span`): ``(preset, start, end)``.

    Data that ends on a customer snapshot's date (``snapshot == last``: every departure of the
    extract lies on that day) opens on the preset's length ending on that day, so the departures
    are in view; complete calendar periods would all end before it.

    The rule: the preset's latest complete period up to ``last`` (:func:`preset_period`) when it
    starts on or after ``first`` (the whole period lies within the data); otherwise — the extract is
    shorter than the period, or it ends early in a new quarter so that the last complete one begins
    before the data — the data's whole span, as ``("custom", first, last)``. A fresh extract never
    opens on an empty view, and a long one keeps its usual complete period.
    """
    if snapshot is not None and snapshot == last:
        months = {"last_month": 1, "last_quarter": 3, "last_12_months": 12}.get(preset)
        if months is None:  # ytd
            start = date(last.year, 1, 1)
        elif _is_month_end(last):  # whole months: a quarter to 28 February is December to February
            start = add_months(last.replace(day=1), 1 - months)
        else:
            start = add_months(last, -months) + timedelta(days=1)
        return "custom", max(first, start), last
    start, end = preset_period(preset, last)
    if first <= start:
        return preset, start, end
    return "custom", first, last


def clamp_period(start: date, end: date, first: date, last: date) -> tuple[date, date] | None:
    """``start``–``end`` cut to the data's span ``first``–``last``; None when no day of it lies inside."""
    start, end = max(start, first), min(end, last)
    return (start, end) if start <= end else None


def fit_to_span(f: Filters, first: date, last: date, default: tuple[date, date]) -> Filters:
    """``f`` with its period and as-of inside the data's span: the period cut to it
    (:func:`clamp_period`), or ``default`` when no day of the period holds data; an as-of after the
    last day becomes None (the newest data), one before the first day the first day. Compare the
    result with ``f`` to know whether anything was changed (the caller says so)."""
    period = clamp_period(f.start, f.end, first, last) or default
    as_of = f.as_of
    if as_of is not None and as_of > last:
        as_of = None
    elif as_of is not None and as_of < first:
        as_of = first
    return replace(f, start=period[0], end=period[1], as_of=as_of)


def _is_month_end(d: date) -> bool:
    return (d + timedelta(days=1)).day == 1


def _is_month_aligned(start: date, end: date) -> bool:
    return start.day == 1 and _is_month_end(end)


def add_months(d: date, months: int) -> date:
    m = d.month - 1 + months
    year, month = d.year + m // 12, m % 12 + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def _shift_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)
