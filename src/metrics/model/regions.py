"""The region hierarchy in SQL: the two pieces every query about regions is built from, over the
``region_closure`` table (one row per region and each of its ancestors, itself included)."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from metrics.model import schema as s


def within(region_col: sa.ColumnElement, regions: Iterable[int]) -> sa.ColumnElement:
    """``region_col`` lies in one of ``regions`` or below it (a city includes its districts)."""
    rc = s.region_closure
    return region_col.in_(sa.select(rc.c.descendant_id).where(rc.c.ancestor_id.in_(tuple(regions))))


def at_level(closure: sa.FromClause, region_col: sa.ColumnElement, level: str) -> sa.ColumnElement:
    """Join condition from ``region_col`` to its ancestor at ``level`` in an alias of the closure;
    group by ``closure.c.ancestor_id`` to cut a figure by city or district."""
    return sa.and_(closure.c.descendant_id == region_col, closure.c.ancestor_level == level)
