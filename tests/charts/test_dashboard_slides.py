"""The three charts of the dashboard issue, end to end on the demo in Chinese, as a slide gets them
(issue 15, "Done when"): the gold tier over the last quarter — the complaint rate by city, the gold
tier's SLA resolution against its 95% target, satisfaction by channel — each drawn by its page (AppTest,
the figure the page hands to ``st.plotly_chart`` and to its PNG/SVG buttons), exported as those buttons
export it (:func:`metrics.present.export.figure_image`, 1600×900) and read back:

* the title names the metric, the period and the filter (金卡);
* every value is written on its mark in the metric's format (the figures the warehouse computes);
* the SLA chart is one value against its labelled target "目标 95%", not one huge bar;
* the text is Chinese (no Latin word beyond the allowlist: CSAT, SLA, units);
* nothing is cut off: no "…", and every text's box (measured by Chromium on the SVG) lies inside the
  image; the PNG is 1600×900 at the export scale.
"""

from __future__ import annotations

import json
import shutil
import struct

import plotly.graph_objects as go
import pytest
from browser.screen_checks import english_words
from page_helpers import filters, open_page
from test_charts_rendered import texts

from metrics.model.i18n import metric_label, t
from metrics.present import export, theme
from metrics.present.formatting import fmt_metric
from metrics.query.warehouse import Warehouse

pytestmark = [pytest.mark.skipif(shutil.which("chromium") is None, reason="kaleido needs Chromium (make system)"),
              pytest.mark.usefixtures("demo_db")]
QUERY = {"lang": "zh", "preset": "last_quarter", "tier": "gold"}
SIZE = theme.EXPORT_SIZE
BOXES = """() => [...document.querySelectorAll('text')].filter(e => e.textContent.trim()).map(e => {
  const r = e.getBoundingClientRect(); return [e.textContent, r.left, r.top, r.right, r.bottom]; })"""


def _figure(page: str, title: str, section: str | None = None) -> tuple[go.Figure, object]:
    at = open_page(page, {**QUERY, **({"section": section} if section else {})})
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    found = [s for s in specs if s["layout"]["title"]["text"].startswith(title)]
    assert found, [s["layout"]["title"]["text"] for s in specs]
    return go.Figure(found[0]), filters(at)


def _read_back(fig: go.Figure, browser) -> list[str]:
    """The SVG's texts; asserts the slide's common rules (Chinese, nothing cut off, 1600×900 PNG)."""
    svg = export.figure_image(fig, "svg").decode("utf-8")
    shown = texts(svg)
    assert not [x for x in shown if "…" in x or "..." in x], shown
    assert english_words(shown) == {}, shown
    png = export.figure_image(fig, "png")
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (SIZE[0] * theme.EXPORT_SCALE, SIZE[1] * theme.EXPORT_SCALE)
    page = browser.new_page(viewport={"width": SIZE[0], "height": SIZE[1]})
    try:
        page.set_content(f"<html><body style='margin:0'>{svg}</body></html>")
        boxes = page.evaluate(BOXES)
    finally:
        page.close()
    outside = [b for b in boxes if b[1] < -0.5 or b[2] < -0.5 or b[3] > SIZE[0] + 0.5 or b[4] > SIZE[1] + 0.5]
    assert not outside, outside
    return shown


def _title_ok(shown: list[str], metric: str, f) -> None:
    title = " ".join(shown)
    assert metric_label(metric, "zh") in title
    assert f"{f.start:%Y-%m-%d} – {f.end:%Y-%m-%d}" in title and t("tier.gold", "zh") in title, title


def test_complaint_rate_by_city(browser, duckdb_url: str) -> None:
    fig, f = _figure("pages/2_Complaints.py", metric_label("complaint_rate", "zh"))
    shown = _read_back(fig, browser)
    _title_ok(shown, "complaint_rate", f)
    by = Warehouse.open(duckdb_url).metric("complaint_rate", f, by=("region",))
    labels = {fmt_metric(v, "complaint_rate") for v in by["value"].dropna()}
    joined = " ".join(shown)
    assert len(labels) >= 2 and all(x in joined for x in labels), (labels, shown)


def test_gold_sla_resolution_against_its_target(browser, duckdb_url: str) -> None:
    fig, f = _figure("pages/3_SLA.py", metric_label("sla_resolution_compliance", "zh"))
    assert [tr.type for tr in fig.data] == ["indicator"]  # one tier chosen: a value against its target
    shown = _read_back(fig, browser)
    _title_ok(shown, "sla_resolution_compliance", f)
    value = Warehouse.open(duckdb_url).metric("sla_resolution_compliance", f)["value"].iloc[0]
    joined = " ".join(shown)
    assert fmt_metric(value, "sla_resolution_compliance") in joined, shown
    assert "目标 95%" in joined, shown


def test_satisfaction_by_channel(browser, duckdb_url: str) -> None:
    fig, f = _figure("pages/1_Satisfaction.py", f"{metric_label('csat', 'zh')} · ")
    shown = _read_back(fig, browser)
    _title_ok(shown, "csat", f)
    by = Warehouse.open(duckdb_url).metric("csat", f, by=("channel",))
    labels = {fmt_metric(v, "csat") for v in by["value"].dropna()}
    channels = {t(f"channel.{c}", "zh") for c in by["channel"]}
    joined = " ".join(shown)
    assert len(labels) >= 2 and all(x in joined for x in labels), (labels, shown)
    assert all(c in joined for c in channels), (channels, shown)
