"""The forecast's fan chart (issue 17 item 3) by its figure JSON: the actual line, the median and the
80%/95% bands opening from the last actual month, in percent for shares, the target labelled
"目标 95%", the legend in the reader's language, data text never markup."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from figure_json import figure_json

from metrics.present.charts import forecast as fan_chart


def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    history = pd.DataFrame({"month": pd.date_range("2026-01-01", periods=4, freq="MS"),
                            "value": [0.90, 0.88, 0.91, 0.89]})
    months = pd.DataFrame({"month": pd.date_range("2026-05-01", periods=2, freq="MS"), "value": [0.895, 0.90],
                           "lower80": [0.88, 0.875], "upper80": [0.91, 0.92], "lower95": [0.87, 0.86],
                           "upper95": [0.92, 0.93]})
    return history, months


@pytest.mark.parametrize("lang, target_text, names", [
    ("zh", "目标 95%", ["95% 区间", "80% 区间", "预测（中位数）", "实际"]),
    ("en", "Target 95%", ["95% interval", "80% interval", "Forecast (median)", "Actual"]),
])
def test_fan_draws_history_median_bands_and_target(lang: str, target_text: str, names: list[str]) -> None:
    history, months = _frames()
    fig = figure_json(fan_chart.fan(history, months, "share", lang, "SLA <b>x</b>", "2026 Q2", target=0.95))
    band95, band80, median, actual = fig["data"]
    assert [tr["name"] for tr in fig["data"]] == names
    np.testing.assert_allclose(actual["y"], [90.0, 88.0, 91.0, 89.0])
    # the median and bands start at the last actual month (April, 89%), then the forecast months
    assert pd.to_datetime(median["x"][0]) == pd.Timestamp("2026-04-01")
    np.testing.assert_allclose(median["y"], [89.0, 89.5, 90.0])
    assert median["line"]["dash"] == "dash"
    # a band is the upper edge forward and the lower edge back
    np.testing.assert_allclose(band80["y"], [89.0, 91.0, 92.0, 87.5, 88.0, 89.0])
    np.testing.assert_allclose(band95["y"], [89.0, 92.0, 93.0, 86.0, 87.0, 89.0])
    assert band80["fill"] == band95["fill"] == "toself"
    lines = [s for s in fig["layout"]["shapes"] if s["type"] == "line"]
    assert len(lines) == 1 and lines[0]["y0"] == pytest.approx(95.0)
    assert target_text in [a["text"] for a in fig["layout"]["annotations"]]
    assert "<b>" not in fig["layout"]["title"]["text"]  # the title is text, not markup
    assert median["text"][-1] == "90.0%" and actual["text"][-1] == "89.0%"


def test_fan_without_forecast_or_target_is_the_history_alone() -> None:
    history, months = _frames()
    fig = figure_json(fan_chart.fan(history, months.iloc[0:0], "per_1000_customer_months", "en", "Complaints", "sub"))
    assert len(fig["data"]) == 1 and fig["data"][0]["name"] == "Actual"
    assert not [s for s in fig["layout"].get("shapes", []) if s["type"] == "line"]
