"""What the database holds: where it is, how recent, rows and date ranges per table, and
data-quality findings. Ignores the filters (it is about the data, not the business)."""

from __future__ import annotations

import streamlit as st

from servicewatch import data_panels, ui
from servicewatch.import_panel import import_panel

view = ui.page("page.data.title")
if view.user is not None and view.user.role != "admin":  # whole-database counts, example rows, imports
    st.error(view.t("page.data.admins_only"))
    st.stop()
st.caption(view.t("page.data.intro"))

meta = data_panels.database(view)  # kind, as-of, last refresh
data_panels.tables(view, meta)  # rows and date ranges per table, technical names
data_panels.data_quality(view)  # findings and example rows
data_panels.metric_coverage(view)  # which metrics the data supports

st.info(view.t("page.data.import_note"), icon=":material/upload_file:")
import_panel(view)
