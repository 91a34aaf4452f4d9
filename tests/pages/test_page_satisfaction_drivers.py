"""The Satisfaction page's drivers section in AppTest: the organisation's key drivers with the engine's
numbers, both charts titled with the filters, a city against the organisation, English."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from page_helpers import a_city, chart_titles, open_page, plain, show_section

from metrics.analysis import drivers as dv
from metrics.model.filters import Filters, preset_period
from metrics.query.warehouse import Warehouse

PAGE = "pages/1_Satisfaction.py"


def _values(v: object) -> list[float]:
    """A figure's array as numbers (plotly writes numpy arrays as typed base64)."""
    if isinstance(v, dict):
        return list(np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"])))
    return list(v)


@pytest.fixture(autouse=True)
def _db(duckdb_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)


def test_organisation_drivers(duckdb_url: str) -> None:
    at = show_section(open_page(PAGE, {"preset": "last_12_months"}), "drivers")
    assert any(h.value == "什么在驱动满意度" for h in at.subheader)
    wh = Warehouse.open(duckdb_url)
    start, end = preset_period("last_12_months", wh.as_of())
    r = dv.key_drivers(wh, Filters(start, end), "csat")
    text = " ".join(plain(m.value) for m in at.markdown)
    assert "满意度（CSAT，1–5 分）：影响最大的是" in text and f"n={r.n:,}" in text
    titles = chart_titles(at)
    assert len(titles) == 2 and titles[0].startswith("满意度驱动因素的重要性") and "全组织" in titles[1]
    bars = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]
    assert _values(bars["x"])[-1] == pytest.approx(100 * r.importance["importance"].iloc[0])  # strongest on top
    assert any("自助抽样" in c.value for c in at.caption)


def test_city_against_the_organisation_in_english(duckdb_url: str) -> None:
    at = open_page(PAGE, {"preset": "last_12_months", "lang": "en"})
    at.sidebar.selectbox(key="_w_city").set_value(a_city(duckdb_url)).run()
    at = show_section(at, "drivers")
    titles = chart_titles(at)
    assert len(titles) == 2 and "against the organisation" in titles[1]
    spec = json.loads(at.get("plotly_chart")[1].proto.spec)
    assert spec["layout"]["xaxis"]["title"]["text"] == "Performance against the organisation (percentage points)"
    assert any(a["text"] == "Fix first" for a in spec["layout"]["annotations"])


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_overview_csat_card_names_its_strongest_drivers(duckdb_url: str, lang: str) -> None:
    from metrics.analysis import drivers_text as tx

    at = open_page("app.py", {"lang": lang, "preset": "last_quarter"})
    wh = Warehouse.open(duckdb_url)
    start, end = preset_period("last_quarter", wh.as_of())
    line = tx.card_line(dv.key_drivers(wh, Filters(start, end), "csat"), lang)
    assert line and line in [plain(c.value) for c in at.caption]
    # the demo plants resolution time and reopening as CSAT's strongest drivers (demo/surveys.py,
    # docs/drivers.md): the card names them first, in either order, then first-contact resolution
    items = line.split("：" if lang == "zh" else ": ", 1)[1]
    firsts = sorted(items.index(tx.name(d, lang)) for d in ("reopened", "resolution_hours"))
    assert firsts[0] == 0 and firsts[1] < items.index(tx.name("first_contact_resolved", lang))
