"""The first load of a bare link is one history entry (issue 15 item 1): the app completes the address
with the view (filters, language) in place of the entry just opened, the first section of a page is
not written (the address shows it already), and Back leaves the app with one press."""

from __future__ import annotations

import pytest
from browser_pages import english_page
from test_browser_links import history_length, settle


@pytest.mark.parametrize("path", ["", "SLA", "Satisfaction"])
def test_bare_link_is_one_entry_and_back_leaves(browser, app_server: str, path: str) -> None:
    with english_page(browser, 1366, 900) as page:
        page.goto("about:blank")
        start = history_length(page)
        page.goto(f"{app_server}/{path}", timeout=120_000)
        # the first run completes the bare address in place; under load that comes late
        page.wait_for_function("() => location.search.includes('preset=')", timeout=120_000)
        settle(page, 2000)
        assert "preset=" in page.url and "lang=" in page.url, page.url  # the address says the view
        assert "section=" not in page.url, page.url  # the first section: what a URL without one shows
        assert history_length(page) == start + 1, (page.url, history_length(page))
        page.go_back()
        page.wait_for_timeout(1500)
        assert page.url == "about:blank", page.url


def test_section_change_after_a_bare_link_is_one_more_entry(browser, app_server: str) -> None:
    """After the completed first load, a reader's change is a step of its own: pushed, and Back
    returns to the completed address (not to the bare one)."""
    with english_page(browser, 1366, 900) as page:
        page.goto(f"{app_server}/SLA", timeout=120_000)
        settle(page, 2000)
        first, entries = page.url, history_length(page)
        page.locator(".st-key-_w_section button").nth(2).click()  # compliance, tiers, breaches …
        settle(page)
        assert "section=breaches" in page.url and history_length(page) == entries + 1
        page.go_back()
        settle(page)
        assert page.url == first, (page.url, first)
