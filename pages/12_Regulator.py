"""The regulator's view (监管申诉), issue 20: MIIT's appeal rate per million users per quarter by its
categories — total, by province or by city — against the previous quarter and the same quarter last
year, with the expected rate of a quarter not yet over; the complaints open past 15 days (or passing
it within 3) that may become appeals, with their owners; the Ofcom, TIO and ACMA readings with their
definitions. A view: the numbers come from the engine (``metrics.analysis.regulator``,
``metrics.analysis.appeal_risk``); the Streamlit code is in ``servicewatch.regulator_panel``."""

from __future__ import annotations

import streamlit as st

from servicewatch import regulator_panel, ui

view = ui.page("page.regulator.title")
st.caption(view.t("page.regulator.intro"))

section = ui.sections(view, ("miit", "appeal_risk", "authorities"))
if section == "miit":
    regulator_panel.miit(view)
elif section == "appeal_risk":
    regulator_panel.appeal_risk(view)
else:
    regulator_panel.authorities(view)
