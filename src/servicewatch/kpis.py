"""KPI cards: a metric's value with its change against the comparison period and its target, and
below it what drove the change and where it is heading (:func:`card_notes`, drawn after the cards)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from metrics.analysis import coverage, drill
from metrics.analysis.coverage import missing_text
from metrics.analysis.subtitles import no_comparison_text
from metrics.model.filters import Filters
from metrics.model.i18n import t
from metrics.model.registry import get
from metrics.present.formatting import fmt_delta, fmt_metric
from metrics.present.markup import md
from servicewatch.ui import View, chart, empty_state

SMALL_SAMPLE = 30  # answers, tickets or customers behind a rate or mean: fewer, and the card says so


def sample_note(row: pd.Series | None, lang: str) -> str | None:
    """A warning badge for a card whose figure rests on fewer than :data:`SMALL_SAMPLE` observations;
    only figures that carry a 95% interval (rates and means; counts and sums are what they are)."""
    if row is None or pd.isna(row.get("lower")) or pd.isna(row.get("n")) or row["n"] >= SMALL_SAMPLE:
        return None
    return f":orange-badge[{t('common.small_sample', lang, n=int(row['n']))}]"


def missing_note(metric_id: str, frame: pd.DataFrame, lang: str) -> str | None:
    """For a one-row frame whose figure the data cannot give (a needed column unknown on every row:
    ``missing``), the card's line "no data: the imported tickets have no … column"; else None."""
    if frame.empty or "missing" not in frame.columns:
        return None
    missing = frame["missing"].iloc[0]
    return missing_text(metric_id, missing, lang) if isinstance(missing, str) and missing else None


def unsupported_note(view: View, metric_id: str) -> str | None:
    """"no data: the imported tickets have no revisited_at column" when the loaded data cannot give
    ``metric_id`` under any filter (a needed table empty or column unknown on every row:
    :func:`metrics.analysis.coverage.coverage`, one cached call per data version and language); else
    None. A card shows it instead of a 0% the data never said."""
    try:
        covered = view.call(coverage.coverage, view.lang)
    except Exception:  # noqa: BLE001 - the coverage is a courtesy: without it the card shows its figure
        return None
    row = covered[covered["metric"] == metric_id]
    if row.empty or bool(row["supported"].iloc[0]):
        return None
    return t("coverage.no_data", view.lang, reason=row["note"].iloc[0])


def comparison_note(view: View, metric_id: str, row: pd.Series | None, f: Filters | None = None) -> str | None:
    """"无对比：对比期（…）没有数据" for a compare row whose change cannot be shown (``no_cmp``,
    :mod:`metrics.query.comparable`), in place of a delta; None when it has one or none was asked."""
    if row is None:
        return None
    first = None
    if row.get("no_cmp") == "before_data" or row.get("no_cmp") == "no_data":
        first = view.call("first_records").get(get(metric_id).source)
    return no_comparison_text(row, f or view.filters, view.lang, first)


def status_badge(view: View, metric_id: str, row: pd.Series | None, target: float | None) -> str:
    """The card's status badge, the Overview's: ":green-badge[达标 · 目标 95.0%]" from the value, its 95%
    interval and the target (:func:`metrics.analysis.drill.status`); "无目标" when none applies."""
    m = get(metric_id)
    value = None if row is None else row["value"]
    lower, upper = (None, None) if row is None else (row.get("lower"), row.get("upper"))
    key = drill.status(value, target, m.higher_is_better, lower, upper)
    colour = {"green": "green", "amber": "orange", "red": "red"}.get(key, "gray")
    text = view.t("status." + key)
    if target is not None:
        text += f" · {view.t('common.target')} {fmt_metric(target, metric_id, view.lang)}"
    return f":{colour}-badge[{text}]"


