"""Captions and labels state exactly the scope a figure covers (issue 12): a city manager's captions
name the city, not the whole province; a district manager's charts, captions and CSVs name the
district, never the city around it; an account manager's say whose customers they are."""

from __future__ import annotations

import io
import json
import time
from datetime import date

import pandas as pd
import pytest
from page_helpers import open_page

from metrics.access import users as access
from metrics.access.users import Scope, User
from metrics.analysis import league
from metrics.analysis.subtitles import covered_regions, region_parents, scope_text
from metrics.model.filters import Filters
from metrics.model.i18n import t
from metrics.query.warehouse import Warehouse

PROVINCE, CITY, OTHER_CITY, DISTRICT = 1, 2, 3, 201  # demo: 岭南省, 南岭市, 珠湾市, a district of 南岭市
F = Filters(start=date(2026, 1, 1), end=date(2026, 3, 31))


@pytest.fixture(scope="module")
def regions(duckdb_url: str) -> pd.DataFrame:
    return Warehouse.open(duckdb_url).regions()


@pytest.fixture(scope="module")
def names(regions: pd.DataFrame) -> dict[int, str]:
    return dict(zip(regions["region_id"].astype(int), regions["name_zh"], strict=True))


def test_district_is_below_the_city(regions: pd.DataFrame) -> None:
    assert region_parents(regions)[DISTRICT] == CITY and region_parents(regions)[CITY] == PROVINCE


@pytest.mark.parametrize(("scope", "chosen", "covered"), [
    (None, (), ()),
    (None, (CITY,), (CITY,)),
    ((CITY,), (), (CITY,)),
    ((CITY,), (DISTRICT,), (DISTRICT,)),
    ((DISTRICT,), (), (DISTRICT,)),
    ((DISTRICT,), (CITY,), (DISTRICT,)),  # the city chosen: the figure is the district's
    ((DISTRICT,), (PROVINCE,), (DISTRICT,)),
    ((CITY, OTHER_CITY), (), (CITY, OTHER_CITY)),
    ((CITY, OTHER_CITY), (CITY,), (CITY,)),
    ((PROVINCE,), (), (PROVINCE,)),
])
def test_covered_regions(scope, chosen, covered, regions) -> None:
    f = F.with_(regions=chosen, scope=None if scope is None else Scope("u", regions=scope))
    assert covered_regions(f, region_parents(regions)) == covered


def test_scope_text_names_the_scope(names, regions) -> None:
    parents = region_parents(regions)
    city = F.with_(scope=Scope("m", regions=(CITY,)))
    assert scope_text(city, "zh", names, parents) == names[CITY]
    assert t("filter.scope_all", "zh") not in scope_text(city, "zh", names, parents)
    district = F.with_(scope=Scope("d", regions=(DISTRICT,)), regions=(CITY,))
    assert scope_text(district, "en", names, parents) == names[DISTRICT]
    portfolio = F.with_(scope=Scope("wang", manager_id=7))
    assert scope_text(portfolio, "en", names, parents) == t("filter.scope_portfolio", "en", user="wang")
    assert scope_text(F, "en", names, parents) == t("filter.scope_all", "en")  # an admin: the province


def test_league_of_a_city_manager_is_the_districts(regions) -> None:
    assert league.scope(F.with_(scope=Scope("m", regions=(CITY,))), regions)[1] == "district"
    assert league.scope(F.with_(scope=Scope("d", regions=(DISTRICT,))), regions) == \
        (F.with_(scope=Scope("d", regions=(DISTRICT,))), "district")
    assert league.scope(F, regions)[1] == "city"


# -- pages, signed in ---------------------------------------------------------------------------
def _sign_in(monkeypatch, tmp_path, url: str, user: User) -> dict:
    users = tmp_path / "users.json"
    access.add_user(user, "correct horse 1", users)
    monkeypatch.setenv("SERVICEWATCH_DB", url)
    monkeypatch.setenv(access.USERS_ENV, str(users))
    monkeypatch.setenv("SERVICEWATCH_AUDIT_DB", f"sqlite:///{tmp_path / 'audit.sqlite'}")
    return {"sw_user": user, "_sw_seen": time.time()}


