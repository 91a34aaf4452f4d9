"""Downloads recorded in the audit log: who took which file, with which filters and how many rows."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from metrics.access import audit
from metrics.backends.connect import resolve_url
from metrics.present.export import to_csv

if TYPE_CHECKING:
    from servicewatch.ui import View


def audited(view: View, fn: Callable[[], bytes], file_name: str, rows: int | None = None,
            action: str = "download") -> Callable[[], bytes]:
    """``fn`` for a download button, recording the download (user, file, filters, rows) in the
    audit log when sign-in is on; ``fn`` itself otherwise."""
    if view.user is None:
        return fn

    def run() -> bytes:
        data = fn()
        detail = {"file": file_name, "rows": rows, "filters": audit.filters_detail(view.filters)}
        audit.record_safely(resolve_url(), view.user.name, action, detail)  # view.url masks a password
        return data

    return run


def audited_bytes(view: View, data: bytes, file_name: str, rows: int | None = None) -> bytes | Callable[[], bytes]:
    """Ready bytes for a download button: as they are without sign-in, else recorded when downloaded."""
    return data if view.user is None else audited(view, lambda: data, file_name, rows)


def audit_entries(limit: int = 2000) -> pd.DataFrame:
    """The newest entries of the audit log of the configured database (the Admin page)."""
    return audit.read(resolve_url(), limit=limit)  # resolve_url, not View.url: that masks a password


def list_download(view: View, shown: pd.DataFrame, file_stem: str, key: str, audit_name: str) -> None:
    """The download button under a list (customers, tickets): the list as shown (headers and
    values in the page's language) as CSV, recorded in the audit log as ``audit_name`` when
    sign-in is on."""
    data = audited_bytes(view, to_csv(shown), audit_name, len(shown))
    st.download_button(view.t("export.download_list"), data, f"{file_stem}.csv", "text/csv", key=key,
                       on_click="ignore", icon=":material/download:")
