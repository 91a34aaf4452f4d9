"""A league around a district never reaches outside the user's scope: a district manager's view naming
their district (as each recipient's delivery does, metrics.deliver.scope.for_recipient) keeps the district,
while a city manager or an admin picking a district gets the league of its city (found by the delivery
bench at L: district managers' packs failed with "region … is outside your scope")."""

from __future__ import annotations

from datetime import date

import pandas as pd

from metrics.access.users import Scope
from metrics.analysis import league
from metrics.model.filters import Filters

REGIONS = pd.DataFrame({"region_id": [1, 2, 201, 202, 3], "parent_id": pd.array([None, 1, 2, 2, 1], dtype="Int64"),
                        "level": ["province", "city", "district", "district", "city"]})
F = Filters(start=date(2026, 10, 1), end=date(2026, 10, 31))


def test_district_manager_keeps_the_district() -> None:
    f = F.with_(regions=(201,), scope=Scope("d", regions=(201,)))
    assert league.scope(f, REGIONS) == (f, "district")


def test_city_manager_and_admin_get_the_city_around_a_district() -> None:
    city = F.with_(regions=(201,), scope=Scope("c", regions=(2,)))
    assert league.scope(city, REGIONS) == (city.with_(regions=(2,)), "district")
    assert league.scope(F.with_(regions=(201,)), REGIONS) == (F.with_(regions=(2,)), "district")
