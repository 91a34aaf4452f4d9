"""The meeting pack's "where it is heading" (走势预测) page: for the headline KPIs with a target, the
current period's forecast sentence (:func:`metrics.present.forecast_text.period_sentence`: median,
80% and 95% intervals, the chance of meeting the target — the Overview card's verdict), the fan charts
of the first two; on a second page, for those the model, the back-test's error and coverage and how
the bands were calibrated on the series' own back-test. A KPI without a
target under the pack's filters is left out; one whose history is too short says why."""

from __future__ import annotations

import pandas as pd

from metrics.analysis import forecast as fcast
from metrics.analysis import forecast_backtest
from metrics.present import forecast_text as ft
from metrics.present.charts.forecast import fan
from metrics.report.context import Ctx
from metrics.report.model import Page

# in this order on the page: the Overview's KPIs with a target (a KPI without one under the filters is left out)
METRICS = ("sla_resolution_compliance", "complaint_rate", "csat", "nps", "fcr_rate", "churn_rate")
CHARTS = 2  # fan charts on the page (the layout of a section page)


def forecast_section(ctx: Ctx) -> list[Page]:
    """A page with a sentence per KPI of :data:`METRICS` with a target, two fan charts and how the
    verdicts are drawn; then a note page with the two charts' model, back-test and calibration lines."""
    page = Page("section", ctx.t("forecast.title"), ctx.subtitle())
    notes = []
    for metric_id in METRICS:
        if ctx.target(metric_id) is None:
            continue
        fc = fcast.forecast(ctx.wh, metric_id, ctx.f, ctx.targets, ctx.ancestors)
        page.sentences.append(ft.period_sentence(fc, ctx.metric_label(metric_id), ctx.lang))
        if fc.reason or len(page.charts) >= CHARTS:
            continue
        first = fc.periods.iloc[0]
        target = None if pd.isna(first["target"]) else float(first["target"])
        title = ctx.t("forecast.chart.title", metric=ctx.metric_label(metric_id))
        page.charts.append(ctx.chart(fan(fc.history, fc.months, ctx.unit(metric_id), ctx.lang, title, ctx.subtitle(),
                                         target=target), title))
        summary = forecast_backtest.backtest(ctx.wh, metric_id, ctx.f)
        notes.append(ctx.t("forecast.labelled", metric=ctx.metric_label(metric_id),
                           text=ctx.t("plain.part_sep").join((ft.model_line(fc, ctx.lang),
                                                              ft.backtest_line(summary, metric_id, ctx.lang),
                                                              ft.calibration_line(fc, ctx.lang)))))
    if not page.sentences:  # no headline KPI has a target under these filters
        return []
    page.sentences.append(ft.thresholds_line(ctx.lang))
    if not notes:
        return [page]
    # the charts' models, back-tests and calibration on a page of their own: on the chart page they
    # pushed the text off a slide
    return [page, Page("note", ctx.t("forecast.pack.details_title"), ctx.subtitle(), notes)]
