"""Plain words first (issue 15 item 7): a one-line plain reading before the technical detail, names
that do not mislead, an empty audit log that says what it is; real windows in trend titles (item 2)."""

from __future__ import annotations

import pandas as pd
import pytest
from page_helpers import chart_titles, open_page, plain, show_section

from metrics.analysis import plain as plain_words
from metrics.churn import store as churn_store
from metrics.model.i18n import t
from metrics.query.warehouse import Warehouse


@pytest.mark.parametrize(("c", "k"), [(0.9, 9), (0.74, 7), (0.75, 8), (0.5, 5), (0.96, 10), (0.04, 0)])
def test_pairs_in_ten_by_hand(c: float, k: int) -> None:
    assert plain_words.pairs_in_ten(c) == k


def test_model_reading_by_hand() -> None:
    en = plain_words.model_reading({"concordance_cox": 0.9}, "en")
    assert en.startswith("The model ranks leavers very well: 9 in 10 pairs right")
    zh = plain_words.model_reading({"concordance_cox": 0.72}, "zh")
    assert "能较好地分辨" in zh and "约有 7 对" in zh
    assert "接近随机猜测" in plain_words.model_reading({"concordance_cox": 0.55}, "zh")
    assert "一般" in plain_words.model_reading({"concordance_cox": 0.6}, "zh")
    assert plain_words.model_reading({"concordance_cox": float("nan")}, "zh") is None
    assert plain_words.model_reading({}, "zh") is None


def test_churn_model_plain_line_then_details(fitted_duckdb_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", fitted_duckdb_url)
    wh = Warehouse.open(fitted_duckdb_url)
    model = churn_store.latest_model(wh)
    k = round(10 * float(model["concordance_cox"]) + 1e-9)
    for page in ("pages/4_Churn.py", "pages/8_At_risk.py"):
        at = open_page(page, {"section": "risk"} if "Churn" in page else None)
        details = [e for e in at.expander if e.label == "技术细节"]
        assert details, page
        inside = [m.value for m in details[0].markdown]
        assert any(f"{model['concordance_cox']:.3f}" in x and "一致性指数" in x for x in inside)
        outside = [m.value for m in at.markdown if m.value not in inside]
        line = [x for x in outside if "每 10 对客户" in x]
        assert line and f"约有 {k} 对" in line[0] and "一致性指数" not in line[0], outside


def test_complaint_rate_against_customer_base(duckdb_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """No "funnel" (漏斗, a sales funnel to these readers): the chart says what it plots, its note what
    the red, green and blue points mean."""
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)
    at = show_section(open_page("pages/2_Complaints.py"), "funnel")
    texts = [plain(x.value) for x in [*at.caption, *at.markdown, *at.subheader]] + chart_titles(at)
    assert not [x for x in texts if "漏斗" in x]
    assert any("投诉率与客户规模" in x for x in chart_titles(at))
    note = [x for x in texts if "红点" in x]
    assert note and "绿点" in note[0] and "蓝点" in note[0]


def test_satisfaction_trend_title_counts_its_months(duckdb_url: str, demo_frames, monkeypatch) -> None:
    """A long period: the trend shows every month of it, and its title says how many (not "12")."""
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)
    answered = pd.to_datetime(demo_frames["surveys"]["answered_at"])
    first, last = answered.min().date().replace(day=1), Warehouse.open(duckdb_url).as_of()
    months = answered[(answered.dt.date >= first) & (answered.dt.date <= last)].dt.to_period("M").nunique()
    at = open_page("pages/1_Satisfaction.py", {"preset": "custom", "from": f"{first:%Y-%m-%d}",
                                                "to": f"{last:%Y-%m-%d}", "section": "trend_distribution"})
    want = t("page.satisfaction.trend_months", "zh", months=months)
    assert months > 12 and any(want in x for x in chart_titles(at)), (want, chart_titles(at))
    assert not [x for x in chart_titles(at) if "近12个月" in x]


# -- item 7: league verdicts and hazard ratios, a plain line first and the method behind an expander -------
def _outside_details(at) -> tuple[list[str], list[str]]:
    details = [e for e in at.expander if e.label == "技术细节"]
    inside = [m.value for d in details for m in [*d.markdown, *d.caption]]
    return [m.value for m in at.markdown if m.value not in inside], inside


def test_satisfaction_channel_reading_names_the_hotline(duckdb_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)
    at = open_page("pages/1_Satisfaction.py", {"preset": "last_12_months"})
    outside, inside = _outside_details(at)
    line = [plain(x) for x in outside if "明显差于其他渠道" in plain(x)]
    assert line and "客服热线" in line[0] and "Holm" not in line[0]
    assert any("Holm" in x for x in inside)


def test_regions_reading_follows_the_verdicts(duckdb_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)
    at = open_page("pages/5_Regions.py", {"metric": "complaint_rate"})
    outside, inside = _outside_details(at)
    line = [plain(x) for x in outside if x.startswith(("投诉率", "\\投诉率")) or "地市" in plain(x)]
    assert line, outside
    worse = int(next(m.value for m in at.metric if m.label == "显著更差"))
    assert ("明显差于其他地市" in line[0]) == (worse > 0)
    assert any("Holm" in x for x in inside)


def test_churn_hazard_reading_then_details(fitted_duckdb_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", fitted_duckdb_url)
    at = open_page("pages/4_Churn.py", {"section": "risk"})
    outside, inside = _outside_details(at)
    assert [x for x in outside if "对流失影响最明显的因素" in plain(x) or "没有哪个因素" in plain(x)], outside
    assert any("风险比 > 1" in x for x in inside)


def test_churn_retention_reading_then_the_tests(duckdb_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)
    at = open_page("pages/4_Churn.py", {"section": "retention"})
    outside, _ = _outside_details(at)
    assert [x for x in outside if plain(x).startswith(("留存有明显差异", "各组的客户留存没有明显差异"))], outside
    details = [e for e in at.expander if e.label == "技术细节"]
    assert any(d.dataframe for d in details)  # the pairwise tests behind the expander
