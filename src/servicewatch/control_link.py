"""From a trend chart to the control chart of the same metric and slice on the Alerts page.

Under every trend chart of a process measure (shares, rates, means, quantiles, NPS: not counts, sums
or stocks) a button opens the Alerts page with the page's filters and ``metric=<id>`` in the URL
(:mod:`servicewatch.url_state`: ``metric`` is a choice of the Alerts page), so the link can also be
shared; the Alerts page then draws that metric's control chart over the 24 months to the period's end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from metrics.model.registry import METRICS
from servicewatch import url_state

if TYPE_CHECKING:
    from servicewatch.ui import View

ALERTS_PAGE = "pages/9_Alerts.py"
ALERTS_KEY = "page.alerts.title"
CHARTABLE = tuple(m.id for m in METRICS if m.kind not in ("count", "sum", "stock"))


def alerts_query(metric_id: str) -> dict[str, str]:
    """The Alerts page's query string showing ``metric_id``'s control chart under this run's filters."""
    return {**st.session_state.get(url_state.FILTER_QUERY, {}), "metric": metric_id}


def control_button(view: View, metric_id: str, key: str) -> None:
    """The button under a trend chart (nothing for a metric without a control chart)."""
    if metric_id not in CHARTABLE:
        return
    if st.button(view.t("alerts.control_link"), key=f"{key}_control", icon=":material/query_stats:",
                 help=view.t("alerts.control_link_help", metric=view.metric_label(metric_id)), width="content"):
        # a page switch within the session reads the page's choices from the session, a link from the URL
        st.session_state.setdefault(url_state.CHOICES, {}).setdefault(ALERTS_KEY, {})["metric"] = metric_id
        st.switch_page(ALERTS_PAGE, query_params=alerts_query(metric_id))
