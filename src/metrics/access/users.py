"""Who may see what: users, roles, the users file and the data scope the engine applies.

No Streamlit here: the app, the CLI and the tests share it.

* :class:`User`: a name, a role (admin, manager, account_manager, hall_manager, viewer), the regions
  of a manager, the ``account_managers.manager_id`` of an account manager, the outlets of a hall
  manager (营业厅主任) — named by their keys as the source wrote them (``GD-SZ``, ``AM-001``,
  ``HALL-01``; a plain number is its own id), turned into ids by :func:`scope_for` with the data's
  ``source_keys``.
* The users file (JSON, path in ``$SERVICEWATCH_USERS``, kept outside the repository): users with
  bcrypt password hashes. A missing, unreadable or malformed file raises :class:`UsersFileError`:
  nobody signs in (fail closed).
* :class:`Scope`: the rows a user may see, frozen and hashable so it rides in
  :class:`metrics.model.filters.Filters` (and therefore in every cache key). The compiler adds its
  conditions to every query (:func:`scope_conditions`); an admin has no scope (None).
* :class:`RateLimiter`: N failed sign-ins per name within a window lock the name for a while,
  in a store beside the users file shared by every process (:mod:`metrics.access.lockout`).
"""

from __future__ import annotations

import functools
import hmac
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import pandas as pd
import sqlalchemy as sa

from metrics.access import lockout
from metrics.model.keys import user_key
from metrics.model.regions import within

ROLES = ("admin", "manager", "account_manager", "hall_manager", "viewer")
USERS_ENV = "SERVICEWATCH_USERS"
MIN_GROUP_ENV = "SERVICEWATCH_MIN_GROUP_SIZE"
DEFAULT_MIN_GROUP_SIZE = 5
FILE_VERSION = 1
_NAME = re.compile(r"^[\w.@-]{1,64}$")
_EMAIL = re.compile(r"^[^@\s<>,;\"]{1,64}@[A-Za-z0-9.-]{1,190}\.?[A-Za-z0-9-]*$")


@functools.cache
def _dummy_hash() -> str:
    """A real bcrypt hash to check against when the name is unknown, so that unknown names cost the same
    time; made on the first sign-in, not at import (12 rounds: ~0.3 s of every app start otherwise)."""
    return bcrypt.hashpw(b"not a password", bcrypt.gensalt(rounds=12)).decode()


class ScopeError(PermissionError):
    """A request outside the user's scope (a region elsewhere, a customer list for a viewer)."""


class UsersFileError(RuntimeError):
    """The users file is missing, unreadable or malformed: nobody can sign in."""


class AuthError(PermissionError):
    """A failed sign-in: wrong name or password, or a locked name. The message says which
    without telling whether the name exists."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    regions: tuple[int | str, ...] = ()  # keys: plain numbers as ints, other keys as text
    manager_id: int | str | None = None
    email: str | None = None  # where subscriptions are delivered (metrics.deliver)
    lang: str = "zh"  # the language of what is delivered to the user
    outlets: tuple[int | str, ...] = ()  # a hall manager's outlets: keys, as regions

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"bad user name {self.name!r}: letters, digits, . _ @ - (at most 64)")
        if self.email is not None and not _EMAIL.match(self.email):
            raise ValueError(f"bad e-mail address {self.email!r}")
        if self.lang not in ("zh", "en"):
            raise ValueError(f"unknown language {self.lang!r}; use zh or en")
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}; use one of {', '.join(ROLES)}")
        if self.role == "manager" and not self.regions:
            raise ValueError("a manager needs at least one region (--regions ID ...)")
        if self.role == "account_manager" and self.manager_id is None:
            raise ValueError("an account manager needs --manager ID (account_managers.manager_id)")
        if self.role == "hall_manager" and not self.outlets:
            raise ValueError("a hall manager needs at least one outlet (--outlets KEY ...)")
        if self.outlets and self.role != "hall_manager":
            raise ValueError("only a hall manager has outlets (--role hall_manager)")
        object.__setattr__(self, "regions", tuple(user_key(r) for r in self.regions))
        object.__setattr__(self, "outlets", tuple(user_key(o) for o in self.outlets))
        if self.manager_id is not None:
            object.__setattr__(self, "manager_id", user_key(self.manager_id))


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
            raise ScopeError(f"region {names.get(int(r), r)} is outside your scope")


def check_outlets(scope: Scope | None, requested: Iterable[int]) -> None:
    """Raise :class:`ScopeError` when a requested outlet lies outside a hall manager's outlets."""
    if scope is None or scope.outlet_ids is None:
        return
    outside = [o for o in requested if int(o) not in scope.outlet_ids]
    if outside:
        raise ScopeError("that outlet is outside your scope")


