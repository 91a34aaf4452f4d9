"""Every chart starts from plotly's white template, applied as plotly's default (metrics.present.theme),
whatever was imported after the theme: Streamlit's plotly module sets the default to its own on import."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pandas as pd
import plotly.io as pio

from metrics.present import theme
from metrics.present.charts import comparisons as charts_more
from metrics.present.charts import core as charts


def _figures() -> list:
    df = pd.DataFrame({"tier": ["gold", "diamond"], "value": [0.8, 0.9], "n": [10, 20],
                       "lower": [0.7, 0.85], "upper": [0.9, 0.95]})
    months = pd.DataFrame({"month": pd.to_datetime(["2025-01-01", "2025-02-01"]), "value": [0.8, 0.9],
                           "n": [1, 2], "lower": [0.7, 0.8], "upper": [0.9, 1.0]})
    return [charts.bar_ci(df, "tier", "share", "en", "CSAT", "Q3"), charts.trend(months, "share", "zh", "CSAT", "Q3"),
            charts_more.ranked_bars(df.assign(n=[3, 4]), "tier", "en", "Tickets", "Q3", "tickets")]


def _assert_white(figs: list) -> None:
    for fig in figs:
        layout = fig.to_plotly_json()["layout"]
        assert layout["template"]["layout"]["plot_bgcolor"] == "white"
        assert layout["template"]["layout"]["xaxis"]["gridcolor"] == "#EBF0F8"


def test_charts_carry_the_white_template() -> None:
    _assert_white(_figures())


def test_white_template_after_streamlit_sets_its_own() -> None:
    """What importing Streamlit's plotly module does (configure_streamlit_plotly_theme: default
    "streamlit"), done after the theme: the next charts are white all the same, the default restored."""
    from streamlit.elements.lib.streamlit_plotly_theme import configure_streamlit_plotly_theme

    configure_streamlit_plotly_theme()
    assert pio.templates.default == "streamlit"
    _assert_white(_figures())
    assert pio.templates.default == theme.TEMPLATE
    _assert_white(_figures())  # and the ones after them (built under the restored default)


def test_white_template_when_streamlit_is_imported_after_the_theme() -> None:
    """A fresh interpreter that imports the charts first and Streamlit's plotly module after them."""
    script = textwrap.dedent("""
        import pandas as pd
        from metrics.present.charts import core
        import plotly.io as pio
        import streamlit.elements.plotly_chart  # noqa: F401  sets plotly's default to "streamlit"
        assert pio.templates.default == "streamlit", pio.templates.default
        df = pd.DataFrame({"tier": ["gold"], "value": [0.8], "n": [10], "lower": [0.7], "upper": [0.9]})
        for _ in range(2):
            fig = core.bar_ci(df, "tier", "share", "en", "CSAT", "Q3")
            print(fig.to_plotly_json()["layout"]["template"]["layout"]["plot_bgcolor"])
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["white", "white"]


def test_spark_values_are_the_monthly_values_in_card_units() -> None:
    months = pd.DataFrame({"month": pd.to_datetime(["2025-02-01", "2025-01-01", "2025-03-01"]),
                           "value": [0.9, 0.8, None]})
    assert charts.spark_values(months, "share") == [80.0, 90.0]
    assert charts.spark_values(months.assign(value=[3.0, 2.0, 1.0]), "points") == [2.0, 3.0, 1.0]
