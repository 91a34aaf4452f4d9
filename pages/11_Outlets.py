"""Service halls and outlets (营业厅与网点), issue 19: the league of outlets in the user's scope on
waiting, abandonment, satisfaction, complaints and audits with 95% intervals; one outlet's queue by
weekday and hour, by service type, its audit items over time and its complaints; whether the VIP lane
shortens high-tier customers' wait, hall by hall; and the star ratings this quarter. A view: the
numbers come from the engine (``metrics.analysis.outlets``, ``metrics.analysis.outlet_stars``); the
Streamlit code is in ``servicewatch.outlets_panel`` and ``servicewatch.outlet_vip_panel``."""

from __future__ import annotations

from servicewatch import outlet_vip_panel, outlets_panel, ui

ui.section_page("page.outlets.title", "page.outlets.intro",
                {"outlets": outlets_panel.league, "outlet": outlets_panel.outlet, "vip": outlet_vip_panel.vip,
                 "stars": outlets_panel.stars})
