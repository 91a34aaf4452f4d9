"""Helpers for the AppTest page tests: open a page through app.py, set filters, read what it shows.

The database is ``SERVICEWATCH_DB``: a test module sets it (``monkeypatch.setenv``) before opening a page."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from streamlit.testing.v1 import AppTest

from metrics.access import users as access
from metrics.analysis.subtitles import subtitle
from metrics.model.filters import Filters, preset_period
from metrics.query.warehouse import Warehouse

TIMEOUT = 90
PASSWORD = "correct horse 1"  # every test user's password


def write_users(path: Path, monkeypatch, users: Iterable[access.User], password: str = PASSWORD) -> Path:
    """A users file at ``path`` holding ``users`` (in that order, all with ``password``), made the
    file of this test through ``$SERVICEWATCH_USERS``; returns ``path``."""
    monkeypatch.setenv(access.USERS_ENV, str(path))
    for user in users:
        access.add_user(user, password)
    return path


def open_page(path: str, query: dict[str, str] | None = None, session: dict | None = None) -> AppTest:
    """Run ``path`` (e.g. ``pages/5_Regions.py``; ``app.py`` for the overview) with app.py as the
    entry point, like the browser; ``session``: session-state entries set before the first run (a
    signed-in user, see tests/access/test_access_matrix.py)."""
    at = AppTest.from_file("../app.py", default_timeout=TIMEOUT)
    if query:
        at.query_params.update(query)
    for key, value in (session or {}).items():
        at.session_state[key] = value
    if path != "app.py":
        at.switch_page(path)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def plain(markdown: str) -> str:
    """The text a Markdown body shows: backslash escapes resolved, the invisible word joiners that
    ``metrics.present.markup.md`` puts into data removed."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown).replace("\u2060", "")


def other_sections(at: AppTest) -> list[str]:
    """The ids of the sections a page offers (``ui.sections``) besides the one shown; [] without."""
    from metrics.model.i18n import catalogue, t
    from servicewatch.ui import SECTION_KEY

    switch = [w for w in at.segmented_control if w.key == SECTION_KEY]
    if not switch:
        return []
    lang = at.session_state["sw_lang"]
    by_label = {t(k, lang): k.removeprefix("section.") for k in catalogue() if k.startswith("section.")}
    return [by_label[label] for label in switch[0].options if by_label[label] != switch[0].value]


def show_section(at: AppTest, section: str) -> AppTest:
    from servicewatch.ui import SECTION_KEY

    at.segmented_control(key=SECTION_KEY).set_value(section).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def default_filters(wh: Warehouse, **changes) -> Filters:
    start, end = preset_period("last_quarter", wh.as_of())
    return Filters(start=start, end=end).with_(**changes)


def region_names(wh: Warehouse, lang: str = "zh") -> dict[int, str]:
    r = wh.regions()
    return dict(zip(r["region_id"].astype(int), r["name_zh" if lang == "zh" else "name_en"], strict=True))


def sub(wh: Warehouse, f: Filters, lang: str = "zh") -> str:
    return subtitle(f, lang, region_names(wh, lang))


def kpi(at: AppTest, label: str) -> str:
    found = [m.value for m in at.metric if m.label == label]
    assert found, f"no KPI {label!r} among {[m.label for m in at.metric]}"
    return found[0]


def chart_titles(at: AppTest) -> list[str]:
    return [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]


def no_data_query() -> dict[str, str]:
    """A link to a period inside the data's span that holds no tickets or surveys (a link to a period
    outside the span is clamped to the data, tests/engine/test_periods.py)."""
    return {"preset": "custom", "from": NO_DATA[0].isoformat(), "to": NO_DATA[1].isoformat()}


def filters(at: AppTest) -> Filters:
    """The filters the page ran with (the filter bar's persisted state)."""
    return at.session_state["sw_state"]["filters"]


def choose_period(at: AppTest, start: date, end: date) -> AppTest:
    """Pick a custom period in the sidebar."""
    at.sidebar.selectbox(key="_w_preset").set_value("custom").run()
    at.sidebar.date_input(key="_w_range").set_value((start, end)).run()
    assert not at.exception, [e.value for e in at.exception]
    assert (filters(at).start, filters(at).end) == (start, end)
    return at


def choose_nothing(at: AppTest) -> AppTest:
    """A filter no customer matches: diamond tier (a consumer tier) among enterprise customers."""
    at.sidebar.multiselect(key="_w_tier").set_value(["diamond"]).run()
    at.sidebar.multiselect(key="_w_segment").set_value(["enterprise"]).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def page_subtitle(at: AppTest, db_url: str, lang: str = "zh") -> str:
    """The subtitle every chart of the page should carry for the filters it ran with."""
    return sub(Warehouse.open(db_url), filters(at), lang)


def a_city(db_url: str) -> int:
    regions = Warehouse.open(db_url).regions()
    return int(regions.loc[regions["level"] == "city", "region_id"].iloc[0])


NO_DATA = (date(2023, 1, 1), date(2023, 3, 31))  # before the first ticket of the demo data


def seed_alerts(db_url: str, store: str, monkeypatch) -> None:
    """The demo's alert rules checked once into the alerts store ``store`` (a SQLAlchemy URL), so the
    Alerts page has open alerts and their charts (pages/9_Alerts.py)."""
    from metrics import alert_rules as rule_store
    from metrics import alerts
    from metrics.demo import alert_rules

    monkeypatch.setenv(rule_store.ALERTS_ENV, store)
    wh = Warehouse.open(db_url)
    try:
        alert_rules.install(wh)
        alerts.evaluate(wh)
    finally:
        wh.engine.dispose()