def _subtitles(at) -> list[str]:
    return [json.loads(c.proto.spec)["layout"]["title"]["text"].split("<sup>")[-1] for c in at.get("plotly_chart")]


PAGES = ["app.py", "pages/1_Satisfaction.py", "pages/2_Complaints.py", "pages/3_SLA.py", "pages/5_Regions.py"]


@pytest.mark.parametrize("page", PAGES)
def test_city_manager_captions_name_the_city(page, duckdb_url, names, monkeypatch, tmp_path, downloads) -> None:
    at = open_page(page, {"lang": "zh"}, _sign_in(monkeypatch, tmp_path, duckdb_url, User("nanling", "manager",
                                                                                         (CITY,))))
    caption = at.caption[0].value
    assert names[CITY] in caption and t("filter.scope_all", "zh") not in caption
    for sub in _subtitles(at):
        assert t("filter.scope_all", "zh") not in sub and names[CITY] in sub, sub


@pytest.mark.parametrize("page", PAGES)
def test_district_manager_never_labelled_with_the_city(page, duckdb_url, names, monkeypatch, tmp_path,
                                                       downloads) -> None:
    at = open_page(page, {"lang": "zh"}, _sign_in(monkeypatch, tmp_path, duckdb_url, User("d201", "manager",
                                                                                         (DISTRICT,))))
    texts = [at.caption[0].value, *_subtitles(at)]
    for text in texts:
        assert names[DISTRICT] in text and names[CITY] not in text and t("filter.scope_all", "zh") not in text, text
    for name, data in downloads:  # the chart data: the district's rows, named as the district
        frame = pd.read_csv(io.BytesIO(data if isinstance(data, bytes) else data.encode()), dtype=str)
        assert not frame.isin([names[CITY]]).any().any(), name
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        ticks = [str(v) for trace in spec["data"] for axis in ("x", "y") for v in (trace.get(axis) or [])
                 if isinstance(v, str)]
        assert names[CITY] not in ticks


def test_account_manager_caption_says_whose_customers(duckdb_url, monkeypatch, tmp_path, downloads) -> None:
    wh = Warehouse.open(duckdb_url)
    manager = int(wh.read(__import__("sqlalchemy").text(
        "select account_manager_id from customers where account_manager_id is not null limit 1")).iloc[0, 0])
    at = open_page("app.py", {"lang": "en"}, _sign_in(monkeypatch, tmp_path, duckdb_url,
                                                      User("wang", "account_manager", manager_id=manager)))
    caption = at.caption[0].value
    assert t("filter.scope_portfolio", "en", user="wang") in caption and t("filter.scope_all", "en") not in caption


def test_the_pack_title_names_the_district_not_the_city(duckdb_url: str) -> None:
    """The pack's title page names exactly the regions it covers: a district manager's the district,
    a city manager who picks one district that district (the report now passes the hierarchy)."""
    from metrics.model.filters import preset_period
    from metrics.query.warehouse import Warehouse
    from metrics.report.build import title_page
    from metrics.report.context import Ctx

    wh = Warehouse.open(duckdb_url)
    regions = wh.regions()
    names = dict(zip(regions["region_id"], regions["name_zh"], strict=True))
    start, end = preset_period("last_quarter", wh.as_of())
    for chosen, scope in (((), (DISTRICT,)), ((DISTRICT,), (CITY,))):
        f = Filters(start=start, end=end, regions=chosen, scope=Scope("m", regions=scope))
        page = title_page(Ctx.open(wh, f, "zh", render=lambda fig: b""))
        assert names[DISTRICT] in page.subtitle and names[CITY] not in page.subtitle, page.subtitle
