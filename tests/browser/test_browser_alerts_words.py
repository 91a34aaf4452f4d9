"""The Chinese Alerts page with the demo's rules and their alerts, in Chromium at 1366×768 (issue 16): no
English word in what it shows — the open alerts and the history with their owner (系统管理员, not the
rules' stored owner name), the chart, the baseline control — and nothing cut off. The page scan of
test_browser_screens sees an Alerts page without rules; this one has the demo's 35 rules checked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_pages import english_page, open_settled
from conftest import run_app
from screen_checks import CUT_OFF_JS, VISIBLE_TEXT_JS, english_words


@pytest.fixture(scope="module")
def alerts_app(tmp_path_factory: pytest.TempPathFactory, duckdb_url: str) -> Iterator[str]:
    """The app on the demo with the default rules installed and checked in an alert store of its own."""
    from metrics import alert_rules as rule_store
    from metrics import alerts
    from metrics.demo import alert_rules
    from metrics.query.warehouse import Warehouse

    folder: Path = tmp_path_factory.mktemp("alerts_app")
    store = f"sqlite:///{folder / 'alerts.sqlite'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(rule_store.ALERTS_ENV, store)
        wh = Warehouse.open(duckdb_url)
        alert_rules.install(wh)
        found = alerts.evaluate(wh)
        wh.engine.dispose()
    assert len(found) >= 3  # Dongjiang's planted deterioration
    (folder / "app").mkdir()
    with run_app(folder / "app", duckdb_url, {rule_store.ALERTS_ENV: store}) as base_url:
        yield base_url


def test_chinese_alerts_page_with_alerts_has_no_english(browser, alerts_app: str) -> None:
    with english_page(browser, 1366) as page:
        open_settled(page, f"{alerts_app}/Alerts?lang=zh")
        assert page.locator("[data-testid=stException]").count() == 0
        texts = page.evaluate(VISIBLE_TEXT_JS)
        assert any("系统管理员" in x for x in texts), "the owner column is not drawn"
        assert not [x for x in texts if x.strip() in ("admin", "system")]
        assert english_words(texts) == {}
        assert page.evaluate(CUT_OFF_JS) == []
