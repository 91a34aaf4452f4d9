"""The Outlets page's charts (metrics.present.charts.outlets): each heat-map cell holds its weekday and
hour's minutes (blank without visits), weekday names from the catalogue; the audit items' failing item
is red; the VIP lane's dots are the engine frame's minutes with their intervals, coloured and named by
verdict, names escaped."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from metrics.model.i18n import t
from metrics.present import theme
from metrics.present.charts import outlets as charts


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_heatmap_cells_are_their_weekday_and_hour(lang: str) -> None:
    df = pd.DataFrame({"weekday": [0, 0, 6, 3], "hour": [9, 18, 9, 12], "mean_wait_min": [5.0, 30.25, 12.0, 7.5],
                       "visits": [10, 4, 7, 1]})
    fig = charts.wait_heatmap(df, lang, "T", "S")
    heat = fig.data[0]
    assert list(heat.x) == ["9", "12", "18"]
    assert list(heat.y) == [t(f"page.outlets.weekday.{d}", lang) for d in range(7)]
    z = np.array(heat.z, dtype=float)
    assert z[0, 0] == 5.0 and z[0, 2] == 30.25 and z[6, 0] == 12.0 and z[3, 1] == 7.5
    assert np.isnan(z[1, 0]) and heat.text[1][0] == ""  # no visits: blank, not 0
    assert heat.text[0][2] == "30.3" and np.array(heat.customdata)[0, 2] == 4


def test_audit_items_failing_item_is_red() -> None:
    df = pd.DataFrame({"audited_on": pd.to_datetime(["2026-01-05", "2026-04-05"] * 2),
                       "item": ["greeting", "greeting", "waiting", "waiting"], "share": [0.9, 0.8, 0.4, 0.3]})
    fig = charts.audit_items(df, "zh", "T", "S", failing={"waiting"})
    by_name = {tr.name: tr for tr in fig.data}
    assert set(by_name) == {"迎宾问候", "等候管理"}
    assert by_name["等候管理"].line.color == theme.STATUS["red"]
    assert by_name["迎宾问候"].line.color != theme.STATUS["red"]
    assert list(by_name["等候管理"].y) == pytest.approx([40.0, 30.0]) and list(by_name["等候管理"].text) == ["40", "30"]


def test_vip_dots_are_the_engines_minutes_by_verdict() -> None:
    df = pd.DataFrame({"outlet_id": [1, 2, 3], "saving_min": [11.2, 0.4, 9.0], "saving_lower": [8.0, -2.0, np.nan],
                       "saving_upper": [14.4, 2.8, np.nan], "verdict": ["works", "does_not", "too_small"]})
    fig = charts.vip_difference(df, "en", "T", "S", {1: "<b>A</b>", 2: "B", 3: "C"})
    dots = {tr.name: tr for tr in fig.data if tr.mode == "markers"}
    assert set(dots) == {t(f"page.outlets.verdict.{v}", "en") for v in ("works", "does_not", "too_small")}
    works = dots[t("page.outlets.verdict.works", "en")]
    assert list(works.x) == [11.2] and list(works.y) == ["&lt;b&gt;A&lt;/b&gt;"]
    assert list(works.error_x.array) == pytest.approx([3.2]) and list(works.error_x.arrayminus) == pytest.approx([3.2])
    assert works.marker.color == charts.VERDICT_COLOURS["works"]
    labels = next(tr for tr in fig.data if tr.mode == "text")
    assert list(labels.text) == ["11.2", "0.4", "9.0"]
    assert fig.layout.xaxis.range[0] < -2.0 < 14.4 < fig.layout.xaxis.range[1]  # every whisker and 0 in view
