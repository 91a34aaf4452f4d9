"""The Alerts page's parts: open alerts within the user's scope with their owner, the control chart of
the one picked, acknowledging it with a note (audited), and the history of every rule.

Alerts are recorded by ``servicewatch alerts check`` (cron, the worker, ``servicewatch demo``) or the
page's "check now" button (:func:`metrics.alerts.evaluate`); the page reads them afresh on every run
(an acknowledgement shows at once), the control charts through the cache."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from metrics import alert_rules as rule_store
from metrics import alerts
from metrics.access import audit
from metrics.analysis import alert_checks, control, plain
from metrics.analysis.subtitles import scope_text
from metrics.backends.connect import resolve_url
from metrics.model.filters import Filters, add_months
from metrics.model.registry import get
from metrics.present.charts.control import control_chart
from metrics.present.formatting import fmt_metric
from servicewatch.tables import MISSING, fitted_columns

if TYPE_CHECKING:
    from servicewatch.ui import View

OPEN_COLUMNS = ("metric", "slice", "kind", "period", "value", "centre", "lower", "upper", "n", "signal", "owner",
                "fired_at")
DONE_COLUMNS = ("metric", "slice", "period", "signal", "acknowledged_by", "acknowledged_at", "note")


def _scope(view: View):
    return view.filters.scope


def slice_filters(view: View, query: dict, period: date, grain: str = "month") -> Filters:
    """A rule's slice over the control chart's window: the 24 months to the end of ``period``'s month
    (``grain="week"``: the 52 weeks to the end of ``period``'s week, no later than the as-of); under the
    user's scope, so that the chart and its download show what the rest of the app shows them (a
    viewer's small groups withheld, a hall manager's customer figures none)."""
    first, scope = pd.Timestamp(period).date(), _scope(view)
    if grain == "week":
        end = min(first + pd.Timedelta(days=6).to_pytimedelta(), view.as_of)
        return rule_store.rule_filters(view.wh, query, alert_checks.window_start(first, "week"), end, end, scope)
    end = (pd.Timestamp(period) + pd.offsets.MonthEnd(0)).date()
    start = add_months(first.replace(day=1), -(alert_checks.WINDOW_MONTHS - 1))
    return rule_store.rule_filters(view.wh, query, start, end, end, scope)


def described(events: pd.DataFrame, view: View) -> pd.DataFrame:
    """Recorded alerts with ``metric_label`` and ``slice`` in words (the page's language)."""
    out = events.copy()
    out["metric_label"] = [view.metric_label(m) for m in out["metric"]]
    out["slice"] = [scope_text(slice_filters(view, q, p, g), view.lang, view.region_names)
                    for q, p, g in zip(out["filters"], out["period"], alerts.grains_of(out), strict=True)]
    return out


def check_button(view: View) -> None:
    """Run every rule within the user's scope now and record what fires."""
    if st.button(view.t("page.alerts.check"), key="alerts_check", icon=":material/refresh:"):
        found = alerts.evaluate(view.wh, scope=_scope(view), lang=view.lang)
        st.success(view.t("page.alerts.checked", n=len(found)))


def open_alerts(view: View) -> pd.DataFrame:
    """The open alerts table; returns the open alerts (described)."""
    st.subheader(view.t("page.alerts.open"))
    found = alerts.events(view.wh, _scope(view), open_only=True)
    if found.empty:
        st.success(view.t("alerts.none"), icon=":material/check_circle:")
        return found
    found = described(found, view)
    table = alerts.readable(found, view.lang, OPEN_COLUMNS)
    st.dataframe(table, hide_index=True, width="stretch", placeholder=MISSING,
                 column_config=fitted_columns(table, pin=2), key="alerts_open")
    _download(view, table, "open", "alerts_open_csv")
    return found


def chart_choices(view: View, found: pd.DataFrame) -> pd.DataFrame:
    """What the chart can show: the open alerts first, then every other rule within the scope (its
    chart for the month of the data's as-of); ``open`` says which is which."""
    rules = rule_store.rules(view.wh, _scope(view))
    rules = rules[~rules["rule_id"].isin(set(found["rule_id"]) if len(found) else set())]
    others = rules[["rule_id", "metric", "filters", "grain"]].assign(
        period=[alert_checks.period_start(view.as_of, g) for g in rules["grain"]])
    if len(others):
        others = described(others, view)
    out = pd.concat([found.assign(open=True), others.assign(open=False)], ignore_index=True) if len(found) else \
        others.assign(open=False)
    return out.reset_index(drop=True)


def pick(view: View, choices: pd.DataFrame) -> pd.Series | None:
    """A select box of :func:`chart_choices`; the row picked."""
    if choices.empty:
        return None
    mark = view.t("page.alerts.open_mark")
    labels = {i: f"{r.metric_label} · {r.slice} · {str(r.period)[:10 if g == 'week' else 7]}"
              + (f" · {mark}" if r.open else "") for i, (r, g) in enumerate(zip(choices.itertuples(),
                                                                               alerts.grains_of(choices), strict=True))}
    codes = {i: f"{r.rule_id}.{str(r.period)[:10 if g == 'week' else 7]}"  # in the link: alert=rule.period
             for i, (r, g) in enumerate(zip(choices.itertuples(), alerts.grains_of(choices), strict=True))}
    picked = view.choice("alert", list(labels), view.t("page.alerts.pick"), widget="selectbox",
                         to_url=codes.get, format_func=labels.get)
    return choices.iloc[picked]


RULES_CHOICE = "rules"  # the chart choice of the alerts and rules (the page's default)


def chart_choice(view: View) -> str:
    """What the page charts: the alerts and rules (default), or one metric's control chart under the
    page's filters (``metric=`` in the URL: the button under every trend chart,
    :mod:`servicewatch.control_link`)."""
    from servicewatch.control_link import CHARTABLE

    return view.choice("metric", [RULES_CHOICE, *CHARTABLE], view.t("alerts.control.pick"), RULES_CHOICE,
                       widget="selectbox", format_func=lambda m: view.t("alerts.control.rules") if m == RULES_CHOICE
                       else view.metric_label(m))


def view_chart(view: View, metric_id: str) -> None:
    """The control chart of ``metric_id`` under the page's filters, over the 24 months to the end of
    their period (no comparison)."""
    end = view.filters.end
    f = view.filters.with_(start=add_months(end.replace(day=1), -(alert_checks.WINDOW_MONTHS - 1)),
                           comparison="none")
    st.caption(view.md("alerts.control.of_view", metric=view.metric_label(metric_id)))
    _draw(view, metric_id, view.metric_label(metric_id), scope_text(f, view.lang, view.region_names), f,
          f"control_view_{metric_id}")


def alert_chart(view: View, row: pd.Series) -> None:
    """The control chart of one alert's metric and slice, over the 24 months to its month."""
    grain = row.get("grain") or "month"
    f = slice_filters(view, row["filters"], row["period"], grain)
    known = rule_store.rules(view.wh).set_index("rule_id")
    rule = known.loc[row["rule_id"]] if row["rule_id"] in known.index else None
    stored = rule["baseline"] if rule is not None and rule["kind"] == "control" else None
    if stored is not None and stored[0] < f.start:  # the rule's own baseline, older than the window: shown too
        f = f.with_(start=alert_checks.period_start(stored[0], grain))
    _draw(view, row["metric"], row["metric_label"], row["slice"], f, f"control_{row['rule_id']}", grain,
          stored=stored, rule_id=row["rule_id"] if rule is not None and rule["kind"] == "control" else None,
          owner=None if rule is None else str(rule["owner"]))


def _may_change_rule(view: View, owner: str | None) -> bool:
    """Who may store a rule's baseline: its owner and admins (:func:`metrics.alerts.set_baseline` checks
    it too), everyone without sign-in (the operator's own dashboard)."""
    return view.user is None or view.user.role == "admin" or view.user.name == owner


def _draw(view: View, metric_id: str, label: str, slice_text: str, f: Filters, key: str, grain: str = "month",
          stored: tuple[date, date] | None = None, rule_id: str | None = None, owner: str | None = None) -> None:
    """A control chart with its baseline slider (the baseline's last period movable) and downloads; for
    an alert rule's chart (``rule_id``) the rule's own baseline (``stored``) to start from, and a button
    that makes the slider's baseline the rule's (what its checks judge by)."""
    chart = view.call(control.for_metric, metric_id, f, grain=grain, baseline=stored) if stored else None
    chart = chart if chart is not None else view.call(control.for_metric, metric_id, f, grain=grain)
    months = [pd.Timestamp(p).date() for p in chart.points["period"]]
    if chart.baseline is not None and len(months) > control.MIN_BASELINE:
        # the baseline the limits come from: seen on the chart, its last month movable (reset: the default)
        last = st.select_slider(view.t("page.alerts.baseline_end"), months[control.MIN_BASELINE - 1:],
                                value=chart.baseline[1],
                                format_func=lambda d: d.strftime("%Y-%m-%d" if grain == "week" else "%Y-%m"),
                                key=f"alerts_baseline_{key.removeprefix('control_')}")
        if last != chart.baseline[1]:
            chart = view.call(control.for_metric, metric_id, f, grain=grain, baseline=(months[0], last))
        if rule_id is not None and _may_change_rule(view, owner):
            _baseline_buttons(view, rule_id, (months[0], last), stored, grain, f"{label} · {slice_text}")
    m = get(metric_id)
    title = view.t("page.alerts.chart", metric=label, slice=slice_text)
    kind_note = view.t(f"alerts.chart_kind_{chart.kind}")
    reading = plain.control_reading(chart.points, lambda v: fmt_metric(v, metric_id, view.lang), view.lang, grain,
                                    chart.min_n)
    if reading:  # the plain line first; the chart kind, 3σ and the rules behind the expander below
        st.markdown(reading)
    fig = control_chart(chart.points, m.unit, view.lang, title, view.t("plain.control.usual"), kind=chart.kind,
                        baseline=chart.baseline, min_n=chart.min_n)
    data = chart.points[["period", "value", "n", "centre", "lcl", "ucl"]].rename(columns={"period": grain})
    data["signal"] = [alerts.signal_text(r, view.lang) for r in chart.points["rules"]]  # the rules in words
    from servicewatch import ui

    ui.chart(view, fig, data, key, metrics=metric_id, f=f)
    with st.expander(view.t("plain.details")):
        st.caption(view.t("plain.control.method", kind=kind_note))


def _baseline_buttons(view: View, rule_id: str, shown_base: tuple[date, date], stored: tuple[date, date] | None,
                      grain: str, what: str) -> None:
    """Store the slider's baseline as the rule's, or put the rule back on the default; audited."""
    fmt = "%Y-%m-%d" if grain == "week" else "%Y-%m"
    text = f"{shown_base[0]:{fmt}} – {shown_base[1]:{fmt}}"
    cols = st.columns(2)
    chosen = None
    if stored != shown_base and cols[0].button(view.t("page.alerts.baseline_save", base=text),
                                               key=f"alerts_base_save_{rule_id}", icon=":material/save:"):
        chosen = shown_base
    elif stored is not None and cols[1].button(view.t("page.alerts.baseline_default"),
                                               key=f"alerts_base_default_{rule_id}", icon=":material/restart_alt:"):
        chosen = ()
    else:
        if stored is not None:
            st.caption(view.t("page.alerts.baseline_stored", base=f"{stored[0]:{fmt}} – {stored[1]:{fmt}}"))
        return
    who = view.user.name if view.user is not None else audit.cli_user(None)
    rule_store.set_baseline(view.wh, rule_id, chosen or None, user=view.user.name if view.user is not None else None,
                        admin=view.user is None or view.user.role == "admin")
    audit.record_safely(resolve_url(), who, "alert_rule",
                        {"rule_id": rule_id, "baseline": f"{chosen[0]:%Y-%m-%d}:{chosen[1]:%Y-%m-%d}" if chosen
                         else None})
    st.session_state["alerts_acked"] = view.md("page.alerts.baseline_saved" if chosen else "page.alerts.baseline_reset",
                                               rule=what)  # names from the data escaped: shown as markdown
    st.rerun()


def acknowledge_form(view: View, row: pd.Series) -> None:
    """A note and a button; the acknowledgement is recorded with the user and audited."""
    with st.form(key=f"ack_{row['rule_id']}", border=True):
        note = st.text_area(view.t("page.alerts.note"), key="alerts_note", max_chars=500)
        done = st.form_submit_button(view.t("page.alerts.ack"), icon=":material/done:")
    if not done:
        return
    if not note.strip():
        st.warning(view.t("page.alerts.note_required"))
        return
    who = view.user.name if view.user is not None else audit.cli_user(None)
    period = pd.Timestamp(row["period"]).date()
    n = alerts.acknowledge(view.wh, row["rule_id"], who, note.strip(), scope=_scope(view), period=period)
    audit.record_safely(resolve_url(), who, "alert_ack",
                        {"rule_id": row["rule_id"], "period": period.isoformat(), "acknowledged": n, "note": note})
    # the rule by its metric and slice in words (its id is a code: no Latin on a Chinese page)
    st.session_state["alerts_acked"] = view.md("alerts.acked", rule=f"{row['metric_label']} · {row['slice']}", n=n)
    st.rerun()


def history(view: View) -> None:
    """Per rule: last run, month, fired, alerts recorded and open; then the acknowledged alerts."""
    st.subheader(view.t("page.alerts.history"))
    runs = alerts.history(view.wh, _scope(view))
    if runs.empty:
        st.info(view.t("page.alerts.no_rules"))
        return
    rules = rule_store.rules(view.wh, _scope(view))
    month = view.as_of.replace(day=1)
    slices = {rid: scope_text(slice_filters(view, q, month), view.lang, view.region_names)
              for rid, q in zip(rules["rule_id"], rules["filters"], strict=True)}
    runs = runs.assign(metric=[view.metric_label(m) for m in runs["metric"]],
                       slice=[slices.get(r, "") for r in runs["rule_id"]],
                       kind=[view.t(f"alerts.kind.{k}") for k in runs["kind"]],
                       owner=[rule_store.owner_label(o, view.lang) for o in runs["owner"]],
                       ran_at=pd.to_datetime(runs["ran_at"]).dt.strftime("%Y-%m-%d %H:%M"),
                       period=pd.to_datetime(runs["period"]).dt.strftime("%Y-%m"),
                       fired=[MISSING if pd.isna(v) else view.t("export.yes" if v else "export.no")
                              for v in runs["fired"]])
    cols = ("metric", "slice", "kind", "owner", "ran_at", "period", "fired", "alerts", "open")  # rule ids: codes
    table = runs[list(cols)].rename(columns={c: view.t(f"alerts.col.{c}") for c in cols})
    st.dataframe(table, hide_index=True, width="stretch", placeholder=MISSING,
                 column_config=fitted_columns(table, pin=2), key="alerts_history")
    _download(view, table, "history", "alerts_history_csv")
    done = alerts.events(view.wh, _scope(view), figures=False)  # no figures shown
    done = done[done["acknowledged_at"].notna()]
    if len(done):
        st.subheader(view.t("page.alerts.acknowledged"))
        table = alerts.readable(described(done, view), view.lang, DONE_COLUMNS)
        st.dataframe(table, hide_index=True, width="stretch", placeholder=MISSING,
                     column_config=fitted_columns(table, pin=2), key="alerts_done")
        _download(view, table, "done", "alerts_done_csv")


def _download(view: View, table: pd.DataFrame, name: str, key: str) -> None:
    """A table of the page as shown, as CSV and Excel with the header block (audited). The alerts are
    the scope's, whatever the filters: the block names the data's whole span, no comparison."""
    from servicewatch.downloads import list_download

    first, last = view.wh.data_span()
    whole = Filters(first or last, last, as_of=view.as_of, comparison="none", scope=view.filters.scope)
    list_download(view, table, view.t(f"table_exports.alerts.{name}_file"), key, f"{key.removesuffix('_csv')}.csv",
                  f=whole, title=view.t(f"table_exports.alerts.{name}_title"))
