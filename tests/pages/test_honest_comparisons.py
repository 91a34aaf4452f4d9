"""Issue 15 item 2: no change is shown against a comparison period without data.

The demo database (built by the demo generator) and a period that starts at the first month with
tickets: the previous period of the same length lies wholly before the data. The Overview and the
SLA, Satisfaction, Complaints and Churn cards show no delta and say why; the movers chart is not
drawn. The same pages over the last quarter (whose previous quarter has data) do show deltas, so the
checks can fail."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest
from page_helpers import chart_titles, open_page, plain

from metrics.model.filters import Filters, preset_period
from metrics.model.i18n import metric_label
from metrics.model.registry import get
from metrics.query import comparable
from metrics.query.warehouse import Warehouse

NO_DATA = "无对比：对比期"


@pytest.fixture()
def _db(duckdb_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)


@pytest.fixture(scope="module")
def first_month(demo_frames) -> date:
    """The first month with tickets, read from the generated frames (not through the engine)."""
    return pd.Timestamp(demo_frames["tickets"]["opened_at"].min()).date().replace(day=1)


def _long(first: date, wh: Warehouse) -> dict[str, str]:
    end = wh.as_of()
    return {"preset": "custom", "from": f"{first:%Y-%m-%d}", "to": f"{end:%Y-%m-%d}"}


def _cmp_period(first: date, end: date) -> str:
    days = (end - first).days + 1
    cmp_end = first - timedelta(days=1)
    f = Filters(first, end)
    cf = f.comparison_filters()
    assert cf is not None and cf.end == cmp_end and (cf.end - cf.start).days + 1 >= days - 31
    return f"{cf.start:%Y-%m-%d} – {cf.end:%Y-%m-%d}"


def _texts(at) -> list[str]:
    return [plain(e.value) for e in [*at.caption, *at.info, *at.markdown]]


def test_engine_blanks_change_before_the_data(duckdb_url: str, demo_frames, first_month: date) -> None:
    wh = Warehouse.open(duckdb_url)
    f = Filters(first_month, wh.as_of())
    for metric_id in ("complaint_rate", "churn_rate", "active_customers", "csat", "availability"):
        row = wh.compare(metric_id, f).iloc[0]
        assert pd.isna(row["delta"]) and pd.isna(row["value_cmp"]), metric_id
        assert row["no_cmp"] == "no_data", metric_id
    # the customer count of the earlier period is not 0 (customers started long before the tickets):
    # without the rule it would have been a change of thousands against a stock the data cannot know
    assert wh.compare("active_customers", f.with_(comparison="none"))["value"].iloc[0] > 0
    assert (demo_frames["customers"]["start_date"].min() < pd.Timestamp(first_month))
    # one month later the earlier period reaches one month into the data: still not comparable
    g = Filters(first_month.replace(month=first_month.month % 12 + 1) if first_month.month < 12
                else first_month.replace(year=first_month.year + 1, month=1), wh.as_of())
    assert wh.compare("complaint_rate", g)["no_cmp"].iloc[0] == "before_data"
    # the last quarter compares with a quarter inside the data
    start, end = preset_period("last_quarter", wh.as_of())
    row = wh.compare("complaint_rate", Filters(start, end)).iloc[0]
    assert row["no_cmp"] is None and pd.notna(row["delta"])


def test_reason_rules() -> None:
    """Hand-made cases of :func:`comparable.reason`: small samples, rates with 0 events, no comparison."""
    cf = Filters(date(2025, 1, 1), date(2025, 3, 31))
    csat, rate, stock = get("csat"), get("complaint_rate"), get("active_customers")
    first = date(2024, 5, 1)
    assert comparable.reason(csat, cf, 29, first) == "small"
    assert comparable.reason(csat, cf, 30, first) is None
    assert comparable.reason(csat, cf, float("nan"), first) == "no_data"
    assert comparable.reason(rate, cf, 0, first) is None  # exposure but no complaint: a real 0
    assert comparable.reason(rate, cf, float("nan"), first) == "no_data"
    assert comparable.reason(stock, cf, 5, first) is None  # counts are what they are
    assert comparable.reason(csat, None, 0, first) is None  # no comparison asked
    assert comparable.reason(csat, cf, 500, date(2025, 2, 1)) == "before_data"
    assert comparable.reason(csat, cf, 500, date(2025, 4, 1)) == "no_data"


def test_overview_shows_no_change_and_says_why(_db, duckdb_url: str, first_month: date) -> None:
    wh = Warehouse.open(duckdb_url)
    at = open_page("app.py", _long(first_month, wh))
    cards = [m for m in at.metric if m.value != "—"]
    assert len(cards) >= 5
    assert all(not m.proto.delta for m in cards), [(m.label, m.proto.delta) for m in cards]
    texts = _texts(at)
    period = _cmp_period(first_month, wh.as_of())
    assert sum(NO_DATA in t and period in t and "没有数据" in t for t in texts) >= len(cards)
    # the movers: no chart of plain values as changes, the reason instead
    assert any("没有可比较的变化" in i.value and "没有数据" in i.value for i in at.info)
    assert not [t for t in chart_titles(at) if "变化最大" in t]
    # the card's line names its real window (the last 12 months here, as many as the data has)
    assert any("月度走势（12 个月）" in (m.proto.help or "") for m in cards)


def test_overview_last_quarter_still_has_changes(_db) -> None:
    at = open_page("app.py")
    assert any(m.proto.delta for m in at.metric)
    assert not any(NO_DATA in t for t in _texts(at))
    assert [t for t in chart_titles(at) if "变化最大" in t]


@pytest.mark.parametrize("page", ["pages/3_SLA.py", "pages/1_Satisfaction.py", "pages/2_Complaints.py",
                                  "pages/4_Churn.py"])
def test_page_cards_show_no_change(_db, duckdb_url: str, first_month: date, page: str) -> None:
    wh = Warehouse.open(duckdb_url)
    at = open_page(page, _long(first_month, wh))
    cards = [m for m in at.metric if m.value != "—"]
    assert cards and all(not m.proto.delta for m in cards), [(m.label, m.proto.delta) for m in cards]
    assert any(NO_DATA in t and "没有数据" in t for t in _texts(at))


def test_sla_cards_carry_target_and_status(_db, duckdb_url: str) -> None:
    """Like the Overview: the SLA cards with a target show it and the status, as a badge under the card."""
    at = open_page("pages/3_SLA.py")
    label = metric_label("sla_resolution_compliance", "zh")
    assert any(m.label == label for m in at.metric)
    badges = [plain(b.value) for b in at.markdown if "-badge[" in b.value]
    assert any("目标" in b and any(s in b for s in ("达标", "临界", "未达标")) for b in badges), badges


def test_pack_says_no_comparison(duckdb_url: str, first_month: date) -> None:
    """The meeting pack's KPI table and sentences: the reason, not a previous value or a change."""
    from metrics.report import build, sections
    from metrics.report.context import Ctx

    wh = Warehouse.open(duckdb_url)
    ctx = Ctx.open(wh, Filters(first_month, wh.as_of()), "zh", render=lambda fig: b"")
    table = build.kpi_table(ctx)
    assert table.rows and all(r[2] == "—" and r[3] == "对比期无数据" for r in table.rows), table.rows
    words = sections.satisfaction_facts(ctx)[0]
    assert "（无对比：对比期无数据）" in words and "变化" not in words
    # the last quarter: a previous value and a change in every row
    start, end = preset_period("last_quarter", wh.as_of())
    ctx = Ctx.open(wh, Filters(start, end), "zh", render=lambda fig: b"")
    assert all(r[2] != "—" and r[3] not in ("—", "对比期无数据") for r in build.kpi_table(ctx).rows)
    assert "变化" in sections.satisfaction_facts(ctx)[0]
