"""Where it is heading on the Overview cards (issue 17 item 3): the SLA card says the engine's
forecast line in Chinese; the fan chart, the model and the back-test appear only when the card's
expander is opened; a KPI without a target gets no forecast line."""

from __future__ import annotations

import pytest
from page_helpers import chart_titles, default_filters, open_page, plain
from streamlit.testing.v1 import AppTest

from metrics.analysis import forecast as fcast
from metrics.model.i18n import metric_label
from metrics.present import forecast_text as ft
from metrics.query.warehouse import Warehouse


@pytest.fixture()
def overview(duckdb_url: str, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)
    return open_page("app.py")


def test_card_says_the_forecast_and_the_chart_waits_for_the_expander(overview: AppTest, duckdb_url: str) -> None:
    wh = Warehouse.open(duckdb_url)
    f = default_filters(wh)
    expected = ft.card_line(fcast.forecast(wh, "sla_resolution_compliance", f), "zh", named=True)
    captions = [plain(c.value) for c in overview.caption]
    assert expected in captions and "的概率为" in expected
    title = f"{metric_label('sla_resolution_compliance', 'zh')}：走势预测"
    assert not [t for t in chart_titles(overview) if title in t]  # closed: nothing drawn
    assert not any("回测" in c for c in captions)
    overview.session_state["forecast_open_sla_resolution_compliance"] = True
    overview.run()
    assert not overview.exception, [e.value for e in overview.exception]
    assert [t for t in chart_titles(overview) if title in t]
    captions = [plain(c.value) for c in overview.caption]
    assert any("回测（滚动起点" in c and "80% 区间覆盖" in c for c in captions)
    # active customers has no target: no forecast line on its card
    assert not any(metric_label("active_customers", "zh") in c for c in captions if "的概率为" in c)
