"""The regulator's view (监管申诉), issue 20: MIIT's appeal rate per million users per quarter by its
categories — total, by province or by city — against the previous quarter and the same quarter last
year, with the expected rate of a quarter not yet over; the complaints open past 15 days (or passing
it within 3) that may become appeals, with their owners; the Ofcom, TIO and ACMA readings with their
definitions. A view: the numbers come from the engine (``metrics.analysis.regulator``,
``metrics.analysis.appeal_risk``); the Streamlit code is in ``servicewatch.regulator_panel``."""

from __future__ import annotations

from servicewatch import regulator_panel, ui

ui.section_page("page.regulator.title", "page.regulator.intro",
                {"miit": regulator_panel.miit, "appeal_risk": regulator_panel.appeal_risk,
                 "authorities": regulator_panel.authorities})