def withheld(scope: Scope | None, customers: int) -> bool:
    """Whether an aggregate over ``customers`` distinct customers is withheld from ``scope`` (a
    viewer's small-group rule, ``min_group_size``)."""
    return scope is not None and scope.aggregates_only and customers < scope.min_group_size


def require_rows(scope: Scope | None, what: str = "customer and ticket lists") -> None:
    """Refuse row-level lists (names, ticket texts) to aggregate-only users."""
    if scope is not None and scope.aggregates_only:
        raise ScopeError(f"{what} are not available to viewers (aggregates only)")


# -- the users file ---------------------------------------------------------------------------
def users_path(path: str | Path | None = None) -> Path:
    value = path or os.environ.get(USERS_ENV)
    if not value:
        raise UsersFileError(f"no users file: set {USERS_ENV} to its path")
    return Path(value)


def load_users(path: str | Path | None = None) -> dict[str, tuple[User, str | None]]:
    """name -> (User, bcrypt hash or None). Any defect raises :class:`UsersFileError` (fail closed)."""
    p = users_path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsersFileError(f"users file {p} does not exist; create it with `servicewatch user add`") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsersFileError(f"users file {p} is unreadable: {exc}") from None
    if not isinstance(data, dict) or data.get("version") != FILE_VERSION or not isinstance(data.get("users"), dict):
        raise UsersFileError(f"users file {p} is malformed (expected version {FILE_VERSION} and a users table)")
    out = {}
    for name, rec in data["users"].items():
        try:
            h = rec["password_hash"]  # None: no password sign-in (OpenID Connect only)
            if h is not None and not (isinstance(h, str) and h.startswith("$2") and len(h) == 60):
                raise ValueError("bad password hash")
            user = User(name, rec["role"], tuple(rec.get("regions") or ()), rec.get("manager_id"),
                        rec.get("email"), rec.get("lang") or "zh", tuple(rec.get("outlets") or ()))
        except (KeyError, TypeError, ValueError) as exc:
            raise UsersFileError(f"users file {p}: entry {name!r} is malformed ({exc})") from None
        out[name] = (user, h)
    return out


def _save(users: dict[str, tuple[User, str | None]], path: str | Path | None = None) -> None:
    p = users_path(path)
    data = {"version": FILE_VERSION, "users": {
        u.name: {"role": u.role, "regions": list(u.regions), "manager_id": u.manager_id, "password_hash": h,
                 "email": u.email, "lang": u.lang, **({"outlets": list(u.outlets)} if u.outlets else {})}
        for u, h in users.values()}}
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=1)
    os.replace(tmp, p)


def _hash(password: str) -> str:
    if len(password) < 8:
        raise ValueError("a password needs at least 8 characters")
    if len(password.encode()) > 72:
        raise ValueError("a password may have at most 72 bytes (bcrypt)")
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=12)).decode()


def add_user(user: User, password: str | None, path: str | Path | None = None) -> None:
    """Add ``user``; ``password`` None: the user signs in only through OpenID Connect."""
    p = users_path(path)
    users = load_users(p) if p.exists() else {}
    if user.name in users:
        raise ValueError(f"user {user.name} exists; use `servicewatch user passwd` or remove it first")
    users[user.name] = (user, None if password is None else _hash(password))
    _save(users, p)


