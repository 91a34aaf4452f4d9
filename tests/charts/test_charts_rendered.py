"""Charts looked at as rendered: each figure is exported to SVG by kaleido with Chromium (the same
metrics.present.export.figure_image the app's PNG/SVG buttons and the meeting pack use) and the text
is read back from the SVG: value labels in the metric's format, the target line saying "目标 95%",
and hazard-ratio ticks as written, a single category as a value against target (no bar), horizontal
month ticks whose boxes (measured by Chromium on the SVG) stay clear of the legend at 1024×768."""

from __future__ import annotations

import html
import re
import shutil

import numpy as np
import pandas as pd
import pytest

from metrics.present import export
from metrics.present.charts import churn as charts_churn
from metrics.present.charts import comparisons, core, league

pytestmark = pytest.mark.skipif(shutil.which("chromium") is None, reason="kaleido needs Chromium (make system)")
PROJECTOR = (1024, 768)


def svg_of(fig, size: tuple[int, int] = export.theme.EXPORT_SIZE) -> str:
    return export.figure_image(fig, "svg", size=size).decode("utf-8")


def texts(svg: str) -> list[str]:
    """Every text drawn in the SVG (tspans joined), unescaped, zero-width spaces removed."""
    out = []
    for body in re.findall(r"<text[^>]*>(.*?)</text>", svg, flags=re.S):
        out.append(html.unescape(re.sub(r"<[^>]+>", "", body)).replace("\u200b", "").strip())
    return out


def _tiers() -> pd.DataFrame:
    return pd.DataFrame({"tier": ["gold", "silver", "diamond"], "value": [0.8512, 0.9288, 0.9604],
                         "n": [120, 240, 60], "lower": [0.78, 0.89, 0.90], "upper": [0.90, 0.95, 0.99]})


@pytest.mark.parametrize(("lang", "target_text"), [("zh", "目标 95%"), ("en", "Target 95%")])
def test_bars_carry_their_values_and_a_labelled_target(lang: str, target_text: str) -> None:
    shown = texts(svg_of(core.bar_ci(_tiers(), "tier", "share", lang, "SLA", "2026 Q3", target=0.95)))
    for value in ("85.1%", "92.9%", "96.0%"):  # one decimal, the metric's: 0.8512 → 85.1%
        assert value in shown
    assert target_text in shown


def test_a_single_category_is_a_value_against_its_target_not_a_bar() -> None:
    one = pd.DataFrame({"tier": ["gold"], "value": [0.923], "n": [1234], "lower": [0.91], "upper": [0.935]})
    fig = core.bar_ci(one, "tier", "share", "zh", "SLA修复达标率", "2026 Q3 · 金卡", target=0.95)
    svg = svg_of(fig)
    assert [tr.type for tr in fig.data] == ["indicator"]
    assert 'class="bars"' not in svg and "trace bars" not in svg  # no bar trace drawn
    shown = " ".join(texts(svg))
    assert "92.3%" in shown and "目标 95%" in shown and "95% 区间 91.0% – 93.5%" in shown
    assert "2.7 pp" in shown  # the gap to the target under the number
    assert "样本量 1,234" in shown


def test_a_zoomed_axis_says_it_does_not_start_at_zero() -> None:
    df = pd.DataFrame({"region_id": [1, 2], "value": [0.85, 0.93], "lower": [0.83, 0.91], "upper": [0.87, 0.95],
                       "n": [400, 500], "verdict": ["worse", "better"]})
    fig = league.dot_whisker(df, "share", "zh", "满意度", "sub", overall=0.89, region_names={1: "东江市", 2: "西山市"})
    assert fig.layout.xaxis.range[0] > 50  # 85% and 93% are far apart on the axis
    shown = " ".join(texts(svg_of(fig)))
    assert "横轴未从 0 开始" in shown and "85.0%" in shown and "93.0%" in shown
    # bars, by contrast, start at 0 and carry labels instead
    bars = core.bar_ci(_tiers(), "tier", "share", "zh", "SLA", "sub")
    assert bars.layout.xaxis.range[0] == 0


def test_hazard_ratio_ticks_keep_their_leading_zero() -> None:
    terms = pd.DataFrame({"term": ["unresolved_complaints", "tier_diamond"], "hr": [3.0, 0.42],
                          "hr_lower": [2.4, 0.31], "hr_upper": [3.8, 0.55]})
    svg = svg_of(charts_churn.forest(terms, "zh", "流失驱动因素", "sub"))
    ticks = re.findall(r'<g class="xtick">.*?<text[^>]*>([^<]*)</text>', svg, flags=re.S)
    assert "0.3" in ticks and "0.5" in ticks and "1" in ticks and "3" in ticks
    assert "0.42" in texts(svg) and "3.00" in texts(svg)  # each ratio beside its dot


def test_availability_dots_and_their_targets_read_with_two_decimals() -> None:
    df = pd.DataFrame({"sla_level": ["gold", "silver"], "value": [0.99912, 0.99951], "target": [0.9995, 0.999]})
    shown = texts(svg_of(comparisons.against_targets(df, "sla_level", "zh", "专线可用率", "sub")))
    assert "99.91%" in shown and "99.95%" in shown and "目标 99.95%" in shown  # availability: 2 decimals


def _months_by_tier() -> pd.DataFrame:
    months = pd.date_range("2023-06-01", periods=31, freq="MS")
    rows = [{"tier": g, "month": m, "value": 0.85 + 0.05 * np.sin(i / 4 + j), "n": 100,
             "lower": np.nan, "upper": np.nan}
            for j, g in enumerate(["gold", "silver", "diamond", "standard", "enterprise"])
            for i, m in enumerate(months)]
    return pd.DataFrame(rows)


def test_month_ticks_are_horizontal_and_clear_of_the_legend_on_a_projector(browser) -> None:
    fig = core.trend(_months_by_tier(), "share", "zh", "满意度（31 个月）", "2023-06 – 2025-12", by="tier", target=0.9)
    svg = svg_of(fig, PROJECTOR)
    assert "rotate(" not in "".join(re.findall(r'<g class="xtick">.*?</g>', svg, flags=re.S))
    assert "目标 90%" in texts(svg)
    page = browser.new_page(viewport={"width": PROJECTOR[0], "height": PROJECTOR[1]})
    try:
        page.set_content(f"<html><body style='margin:0'>{svg}</body></html>")
        boxes = page.evaluate("""() => {
            const box = e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
            return {ticks: [...document.querySelectorAll('g.xtick text')].map(box),
                    legend: [...document.querySelectorAll('g.legend g.traces')].map(box),
                    xtitle: [...document.querySelectorAll('.g-xtitle text')].map(box),
                    tick_text: [...document.querySelectorAll('g.xtick text')].map(e => e.textContent)};
        }""")
    finally:
        page.close()
    assert boxes["tick_text"] == ["2023-06", "2023-12", "2024-06", "2024-12", "2025-06", "2025-12"]  # every 6 months
    assert len(boxes["legend"]) == 5

    def overlap(a, b) -> bool:
        return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]

    for tick in boxes["ticks"] + boxes["xtitle"]:
        assert tick[2] - tick[0] > tick[3] - tick[1]  # wider than tall: not rotated
        assert not any(overlap(tick, item) for item in boxes["legend"])
        assert 0 <= tick[0] and tick[2] <= PROJECTOR[0] and tick[3] <= PROJECTOR[1]  # inside the image
    ticks = sorted(boxes["ticks"])
    assert all(a[2] <= b[0] for a, b in zip(ticks, ticks[1:], strict=False))  # tick labels do not collide
