"""The "Meeting pack" button in every page's sidebar: the current filters and language as a
PowerPoint deck and a PDF bulletin (:mod:`metrics.report`).

A click builds the pack (queries and chart images) under a progress bar; the two download buttons
then write PPTX or PDF only when clicked (``data=`` a callable) and keep the bytes for the session.
Changing a filter or the language shows the button again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from metrics.model.i18n import t
from servicewatch.downloads import audited
from servicewatch.errors import log_error, message

if TYPE_CHECKING:
    from servicewatch.ui import View

STATE_KEY = "_sw_pack"


def meeting_pack_button(view: View) -> None:
    """Draw the button (or, once built for these filters, the PPTX and PDF downloads) in the sidebar."""
    lang = view.lang
    key = (view.url, view.version, view.filters, lang)
    state = st.session_state.get(STATE_KEY)
    sidebar = st.sidebar
    sidebar.divider()
    if state is None or state[0] != key:
        if not sidebar.button(t("report.button", lang), key="sw_pack_build", icon=":material/slideshow:",
                              help=t("report.button_help", lang), width="stretch"):
            return
        from metrics.report import build_pack  # reportlab, pptx and kaleido: only once a pack is asked for

        with sidebar.status(t("report.building", lang), expanded=True) as status:
            bar = st.progress(0.0)
            try:
                pack = build_pack(view.wh, view.filters, lang,
                                  progress=lambda x, msg: bar.progress(min(1.0, x), text=msg))
            except Exception as exc:  # noqa: BLE001 - any failure: one line with an id; the detail in the log
                status.update(label=message("error.pack", log_error(exc, "meeting pack"), lang), state="error")
                return
            bar.progress(1.0)
            status.update(label=t("report.ready", lang), state="complete", expanded=False)
        state = (key, pack, {})
        st.session_state[STATE_KEY] = state
    _, pack, files = state
    from metrics.report import MIME, write

    def writer(fmt: str):
        def make() -> bytes:  # runs on a separate thread when the download is clicked
            if fmt not in files:
                files[fmt] = write(pack, fmt)
            return files[fmt]
        return make

    cols = sidebar.columns(2)
    for col, fmt, icon in ((cols[0], "pptx", ":material/slideshow:"), (cols[1], "pdf", ":material/picture_as_pdf:")):
        data = audited(view, writer(fmt), f"{pack.file_stem}.{fmt}", action="report")
        col.download_button(t(f"report.download_{fmt}", lang), data=data,
                            file_name=f"{pack.file_stem}.{fmt}",
                            mime=MIME[fmt], key=f"sw_pack_{fmt}", on_click="ignore", icon=icon, width="stretch")