def set_password(name: str, password: str, path: str | Path | None = None) -> None:
    users = load_users(path)
    if name not in users:
        raise ValueError(f"no user {name}")
    users[name] = (users[name][0], _hash(password))
    _save(users, path)


def remove_user(name: str, path: str | Path | None = None) -> None:
    users = load_users(path)
    if users.pop(name, None) is None:
        raise ValueError(f"no user {name}")
    _save(users, path)


def list_users(path: str | Path | None = None) -> list[User]:
    return [u for u, _ in sorted(load_users(path).values(), key=lambda x: x[0].name)]


def get_user(name: str, path: str | Path | None = None) -> User:
    users = load_users(path)
    if name not in users:
        raise ValueError(f"no user {name} in {users_path(path)}")
    return users[name][0]


def user_for_identity(claims: Mapping[str, object], path: str | Path | None = None) -> User:
    """The user of an OpenID Connect identity (the ID token's claims): the users-file entry named by
    its subject (``sub``), else by its e-mail address unless the provider says ``email_verified`` is
    false. An identity with no entry raises :class:`AuthError` (fail closed); an unusable file
    :class:`UsersFileError`."""
    users = load_users(path)
    sub, email = str(claims.get("sub") or ""), str(claims.get("email") or "")
    keys = [sub] + ([email] if claims.get("email_verified") is not False else [])
    for key in keys:
        if key and key in users:
            return users[key][0]
    raise AuthError(f"the identity {email or sub or '?'} is not a ServiceWatch user")


# -- sign-in ----------------------------------------------------------------------------------
RateLimiter = lockout.RateLimiter  # the policy; failures and locks are stored beside the users file
LIMITER = RateLimiter()


class LockedError(AuthError):
    """Too many failed sign-ins for this name (known or not): refused without checking the password."""


class LockoutUnavailable(UsersFileError):
    """The lockout store beside the users file cannot be used: nobody signs in (fail closed)."""


def verify(name: str, password: str, path: str | Path | None = None,
           limiter: RateLimiter | None = None) -> User:
    """The user when the password matches; :class:`AuthError` otherwise (same time whether the
    name exists or not; :class:`LockedError` when the name is locked), :class:`UsersFileError` when
    the users file is unusable and :class:`LockoutUnavailable` when the lockout store is.

    The attempt is counted in the lockout store before the password is checked
    (:mod:`metrics.access.lockout`): without a usable store no password is checked at all."""
    limiter = limiter or LIMITER
    p = users_path(path)
    users = load_users(p)
    try:
        limiter.attempt(p, name)
    except lockout.Locked:
        raise LockedError("too many failed sign-ins; this account is locked for a while") from None
    except lockout.StoreError as exc:
        raise LockoutUnavailable(str(exc)) from None
    user, h = users.get(name, (None, None))
    if h is None:  # an unknown name, or an OpenID Connect-only user: no password opens it
        user, h = None, _dummy_hash()
    ok = bcrypt.checkpw(password.encode()[:72], h.encode())
    try:
        if not (ok and user is not None and hmac.compare_digest(user.name, name)):
            limiter.failed(p, name)
            raise AuthError("wrong user name or password")
        limiter.succeeded(p, name)
    except lockout.StoreError as exc:
        raise LockoutUnavailable(str(exc)) from None
    return user


def lock_states(path: str | Path | None = None, limiter: RateLimiter | None = None) -> dict[str, float]:
    """Locked names (known or not) → when the lock ends (wall-clock seconds)."""
    try:
        return (limiter or LIMITER).locks(users_path(path))
    except lockout.StoreError as exc:
        raise LockoutUnavailable(str(exc)) from None


def unlock(name: str, path: str | Path | None = None, limiter: RateLimiter | None = None) -> bool:
    """Clear the lock and failed sign-ins of a user of the file; whether it was locked.
    A name that is not in the file raises ValueError."""
    p = users_path(path)
    if name not in load_users(p):
        raise ValueError(f"no user {name}")
    try:
        return (limiter or LIMITER).unlock(p, name)
    except lockout.StoreError as exc:
        raise LockoutUnavailable(str(exc)) from None
