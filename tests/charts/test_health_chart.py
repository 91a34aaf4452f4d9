"""The health history chart (metrics.present.charts.health): the score and each part drawn at their
values on a fixed 0-100 axis at the month of their day, a month without a part's data a gap (never 0),
a part without any data not drawn, the last score labelled, the customer's name in the title shown as
text, not markup."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from metrics.model.i18n import t
from metrics.present.charts.health import health_history


def test_health_history_figure() -> None:
    hist = pd.DataFrame({"day": [date(2026, 4, 30), date(2026, 5, 31), date(2026, 6, 30)],
                         "score": [80.0, 70.5, 64.2], "complaints": [100.0, 75.0, 50.0],
                         "satisfaction": [80.0, np.nan, 60.0], "availability": [np.nan] * 3})
    parts = {"complaints": "Complaints (weight 20%)", "satisfaction": "Satisfaction (weight 15%)",
             "availability": "Availability (weight 15%)"}
    fig = health_history(hist, parts, "en", "<b>ACME</b> & Co: health", "2026-06")
    names = [tr.name for tr in fig.data]
    assert names == ["Complaints (weight 20%)", "Satisfaction (weight 15%)", t("health.col.score", "en")]
    score = fig.data[-1]
    assert list(score.y) == [80.0, 70.5, 64.2] and list(score.text) == ["", "", "64"]
    # each month's score at its own month (a month-end day is not drawn under the next month's tick)
    assert [pd.Timestamp(x).strftime("%Y-%m-%d") for x in score.x] == ["2026-04-01", "2026-05-01", "2026-06-01"]
    sat = fig.data[1]
    assert np.isnan(sat.y[1]) and sat.connectgaps is False  # a gap, not a 0
    assert list(fig.layout.yaxis.range) == [0, 108]
    assert "<b>ACME" not in fig.layout.title.text and "ACME" in fig.layout.title.text
