"""Every chart starts from plotly's white template, applied as plotly's default (metrics.present.theme)."""

from __future__ import annotations

import pandas as pd

from metrics.present.charts import comparisons as charts_more
from metrics.present.charts import core as charts


def test_charts_carry_the_white_template() -> None:
    df = pd.DataFrame({"tier": ["gold", "diamond"], "value": [0.8, 0.9], "n": [10, 20],
                       "lower": [0.7, 0.85], "upper": [0.9, 0.95]})
    months = pd.DataFrame({"month": pd.to_datetime(["2025-01-01", "2025-02-01"]), "value": [0.8, 0.9],
                           "n": [1, 2], "lower": [0.7, 0.8], "upper": [0.9, 1.0]})
    figs = [charts.bar_ci(df, "tier", "share", "en", "CSAT", "Q3"), charts.trend(months, "share", "zh", "CSAT", "Q3"),
            charts_more.ranked_bars(df.assign(n=[3, 4]), "tier", "en", "Tickets", "Q3", "tickets")]
    for fig in figs:
        layout = fig.to_plotly_json()["layout"]
        assert layout["template"]["layout"]["plot_bgcolor"] == "white"
        assert layout["template"]["layout"]["xaxis"]["gridcolor"] == "#EBF0F8"


def test_spark_values_are_the_monthly_values_in_card_units() -> None:
    months = pd.DataFrame({"month": pd.to_datetime(["2025-02-01", "2025-01-01", "2025-03-01"]),
                           "value": [0.9, 0.8, None]})
    assert charts.spark_values(months, "share") == [80.0, 90.0]
    assert charts.spark_values(months.assign(value=[3.0, 2.0, 1.0]), "points") == [2.0, 3.0, 1.0]
