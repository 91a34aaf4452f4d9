"""Alerts: open alerts within the user's scope with their owner, the control chart of the one picked
(or of any rule in the scope), acknowledging it with a note, and the rules' history. A view: the logic is in
``servicewatch.alerts_panel`` over ``metrics.alerts``."""

from __future__ import annotations

import streamlit as st

from servicewatch import alerts_panel, ui

view = ui.page("page.alerts.title")
st.caption(view.t("page.alerts.caption"))
if "alerts_acked" in st.session_state:
    st.success(st.session_state.pop("alerts_acked"), icon=":material/done:")
alerts_panel.check_button(view)
found = alerts_panel.open_alerts(view)
charted = alerts_panel.chart_choice(view)  # a trend chart's button opens a metric's chart (metric=…)
if charted != alerts_panel.RULES_CHOICE:
    alerts_panel.view_chart(view, charted)
else:
    row = alerts_panel.pick(view, alerts_panel.chart_choices(view, found))  # open alerts first, then every rule
    if row is not None:
        alerts_panel.alert_chart(view, row)
        if row["open"]:
            alerts_panel.acknowledge_form(view, row)
alerts_panel.history(view)