def kpi(container, view: View, metric_id: str, frame: pd.DataFrame, target: float | None = None,
        label: str | None = None) -> pd.Series | None:
    """``st.metric`` for the one-row compare frame of ``metric_id``: value, delta, and in the help
    text the sample size, 95% interval, comparison value and target status; "—" and the reason when
    the data cannot give the metric at all (:func:`unsupported_note`). Returns the row shown (None:
    no value)."""
    m = get(metric_id)
    unit = f" ({view.t(f'unit.{m.unit}')})" if m.unit in ("per_1000_customer_months", "points") else ""
    unsupported = unsupported_note(view, metric_id)
    if unsupported:
        container.metric((label or view.metric_label(metric_id)) + unit, "—")
        container.caption(unsupported)
        return None
    row = frame.iloc[0] if len(frame) else None
    value = None if row is None else float(row["value"])
    delta = None if row is None or "delta" not in row.index else float(row["delta"])
    lines = []
    if row is not None:
        lines.append(f"{view.t('common.n')}: {int(row['n']):,}" if pd.notna(row["n"]) else "")
        if pd.notna(row.get("lower")):
            lo, hi = (fmt_metric(row[c], metric_id, view.lang) for c in ("lower", "upper"))
            lines.append(f"95%: {lo} – {hi}")
        if "value_cmp" in row.index and pd.notna(row["value_cmp"]):
            lines.append(f"{view.t('common.previous')}: {fmt_metric(row['value_cmp'], metric_id, view.lang)}")
    if target is not None:
        st_key = drill.status(value, target, m.higher_is_better, row.get("lower") if row is not None else None,
                        row.get("upper") if row is not None else None)
        goal = fmt_metric(target, metric_id, view.lang)
        lines.append(f"{view.t('common.target')}: {goal} · {view.t(f'status.{st_key}')}")
    colour = "off" if m.higher_is_better is None else ("normal" if m.higher_is_better else "inverse")
    container.metric((label or view.metric_label(metric_id)) + unit, fmt_metric(value, metric_id, view.lang),
                     fmt_delta(delta, m.unit), delta_color=colour, help="  \n".join(x for x in lines if x) or None)
    if target is not None and value is not None and not pd.isna(value):
        container.markdown(status_badge(view, metric_id, row, target))
    no_cmp = comparison_note(view, metric_id, row)
    if no_cmp:
        container.caption(no_cmp)
    missing = missing_note(metric_id, frame, view.lang)
    if missing:
        container.caption(missing)
    note = sample_note(row, view.lang)
    if note:
        container.markdown(note)
    return None if value is None or pd.isna(value) else row


def card_notes(view: View, metric_id: str, row: pd.Series, f: Filters, targeted: bool) -> None:
    """Below a card's figures, the Overview card's lines: what drove the change (the largest
    contribution beyond noise, :func:`servicewatch.explain_panel.card_sentence`; not when the change
    cannot be shown) and, for a card with its target, where it is heading
    (:func:`servicewatch.forecast_panel.card_forecast`), both engine calls cached by ``f``."""
    from servicewatch import explain_panel, forecast_panel

    if not comparison_note(view, metric_id, row, f):
        drove = explain_panel.card_sentence(view, metric_id, f)
        if drove:
            st.caption(md(drove))  # names from the data: text, never markup
    if targeted:
        forecast_panel.card_forecast(view, metric_id, f)


def show_chart(view: View, data: pd.DataFrame, make: Callable[[], go.Figure], key: str, select: bool = False,
               metrics: Iterable[str] | str = (), f: Filters | None = None):
    """The figure from ``make()`` with its downloads, or the empty state when ``data`` is empty;
    ``metrics`` and ``f``: what the downloads say they show (:func:`servicewatch.ui.chart`)."""
    if data is None or data.empty:
        empty_state(view)
        return None
    return chart(view, make(), data, key, select=select, metrics=metrics, f=f)


def kpi_row(view: View, metric_ids: Iterable[str], f: Filters | None = None, targeted: Iterable[str] | None = None,
            labels: dict[str, str] | None = None, later: list[Callable[[], None]] | None = None) -> None:
    """A row of :func:`kpi` cards, one per metric, each against the comparison period within ``f``
    (default: the page's filters); a card of ``targeted`` (default: every one) with its target. Each
    card's :func:`card_notes` (engine models: a decomposition, a forecast) are drawn into their place
    below it once every card of the row is drawn, or, with ``later``, appended to it for the page to
    call once the rest of its first screen is drawn: the cards never wait for the models."""
    metric_ids = tuple(metric_ids)
    targeted = metric_ids if targeted is None else tuple(targeted)
    f = view.filters if f is None else f
    pending = []
    for col, mid in zip(st.columns(len(metric_ids)), metric_ids, strict=True):
        target = view.target(mid, f) if mid in targeted else None
        row = kpi(col, view, mid, view.compare(mid, f=f), target, (labels or {}).get(mid))
        if row is not None:
            pending.append((col.container(), mid, row, target is not None))

    def draw(where, mid: str, row: pd.Series, has_target: bool) -> None:
        with where:
            card_notes(view, mid, row, f, has_target)

    draws = [lambda a=a: draw(*a) for a in pending]
    if later is None:
        for fn in draws:
            fn()
    else:
        later.extend(draws)
