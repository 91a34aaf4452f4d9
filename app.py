"""Overview: headline KPIs against the comparison period and targets, and what moved most."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from metrics.analysis import league
from servicewatch import explain_panel, panels, ui

KPIS = ("csat", "nps", "complaint_rate", "sla_resolution_compliance", "fcr_rate", "churn_rate", "active_customers")
MOVER_METRICS = ("complaint_rate", "csat", "nps", "sla_resolution_compliance", "fcr_rate", "churn_rate")

view = ui.page("nav.overview")
f = view.filters

# -- the cards: value, change, last 12 months, status ------------------------------------------
cols = st.columns(4)
notes: list = []  # each card's notes (what drove it, what moves it, where it is heading): once every value is shown
shown = sum(panels.overview_card(view, cols[i % 4], metric_id, notes) for i, metric_id in enumerate(KPIS))
if shown == 0:
    ui.empty_state(view)
    st.stop()

# -- what moved most ---------------------------------------------------------------------------
st.subheader(view.t("page.overview.movers"))
left, right = st.columns([1, 3])
metric_id = view.choice("metric", MOVER_METRICS, view.t("page.overview.movers_metric"), widget="selectbox", where=left,
                        format_func=view.metric_label)
dim = view.choice("dim", ("region", "tier", "channel"), view.t("page.overview.movers_by"), where=left,
                  format_func=lambda d: view.t(f"filter.{'city' if d == 'region' else d}"))
dim_name = view.t(f"filter.{'city' if dim == 'region' else dim}")
level = league.scope(f, view.regions)[1]  # districts of the chosen city, or of the user's one city
try:
    panels.movers_panel(view, right, metric_id, dim, level, dim_name)
finally:  # the cards' notes into their places now (the movers' chart is drawn meanwhile), even after a stop
    for draw_notes in notes:
        draw_notes()
st.caption(view.t("page.overview.footnote", days=(f.end - f.start + timedelta(days=1)).days))

explain_panel.explain_section(view)  # what drove the change: rate and mix effects per dimension
