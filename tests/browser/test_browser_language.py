"""In a real browser (Chromium, Playwright): the filters survive switching the language back and forth,
and the tab title follows the language on the same run."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from page_helpers import a_city
from test_browser import open_page, settle

from metrics.model.i18n import t


def _query(page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


def test_filters_survive_switching_language_twice(page, app_server: str, duckdb_url: str) -> None:
    city = a_city(duckdb_url)
    open_page(page, app_server, "", f"preset=ytd&cmp=year_ago&region={city}&tier=diamond&lang=en")
    assert page.title() == f"ServiceWatch · {t('nav.overview', 'en')}"
    wanted = {"preset": ["ytd"], "cmp": ["year_ago"], "region": [str(city)], "tier": ["diamond"]}
    sidebar = page.locator("[data-testid=stSidebar]")
    for lang, name in (("zh", "中文"), ("en", "English"), ("zh", "中文")):
        sidebar.get_by_text(name, exact=True).click()
        settle(page, 1500)
        assert page.locator("h1").first.inner_text().strip() == t("nav.overview", lang)
        assert page.title() == f"ServiceWatch · {t('nav.overview', lang)}"
        query = _query(page)
        assert {k: query.get(k) for k in wanted} == wanted, (lang, query)
        assert query.get("lang") == [lang]
        values = page.locator("[data-testid=stMetricValue]").all_inner_texts()
        assert values and any(v.strip() != "—" for v in values), values
        assert page.get_by_text(t("common.no_data", lang), exact=True).count() == 0


def test_page_widget_survives_switching_language_twice(page, app_server: str) -> None:
    """A page's own keyed widget (the Overview's movers dimension) keeps its choice too."""
    open_page(page, app_server, "", "lang=en")
    sidebar = page.locator("[data-testid=stSidebar]")
    main = page.locator("[data-testid=stMain]")
    main.get_by_text(t("filter.channel", "en"), exact=True).click()
    settle(page, 1500)
    for lang, name in (("zh", "中文"), ("en", "English"), ("zh", "中文")):
        sidebar.get_by_text(name, exact=True).click()
        settle(page, 1500)
        checked = main.locator("[data-testid=stRadioOption][data-selected=true]")
        assert checked.count() == 1
        assert checked.first.inner_text().strip() == t("filter.channel", lang), lang
