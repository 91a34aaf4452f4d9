"""Account managers (客户经理) and visits (走访), issue 18: the league of managers in the user's scope
with 95% intervals, one manager's customers with the six-month spend trend and visit coverage (an
account manager sees only their own), and whether the retention actions worked against a random
holdout; the enterprise customers' health score. A view: the numbers come from the engine
(``metrics.analysis.portfolio``, ``metrics.churn.action_effect``, ``metrics.analysis.health``); the
Streamlit code is in ``servicewatch.portfolio_panel`` and ``servicewatch.health_panel``."""

from __future__ import annotations

import streamlit as st

from servicewatch import health_panel, portfolio_panel, ui

view = ui.page("page.portfolio.title")
st.caption(view.t("page.portfolio.intro"))

section = ui.sections(view, ("league", "customers", "health", "effect"))
if section == "league":
    portfolio_panel.league(view)
elif section == "customers":
    portfolio_panel.customers(view)
elif section == "health":
    health_panel.health(view)
else:
    portfolio_panel.effect(view)
