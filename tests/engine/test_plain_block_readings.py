"""Plain readings of the key drivers, the health back-test, rising topics, retention actions and control
charts (issue 15 item 7): the line follows the numbers it is computed from, by hand, in both languages."""

from __future__ import annotations

import math

import pandas as pd

from metrics.analysis import plain

PCT = lambda v: f"{100 * v:.1f}%"  # noqa: E731
PP = lambda v: f"{100 * v:.1f} pp"  # noqa: E731


def test_drivers_reading_names_the_drivers_whose_interval_excludes_zero() -> None:
    imp = pd.DataFrame({"driver": ["a", "b", "c", "d", "e"], "includes_zero": [False, True, False, False, False]})
    zh = plain.drivers_reading(imp, 0.234, 0.19, 0.28, 4321, "满意度", str.upper, "zh")
    assert zh.startswith("满意度受A、C、D的影响最大") and "E" not in zh and "B" not in zh
    assert "约 23%" in zh and "19% 到 28%" in zh and "4,321 份问卷" in zh and "R²" not in zh
    en = plain.drivers_reading(imp.assign(includes_zero=True), 0.02, 0.0, 0.05, 200, "CSAT", str.upper, "en")
    assert en.startswith("No part of the service experience clearly moves CSAT") and "200 surveys" in en


def test_health_reading_counts_pairs_with_the_interval() -> None:
    bt = {"reason": None, "auc": 0.71, "auc_lower": 0.64, "auc_upper": 0.78, "n": 1200, "departures": 85,
          "horizon_days": 90}
    zh = plain.health_reading(bt, "zh")
    assert "约有 7 对" in zh and "6 到 8 对之间" in zh and "1,200 位客户" in zh and "85 位流失" in zh
    assert "AUC" not in zh and "DeLong" not in zh and "90 天" in zh
    assert "about 7 give the leaver the lower score (somewhere between 6 and 8; 1,200" in plain.health_reading(bt, "en")
    assert "（可能在 6 到 8 对之间；1,200 位客户，其中 85 位流失）" in zh
    assert "之间" not in plain.health_reading({**bt, "auc_lower": 0.70, "auc_upper": 0.72}, "zh")
    assert plain.health_reading({**bt, "reason": "too_few"}, "zh") is None
    assert plain.health_reading({}, "zh") is None


def test_rising_reading_says_from_what_to_what() -> None:
    rows = [{"group": "东江市 · ", "topic": "网速慢", "share_prev": 0.1, "share": 0.18, "n": 90, "total": 500}]
    (zh,) = plain.rising_reading(rows, PCT, "zh")
    assert zh.startswith("东江市 · “网速慢”") and "10.0% 升到 18.0%" in zh and "500 条中有 90 条" in zh
    assert "Holm" not in zh and "p =" not in zh
    assert plain.rising_reading([], PCT, "en") == ["No topic's share of the complaint texts rose clearly against "
                                                   "the comparison period."]


def _effect(lo: float, hi: float, **kw) -> dict:
    return {"churn_treated": 0.08, "churn_holdout": 0.12, "difference": (lo + hi) / 2, "diff_low": lo,
            "diff_high": hi, "nnt": 25.0, "n_treated": 900, "n_holdout": 300, "withheld": False,
            "too_small": False, **kw}


def test_action_reading_follows_the_interval() -> None:
    less = plain.action_reading(_effect(-0.065, -0.015), "外呼 · 高风险", PCT, PP, "zh")
    assert less.startswith("外呼 · 高风险：联系过的客户流失更少") and "8.0%" in less and "12.0%" in less
    assert "少约 1.5 pp 到 6.5 pp" in less and "每联系 25 位客户多留住 1 位" in less and "对照 300 位" in less
    more = plain.action_reading(_effect(0.01, 0.05, nnt=math.nan), "g", PCT, PP, "en")
    assert "left more" in more and "about 1.0 pp to 5.0 pp more" in more
    unclear = plain.action_reading(_effect(-0.03, 0.02), "g", PCT, PP, "zh")
    assert "看不出" in unclear and "少 3.0 pp" in unclear and "多 2.0 pp" in unclear and "留住" not in unclear
    assert plain.action_reading(_effect(-0.03, -0.01, too_small=True), "g", PCT, PP, "zh") is None
    assert plain.action_reading(_effect(-0.03, -0.01, withheld=True), "g", PCT, PP, "zh") is None


def _points(last_value: float, last_n: int = 500, signal: bool = False) -> pd.DataFrame:
    periods = pd.date_range("2026-01-01", periods=4, freq="MS")
    return pd.DataFrame({"period": periods, "value": [0.1, 0.11, 0.09, last_value], "n": [500, 500, 500, last_n],
                         "lcl": [0.05] * 4, "ucl": [0.15] * 4, "signal": [False, False, False, signal]})


def test_control_reading_places_the_latest_period() -> None:
    above = plain.control_reading(_points(0.2, signal=True), PCT, "zh", min_n=30)
    assert above.startswith("最近一期（2026-04）为 20.0%，高于通常范围（5.0% 到 15.0%；样本 500）")
    assert "4 期里有 1 期" in above and "σ" not in above
    assert "within its usual range" in plain.control_reading(_points(0.1), PCT, "en")
    assert "none of the 4 periods" in plain.control_reading(_points(0.1), PCT, "en")
    assert "低于通常范围" in plain.control_reading(_points(0.01), PCT, "zh")
    assert "太少" in plain.control_reading(_points(0.3, last_n=5), PCT, "zh", min_n=30)
    assert plain.control_reading(_points(0.1).iloc[:0], PCT, "zh") is None


def test_control_reading_of_a_latest_period_without_n_says_it_is_unjudged() -> None:
    import numpy as np

    from metrics.analysis.plain import control_reading
    from metrics.model.i18n import t

    d = pd.DataFrame({"period": ["2026-09-01", "2026-10-01"], "value": [0.1, np.nan], "n": [50, np.nan],
                      "lcl": [0.0, np.nan], "ucl": [0.2, np.nan], "signal": [False, False]})
    words = dict(period="2026-10", value="—", n="—", tail=t("plain.control.quiet", "en", k=2))
    assert control_reading(d, lambda v: f"{v:.2f}", "en") == t("plain.control.unjudged", "en", **words)
