"""Chart functions checked by their figure JSON (as plotly express's own tests do, not by pixels): one
test module covering each module of metrics.present.charts — the values drawn equal the frame's in
the chart's units, intervals become error bars of the right length, categories are named in the
reader's language and ordered, targets and reference lines sit where they should, titles carry the
subtitle, and data text is never markup."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from figure_json import figure_json

from metrics.model.i18n import label
from metrics.present import theme
from metrics.present.charts import churn as charts_churn
from metrics.present.charts import comparisons, core, league


def _share_frame() -> pd.DataFrame:
    return pd.DataFrame({"tier": ["silver", "gold", "diamond"], "value": [0.70, 0.80, 0.90], "n": [100, 50, 20],
                         "lower": [0.60, 0.72, 0.75], "upper": [0.78, 0.86, 0.97]})


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_bar_ci_draws_percentages_with_intervals_in_the_tier_order(lang: str) -> None:
    df = _share_frame()
    fig = figure_json(core.bar_ci(df, "tier", "share", lang, "CSAT", "2026 Q3", target=0.85))
    bar = fig["data"][0]
    order = theme.order("tier", df["tier"].tolist())
    expect = df.set_index("tier").loc[order]
    assert list(bar["y"]) == [label("tier", v, lang) for v in order]  # named in the reader's language
    np.testing.assert_allclose(bar["x"], 100 * expect["value"])
    np.testing.assert_allclose(bar["error_x"]["array"], 100 * (expect["upper"] - expect["value"]))
    np.testing.assert_allclose(bar["error_x"]["arrayminus"], 100 * (expect["value"] - expect["lower"]))
    assert list(bar["customdata"]) == order  # the codes behind the names, for drill-downs
    target = [s for s in fig["layout"]["shapes"] if s["type"] == "line"]
    assert len(target) == 1 and target[0]["x0"] == pytest.approx(85.0)
    assert "2026 Q3" in fig["layout"]["title"]["text"]


def test_trend_draws_months_with_a_band_and_a_labelled_target() -> None:
    months = pd.DataFrame({"month": pd.to_datetime(["2026-01-01", "2026-03-01", "2026-02-01"]),
                           "value": [0.1, 0.3, 0.2], "n": [5, 5, 5], "lower": [0.05, 0.2, 0.1],
                           "upper": [0.2, 0.4, 0.3]})
    fig = figure_json(core.trend(months, "share", "en", "Churn", "sub", target=0.25))
    band, line = fig["data"]
    assert band["fill"] == "toself" and not band["showlegend"]
    np.testing.assert_allclose(line["y"], [10.0, 20.0, 30.0])  # sorted by month
    annotations = [a["text"] for a in fig["layout"]["annotations"]]
    assert "Target 25%" in annotations  # the target line says what it is and where


def test_funnel_colours_the_outliers_on_the_bad_side() -> None:
    limits = pd.DataFrame({"exposure": [10.0, 1000.0], "lo95": [1.0, 4.0], "hi95": [9.0, 6.0],
                           "lo998": [0.5, 3.5], "hi998": [9.5, 6.5]})
    df = pd.DataFrame({"region_id": [11, 12, 13], "value": [8.0, 2.0, 5.0], "exposure": [1000.0, 1000.0, 1000.0]})
    fig = figure_json(core.funnel(df, 5.0, limits, "per_1000_customer_months", "en", "Complaints", "sub",
                            {11: "North", 12: "South", 13: "East"}))
    points = fig["data"][-1]
    assert list(points["text"]) == ["North", "South", "East"]
    assert list(points["marker"]["color"]) == [theme.STATUS["red"], theme.STATUS["green"], theme.PRIMARY]


def test_distribution_colours_nps_detractors_passives_promoters() -> None:
    df = pd.DataFrame({"nps": [0, 6, 7, 8, 9, 10], "n": [1, 2, 3, 4, 5, 6]})
    bar = figure_json(core.distribution(df, "nps", "en", "NPS answers", "sub"))["data"][0]
    red, amber, green = theme.STATUS["red"], theme.STATUS["amber"], theme.STATUS["green"]
    assert list(bar["marker"]["color"]) == [red, red, amber, amber, green, green]
    assert list(bar["y"]) == [1, 2, 3, 4, 5, 6]


def test_dot_whisker_marks_verdicts_and_the_overall_line() -> None:
    df = pd.DataFrame({"region_id": [1, 2], "value": [0.8, 0.6], "lower": [0.7, 0.5], "upper": [0.9, 0.7],
                       "n": [40, 50], "verdict": ["better", "worse"], "value_cmp": [0.75, 0.65]})
    fig = figure_json(league.dot_whisker(df, "share", "en", "CSAT by city", "sub", overall=0.7,
                                   region_names={1: "A", 2: "B"}))
    previous, now, labels = fig["data"]
    assert list(labels["text"]) == ["80.0%", "60.0%"]  # each dot's value beside it
    np.testing.assert_allclose(previous["x"], [75.0, 65.0])
    np.testing.assert_allclose(now["x"], [80.0, 60.0])
    assert list(now["marker"]["color"]) == [league.VERDICT_COLOURS["better"], league.VERDICT_COLOURS["worse"]]
    assert any(s["x0"] == pytest.approx(70.0) for s in fig["layout"]["shapes"])


def test_ranked_bars_put_the_largest_on_top_with_shares() -> None:
    df = pd.DataFrame({"churn_reason": ["price", "coverage"], "n": [10, 30], "share": [0.25, 0.75]})
    bar = figure_json(comparisons.ranked_bars(df, "churn_reason", "en", "Why", "sub", "customers",
                                        share_col="share"))["data"][0]
    assert list(bar["x"]) == [30, 10] and list(bar["text"]) == ["30 (75%)", "10 (25%)"]


def test_against_targets_marks_a_miss_red() -> None:
    df = pd.DataFrame({"sla_level": ["gold", "silver"], "value": [0.9991, 0.9995], "target": [0.9995, 0.999]})
    fig = figure_json(comparisons.against_targets(df, "sla_level", "en", "Availability", "sub", digits=3))
    target, value = fig["data"]
    np.testing.assert_allclose(target["y"], [99.95, 99.9])
    assert value["marker"]["color"][0] == theme.STATUS["red"] and value["marker"]["color"][1] != theme.STATUS["red"]
    assert list(value["text"]) == ["99.910%", "99.950%"]


def test_tier_service_shows_hours_and_compliance_side_by_side() -> None:
    df = pd.DataFrame({"tier": ["gold", "silver"], "median_hours": [2.0, 4.0], "p90_hours": [8.0, 12.0],
                       "compliance": [0.95, 0.9], "compliance_lower": [0.9, 0.85], "compliance_upper": [0.98, 0.94]})
    fig = figure_json(comparisons.tier_service(df, "tier", "zh", "SLA", "sub"))
    median, p90, compliance = fig["data"]
    assert list(median["y"]) == [2.0, 4.0] and list(p90["y"]) == [8.0, 12.0]
    np.testing.assert_allclose(compliance["y"], [95.0, 90.0])
    assert compliance["xaxis"] == "x2"


def test_retention_curves_start_at_100_percent_in_months() -> None:
    curves = pd.DataFrame({"group": ["gold", "gold"], "time_days": [30.4375, 60.875], "survival": [0.9, 0.8],
                           "lower": [0.85, 0.7], "upper": [0.95, 0.9]})
    fig = figure_json(charts_churn.retention_curves(curves, "tier", "en", "Retention", "sub"))
    band, line = fig["data"]
    np.testing.assert_allclose(line["x"], [0.0, 1.0, 2.0])
    np.testing.assert_allclose(line["y"], [100.0, 90.0, 80.0])
    assert line["name"] == label("tier", "gold", "en") and band["fill"] == "toself"


def test_forest_colours_by_the_interval_and_uses_a_log_axis() -> None:
    terms = pd.DataFrame({"term": ["unresolved_complaints", "tier_diamond"], "hr": [3.0, 0.4],
                          "hr_lower": [2.4, 0.3], "hr_upper": [3.8, 0.5]})
    fig = figure_json(charts_churn.forest(terms, "en", "Drivers", "sub"))
    point = fig["data"][0]
    assert fig["layout"]["xaxis"]["type"] == "log"
    assert list(point["marker"]["color"]) == [theme.STATUS["green"], theme.STATUS["red"]]  # reversed order


def test_data_in_a_chart_is_text_not_markup() -> None:
    df = _share_frame().assign(tier=["<b>x</b>", "gold", "diamond"])
    fig = figure_json(core.bar_ci(df, "tier", "share", "en", "<i>title</i>", "sub"))
    shown = " ".join(map(str, fig["data"][0]["y"])) + fig["layout"]["title"]["text"]
    assert "<b>x</b>" not in shown and "<i>title</i>" not in shown
