"""Each recipient's view, per role (no pack built): admin unchanged, a province manager's province, a city
manager's city (or the district the view names inside it), an account manager's portfolio, a viewer's
regions; a view elsewhere is refused; the digest's alerts stay inside the recipient's scope (a city
manager sees Dongjiang's planted alerts only if Dongjiang is theirs; an account manager none)."""

from __future__ import annotations

import pytest

from metrics.access.users import User
from metrics.deliver import run
from metrics.deliver.scope import OutsideScope, for_recipient, pack_key, to_query, view_filters
from metrics.model.filters import Filters, preset_period
from metrics.query.warehouse import Warehouse


@pytest.fixture(scope="module")
def wh(deliver_db) -> Warehouse:
    return Warehouse.open(deliver_db[0])


@pytest.fixture(scope="module")
def province(wh: Warehouse) -> Filters:
    start, end = preset_period("last_month", wh.as_of())
    return Filters(start=start, end=end, regions=(1,), tiers=("gold",) if "gold" in wh.values("tier") else ())


def test_views_per_role(wh: Warehouse, province: Filters) -> None:
    assert for_recipient(wh, province, User("boss", "admin")) == province
    prov = for_recipient(wh, province, User("prov", "manager", (1,)))
    assert prov.regions == (1,) and prov.scope.regions == (1,)
    dj = for_recipient(wh, province, User("dj", "manager", (4,)))
    assert dj.regions == (4,) and dj.scope.regions == (4,) and dj.tiers == province.tiers
    district = for_recipient(wh, province.with_(regions=(401,)), User("dj", "manager", (4,)))
    assert district.regions == (401,)  # the view's district inside the manager's city
    two = for_recipient(wh, province, User("south", "manager", (2, 4)))
    assert two.regions == (2, 4)
    with pytest.raises(OutsideScope):
        for_recipient(wh, province.with_(regions=(2,)), User("dj", "manager", (4,)))
    am = for_recipient(wh, province, User("am", "account_manager", manager_id=1))
    assert am.regions == (1,) and am.scope.manager_id == 1
    viewer = for_recipient(wh, province, User("v", "viewer", (3,)))
    assert viewer.regions == (3,) and viewer.scope.aggregates_only


def test_one_pack_per_scope(wh: Warehouse, province: Filters) -> None:
    a = for_recipient(wh, province, User("dj", "manager", (4,)))
    b = for_recipient(wh, province, User("dj2", "manager", (4,)))
    c = for_recipient(wh, province, User("nl", "manager", (2,)))
    assert a != b and pack_key(a) == pack_key(b) and pack_key(a) != pack_key(c)


def test_stored_view_round_trips(wh: Warehouse, province: Filters) -> None:
    query = to_query(wh, province, "last_quarter")
    assert "from=" not in query and "preset=last_quarter" in query
    back = view_filters(wh, query)
    assert back.regions == province.regions and back.tiers == province.tiers
    assert (back.start, back.end) == preset_period("last_quarter", wh.as_of())
    with pytest.raises(ValueError, match="no longer holds"):
        view_filters(wh, "region=999999&preset=last_month")


def test_digest_alerts_stay_in_scope(wh: Warehouse, province: Filters) -> None:
    view = province.with_(tiers=())

    def alerts(user: User) -> set[str]:
        return set(run.digest_alerts(wh, for_recipient(wh, view, user), "zh")["slice"])

    assert alerts(User("dj", "manager", (4,))) == {"东江市"}  # the planted deterioration
    assert alerts(User("nl", "manager", (2,))) == set()  # a stable city raises none
    assert alerts(User("boss", "admin")) == {"东江市"}  # the province view sees the city's
    assert alerts(User("am", "account_manager", manager_id=13)) == set()  # a portfolio: no region's alerts
