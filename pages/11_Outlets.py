"""Service halls and outlets (营业厅与网点), issue 19: the league of outlets in the user's scope on
waiting, abandonment, satisfaction, complaints and audits with 95% intervals; one outlet's queue by
weekday and hour, by service type, its audit items over time and its complaints; whether the VIP lane
shortens high-tier customers' wait, hall by hall; and the star ratings this quarter. A view: the
numbers come from the engine (``metrics.analysis.outlets``, ``metrics.analysis.outlet_stars``); the
Streamlit code is in ``servicewatch.outlets_panel``."""

from __future__ import annotations

import streamlit as st

from servicewatch import outlets_panel, ui

view = ui.page("page.outlets.title")
st.caption(view.t("page.outlets.intro"))

section = ui.sections(view, ("outlets", "outlet", "vip", "stars"))
if section == "outlets":
    outlets_panel.league(view)
elif section == "outlet":
    outlets_panel.outlet(view)
elif section == "vip":
    outlets_panel.vip(view)
else:
    outlets_panel.stars(view)
