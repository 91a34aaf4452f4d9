"""Downloads recorded in the audit log: who took which file, with which filters and how many rows."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from metrics.access import audit
from metrics.backends.connect import resolve_url
from metrics.model.filters import Filters
from metrics.model.registry import BY_ID
from metrics.present.export import Column, Export, build_export, column_style, export_context
from servicewatch.tables import export_columns, localised_values, yes_no

if TYPE_CHECKING:
    from servicewatch.ui import View

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def metrics_named(key: str) -> tuple[str, ...]:
    """The metric ids a download key names (``complaint_rate_by_region``, ``sla_availability``),
    longest first, so ``csat_mean`` is not read as ``csat``: the metrics of a chart that does not say."""
    found, rest = [], f"_{key}_"
    for mid in sorted(BY_ID, key=len, reverse=True):
        if f"_{mid}_" in rest:
            found.append(mid)
            rest = rest.replace(f"_{mid}_", "__")
    return tuple(found)


def table_export(view: View, data: pd.DataFrame, title: str, metrics: Iterable[str] = (),
                 f: Filters | None = None) -> Export:
    """The export of an engine frame shown on a page: values and headers in the page's language,
    each column's number format (the first of ``metrics`` styles the value columns), and the header
    block of the filters ``f`` (default: the page's), the as-of date and the user's scope."""
    metrics = tuple(metrics)
    metric = metrics[0] if metrics else None
    shown = yes_no(localised_values(data, view.lang, view.region_names), view.lang)
    ctx = export_context(f or view.filters, view.lang, view.region_names, title, metrics, view.as_of)
    return build_export(shown, export_columns(data, view.lang, metric), ctx)


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


def list_export(view: View, shown: pd.DataFrame, title: str, columns: Sequence[str] | None = None,
                metrics: Iterable[str] = (), f: Filters | None = None) -> Export:
    """The export of a list as shown (headers and values in the page's language): yes/no in words,
    each column in the number format of its engine column (``columns``: the engine names of
    ``shown``'s columns, in order; without them, by dtype), and the header block of the filters ``f``
    (default: the page's) titled ``title``, with the definitions of ``metrics``."""
    names = list(columns) if columns is not None else [None] * shown.shape[1]
    if len(names) != shown.shape[1]:
        raise ValueError(f"{len(names)} engine names for {shown.shape[1]} columns")
    cols = [Column(str(h), str(h), column_style(c or str(h), None, shown[h].dtype))
            for h, c in zip(shown.columns, names, strict=True)]
    ctx = export_context(f or view.filters, view.lang, view.region_names, title, metrics, view.as_of)
    return build_export(yes_no(shown, view.lang), cols, ctx)


def list_download(view: View, shown: pd.DataFrame, file_stem: str, key: str, audit_name: str,
                  columns: Sequence[str] | None = None, metrics: Iterable[str] = (), f: Filters | None = None,
                  title: str | None = None) -> None:
    """The download buttons under a list (customers, tickets): the list as shown as CSV and as an
    Excel workbook with the header block (title, period, comparison, filters, as-of, scope), number
    formats, a frozen header row and the definitions sheet (:func:`list_export`); each recorded in
    the audit log (``audit_name``, its ``.xlsx`` twin) when sign-in is on."""
    ex = list_export(view, shown, title or file_stem, columns, metrics, f)
    stem = audit_name.rsplit(".", 1)[0]
    row = st.container(horizontal=True, gap="small")  # wraps on a narrow screen: no label cut off
    row.download_button(view.t("export.download_list"), audited(view, ex.csv, f"{stem}.csv", len(shown)),
                        f"{file_stem}.csv", "text/csv", key=key, on_click="ignore", icon=":material/download:",
                        width="content")
    row.download_button(view.t("lists.download_xlsx"), audited(view, ex.xlsx, f"{stem}.xlsx", len(shown)),
                        f"{file_stem}.xlsx", XLSX_MIME, key=f"{key}_xlsx", on_click="ignore", width="content")
