"""A subscription's filters for each recipient: the view narrowed to what that person may see.

The subscription stores its view as a link's query string (:mod:`metrics.model.links`) without a
period: ``preset`` (last month by default) is resolved against the data's as-of date when the pack
is built. Each recipient's figures are the view intersected with their scope
(:func:`metrics.access.scope.scope_for`): a province view sent to a city manager is that city's
view; a view with no region in common with a recipient's regions gives that recipient nothing; a hall
manager's view is narrowed to their outlets the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from urllib.parse import parse_qsl, urlencode

from metrics.access import scope as access_scope
from metrics.access import users as access
from metrics.access.users import Scope, User
from metrics.deliver.transport import Refusal
from metrics.model import dimensions
from metrics.model.filters import Filters, preset_period
from metrics.model.keys import shown
from metrics.model.links import parse_query
from metrics.query.warehouse import Warehouse

DEFAULT_PRESET = "last_month"
PRESETS = ("last_month", "last_quarter", "ytd", "last_12_months")


class OutsideScope(Refusal):
    """The view has nothing in common with a recipient's scope (a catalogue line: ``key``, ``params``)."""


class StaleView(Refusal):
    """The stored view names a slice the data no longer holds (a catalogue line)."""


def to_query(wh: Warehouse, f: Filters, preset: str = DEFAULT_PRESET) -> str:
    """The view as stored: its slices (regions by their keys as the source wrote them) and ``preset``;
    the dates are left out (each delivery takes the preset's period up to the data's as-of)."""
    q = f.to_query(wh.key_texts("regions", list(f.regions)), wh.key_texts("outlets", list(f.outlets)))
    for k in ("from", "to", "as_of"):
        q.pop(k, None)
    return urlencode({**q, "preset": preset})


def region_keys(wh: Warehouse) -> dict[str, int]:
    ids = [int(r) for r in wh.regions()["region_id"]]
    texts = wh.key_texts("regions", ids)
    return {shown(i, texts): i for i in ids}


def view_filters(wh: Warehouse, query: str) -> Filters:
    """The stored view as Filters over its preset's period up to the data's as-of (no scope). A
    slice the data no longer holds (a region removed by a reload) raises :class:`StaleView` (a ValueError)."""
    q = dict(parse_qsl(query, keep_blank_values=True))
    preset = q.get("preset") if q.get("preset") in PRESETS else DEFAULT_PRESET
    start, end = preset_period(preset, wh.as_of())
    values = {d.url_key: wh.values(d.name) for d in dimensions.VALUE_FILTERS}
    outlets = wh.outlet_keys()
    parsed = parse_query(q, Filters(start=start, end=end), regions=set(region_keys(wh).values()), values=values,
                         region_keys=region_keys(wh), outlets=set(outlets.values()), outlet_keys=outlets)
    if parsed.ignored:
        raise StaleView.said("deliver.scope.stale_view", items=", ".join(parsed.ignored))
    return parsed.filters


def _closure(wh: Warehouse, regions: tuple[int, ...]) -> set[int]:
    """The regions and their descendants."""
    return access.allowed_regions(Scope("", regions=regions), wh.regions()) or set()


def for_recipient(wh: Warehouse, f: Filters, user: User) -> Filters:
    """``f`` as ``user`` may receive it: narrowed to their regions and carrying their scope.
    Raises :class:`OutsideScope` when the view and the scope have no region in common."""
    scope = access_scope.scope_for(user, key_ids=wh.key_ids)
    if scope is None:
        return f
    if scope.outlet_ids is not None:  # a hall manager: the view's outlets among theirs, or all of theirs
        kept = [o for o in f.outlets if o in scope.outlet_ids] if f.outlets else list(scope.outlet_ids)
        if not kept:
            raise OutsideScope.said("deliver.scope.no_outlet", name=user.name)
        return f.narrowed("outlet", kept).with_(scope=scope)
    if scope.regions is None:  # an account manager's customers, or a viewer of everything
        return f.with_(scope=scope)
    if not scope.regions:
        raise OutsideScope.said("deliver.scope.no_regions", name=user.name)
    if not f.regions:
        return f.narrowed("region", scope.regions).with_(scope=scope)
    allowed = access.allowed_regions(scope, wh.regions()) or set()
    view = _closure(wh, f.regions)
    kept = [r for r in f.regions if r in allowed] + [s for s in scope.regions if s in view]
    kept = list(dict.fromkeys(kept))
    # a region already inside another kept one adds nothing (a city kept beside its province)
    kept = [r for r in kept if not any(r != o and r in _closure(wh, (o,)) for o in kept)]
    if not kept:
        raise OutsideScope.said("deliver.scope.no_region", name=user.name)
    return f.narrowed("region", kept).with_(scope=scope)


def pack_key(f: Filters) -> Filters:
    """Filters that give the same figures share a pack: the scope's user name left out."""
    if f.scope is None or f.scope.manager_id is not None:  # an account manager's pack names them
        return f
    return f.with_(scope=replace(f.scope, user=""))


def check_recipients(wh: Warehouse, f: Filters, users: Mapping[str, User]) -> dict[str, Filters]:
    """Each recipient's filters; raises OutsideScope naming the first recipient the view is outside."""
    return {name: for_recipient(wh, f, u) for name, u in users.items()}
