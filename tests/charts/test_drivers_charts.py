"""Key-driver charts by their figure JSON: importance bars in % with interval error bars of the right
length, strongest on top, grey where the interval includes 0; the importance × performance scatter
with its "fix first" corner where high importance meets worse performance, labelled in the reader's
language."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from metrics.present import theme
from metrics.present.charts import drivers as charts


def _importance() -> pd.DataFrame:
    return pd.DataFrame({"driver": ["sla_breached", "reopened", "revisited"], "importance": [0.07, 0.02, 0.0001],
                         "lower": [0.06, 0.015, -0.0002], "upper": [0.08, 0.026, 0.0005],
                         "includes_zero": [False, False, True]})


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_importance_bars(lang: str) -> None:
    fig = charts.importance_bars(_importance(), lang, "T", "S")
    bar = fig.data[0]
    names = {"zh": ["答卷前已回访", "重开", "SLA 修复超时"], "en": ["Revisited before the answer", "Reopened",
                                                               "SLA resolution breach"]}[lang]
    assert list(bar.y) == names  # strongest on top: plotly draws the first category at the bottom
    assert np.allclose(bar.x, [0.01, 2.0, 7.0])
    assert np.allclose(bar.error_x.array, [0.04, 0.6, 1.0]) and np.allclose(bar.error_x.arrayminus, [0.03, 0.5, 1.0])
    assert list(bar.marker.color) == [theme.NEUTRAL, theme.PRIMARY, theme.PRIMARY]
    assert fig.layout.xaxis.ticksuffix == "%"
    note = {"zh": "灰色或空心：区间包含 0", "en": "Grey or hollow: interval includes 0"}[lang]
    assert any(a.text == note for a in fig.layout.annotations)


def _matrix(unit: bool) -> pd.DataFrame:
    return pd.DataFrame({"driver": ["sla_breached", "resolution_hours", "reopened", "escalated"],
                         "importance": [0.07, 0.04, 0.012, 0.003], "lower": [0.06, 0.035, 0.01, -0.001],
                         "upper": [0.08, 0.045, 0.015, 0.006], "includes_zero": [False, False, False, True],
                         "value": [0.85, 0.70, 0.97, 0.95], "org_value": [0.89, 0.75, 0.97, 0.96],
                         "gap": [-0.04, -0.05, 0.0, -0.01] if unit else [np.nan] * 4,
                         "worse": [True, True, False, False] if unit else [False, True, False, False],
                         "fix_first": [True, True, False, False] if unit else [False, True, False, False]})


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_importance_performance_unit_against_organisation(lang: str) -> None:
    fig = charts.importance_performance(_matrix(True), lang, "T", "S", unit=True)
    pts = fig.data[0]
    assert np.allclose(pts.x, [-4.0, -5.0, 0.0, -1.0]) and np.allclose(pts.y, [7.0, 4.0, 1.2, 0.3])
    assert np.allclose(pts.error_y.array, [1.0, 0.5, 0.3, 0.3])
    assert list(pts.marker.color)[:2] == [theme.STATUS["red"]] * 2 and pts.marker.color[2] == theme.PRIMARY
    assert list(pts.marker.symbol) == ["circle", "circle", "circle", "circle-open"]
    corner = fig.layout.shapes[0]
    mean_importance = np.mean([7.0, 4.0, 1.2, 0.3])
    # the corner: left of 0 (worse than the organisation), above the mean importance
    assert corner.x1 == 0.0 and corner.y0 == pytest.approx(mean_importance) and corner.x0 < -5.0
    label = {"zh": "先改进", "en": "Fix first"}[lang]
    fix = [a for a in fig.layout.annotations if a.text == label]
    assert len(fix) == 1 and fix[0].x == corner.x0 and fix[0].y == corner.y1
    # the points flagged fix_first sit inside the corner
    for x, y, flag in zip(pts.x, pts.y, _matrix(True)["fix_first"], strict=True):
        assert (corner.x0 <= x <= corner.x1 and corner.y0 <= y <= corner.y1) == flag
    axis = {"zh": "表现：与全组织之差（百分点）", "en": "Performance against the organisation (percentage points)"}
    assert fig.layout.xaxis.title.text == axis[lang]


def test_importance_performance_organisation() -> None:
    m = _matrix(False)
    fig = charts.importance_performance(m, "en", "T", "S", unit=False)
    pts = fig.data[0]
    assert np.allclose(pts.x, [85.0, 70.0, 97.0, 95.0])
    assert fig.layout.shapes[0].x1 == pytest.approx(np.median([85.0, 70.0, 97.0, 95.0]))
    assert fig.layout.xaxis.ticksuffix == "%"
