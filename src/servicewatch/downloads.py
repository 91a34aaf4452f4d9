"""Downloads recorded in the audit log: who took which file, with which filters and how many rows."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pandas as pd

from metrics.access import audit
from metrics.backends.connect import resolve_url

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
