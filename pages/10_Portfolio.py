"""Account managers (客户经理) and visits (走访), issue 18: the league of managers in the user's scope
with 95% intervals, one manager's customers with the six-month spend trend and visit coverage (an
account manager sees only their own), and whether the retention actions worked against a random
holdout; the enterprise customers' health score. A view: the numbers come from the engine
(``metrics.analysis.portfolio``, ``metrics.churn.action_effect``, ``metrics.analysis.health``); the
Streamlit code is in ``servicewatch.portfolio_panel`` and ``servicewatch.health_panel``."""

from __future__ import annotations

from servicewatch import health_panel, portfolio_panel, ui

ui.section_page("page.portfolio.title", "page.portfolio.intro",
                {"league": portfolio_panel.league, "customers": portfolio_panel.customers,
                 "health": health_panel.health, "effect": portfolio_panel.effect})
