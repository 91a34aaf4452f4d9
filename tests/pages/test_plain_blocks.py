"""Plain words first for the five statistical blocks that led with their method (issue 15 item 7): the
Satisfaction key drivers, the Portfolio health back-test and action effect, the rising complaint topics
and the Alerts control charts show a plain line (computed by metrics.analysis.plain from the same
numbers) outside the "技术细节" expander, and the method (R², DeLong, Holm, Newcombe, 3σ) inside it."""

from __future__ import annotations

import pytest
from page_helpers import filters, open_page, plain, show_section

from metrics import alerts
from metrics.analysis import health as hl
from metrics.analysis import plain as plain_words
from metrics.churn import action_effect as ae
from metrics.demo import alert_rules
from metrics.query.warehouse import Warehouse

DETAILS = "技术细节"


def _split(at) -> tuple[list[str], list[str]]:
    """What the page shows outside the technical-details expanders, and what is inside them."""
    details = [e for e in at.expander if e.label == DETAILS]
    inside = [plain(str(m.value)) for d in details for m in [*d.markdown, *d.caption]]
    outside = [plain(str(m.value)) for kind in ("markdown", "caption", "warning", "info") for m in getattr(at, kind)]
    return [x for x in outside if x not in inside], inside


def test_key_drivers_plain_line_then_the_method(duckdb_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)
    at = show_section(open_page("pages/1_Satisfaction.py", {"preset": "last_12_months"}), "drivers")
    outside, inside = _split(at)
    line = [x for x in outside if "的影响最大" in x or "没有哪项服务体验" in x]
    assert line and "份问卷" in line[0] and "R²" not in line[0] and "Shapley" not in line[0], outside
    assert not [x for x in outside if "Shapley" in x or "自助" in x]
    assert any("Shapley" in x for x in inside) and any("自助抽样" in x for x in inside)


def test_health_auc_plain_line_then_delong(fitted_duckdb_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", fitted_duckdb_url)
    at = open_page("pages/10_Portfolio.py", {"lang": "zh", "section": "health"})
    bt = hl.backtest(Warehouse.open(fitted_duckdb_url), filters(at), hl.load_weights())
    outside, inside = _split(at)
    want = plain_words.health_reading(bt, "zh")
    if want is None:  # no AUC on this demo: its reason, in plain words, outside
        assert [x for x in outside if "无法衡量" in x]
        return
    assert plain(want) in outside and not [x for x in outside if "DeLong" in x]
    assert any("DeLong" in x and "AUC" in x for x in inside)


def test_action_effect_plain_lines_then_newcombe(fitted_duckdb_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", fitted_duckdb_url)
    at = show_section(open_page("pages/10_Portfolio.py", {"lang": "zh"}), "effect")
    df = ae.action_effect(Warehouse.open(fitted_duckdb_url), filters(at), ("action_type", "risk_band"))
    outside, inside = _split(at)
    told = df[~df["withheld"].astype(bool) & ~df["too_small"].astype(bool)]
    lines = [x for x in outside if "联系过的客户" in x or "看不出联系是否有用" in x]
    assert len(lines) == len(told), (lines, len(told))
    assert not [x for x in outside if "Newcombe" in x or "对数秩" in x]
    assert any("Newcombe" in x and "对数秩" in x for x in inside)


def test_rising_topics_plain_then_holm(duckdb_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)
    at = show_section(open_page("pages/2_Complaints.py", {"lang": "zh"}), "voc")
    outside, inside = _split(at)
    assert [x for x in outside if "在投诉文本中的占比" in x], outside
    assert not [x for x in outside if "Holm" in x or "z 检验" in x]
    assert any("Holm" in x for x in inside)


def test_control_chart_plain_line_then_three_sigma(alerts_wh: Warehouse) -> None:
    w = alerts_wh
    alert_rules.install(w)
    alerts.evaluate(w)
    at = open_page("pages/9_Alerts.py", {"lang": "zh"})
    outside, inside = _split(at)
    line = [x for x in outside if x.startswith("最近一期")]
    assert line and "通常范围" in line[0] and "σ" not in line[0], outside
    assert not [x for x in outside if "σ" in x or "控制图（" in x]
    assert any("3σ" in x and "控制图" in x for x in inside)
