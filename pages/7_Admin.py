"""Administration: the audit log (sign-ins, downloads, exports, reports, imports). Admins only.

Reachable by its URL for everyone; everyone but an admin gets a refusal and nothing else."""

from __future__ import annotations

import streamlit as st

from servicewatch import ui
from servicewatch.deliveries import failed_deliveries
from servicewatch.downloads import audit_entries
from servicewatch.tables import MISSING, audit_table, fitted_columns

view = ui.page("nav.admin")
lang = view.lang
if view.user is None or view.user.role != "admin":
    st.error(view.t("page.admin.refused" if view.user is not None else "page.admin.no_sign_in"))
    st.stop()
st.header(view.t("page.admin.title"))
log = audit_entries(limit=2000)
if log.empty:  # nothing logged yet: not a filter question (the log has no filters)
    st.info(view.t("page.admin.log_empty"))
else:
    shown = audit_table(log, lang)  # headers, actions and details in the page's language
    st.dataframe(shown, hide_index=True, width="stretch", placeholder=MISSING, column_config=fitted_columns(shown))
st.subheader(view.t("page.admin.deliveries_failed"), help=view.t("page.admin.deliveries_failed_help"))
failed = failed_deliveries(lang)
if failed.empty:
    st.info(view.t("page.admin.deliveries_none"))
else:
    st.dataframe(failed, hide_index=True, width="stretch", placeholder=MISSING)
