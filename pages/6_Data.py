"""What the database holds: where it is, how recent, rows and date ranges per table, and
data-quality findings. Ignores the filters (it is about the data, not the business)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from metrics.analysis import coverage
from metrics.analysis import data_quality as quality
from metrics.present.export import to_csv
from servicewatch import ui
from servicewatch.tables import MISSING, fitted_columns, localise, number_columns, qualified_name

PREFIXES = {"check": "page.data.check", "severity": "page.data.severity", "table": "db.table"}

view = ui.page("page.data.title")
lang = view.lang
if view.user is not None and view.user.role != "admin":  # whole-database counts, example rows, imports
    st.error(view.t("page.data.admins_only"))
    st.stop()
st.caption(view.t("page.data.intro"))

# -- the database -----------------------------------------------------------------------------
st.header(view.t("page.data.db_header"))
meta = view.call(quality.meta_info)
unknown = view.t("page.data.unknown")
st.markdown(f"**{view.t('page.data.kind')}**：{view.label('db.kind', view.wh.dialect)}")
cards = st.columns(2)
cards[0].metric(view.t("page.data.as_of"), meta.get("as_of", unknown))
cards[1].metric(view.t("page.data.refreshed"), meta.get("refreshed_at", unknown).replace("T", " ")[:16])
if meta.get("as_of_source"):  # how the as-of was derived (metrics.ingest.load.as_of_derivation)
    key = "page.data.as_of_ignored" if meta.get("as_of_ignored", "0") != "0" else "page.data.as_of_source"
    st.caption(view.md(key, source=qualified_name(meta["as_of_source"], lang), n=meta.get("as_of_ignored", "0"),
                      limit=meta.get("as_of_limit", "")))

# -- tables -----------------------------------------------------------------------------------
st.header(view.t("page.data.tables_header"))
summary = view.call(quality.table_summary)
tables = localise(summary, lang, prefixes={"table": "db.table", "column": "page.tables"})
st.dataframe(tables, hide_index=True, width="stretch", height=min(38 + 35 * len(tables), 620), placeholder=MISSING,
             column_config=fitted_columns(tables, number_columns(summary, lang)))
st.download_button(view.t("export.csv"), to_csv(tables), f"{view.t('page.data.tables_file')}.csv", "text/csv",
                   key="data_tables_csv", on_click="ignore", icon=":material/download:")
with st.expander(view.t("page.data.meta_header")):
    st.json(meta)
with st.expander(view.t("page.data.technical")):  # the names an administrator types (CLI, SQL)
    st.markdown(f"**{view.t('page.data.location')}**：`{view.wh.location}`")
    names = [f"{tb}.{col}" if isinstance(col, str) else tb for tb, col in zip(summary["table"], summary["column"],
                                                                                 strict=True)]
    st.dataframe(pd.DataFrame({view.t("page.data.technical_name"): names,
                               view.t("page.data.display_name"): [qualified_name(n, lang) for n in names]}),
                 hide_index=True, width="stretch", placeholder=MISSING)

# -- data quality -----------------------------------------------------------------------------
st.header(view.t("page.data.quality_header"))
st.caption(view.t("page.data.quality_caption"))
found = view.call(quality.findings)
hits = found[found["n"] > 0]
if hits.empty:
    st.success(view.t("page.data.quality_ok"))
else:
    errors = int((hits["severity"] == "error").sum())
    (st.error if errors else st.warning)(view.t("page.data.quality_summary", errors=errors,
                                                warnings=int((hits["severity"] == "warning").sum())))
shown = localise(found.rename(columns={"n": "rows"}), lang, prefixes=PREFIXES)
st.dataframe(shown, hide_index=True, width="stretch", placeholder=MISSING, column_config=fitted_columns(shown))
st.download_button(view.t("export.csv"), to_csv(shown), f"{view.t('page.data.quality_file')}.csv", "text/csv",
                   key="data_quality_csv", on_click="ignore", icon=":material/download:")
for check in hits["check"]:
    with st.expander(view.t("page.data.examples", check=view.label("page.data.check", check))):
        rows = localise(view.call(quality.finding_rows, check), lang)
        st.dataframe(rows, hide_index=True, width="stretch", placeholder=MISSING, column_config=fitted_columns(rows))

# -- which metrics the data supports ----------------------------------------------------------
st.header(view.t("page.data.coverage.header"))
st.caption(view.t("page.data.coverage.caption"))
covered = view.call(coverage.coverage, lang)
st.markdown(view.t("page.data.coverage.summary", supported=int(covered["supported"].sum()), total=len(covered)))
shown = pd.DataFrame({
    view.t("page.data.coverage.metric"): covered["label"],
    view.t("page.data.coverage.status"): [view.t(f"coverage.{x}") for x in coverage.status(covered)],
    view.t("page.data.coverage.known"): covered["known"].map("{:,}".format),
    view.t("page.data.coverage.rows"): covered["rows"].map("{:,}".format),
    view.t("page.data.coverage.note"): covered["note"],
})
st.dataframe(shown, hide_index=True, width="stretch", height=min(38 + 35 * len(shown), 760), placeholder=MISSING,
             column_config=fitted_columns(shown))
counts = {view.t("page.data.coverage.known"): covered["known"], view.t("page.data.coverage.rows"): covered["rows"]}
st.download_button(view.t("export.csv"), to_csv(shown.assign(**counts)), f"{view.t('page.data.coverage.file')}.csv",
                   "text/csv",
                   key="data_coverage_csv", on_click="ignore", icon=":material/download:")

# -- import -----------------------------------------------------------------------------------
st.info(view.t("page.data.import_note"), icon=":material/upload_file:")

from servicewatch.import_panel import import_panel  # noqa: E402 - the import panel (issue 5), kept in its own module

import_panel(view)
