"""Who may see what: users, roles, the users file and the data scope the engine applies.

No Streamlit here: the app, the CLI and the tests share it.

* :class:`User`: a name, a role (admin, manager, account_manager, hall_manager, viewer), the regions
  of a manager, the ``account_managers.manager_id`` of an account manager, the outlets of a hall
  manager (营业厅主任) — named by their keys as the source wrote them (``GD-SZ``, ``AM-001``,
  ``HALL-01``; a plain number is its own id), turned into ids by
  :func:`metrics.access.scope.scope_for` with the data's
  ``source_keys``.
* The users file (JSON, path in ``$SERVICEWATCH_USERS``, kept outside the repository): users with
  bcrypt password hashes. A missing, unreadable or malformed file raises :class:`UsersFileError`:
  nobody signs in (fail closed).
* :class:`Scope`: the rows a user may see, frozen and hashable so it rides in
  :class:`metrics.model.filters.Filters` (and therefore in every cache key). The compiler adds its
  conditions to every query (:func:`scope_conditions`); an admin has no scope (None). Defined in
  :mod:`metrics.access.scope` with its checks (read them there; a few are still re-exported here).
* :class:`RateLimiter`: N failed sign-ins per name within a window lock the name for a while,
  in a store beside the users file shared by every process (:mod:`metrics.access.lockout`).
"""

from __future__ import annotations

import functools
import hmac
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import bcrypt

from metrics.access import lockout

# still re-exported: read through this module by files others are working on (metrics.churn.*,
# metrics.cli.main, metrics.alert_rules), so their readers are not moved to metrics.access.scope yet
from metrics.access.scope import (  # noqa: F401
    Scope,
    ScopeError,
    allowed_regions,
    require_rows,
    scope_conditions,
    withheld,
)
from metrics.model.i18n import Worded
from metrics.model.keys import user_key

ROLES = ("admin", "manager", "account_manager", "hall_manager", "viewer")
USERS_ENV = "SERVICEWATCH_USERS"
FILE_VERSION = 1
_NAME = re.compile(r"^[\w.@-]{1,64}$")
_EMAIL = re.compile(r"^[^@\s<>,;\"]{1,64}@[A-Za-z0-9.-]{1,190}\.?[A-Za-z0-9-]*$")


@functools.cache
def _dummy_hash() -> str:
    """A real bcrypt hash to check against when the name is unknown, so that unknown names cost the same
    time; made on the first sign-in, not at import (12 rounds: ~0.3 s of every app start otherwise)."""
    return bcrypt.hashpw(b"not a password", bcrypt.gensalt(rounds=12)).decode()


class UsersFileError(Worded, RuntimeError):
    """The users file is missing, unreadable or malformed: nobody can sign in. One made by
    :meth:`~metrics.model.i18n.Worded.said` is a catalogue line (never the file's path): its message is
    the English text, :meth:`~metrics.model.i18n.Worded.text` the line in a user's language."""


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


# -- the users file ---------------------------------------------------------------------------
def users_path(path: str | Path | None = None) -> Path:
    value = path or os.environ.get(USERS_ENV)
    if not value:
        raise UsersFileError.said("users_file.no_env", env=USERS_ENV)
    return Path(value)


def load_users(path: str | Path | None = None) -> dict[str, tuple[User, str | None]]:
    """name -> (User, bcrypt hash or None). Any defect raises :class:`UsersFileError` (fail closed)."""
    p = users_path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsersFileError.said("users_file.missing", env=USERS_ENV) from None
    except PermissionError:
        raise UsersFileError.said("users_file.no_permission", env=USERS_ENV) from None
    except UnicodeDecodeError:
        raise UsersFileError.said("users_file.not_utf8", env=USERS_ENV) from None
    except json.JSONDecodeError as exc:
        raise UsersFileError.said("users_file.not_json", env=USERS_ENV, line=exc.lineno, column=exc.colno) from None
    except OSError as exc:
        raise UsersFileError.said("users_file.unreadable", env=USERS_ENV, kind=type(exc).__name__) from None
    if not isinstance(data, dict) or data.get("version") != FILE_VERSION or not isinstance(data.get("users"), dict):
        raise UsersFileError.said("users_file.malformed", env=USERS_ENV, version=FILE_VERSION)
    out = {}
    for name, rec in data["users"].items():
        try:
            h = rec["password_hash"]  # None: no password sign-in (OpenID Connect only)
            if h is not None and not (isinstance(h, str) and h.startswith("$2") and len(h) == 60):
                raise ValueError("bad password hash")
            user = User(name, rec["role"], tuple(rec.get("regions") or ()), rec.get("manager_id"),
                        rec.get("email"), rec.get("lang") or "zh", tuple(rec.get("outlets") or ()))
        except KeyError as exc:
            raise UsersFileError.said("users_file.entry_missing", env=USERS_ENV, name=repr(name),
                                      field=exc.args[0] if exc.args else "?") from None
        except (TypeError, ValueError) as exc:
            raise UsersFileError.said("users_file.entry_bad", env=USERS_ENV, name=repr(name), detail=exc) from None
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
        raise ValueError(f"no user {name} in the users file")  # never its path: said to users
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
