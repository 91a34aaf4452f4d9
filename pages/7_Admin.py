"""Administration: the audit log (sign-ins, downloads, exports, reports, imports). Admins only.

Reachable by its URL for everyone; everyone but an admin gets a refusal and nothing else."""

from __future__ import annotations

import streamlit as st

from dashboard import ui
from metrics import audit

TEXT = {
    "title": {"zh": "管理 · 审计日志", "en": "Admin · audit log"},
    "refused": {"zh": "仅管理员可查看此页面。", "en": "Only administrators may see this page."},
    "no_sign_in": {"zh": "未启用登录（未设置 SERVICEWATCH_USERS），审计日志不可用。",
                   "en": "Sign-in is not configured (SERVICEWATCH_USERS is not set); no audit log to show."},
}

view = ui.page("nav.admin")
lang = view.lang
if view.user is None or view.user.role != "admin":
    st.error(TEXT["refused" if view.user is not None else "no_sign_in"][lang])
    st.stop()
st.header(TEXT["title"][lang])
log = audit.read(view.url, limit=2000)
if log.empty:
    ui.empty_state(view)
else:
    st.dataframe(log, hide_index=True, width="stretch")
