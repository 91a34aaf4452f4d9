"""Number formats from one place in the later charts (issue 15 item 3): the key drivers, the health
history, the control chart and the outlet charts write their value labels and hover text through
:mod:`metrics.present.formatting` (decimals per unit, thousands separators, "%" on shares), and the outlet
heat map's download keeps unrounded values with the export's number formats (minutes with one decimal,
the abandoned share as a percentage), not ``.round(4)`` shares."""

from __future__ import annotations

import pandas as pd

from metrics.present import formatting as fmt
from metrics.present.charts import control, drivers, health, outlets
from metrics.present.export import excel_format
from servicewatch.tables import export_columns


def test_hover_placeholders() -> None:
    assert fmt.hover("x", "share") == "%{x:,.1f}%"
    assert fmt.hover("customdata[1]", "share", 0) == "%{customdata[1]:,.0f}%"
    assert fmt.hover("z", "minutes") == "%{z:,.1f}" and fmt.hover("y", "score_0_100") == "%{y:,.0f}"
    assert fmt.TICK_D3 == ",~f"


def test_driver_labels_are_percentages_from_formatting() -> None:
    imp = pd.DataFrame(
        {
            "driver": ["sla_breached", "reopened"],
            "importance": [0.07251, 0.0205],
            "lower": [0.06, 0.015],
            "upper": [0.08, 0.026],
            "includes_zero": [False, False],
        }
    )
    bar = drivers.importance_bars(imp, "zh", "T", "S").data[0]
    assert list(bar.text) == ["2.1%", "7.3%"]  # strongest on top: drawn last
    assert "%{x:,.1f}%" in bar.hovertemplate and "%{customdata[1]:,.1f}%" in bar.hovertemplate
    m = imp.assign(value=[0.91234, 0.5], gap=[0.01, -0.02], fix_first=[True, False])
    dots = drivers.importance_performance(m, "zh", "T", "S", unit=False).data[0]
    assert [row[1] for row in dots.customdata] == ["91.2%", "50.0%"]  # the share done well, as text


def test_health_and_control_numbers() -> None:
    history = pd.DataFrame(
        {"day": pd.to_datetime(["2026-01-31", "2026-02-28"]), "score": [71.6, 1234.4], "usage": [80.0, None]}
    )
    fig = health.health_history(history, {"usage": "用量"}, "zh", "T", "S")
    score = fig.data[-1]
    assert list(score.text) == ["", "1,234"] and score.hovertemplate.startswith("%{y:,.0f}")
    assert fig.layout.yaxis.tickformat == fmt.TICK_D3
    frame = pd.DataFrame(
        {
            "period": pd.to_datetime(["2026-01-01", "2026-02-01"]),
            "value": [0.1, 0.12],
            "n": [12345, 900],
            "centre": [0.11, 0.11],
            "lcl": [0.05, 0.04],
            "ucl": [0.17, 0.18],
            "baseline": [True, True],
            "rules": ["", ""],
            "signal": [False, False],
        }
    )
    chart = control.control_chart(frame, "share", "zh", "T", "S")
    points = next(tr for tr in chart.data if tr.mode == "lines+markers")
    assert list(points.hovertext) == ["10.0% (n = 12,345)", "12.0% (n = 900)"]


def test_outlet_charts_and_heat_download_formats() -> None:
    heat = pd.DataFrame(
        {
            "weekday": [0, 1],
            "hour": [9, 10],
            "visits": [1200, 3],
            "mean_wait_min": [12.345, 3.0],
            "median_wait_min": [10.0, 3.0],
            "p90_wait_min": [25.55, 3.0],
            "abandoned_share": [0.123456, 0.0],
        }
    )
    fig = outlets.wait_heatmap(heat, "zh", "T", "S")
    assert fig.data[0].text[0][0] == "12.3" and "%{customdata:,.0f}" in fig.data[0].hovertemplate
    # the download: engine names, the export's headers and formats (as outlets_panel._heat_download builds it)
    download = pd.DataFrame(
        {
            "weekday": ["星期一", "星期二"],
            "hour": heat["hour"],
            **{c: heat[c] for c in ("visits", "mean_wait_min", "median_wait_min", "p90_wait_min", "abandoned_share")},
        }
    )
    cols = {c.name: c for c in export_columns(download, "zh")}
    assert [c.header for c in cols.values()] == [
        "星期",
        "时段",
        "到访",
        "平均等候（分钟）",
        "等候中位数（分钟）",
        "P90 等候（分钟）",
        "放弃率",
    ]
    assert excel_format(cols["abandoned_share"].style) == "0.0%"
    assert excel_format(cols["mean_wait_min"].style) == "#,##0.0" and excel_format(cols["visits"].style) == "#,##0"
