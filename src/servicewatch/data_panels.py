"""The Data page's sections, as functions the page calls with its ``View``: the database (kind, as-of,
refresh), its tables (rows and date ranges, the names an administrator types), the data-quality
findings with example rows, and which metrics the data supports. Numbers come from the engine
(``metrics.analysis.data_quality``, ``metrics.analysis.coverage``); every download is the table shown."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from metrics.analysis import coverage
from metrics.analysis import data_quality as quality
from metrics.model.filters import Filters
from metrics.model.i18n import t
from metrics.model.schema import LOCAL_ROLLUPS_KEY
from servicewatch.downloads import list_download
from servicewatch.tables import MISSING, fitted_columns, localise, number_columns, qualified_name
from servicewatch.ui import View

PREFIXES = {"check": "page.data.check", "severity": "page.data.severity", "table": "db.table"}


def _download(view: View, df: pd.DataFrame, file_key: str, key: str, title_key: str) -> None:
    """``df`` as shown, as CSV and as an Excel workbook with the header block, named by the catalogue
    entry ``file_key``, titled by ``title_key`` (:func:`servicewatch.downloads.list_download`,
    audited). The page ignores the filters: the header block names the data's whole span, no comparison."""
    first, last = view.wh.data_span()
    whole = Filters(first or last, last, as_of=view.as_of, comparison="none", scope=view.filters.scope)
    list_download(view, df, view.t(file_key), key, f"{key.removesuffix('_csv')}.csv", f=whole,
                  title=view.t(title_key))


def database(view: View) -> dict:
    """The database's kind, as-of date and last refresh (and how the as-of was derived); returns the
    ``sw_meta`` entries (:func:`metrics.analysis.data_quality.meta_info`)."""
    st.header(view.t("page.data.db_header"))
    meta = view.call(quality.meta_info)
    unknown = view.t("page.data.unknown")
    st.markdown(f"**{view.t('page.data.kind')}**：{view.label('db.kind', view.wh.dialect)}")
    cards = st.columns(2)
    cards[0].metric(view.t("page.data.as_of"), meta.get("as_of", unknown))
    cards[1].metric(view.t("page.data.refreshed"), meta.get("refreshed_at", unknown).replace("T", " ")[:16])
    if meta.get("as_of_source"):  # how the as-of was derived (metrics.ingest.load.as_of_derivation)
        key = "page.data.as_of_ignored" if meta.get("as_of_ignored", "0") != "0" else "page.data.as_of_source"
        st.caption(view.md(key, source=qualified_name(meta["as_of_source"], view.lang),
                           n=meta.get("as_of_ignored", "0"), limit=meta.get("as_of_limit", "")))
    return meta


def meta_table(meta: dict, lang: str) -> pd.DataFrame:
    """The recorded load information (``sw_meta``) in words: each entry by its catalogue name (an entry
    the catalogue does not know by its recorded key), flags as yes/no, the summary tables built and the
    as-of's source by their names."""
    def known(key: str, fallback: str) -> str:
        text = t(key, lang)
        return fallback if text == key else text

    def value(key: str, raw: str) -> str:
        if key.endswith("_built") or key == LOCAL_ROLLUPS_KEY:  # the copy's path is the server's business
            return t("page.data.meta.yes" if raw not in ("", "0") else "page.data.meta.no", lang)
        if key == "rollup_sources":
            return t("plain.list_sep", lang).join(known(f"page.data.meta.cube.{c}", c) for c in raw.split(",") if c)
        if key == "as_of_source":
            return qualified_name(raw, lang)
        return raw.replace("T", " ")[:16] if key == "refreshed_at" else raw

    return pd.DataFrame({t("page.data.meta.name", lang): [known(f"page.data.meta.key.{k}", k) for k in meta],
                         t("page.data.meta.value", lang): [value(k, str(v)) for k, v in meta.items()]})


def tables(view: View, meta: dict) -> None:
    """Rows and date ranges per table (with its download), the ``sw_meta`` entries, and the technical
    names of tables and columns beside the names shown."""
    lang = view.lang
    st.header(view.t("page.data.tables_header"))
    summary = view.call(quality.table_summary)
    shown = localise(summary, lang, prefixes={"table": "db.table", "column": "page.tables"})
    st.dataframe(shown, hide_index=True, width="stretch", height=min(38 + 35 * len(shown), 620),
                 placeholder=MISSING, column_config=fitted_columns(shown, number_columns(summary, lang)))
    _download(view, shown, "page.data.tables_file", "data_tables_csv", "page.data.tables_header")
    with st.expander(view.t("page.data.meta_header")):
        st.dataframe(meta_table(meta, lang), hide_index=True, width="stretch", placeholder=MISSING)
    with st.expander(view.t("page.data.technical")):  # the names an administrator types (CLI, SQL)
        st.markdown(f"**{view.t('page.data.location')}**：`{view.wh.location}`")
        names = [f"{tb}.{col}" if isinstance(col, str) else tb
                 for tb, col in zip(summary["table"], summary["column"], strict=True)]
        st.dataframe(pd.DataFrame({view.t("page.data.technical_name"): names,
                                   view.t("page.data.display_name"): [qualified_name(n, lang) for n in names]}),
                     hide_index=True, width="stretch", placeholder=MISSING)


def data_quality(view: View) -> None:
    """Every data-quality check with its failing rows' count (errors and warnings summed up in one
    line), the table's download, and up to 200 example rows per failing check."""
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
    shown = localise(found.rename(columns={"n": "rows"}), view.lang, prefixes=PREFIXES)
    st.dataframe(shown, hide_index=True, width="stretch", placeholder=MISSING, column_config=fitted_columns(shown))
    _download(view, shown, "page.data.quality_file", "data_quality_csv", "page.data.quality_header")
    for check in hits["check"]:
        with st.expander(view.t("page.data.examples", check=view.label("page.data.check", check))):
            rows = localise(view.call(quality.finding_rows, check), view.lang)
            st.dataframe(rows, hide_index=True, width="stretch", placeholder=MISSING,
                         column_config=fitted_columns(rows))


def metric_coverage(view: View) -> None:
    """Per metric: supported or not, rows with the needed columns known out of all, and what is missing;
    the download carries the counts as numbers."""
    st.header(view.t("page.data.coverage.header"))
    st.caption(view.t("page.data.coverage.caption"))
    covered = view.call(coverage.coverage, view.lang)
    st.markdown(view.t("page.data.coverage.summary", supported=int(covered["supported"].sum()), total=len(covered)))
    known, rows = view.t("page.data.coverage.known"), view.t("page.data.coverage.rows")
    shown = pd.DataFrame({
        view.t("page.data.coverage.metric"): covered["label"],
        view.t("page.data.coverage.status"): [view.t(f"coverage.{x}") for x in coverage.status(covered)],
        known: covered["known"].map("{:,}".format),
        rows: covered["rows"].map("{:,}".format),
        view.t("page.data.coverage.note"): covered["note"],
    })
    st.dataframe(shown, hide_index=True, width="stretch", height=min(38 + 35 * len(shown), 760),
                 placeholder=MISSING, column_config=fitted_columns(shown))
    _download(view, shown.assign(**{known: covered["known"], rows: covered["rows"]}), "page.data.coverage.file",
              "data_coverage_csv", "page.data.coverage.header")
