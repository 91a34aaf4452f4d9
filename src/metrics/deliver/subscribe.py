"""Adding a subscription with its checks: one function for the command line
(``servicewatch subscription add``) and the pages' "subscribe to this view", so both refuse the same
things and store the same row.

Refused (:class:`Refused`, nothing written): an unknown recipient, one without an e-mail address, an
owner who is neither an admin nor a manager subscribing someone other than themselves, a view with
regions outside the owner's scope, and a recipient whose scope has no region in common with the view
(:func:`metrics.deliver.scope.for_recipient`: nobody is subscribed to figures outside their scope).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import sqlalchemy as sa

from metrics.access import audit
from metrics.access import scope as access_scope
from metrics.access import users as access
from metrics.access.users import ScopeError, User
from metrics.deliver import store
from metrics.deliver.schedule import Schedule
from metrics.deliver.scope import DEFAULT_PRESET, OutsideScope, for_recipient, to_query
from metrics.deliver.transport import Refusal, hook_shown
from metrics.model.filters import Filters
from metrics.query.warehouse import Warehouse

MAY_SUBSCRIBE_OTHERS = ("admin", "manager")


class Refused(Refusal):
    """A subscription refused: ``key`` and ``params`` name its catalogue text; ``str()`` is the English line."""


def owners_view(f: Filters) -> Filters:
    """The view an owner subscribes to: ``f`` without its scope, narrowed to the owner's regions when
    it names none (an owner's view never reaches beyond their own scope)."""
    if f.scope is not None and f.scope.regions and not f.regions:
        f = f.narrowed("region", f.scope.regions)
    return f.with_(scope=None)


def addressable(recipients: Sequence[str], users: Mapping[str, User]) -> None:
    """Raise :class:`Refused` for the first recipient who is not a user or has no e-mail address."""
    for name in recipients:
        if name not in users:
            raise Refused.said("subscribe.err.unknown_user", name=name)
        if not users[name].email:
            raise Refused.said("subscribe.err.no_email", name=name)


def check(wh: Warehouse, f: Filters, owner: User | None, recipients: Sequence[str],
          users: Mapping[str, User]) -> Filters:
    """The view to store for ``f`` (the owner's filters, their scope included) sent to ``recipients``
    (user names) by ``owner`` (None: the operator, who may subscribe anyone). Raises :class:`Refused`."""
    addressable(recipients, users)
    if owner is not None and owner.role not in MAY_SUBSCRIBE_OTHERS and set(recipients) - {owner.name}:
        raise Refused.said("subscribe.err.others", role=owner.role)
    try:
        access_scope.check_regions(f.scope, f.regions, wh.regions())
    except ScopeError:
        raise Refused.said("subscribe.err.owner_scope") from None
    view = owners_view(f)
    for name in dict.fromkeys(recipients):
        try:
            for_recipient(wh, view, users[name])
        except OutsideScope:
            raise Refused.said("subscribe.err.outside", name=name) from None
    return view


def subscribe(wh: Warehouse, engine: sa.Engine, f: Filters, *, owner: User | None, owner_name: str,
              recipients: Sequence[str], schedule: Schedule, fmt: str, preset: str = DEFAULT_PRESET,
              section: str | None = None, webhooks: Sequence[dict] = (), users: Mapping[str, User] | None = None,
              now: datetime | None = None) -> int:
    """Check (:func:`check`) and store a subscription (:func:`metrics.deliver.store.add`); its id.
    ``users``: name → User (default: the users file)."""
    if users is None:
        users = {n: u for n, (u, _h) in access.load_users().items()}
    names = list(dict.fromkeys(recipients))
    view = check(wh, f, owner, names, users)
    query = to_query(wh, view, preset)
    sid = store.add(engine, owner=owner_name, recipients=names, webhooks=list(webhooks), filters=query,
                    section=section, fmt=fmt, schedule=schedule, now=now)
    audit.record_safely(wh.url, owner_name, "subscription",
                        {"subscription": sid, "added": True, "recipients": names,
                         "webhooks": [hook_shown(h) for h in webhooks], "format": fmt, "schedule": schedule.every,
                         "at": schedule.at.strftime("%H:%M"), "time_zone": schedule.zone.key, "filters": query,
                         "section": section})
    return sid


def unsubscribe(data_url: str, engine: sa.Engine, subscription_id: int, by: str) -> bool:
    """Remove a subscription (and its unsent deliveries), recorded in the audit log as ``by``; whether
    it existed (nothing recorded when not)."""
    sub = store.get(engine, subscription_id)
    if sub is None or not store.remove(engine, subscription_id):
        return False
    audit.record_safely(data_url, by, "subscription",
                        {"subscription": subscription_id, "removed": True, "owner": sub.owner,
                         "recipients": list(sub.recipients), "format": sub.format, "filters": sub.filters})
    return True
