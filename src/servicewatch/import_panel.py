"""The import panel of the Data page: upload a file, check it (dry run), then commit it.

The pure helpers (:func:`check_upload`, :func:`commit_upload`, :func:`report_frames`) do the work
and are tested without Streamlit; :func:`import_panel` only lays them out. The dashboard reads
DuckDB read-only; the commit writes a copy of the file and swaps it in (:mod:`metrics.backends.swap`), so it
works while every session keeps reading.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import replace
from pathlib import Path

import pandas as pd
import streamlit as st

from metrics.access import audit
from metrics.backends.connect import DatabaseError, resolve_url
from metrics.ingest.importer import ImportFailed, ImportResult, import_file
from metrics.ingest.importer.columns import TABLES
from metrics.ingest.importer.mapping import Mapping, MappingError, load_mapping
from metrics.model.i18n import label, t
from metrics.present import files as outputs
from metrics.present.markup import md
from servicewatch.errors import log_error
from servicewatch.import_words import page_problems, page_summary
from servicewatch.mapping_form import mapping_form, shown_errors
from servicewatch.tables import MISSING

SHOWN_PROBLEMS = 50
_DIR = Path(tempfile.gettempdir()) / f"servicewatch_uploads-{os.getuid()}"


def _stored(name: str, data: bytes) -> Path:
    """The upload as a file (the importer streams from files), named by content hash + suffix, in a
    folder of this account only (0700, not a link: :func:`metrics.present.files.private_folder`), written
    atomically, so a file of that name is always the upload of that content."""
    folder = outputs.private_folder(_DIR)
    digest = hashlib.sha256(data).hexdigest()[:16]
    path = folder / f"{digest}{Path(name).suffix.lower()}"
    if not path.exists():
        outputs.write_bytes(path, data)
    return path


def check_upload(url: str, table: str, name: str, data: bytes, lang: str, mapping: Mapping | None = None
                 ) -> ImportResult:
    """Dry run of an uploaded file (with the mapping form's mapping): nothing is written to the database."""
    path = _stored(name, data)
    return import_file(url, table, path, mapping=mapping, dry_run=True, lang=lang, display_name=name, dashboard=True,
                       rejects=path.with_name(path.name + ".rejects.csv"))


def commit_upload(url: str, table: str, name: str, data: bytes, lang: str, user: str = "dashboard",
                  mapping: Mapping | None = None) -> ImportResult:
    """Import the uploaded file for real (upsert, one transaction, derived tables refreshed)."""
    path = _stored(name, data)
    return import_file(url, table, path, mapping=mapping, lang=lang, display_name=name, user=user, dashboard=True,
                       rejects=path.with_name(path.name + ".rejects.csv"))


def report_frames(result: ImportResult, lang: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Counts by reason and the first rejected rows, with translated column headers."""
    reasons = result.reason_counts(lang)[["reason", "problems"]].rename(
        columns={"reason": t("page.data.import.col_reason", lang), "problems": t("page.data.import.col_n", lang)})
    first = page_problems(result, lang).head(SHOWN_PROBLEMS).rename(columns={
        "row": t("page.data.import.col_row", lang), "column": t("page.data.import.col_column", lang),
        "value": t("page.data.import.col_value", lang), "reason": t("page.data.import.col_reason", lang)})
    return reasons, first


def uploaded_mapping(name: str, data: bytes, lang: str) -> Mapping:
    """An uploaded mapping file read (:class:`MappingError` naming the upload, never the server's path)."""
    path = _stored(name, data)
    try:
        return replace(load_mapping(path), name=t("page.data.mapping.name", lang))
    except MappingError as exc:
        raise MappingError(str(exc).replace(str(path), name)) from None


def rejects_bytes(result: ImportResult) -> bytes | None:
    p = result.rejects_path
    return p.read_bytes() if p is not None and result.rows_rejected and p.exists() else None


def import_panel(view: object) -> None:
    """Upload → validation report (dry run) → commit → rejects download."""
    lang = view.lang
    user = getattr(view, "user", None)
    if user is not None and user.role != "admin":  # imports are for admins (the page refuses others too)
        st.error(t("page.data.admins_only", lang))
        return
    st.header(t("page.data.import.header", lang))
    st.caption(t("page.data.import.caption", lang))
    names = list(TABLES)
    table = st.selectbox(t("page.data.import.table", lang), names, key="sw_import_table",
                         format_func=lambda name: label("db.table", name, lang))  # by display name, not the database's
    upload = st.file_uploader(t("page.data.import.file", lang), type=["csv", "xlsx", "parquet"],
                              key="sw_import_file")
    given = st.file_uploader(t("page.data.mapping.upload", lang), type=["yaml", "yml"], key="sw_import_mapping")
    if upload is None:
        return
    url = resolve_url()
    data = upload.getvalue()
    try:
        base = uploaded_mapping(given.name, given.getvalue(), lang) if given is not None else Mapping()
    except MappingError as exc:
        st.error(t("page.data.mapping.invalid", lang, error=md(exc)))
        return
    mapping = mapping_form(lang, url, table, upload.name, _stored(upload.name, data), base)
    if mapping is None:  # the form says what is wrong
        return
    result = shown_errors(lang, lambda: check_upload(url, table, upload.name, data, lang, mapping))
    if result is None:
        return
    _report(result, lang, "check")
    if result.rows_loaded == 0:
        return
    if st.button(t("page.data.import.commit", lang, n=f"{result.rows_loaded:,}", table=label("db.table", table, lang)),
                 key="sw_import_commit", type="primary"):
        try:
            with st.spinner(t("page.data.import.running", lang)):
                done = commit_upload(url, table, upload.name, data, lang, user.name if user else "dashboard", mapping)
        except (ImportFailed, DatabaseError, MappingError) as exc:
            st.error(t("page.data.import.failed", lang, error=md(exc)))
            return
        if user is not None:
            audit.record_safely(url, user.name, "import", audit.import_detail(done))
        st.cache_data.clear()
        st.success("  \n".join(md(x) for x in done.summary(lang)))
        show_alert_check(url, lang)  # the alert rules on the new data, as servicewatch import does


def alert_check(url: str, lang: str) -> tuple[str, str, pd.DataFrame]:
    """The alert rules run on the data just imported (:func:`metrics.alerts.after_change`, as
    ``servicewatch import`` does): (state, the line to show, the alerts in words). state: ``none`` (no
    rule enabled), ``ok`` or ``failed`` (a warning: the data stands; the detail in the server log)."""
    from metrics import alerts

    try:
        found = alerts.after_change(url, lang)
    except Exception as exc:  # noqa: BLE001 - the data is in; the check is a courtesy
        return "failed", t("page.data.import.alerts_failed", lang, id=log_error(exc, "alert check after import")), \
            pd.DataFrame()
    if found is None:
        return "none", "", pd.DataFrame()
    cols = ("metric_label", "slice", "period", "signal")
    table = found[list(cols)].assign(period=pd.to_datetime(found["period"]).dt.strftime("%Y-%m-%d"),
                                     signal=[alerts.signal_text(s, lang) for s in found["signal"]])
    heads = {"metric_label": "metric", "slice": "slice", "period": "period", "signal": "signal"}
    return "ok", t("alerts.after_change", lang, n=len(found)), \
        table.rename(columns={c: t(f"alerts.col.{heads[c]}", lang) for c in cols})


def show_alert_check(url: str, lang: str) -> None:
    """:func:`alert_check` on the page: the line, and the alerts with a link to the Alerts page."""
    state, line, table = alert_check(url, lang)
    if state == "none":
        return
    if state == "failed":
        st.warning(line)
        return
    st.info(line, icon=":material/notifications:")
    if len(table):
        st.dataframe(table, hide_index=True, width="stretch", placeholder=MISSING)
        st.page_link("pages/9_Alerts.py", label=t("nav.alerts", lang), icon=":material/notifications:")


def _report(result: ImportResult, lang: str, key: str) -> None:
    cols = st.columns(3)
    cols[0].metric(t("page.data.import.read", lang), f"{result.rows_read:,}")
    cols[1].metric(t("page.data.import.ok", lang), f"{result.rows_loaded:,}")
    cols[2].metric(t("page.data.import.rejected", lang), f"{result.rows_rejected:,}")
    for line in page_summary(result, lang)[1:]:
        if not line.startswith("  "):
            st.caption(md(line))
    if not result.rows_rejected:
        st.success(t("page.data.import.all_ok", lang))
        return
    reasons, first = report_frames(result, lang)
    st.subheader(t("page.data.import.reasons", lang))
    st.dataframe(reasons, hide_index=True, placeholder=MISSING)
    st.subheader(t("page.data.import.first_rows", lang, n=min(SHOWN_PROBLEMS, len(first))))
    st.dataframe(first, hide_index=True, width="stretch", placeholder=MISSING)
    data = rejects_bytes(result)
    if data is not None:
        st.download_button(t("page.data.import.download_rejects", lang), data,
                           f"{Path(result.file).name}.rejects.csv", "text/csv", key=f"sw_import_rejects_{key}",
                           on_click="ignore", icon=":material/download:")
