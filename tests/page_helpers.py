"""Helpers for the AppTest page tests: open a page through app.py, read KPIs and chart titles."""

from __future__ import annotations

import json
from datetime import date

from streamlit.testing.v1 import AppTest

from metrics.describe import subtitle
from metrics.engine import Warehouse
from metrics.filters import Filters, preset_period

TIMEOUT = 90


def open_page(path: str, query: dict[str, str] | None = None, session: dict | None = None) -> AppTest:
    """Run ``path`` (e.g. ``pages/5_Regions.py``; ``app.py`` for the overview) with app.py as the
    entry point, like the browser; ``session``: session-state entries set before the first run (a
    signed-in user, see tests/test_access_matrix.py)."""
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
    return {"preset": "custom", "from": date(2001, 1, 1).isoformat(), "to": date(2001, 3, 31).isoformat()}
