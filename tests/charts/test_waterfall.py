"""The waterfall of a decomposition (metrics.present.charts.waterfall), checked by its figure JSON: the
steps start at the earlier value and end at the period's, each step is its contribution in the chart's
unit, noise is grey, the rest is summed in one step, titles and labels come from the catalogue."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from metrics.analysis.decompose import Decomposition
from metrics.model.i18n import t
from metrics.present import theme
from metrics.present.charts.waterfall import NOISE_COLOUR, waterfall


def share_decomposition(n: int = 3) -> Decomposition:
    # CSAT 0.887 → 0.865: Dongjiang −0.027 (worse, beyond noise), Nanling +0.025 (better), the rest noise
    c = [-0.027, 0.025, -0.012, -0.004, -0.004][:n]
    c[-1] += -0.022 - sum(c)  # exact
    rows = [{"key": i, "name_zh": f"城{i}", "name_en": f"City {i}", "contribution": x,
             "lower": x - (0.01 if i < 2 else 0.05), "upper": x + (0.01 if i < 2 else 0.05),
             "rate_effect": x, "mix_effect": 0.0, "noise": i >= 2, "main": "rate"} for i, x in enumerate(c)]
    return Decomposition("csat", "region", "city", 0.865, 0.887, -0.022, pd.DataFrame(rows), 0.9, None, -0.06, 0.02)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_steps_add_up_from_the_earlier_value_to_the_period(lang: str) -> None:
    d = share_decomposition()
    fig = waterfall(d, lang, "2026 Q3")
    totals, steps, labels = fig.data
    assert list(totals.x) == [t("explain.chart.start", lang), t("explain.chart.end", lang)]
    np.testing.assert_allclose(totals.y, [88.7, 86.5])
    names = [f"城{i}" if lang == "zh" else f"City {i}" for i in range(3)]
    assert list(steps.x) == names
    np.testing.assert_allclose(steps.y, [-2.7, 2.5, -2.0])
    np.testing.assert_allclose(steps.base, [88.7, 86.0, 88.5])
    assert steps.base[-1] + steps.y[-1] == pytest.approx(86.5)
    np.testing.assert_allclose(steps.error_y.array, [1, 1, 5])  # the intervals in pp
    assert list(steps.marker.color) == [theme.STATUS["red"], theme.STATUS["green"], NOISE_COLOUR]
    assert list(labels.text) == ["-2.7", "+2.5", "-2.0"]
    assert list(steps.customdata) == ["0", "1", "2"]
    title = fig.layout.title.text
    assert t("explain.chart.title", lang, metric="满意度" if lang == "zh" else "CSAT",
             dim=t("explain.dim.city", lang)) in title and "2026 Q3" in title


def test_the_rest_is_one_step() -> None:
    d = share_decomposition(5)
    _, steps, _ = waterfall(d, "en", "Q3", top=2).data
    assert list(steps.x) == ["City 0", "City 1", t("explain.chart.others", "en", k=3)]
    assert steps.y[-1] == pytest.approx(100 * (-0.022 + 0.027 - 0.025))
    assert steps.marker.color[-1] == NOISE_COLOUR


def test_no_change_draws_nothing_and_says_why() -> None:
    d = Decomposition("csat", "tier", "city", 0.86, np.nan, np.nan, pd.DataFrame(), 0.0, "no_comparison")
    fig = waterfall(d, "zh", "Q3")
    assert not fig.data and t("explain.reason.no_comparison", "zh") in fig.layout.title.text


def test_names_from_the_data_are_not_markup() -> None:
    d = share_decomposition()
    d.groups.loc[0, "name_en"] = "<b>Evil</b>"
    _, steps, _ = waterfall(d, "en", "Q3").data
    assert "<b>" not in steps.x[0]
