"""The data scope the engine applies: which rows a user may see (:class:`Scope`), made from a user
by :func:`scope_for`, turned into WHERE conditions by :func:`scope_conditions` on every query, and the
checks that refuse a request outside it (:class:`ScopeError`). No Streamlit here. The users, their
file and sign-in are :mod:`metrics.access.users`, which re-exports these names.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd
import sqlalchemy as sa

from metrics.model.i18n import Worded, catalogue
from metrics.model.regions import within

if TYPE_CHECKING:
    from metrics.access.users import User

MIN_GROUP_ENV = "SERVICEWATCH_MIN_GROUP_SIZE"
DEFAULT_MIN_GROUP_SIZE = 5


class ScopeError(Worded, PermissionError):
    """A request outside the user's scope (a region elsewhere, a customer list for a viewer). Made by
    :meth:`~metrics.model.i18n.Worded.said` with a ``scope_refusal.*`` key: its message is the English
    line, :meth:`~metrics.model.i18n.Worded.text` the line in a reader's language."""


@dataclass(frozen=True)
class Scope:
    """The rows a user may see; ``None`` in Filters means everything (admins, the operator's CLI).

    ``regions``: allowed region ids, their descendants included (None: no region restriction; an
    empty tuple: nothing). ``manager_id``: only that account manager's customers.
    ``aggregates_only``: no customer or ticket lists; groups with fewer than ``min_group_size``
    observations are suppressed. ``outlet_ids``: only the tickets, surveys, queue records and audits of
    those outlets, and nothing of facts at no outlet (customers: churn, customer counts).
    """

    user: str
    regions: tuple[int, ...] | None = None
    manager_id: int | None = None
    aggregates_only: bool = False
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE
    outlet_ids: tuple[int, ...] | None = None  # a hall manager's outlets (None: any; empty: nothing)


def min_group_size() -> int:
    try:
        return max(1, int(os.environ.get(MIN_GROUP_ENV, DEFAULT_MIN_GROUP_SIZE)))
    except ValueError:
        return DEFAULT_MIN_GROUP_SIZE


KeyIds = Callable[[str, list[str]], Mapping[str, int]]  # Warehouse.key_ids: (entity, keys) -> {key: id}


def scope_for(user: User, min_group: int | None = None, key_ids: KeyIds | None = None) -> Scope | None:
    """The scope of a user; None for admins (everything). The user's text keys (regions ``GD-SZ``,
    account manager ``AM-001``) become ids through ``key_ids`` (``Warehouse.key_ids``); a key the
    data does not hold, or any text key without ``key_ids``, grants nothing (fail closed)."""
    size = min_group or min_group_size()
    if user.role == "admin":
        return None
    regions = _ids(user.regions, "regions", key_ids)
    if user.role == "manager":
        return Scope(user.name, regions=tuple(sorted(regions)), min_group_size=size)
    if user.role == "hall_manager":  # their outlets' tickets, surveys, queues and audits; no customer figure
        outlets = _ids(user.outlets, "outlets", key_ids)
        return Scope(user.name, outlet_ids=tuple(sorted(set(outlets))), min_group_size=size)
    if user.role == "account_manager":
        [manager] = _ids((user.manager_id,), "account_managers", key_ids) or [None]
        if manager is None:  # an account manager the data does not know: nothing
            return Scope(user.name, regions=(), min_group_size=size)
        return Scope(user.name, manager_id=manager, min_group_size=size)
    return Scope(user.name, regions=tuple(sorted(regions)) if user.regions else None,
                 aggregates_only=True, min_group_size=size)


def _ids(keys: Iterable[int | str | None], entity: str, key_ids: KeyIds | None) -> list[int]:
    """The ids of a user's keys: plain numbers as they are, text keys looked up (unknown: left out)."""
    keys = [k for k in keys if k is not None]
    text = [k for k in keys if isinstance(k, str)]
    found = dict(key_ids(entity, text)) if text and key_ids is not None else {}
    return [k if isinstance(k, int) else found[k] for k in keys if isinstance(k, int) or k in found]


def outlet_condition(outlet_col: sa.ColumnElement, outlet_ids: Iterable[int]) -> sa.ColumnElement:
    """The one condition of the outlet filter and of a hall manager's scope: the fact's outlet is one of
    ``outlet_ids`` (none: nothing; a fact at no outlet, NULL, never)."""
    ids = tuple(outlet_ids)
    return outlet_col.in_(ids) if ids else sa.false()


def scope_conditions(scope: Scope | None, c: sa.Table, outlet_col: sa.ColumnElement | None = None) -> list:
    """WHERE conditions on the customers table ``c`` restricting rows to ``scope``; ``outlet_col``: the
    outlet of the fact at hand (a hall manager's scope gives a fact without one nothing: fail closed)."""
    if scope is None:
        return []
    conds = []
    if scope.outlet_ids is not None:
        conds.append(outlet_condition(outlet_col, scope.outlet_ids) if outlet_col is not None else sa.false())
    if scope.regions is not None:
        if not scope.regions:
            conds.append(sa.false())
        else:
            conds.append(within(c.c.region_id, scope.regions))
    if scope.manager_id is not None:
        conds.append(c.c.account_manager_id == scope.manager_id)
    return conds


def allowed_regions(scope: Scope | None, regions_df) -> set[int] | None:
    """Region ids a scope may select (its regions and their descendants); None: all."""
    if scope is None or scope.regions is None:
        return None
    children: dict[int, list[int]] = {}
    parents = regions_df["parent_id"].astype("Float64")
    for rid, parent in zip(regions_df["region_id"], parents, strict=True):
        if not pd.isna(parent):
            children.setdefault(int(parent), []).append(int(rid))
    out, todo = set(), list(scope.regions)
    while todo:
        r = int(todo.pop())
        if r not in out:
            out.add(r)
            todo += children.get(r, [])
    return out


def check_regions(scope: Scope | None, requested: Iterable[int], regions_df) -> None:
    """Raise :class:`ScopeError` when a requested region lies outside the scope."""
    allowed = allowed_regions(scope, regions_df)
    if allowed is None:
        return
    names = dict(zip(regions_df["region_id"].astype(int), regions_df["name_zh"], strict=True))
    for r in requested:
        if int(r) not in allowed:
            raise ScopeError.said("scope_refusal.region", region=names.get(int(r), r))


def check_outlets(scope: Scope | None, requested: Iterable[int]) -> None:
    """Raise :class:`ScopeError` when a requested outlet lies outside a hall manager's outlets."""
    if scope is None or scope.outlet_ids is None:
        return
    outside = [o for o in requested if int(o) not in scope.outlet_ids]
    if outside:
        raise ScopeError.said("scope_refusal.outlet")


def withheld(scope: Scope | None, customers: int) -> bool:
    """Whether an aggregate over ``customers`` distinct customers is withheld from ``scope`` (a
    viewer's small-group rule, ``min_group_size``)."""
    return scope is not None and scope.aggregates_only and customers < scope.min_group_size


def require_rows(scope: Scope | None, lists: str = "customer_and_ticket_lists") -> None:
    """Refuse row-level lists (names, ticket texts) to aggregate-only users; ``lists``: the key of the
    refusal's line under ``scope_refusal.viewer_rows`` (``"action_lists"``). A key the catalogue does not
    hold raises ``ValueError`` for every user, so a mistyped one fails at once."""
    key = f"scope_refusal.viewer_rows.{lists}"
    if key not in catalogue():
        raise ValueError(f"require_rows: no catalogue line {key!r}")
    if scope is not None and scope.aggregates_only:
        raise ScopeError.said(key)
