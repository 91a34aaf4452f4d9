"""The blocks pages are made of, so that a page only says what to show: a metric's bars by a
dimension (or the empty state), a list with its audited CSV download, and the Overview's cards and
movers. Numbers come from the engine; these only query, draw and offer the downloads."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext

import pandas as pd
import streamlit as st

from metrics.analysis import movers
from metrics.model.filters import Filters
from metrics.model.registry import dim_column, get
from metrics.present import theme
from metrics.present.charts import core as charts
from metrics.present.formatting import direction, fmt_delta, fmt_metric
from metrics.present.markup import md
from servicewatch import drivers_panel, explain_panel, forecast_panel
from servicewatch.downloads import list_download
from servicewatch.kpis import comparison_note, missing_note, sample_note, status_badge, unsupported_note
from servicewatch.tables import MISSING, fitted_columns
from servicewatch.ui import View, chart, empty_state

GROUPS = ("all", "known", "counted")  # bars_by: every group, those with a value of the dimension, and of those
                                      # the ones with observations


def bars_by(view: View, container, metric_id: str, dim: str, level: str = "city", title: str = "",
            target: float | None = None, *, f: Filters | None = None, key: str, metrics=(), select: bool = False,
            groups: str = "all") -> tuple[pd.DataFrame, list | None]:
    """``metric_id`` by ``dim`` (regions at ``level``) within ``f`` (default: the page's filters) as
    bars with 95% intervals and ``target``, with the chart's downloads (:func:`servicewatch.ui.chart`,
    ``metrics``: what they define, default the metric ids the key names), in ``container`` (None:
    where the page is); the empty state when no group is left. ``groups``: "all", "known" (a group
    without a value of the dimension left out) or "counted" (known and with observations). Returns
    the groups shown and, when ``select``, the picked points."""
    if groups not in GROUPS:
        raise ValueError(f"groups: one of {GROUPS}")
    df = view.metric(metric_id, (dim,), level, f=f)
    if groups != "all" and not df.empty:
        df = df[df[dim_column(dim)].notna() & ((df["n"] > 0) if groups == "counted" else True)]
    with container if container is not None else nullcontext():
        if df.empty:
            empty_state(view)
            return df, None
        fig = charts.bar_ci(df, dim, get(metric_id).unit, view.lang, title, view.subtitle(f=f), view.region_names,
                            target=target)
        return df, chart(view, fig, df, key, select=select, metrics=metrics, f=f)


def bars_side_by_side(view: View, metric_id: str, figures: Sequence[tuple[str, str, Filters, str]],
                      key: str) -> list[tuple[object, pd.DataFrame]]:
    """:func:`bars_by` of ``metric_id`` in two columns, one per (dimension, heading's catalogue key,
    filters, region level) of ``figures``: each headed by its heading, titled "<metric> · <heading>",
    keyed ``<key>_<dimension>``, its downloads defining the metric. Returns each column with its groups."""
    out = []
    for col, (dim, heading, flt, level) in zip(st.columns(len(figures)), figures, strict=True):
        with col:
            st.subheader(view.t(heading))
            title = f"{view.metric_label(metric_id)} · {view.t(heading)}"
            out.append((col, bars_by(view, None, metric_id, dim, level, title, view.target(metric_id, flt), f=flt,
                                     key=f"{key}_{dim}", metrics=metric_id)[0]))
    return out


def trend(view: View, metric_id: str, title: str, f: Filters | None = None, *, key: str, target: float | None = None,
          frame: pd.DataFrame | None = None) -> None:
    """``metric_id`` by month within ``f`` (default: the page's filters; ``frame``: that, when the page
    has it already) as a line with its ``target`` and the chart's downloads; the empty state when
    there is no month."""
    frame = view.metric(metric_id, ("month",), f=f) if frame is None else frame
    if frame.empty:
        empty_state(view)
        return
    fig = charts.trend(frame, get(metric_id).unit, view.lang, title, view.subtitle(f=f), target=target)
    chart(view, fig, frame, key, metrics=metric_id, f=f)
    from servicewatch.control_link import control_button  # the metric's control chart on the Alerts page

    control_button(view, metric_id, key)


def table(shown: pd.DataFrame, config=None, pin: int = 1, **kwargs):
    """A table as shown (headers and values already in the page's language), its columns as wide as
    their cells (``config``: number formats; ``pin``: key columns kept in view), missing cells "—";
    ``kwargs``: more of ``st.dataframe``'s arguments (a height, a selectable list). Returns its event."""
    return st.dataframe(shown, hide_index=True, width="stretch", placeholder=MISSING,
                        column_config=fitted_columns(shown, config, pin=pin), **kwargs)


def headed_table(where, heading: str, rows: pd.DataFrame, show: Callable[[pd.DataFrame], pd.DataFrame], none: str,
                 height: int = 320) -> None:
    """In ``where``: ``heading``, then ``show(rows)`` as a :func:`table`, or the line ``none`` when
    there are no rows."""
    with where:
        st.subheader(heading)
        if rows.empty:
            st.caption(none)
        else:
            table(show(rows), height=height)


def rows_height(shown: pd.DataFrame, most: int) -> int:
    """A list's height in pixels that shows all of ``shown``'s rows (a 40 px header, 35 px a row), at
    most ``most`` (then it scrolls)."""
    return min(most, 40 + 35 * len(shown))


def listing(view: View, shown: pd.DataFrame, file_stem: str, csv_key: str, audit_name: str, config=None,
            pin: int = 1, height: int = 360, export: Mapping | None = None, **kwargs):
    """A list (:func:`table`) and under it its CSV and Excel downloads as shown (the CSV button's
    widget key ``csv_key``), recorded in the audit log as ``audit_name``
    (:func:`servicewatch.downloads.list_download`; ``export``: its columns, metrics, f and title).
    Returns the table's event."""
    event = table(shown, config, pin, height=height, **kwargs)
    list_download(view, shown, file_stem, csv_key, audit_name, **(export or {}))
    return event


# -- the Overview -------------------------------------------------------------------------------
def spark_note(view: View, spark: pd.DataFrame) -> str:
    """The card line's real window: its first and last month and how many months it shows."""
    months = pd.to_datetime(spark["month"]) if "month" in spark.columns else pd.Series(dtype="datetime64[ns]")
    if months.empty:
        return ""
    return view.t("page.overview.spark_note", start=f"{months.min():%Y-%m}", end=f"{months.max():%Y-%m}",
                  months=months.dt.to_period("M").nunique())


def overview_card(view: View, container, metric_id: str, later: list[Callable[[], None]] | None = None) -> bool:
    """One bordered Overview card: value, change, comparison value, n and the last 12 months as a line
    (:meth:`Filters.last_months`), the status badge, the notes and, for a KPI with a target, where it
    is heading (:func:`servicewatch.forecast_panel.card_forecast`) and what drove its change
    (:func:`servicewatch.explain_panel.card_sentence`), for a satisfaction score what moves it most
    (:func:`servicewatch.drivers_panel.card_line`); "—" and the reason when the data
    cannot give the metric or the filters found nothing. Returns whether a value was shown. With
    ``later`` the card's notes below the badge (each an engine model: decomposition, key drivers,
    forecast) are appended to it as a function that draws them into their place, for the page to call
    once every card's value is on screen."""
    m = get(metric_id)
    unsupported = unsupported_note(view, metric_id)  # the data cannot give it at all: say what is missing
    df = None if unsupported else view.compare(metric_id)
    with container.container(border=True):
        if unsupported or df.empty or pd.isna(df["value"].iloc[0]):
            st.metric(view.metric_label(metric_id), "—")
            # a needed column unknown on every row says which; else the filters found nothing
            st.caption(unsupported or missing_note(metric_id, df, view.lang) or view.t("common.no_data"))
            return False
        row = df.iloc[0]
        spark = view.metric(metric_id, ("month",), f=view.filters.last_months(12))
        st.metric(
            view.metric_label(metric_id), fmt_metric(row["value"], metric_id, view.lang),
            delta=fmt_delta(row["delta"], m.unit),
            delta_color="normal" if m.higher_is_better is not False else "inverse",
            help=" · ".join(x for x in (
                f"{view.t('common.previous')}: {fmt_metric(row['value_cmp'], metric_id, view.lang)}"
                if pd.notna(row["value_cmp"]) else "", f"n = {row['n']:,.0f}", spark_note(view, spark)) if x),
            chart_data=charts.spark_values(spark, m.unit) if len(spark) > 1 else None, chart_type="line",
        )
        st.markdown(status_badge(view, metric_id, row, view.target(metric_id)))
        notes = st.container()

    def draw_notes() -> None:
        with notes:
            _card_notes(view, metric_id, row)

    if later is None:
        draw_notes()
    else:
        later.append(draw_notes)
    return True


def _card_notes(view: View, metric_id: str, row: pd.Series) -> None:
    """An Overview card below its badge: what drove the change, what moves it, the sample note, where
    it is heading and the button to its control chart."""
    no_cmp = comparison_note(view, metric_id, row)
    if no_cmp:
        st.caption(no_cmp)
    else:  # what drove the change: the largest contribution beyond noise (the Overview's section has the rest)
        drove = explain_panel.card_sentence(view, metric_id)
        if drove:
            st.caption(md(drove))  # names from the data: text, never markup
    drivers = drivers_panel.card_line(view, metric_id)  # what moves a satisfaction score most
    if drivers:
        st.caption(md(drivers))
    small = sample_note(row, view.lang)
    if small:
        st.markdown(small)
    forecast_panel.card_forecast(view, metric_id)  # where it is heading: the line, the fan chart behind it
    from servicewatch.control_link import control_button  # the card's line as a control chart (Alerts page)

    control_button(view, metric_id, f"overview_card_{metric_id}")


def movers_panel(view: View, where, metric_id: str, dim: str, level: str, dim_label: str) -> None:
    """What moved most in ``where``: the groups of ``dim`` (regions at ``level``) with the largest
    change against the comparison period (:func:`metrics.analysis.movers.top_moves`) as a table and
    as bars coloured better/worse; why, when no group has an honest change."""
    m = get(metric_id)
    compared = view.compare(metric_id, (dim,), level)
    moves, dropped = movers.top_moves(compared)
    if moves.empty:  # no group has an honest change: say why instead of plotting plain values
        reason = comparison_note(view, metric_id, compared.iloc[0]) if len(compared) else None
        where.info(view.t("no_comparison.movers_none", reason=reason) if reason else view.t("common.no_data"))
        return
    names = charts.category_names(dim, moves["region_id" if dim == "region" else dim], view.lang, view.region_names)
    moved = [direction(float(d), m.higher_is_better) for d in moves["delta"]]
    where.dataframe(pd.DataFrame({
        dim_label: names,
        view.t("common.value"): [fmt_metric(v, metric_id, view.lang) for v in moves["value"]],
        view.t("common.previous"): [fmt_metric(v, metric_id, view.lang) for v in moves["value_cmp"]],
        view.t("common.delta"): [fmt_delta(v, m.unit) for v in moves["delta"]],
        view.t("page.overview.direction"): [view.t(f"page.overview.{d}") if d else "" for d in moved],
        view.t("common.n"): moves["n"].map("{:,.0f}".format),
    }), hide_index=True, width="stretch")
    title = f"{view.metric_label(metric_id)} — {view.t('page.overview.movers')}"
    fig = charts.bar_ci(moves.assign(value=moves["delta"], lower=float("nan"), upper=float("nan")), dim,
                        "share" if m.unit == "share" else m.unit, view.lang, title,
                        view.subtitle(with_comparison=True), view.region_names)
    bar = {"better": theme.STATUS["green"], "worse": theme.STATUS["red"]}
    fig.update_traces(marker_color=[bar.get(d, theme.STATUS["no_target"]) for d in moved],
                      selector={"type": "bar"})  # one group is drawn as a single value, not a bar
    with where:
        chart(view, fig, moves, "overview_movers", metrics=metric_id)
        if dropped:
            st.caption(view.t("no_comparison.movers_dropped", n=dropped))
