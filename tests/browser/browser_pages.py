"""Shared steps of the browser tests: a page in an English browser, waiting for the app to settle, and
walking a page's sections (the screen scans of test_browser_screens*.py and the word checks)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from screen_checks import CUT_OFF_JS
from test_browser import IDLE

from servicewatch.ui import SECTION_KEY

# the app idle and nothing drawn stale or as a placeholder
READY = f"""() => document.querySelector('{IDLE}') !== null
    && document.querySelectorAll('[data-testid=stSkeleton], [data-stale=true]').length === 0"""


def settle(page: Any, ms: int = 400) -> None:
    """Wait until the app is ready (:data:`READY`), ``ms`` milliseconds, and ready again."""
    page.wait_for_function(READY, timeout=120_000, polling=100)
    page.wait_for_timeout(ms)  # a rerun the last one triggered (the URL sync) starts within this
    page.wait_for_function(READY, timeout=120_000, polling=100)


@contextlib.contextmanager
def english_page(browser: Any, width: int, height: int = 768) -> Iterator[Any]:
    """A page of ``width``×``height`` pixels in a fresh browser context whose own locale is English (the
    harder case: Streamlit's widgets follow the browser unless the app says otherwise); closed after."""
    context = browser.new_context(viewport={"width": width, "height": height}, locale="en-US")
    try:
        yield context.new_page()
    finally:
        context.close()


def visit_sections(page: Any, name: str, look: Callable[[Any, str], None]) -> None:
    """``look(page, where)`` on the page shown (``where`` = ``name``), then on each of its other sections
    in turn, clicked and settled (``where`` = "name › section label")."""
    look(page, name)
    sections = page.locator(f".st-key-{SECTION_KEY} button")
    for i in range(1, sections.count()):
        button = sections.nth(i)
        label = button.inner_text().strip()
        button.click()
        settle(page)
        look(page, f"{name} › {label}")


def visit_pages(page: Any, base: str, paths: Iterable[str], lang: str, look: Callable[[Any, str], None]) -> None:
    """Every page of ``paths`` (URL paths; "" is the Overview) of the app at ``base`` in ``lang``, and every
    section of it, given to ``look`` (:func:`visit_sections`)."""
    for path in paths:
        open_settled(page, f"{base}/{path}?lang={lang}")
        visit_sections(page, path or "Overview", look)


def cut_off_lines(page: Any, where: str) -> list[str]:
    """One line per text the page shows cut off (:data:`screen_checks.CUT_OFF_JS`), said with ``where``."""
    return [
        f"{where}: cut off ({item['kind']}): {item['text']!r}"
        + (f" in column {item['column']!r} at {item['width']} px" if "column" in item else "")
        for item in page.evaluate(CUT_OFF_JS)
    ]


def open_settled(page: Any, url: str) -> None:
    """Open ``url`` (a first run may take up to 120 s on a busy machine) and wait for the app to settle."""
    page.goto(url, timeout=120_000)
    settle(page)


def hover_first(page: Any, selector: str) -> Any:
    """The first element of ``selector`` once drawn (60 s at most), scrolled into view and hovered (a
    chart's or a table's toolbar shows on hover)."""
    element = page.locator(selector).first
    element.wait_for(timeout=60_000)
    element.scroll_into_view_if_needed()
    element.hover()
    return element
