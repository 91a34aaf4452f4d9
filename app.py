"""Overview: headline KPIs against the comparison period and targets, and what moved most."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from metrics.analysis import league
from metrics.model.filters import add_months
from metrics.model.registry import get
from metrics.present import theme
from metrics.present.charts import core as charts
from metrics.present.formatting import direction, fmt_delta, fmt_metric
from servicewatch import ui
from servicewatch.kpis import comparison_note, missing_note, sample_note, status_badge, unsupported_note

KPIS = ("csat", "nps", "complaint_rate", "sla_resolution_compliance", "fcr_rate", "churn_rate", "active_customers")
MOVER_METRICS = ("complaint_rate", "csat", "nps", "sla_resolution_compliance", "fcr_rate", "churn_rate")

view = ui.page("nav.overview")
f = view.filters
trend_filters = f.with_(start=add_months(f.end.replace(day=1), -11), comparison="none")


def spark_note(spark: pd.DataFrame) -> str:
    """The card line's real window: its first and last month and how many months it shows."""
    months = pd.to_datetime(spark["month"]) if "month" in spark.columns else pd.Series(dtype="datetime64[ns]")
    if months.empty:
        return ""
    return view.t("page.overview.spark_note", start=f"{months.min():%Y-%m}", end=f"{months.max():%Y-%m}",
                  months=months.dt.to_period("M").nunique())

cols = st.columns(4)
shown = 0
for i, metric_id in enumerate(KPIS):
    m = get(metric_id)
    unsupported = unsupported_note(view, metric_id)  # the data cannot give it at all: say what is missing
    if unsupported:
        with cols[i % 4].container(border=True):
            st.metric(view.metric_label(metric_id), "—")
            st.caption(unsupported)
        continue
    df = view.compare(metric_id)
    with cols[i % 4].container(border=True):
        if df.empty or pd.isna(df["value"].iloc[0]):
            st.metric(view.metric_label(metric_id), "—")
            # a needed column unknown on every row says which; else the filters found nothing
            st.caption(missing_note(metric_id, df, view.lang) or view.t("common.no_data"))
            continue
        shown += 1
        row = df.iloc[0]
        target = view.target(metric_id)
        spark = view.metric(metric_id, ("month",), f=trend_filters)
        st.metric(
            view.metric_label(metric_id), fmt_metric(row["value"], metric_id, view.lang),
            delta=fmt_delta(row["delta"], m.unit),
            delta_color="normal" if m.higher_is_better is not False else "inverse",
            help=" · ".join(x for x in (
                f"{view.t('common.previous')}: {fmt_metric(row['value_cmp'], metric_id, view.lang)}"
                if pd.notna(row["value_cmp"]) else "", f"n = {row['n']:,.0f}", spark_note(spark)) if x),
            chart_data=charts.spark_values(spark, m.unit) if len(spark) > 1 else None, chart_type="line",
        )
        st.markdown(status_badge(view, metric_id, row, target))
        no_cmp = comparison_note(view, metric_id, row)
        if no_cmp:
            st.caption(no_cmp)
        note = sample_note(row, view.lang)
        if note:
            st.markdown(note)

if shown == 0:
    ui.empty_state(view)
    st.stop()

st.subheader(view.t("page.overview.movers"))
left, right = st.columns([1, 3])
metric_id = view.choice("metric", MOVER_METRICS, view.t("page.overview.movers_metric"), widget="selectbox", where=left,
                        format_func=view.metric_label)
dim = view.choice("dim", ("region", "tier", "channel"), view.t("page.overview.movers_by"), where=left,
                  format_func=lambda d: view.t(f"filter.{'city' if d == 'region' else d}"))
m = get(metric_id)
level = league.scope(f, view.regions)[1]  # districts of the chosen city, or of the user's one city
moves = view.compare(metric_id, (dim,), level)
comparable = moves.dropna(subset=["delta"]) if "delta" in moves.columns else moves
if comparable.empty:  # no group has an honest change: say why instead of plotting plain values
    reason = comparison_note(view, metric_id, moves.iloc[0]) if len(moves) else None
    right.info(view.t("no_comparison.movers_none", reason=reason) if reason else view.t("common.no_data"))
else:
    col = "region_id" if dim == "region" else dim
    dropped = len(moves) - len(comparable)
    moves = comparable.copy()
    moves["name"] = charts.category_names(dim, moves[col], view.lang, view.region_names)
    moves = moves.reindex(moves["delta"].abs().sort_values(ascending=False).index).head(8)
    moved = [direction(float(d), m.higher_is_better) for d in moves["delta"]]
    table = pd.DataFrame({
        view.t(f"filter.{'city' if dim == 'region' else dim}"): moves["name"],
        view.t("common.value"): [fmt_metric(v, metric_id, view.lang) for v in moves["value"]],
        view.t("common.previous"): [fmt_metric(v, metric_id, view.lang) for v in moves["value_cmp"]],
        view.t("common.delta"): [fmt_delta(v, m.unit) for v in moves["delta"]],
        view.t("page.overview.direction"): [view.t(f"page.overview.{d}") if d else "" for d in moved],
        view.t("common.n"): moves["n"].map("{:,.0f}".format),
    })
    right.dataframe(table, hide_index=True, width="stretch")
    title = f"{view.metric_label(metric_id)} — {view.t('page.overview.movers')}"
    fig = charts.bar_ci(moves.assign(value=moves["delta"], lower=float("nan"), upper=float("nan")), dim,
                        "share" if m.unit == "share" else m.unit, view.lang, title,
                        view.subtitle(with_comparison=True), view.region_names)
    bar = {"better": theme.STATUS["green"], "worse": theme.STATUS["red"]}
    fig.update_traces(marker_color=[bar.get(d, theme.STATUS["no_target"]) for d in moved],
                      selector={"type": "bar"})  # one group is drawn as a single value, not a bar
    with right:
        ui.chart(view, fig, moves.drop(columns=["name"]), "overview_movers", metrics=metric_id)
        if dropped:
            st.caption(view.t("no_comparison.movers_dropped", n=dropped))
st.caption(view.t("page.overview.footnote", days=(f.end - f.start + timedelta(days=1)).days))
