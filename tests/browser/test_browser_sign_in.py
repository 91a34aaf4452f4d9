"""Sign-in in a real browser (issue 7): a city manager signs in through the form of `streamlit run`
(users file in ``$SERVICEWATCH_USERS``), sees their city's figures, and cannot reach another city —
neither through the filter bar nor through a link's query string."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from conftest import run_app
from playwright.sync_api import expect
from test_browser import IDLE, settle

from metrics.access import users as access
from metrics.access.users import User
from metrics.model.filters import Filters, preset_period
from metrics.model.i18n import metric_label, t
from metrics.model.registry import get
from metrics.present.formatting import fmt_value
from metrics.query.warehouse import Warehouse

CITY, OTHER_CITY = 2, 3
PASSWORD = "correct horse 1"


@pytest.fixture(scope="module")
def signed_server(tmp_path_factory: pytest.TempPathFactory, duckdb_url: str, browser) -> Iterator[str]:
    work = tmp_path_factory.mktemp("signed_app")
    users = work / "users.json"
    access.add_user(User("nanling", "manager", (CITY,)), PASSWORD, users)
    env = {access.USERS_ENV: str(users), "SERVICEWATCH_AUDIT_DB": f"sqlite:///{work / 'audit.sqlite'}",
           "SERVICEWATCH_AUTH": "users"}
    with run_app(work, duckdb_url, env) as base_url:
        yield base_url


def sign_in(page, name: str, password: str) -> None:
    page.wait_for_selector(IDLE, timeout=120_000)
    page.get_by_role("textbox", name=t("auth.user_name", "en")).fill(name)
    page.get_by_role("textbox", name=t("auth.password", "en")).fill(password)
    page.get_by_role("button", name=t("auth.sign_in", "en")).click()
    settle(page, 1500)


def card(page, metric_id: str) -> str:
    box = page.locator("[data-testid=stMetric]").filter(has_text=metric_label(metric_id, "en")).first
    return box.locator("[data-testid=stMetricValue]").inner_text().strip()


def city_figure(duckdb_url: str, metric_id: str) -> str:
    from servicewatch.filter_bar import DEFAULT_PRESET

    wh = Warehouse.open(duckdb_url)
    start, end = preset_period(DEFAULT_PRESET, wh.as_of())
    value = wh.metric(metric_id, Filters(start=start, end=end, regions=(CITY,)))["value"].iloc[0]
    everyone = wh.metric(metric_id, Filters(start=start, end=end))["value"].iloc[0]
    assert value != everyone
    return fmt_value(value, get(metric_id).unit, "en")


def test_city_manager_signs_in_and_sees_only_the_city(page, signed_server: str, duckdb_url: str) -> None:
    page.goto(f"{signed_server}/?lang=en", timeout=120_000)
    sign_in(page, "nanling", "not the password")
    assert page.locator("[data-testid=stMetric]").count() == 0
    assert page.get_by_text(t("auth.failed", "en")).count() == 1

    sign_in(page, "nanling", PASSWORD)
    page.wait_for_selector("[data-testid=stMetric]", timeout=60_000)
    assert card(page, "active_customers") == city_figure(duckdb_url, "active_customers")
    # the city's name is drawn in the "what moved most" chart at the foot of the page: wait for it
    expect(page.locator("body")).to_contain_text("Nanling", timeout=60_000)
    assert "Zhuwan" not in page.inner_text("body")

    # the filter bar offers the own city only
    city = page.locator("[data-testid=stSidebar] [data-testid=stSelectbox]").filter(
        has_text=t("filter.city", "en"))
    city.scroll_into_view_if_needed()  # the sidebar's foot: its list opens below the select
    page.mouse.wheel(0, 400)
    city.click()
    page.get_by_role("option").first.wait_for(timeout=10_000)
    options = [o.strip() for o in page.get_by_role("option").all_inner_texts()]
    page.keyboard.press("Escape")
    assert options == [t("filter.all", "en"), "Nanling"]

    # loading a page anew starts a new session: signed out (the sign-in lives in the server's session)
    page.goto(f"{signed_server}/Complaints?lang=en", timeout=120_000)
    settle(page, 1500)
    assert page.locator("[data-testid=stMetric]").count() == 0


def test_link_to_another_city_is_refused(page, signed_server: str, duckdb_url: str) -> None:
    page.goto(f"{signed_server}/?lang=en&region={OTHER_CITY}", timeout=120_000)
    assert page.locator("[data-testid=stMetric]").count() == 0  # nothing before signing in
    sign_in(page, "nanling", PASSWORD)
    page.wait_for_selector("[data-testid=stMetric]", timeout=60_000)
    assert page.get_by_text(t("auth.out_of_scope", "en")).count() == 1
    assert f"region={OTHER_CITY}" not in page.url
    expect(page.locator("body")).to_contain_text("Nanling", timeout=60_000)  # the page is drawn
    assert not re.search(r"Zhuwan|珠湾", page.inner_text("body"))
    assert card(page, "active_customers") == city_figure(duckdb_url, "active_customers")
