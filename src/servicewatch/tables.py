"""Tables for people: engine frames with translated headers and dimension values.

Column headers come from the catalogue (``page.tables.<name>``); tier, channel … values are shown by
their names in the page language; region ids by region names. The data itself is not changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from metrics.model.i18n import catalogue, label, t
from metrics.present.export import Column, Style, column_style

MISSING = "—"  # a missing cell of st.dataframe (``placeholder=``; Streamlit would draw "None")
DIM_COLUMNS = ("tier", "segment", "sla_level", "channel", "acquisition_channel", "kind", "category",
               "priority", "churn_reason", "survey_kind")
# columns of engine frames holding codes of a catalogue list (churn model terms, league verdicts …)
VALUE_PREFIXES = {"term": "churn.term", "verdict": "page.regions.verdict", "position": "export.position",
                  "model": "export.model", "no_cmp": "export.no_cmp"}


def headers(columns: Iterable[str], lang: str, metric: str | None = None) -> dict[str, str]:
    """Column → its header in ``lang`` (``page.tables.<column>``); a header is translated unless two
    columns would share it (region, region_id). ``events`` says what ``metric`` counts (complaints,
    customers lost), never one metric's word for another's."""
    known, names, taken = catalogue(), {}, set()
    for c in columns:
        key = f"page.tables.events_of.{metric}" if c == "events" and metric else f"page.tables.{c}"
        key = key if key in known else f"page.tables.{c}"
        name = t(key, lang) if key in known else c
        names[c] = name if name not in taken else c
        taken.add(names[c])
    return names


def qualified_name(name: str, lang: str) -> str:
    """``tickets.opened_at`` (a table and column of the data model) by display names: 工单·受理时间."""
    table, _, column = name.partition(".")
    shown = label("db.table", table, lang)
    return f"{shown}·{t(f'page.tables.{column}', lang)}" if f"page.tables.{column}" in catalogue() else shown


def _column_names(text: object, lang: str) -> object:
    """A ``missing`` cell ("compensation, reopened") with each column by its header."""
    if not isinstance(text, str) or not text:
        return text
    sep = "、" if lang == "zh" else ", "
    return sep.join(t(f"page.tables.{c.strip()}", lang) if f"page.tables.{c.strip()}" in catalogue() else c.strip()
                    for c in text.split(","))


def localised_values(df: pd.DataFrame, lang: str, region_names: Mapping[int, str] | None = None,
                     prefixes: Mapping[str, str] | None = None) -> pd.DataFrame:
    """A copy of ``df`` with its codes by their names in ``lang`` (headers unchanged)."""
    out = df.copy()
    prefixes = {**VALUE_PREFIXES, **(prefixes or {})}
    for col in out.columns:
        if col in prefixes:
            out[col] = [label(prefixes[col], v, lang) if pd.notna(v) else v for v in out[col]]
        elif col in DIM_COLUMNS:
            dim = "channel" if col == "acquisition_channel" else col
            out[col] = [label(dim, v, lang) for v in out[col]]
        elif col == "region_id" and region_names is not None:
            out[col] = [region_names.get(int(v), str(v)) if pd.notna(v) else t("common.none", lang) for v in out[col]]
        elif col == "missing":
            out[col] = [_column_names(v, lang) for v in out[col]]
    return out


def yes_no(df: pd.DataFrame, lang: str) -> pd.DataFrame:
    """``df`` with its yes/no columns as 是/否 (Yes/No) for a file: a spreadsheet shows True/False."""
    out = df.copy()
    for col in out.columns:
        values = out[col].dropna()
        if len(values) and (pd.api.types.is_bool_dtype(out[col]) or values.map(type).eq(bool).all()):
            out[col] = [t("export.yes" if v else "export.no", lang) if pd.notna(v) else v for v in out[col]]
    return out


def localise(df: pd.DataFrame, lang: str, region_names: Mapping[int, str] | None = None,
             columns: Iterable[str] | None = None, prefixes: Mapping[str, str] | None = None,
             metric: str | None = None) -> pd.DataFrame:
    """A copy of ``df`` (only ``columns`` if given) ready for display in ``lang``; ``prefixes`` maps
    further columns to the catalogue prefix of their values (``{"check": "page.data.check"}``);
    ``metric``: the metric the frame measures (names its ``events``)."""
    out = df[list(columns)].copy() if columns is not None else df.copy()
    out = localised_values(out, lang, region_names, prefixes)
    return out.rename(columns=headers(out.columns, lang, metric))


def export_columns(df: pd.DataFrame, lang: str, metric: str | None = None) -> list[Column]:
    """The columns of an export of the engine frame ``df``: header in ``lang`` and number style (the
    metric's for its value columns, :func:`metrics.present.export.column_style`). A column whose
    header an earlier column already has (``region``, the names, beside ``region_id``, which
    :func:`localised_values` turns into the same names) is left out: no raw column name leaves."""
    names = headers(df.columns, lang, metric)
    collided = {c for c in df.columns if names[c] == c and f"page.tables.{c}" in catalogue()
                and t(f"page.tables.{c}", lang) != c}
    return [Column(c, names[c], column_style(c, metric, df[c].dtype)) for c in df.columns if c not in collided]


def _streamlit_format(style: Style | None) -> str | None:
    if style is None or style.kind in ("date", "month", "datetime", "id"):
        return None
    if style.kind == "percent":
        return "percent"
    if style.kind == "pvalue":
        return "%.3f"
    return f"%.{style.decimals}f" if style.decimals else "localized"


def number_columns(df: pd.DataFrame, lang: str, metric: str | None = None) -> dict:
    """``st.dataframe`` column_config for the localised headers of ``df``'s number columns, in the
    styles of the exports (:func:`metrics.present.export.column_style`)."""
    import streamlit as st

    names = headers(df.columns, lang, metric)
    config = {}
    for c in df.columns:
        fmt = _streamlit_format(column_style(c, metric, df[c].dtype))
        if fmt is not None and pd.api.types.is_numeric_dtype(df[c].dtype) and not pd.api.types.is_bool_dtype(df[c]):
            config[names[c]] = st.column_config.NumberColumn(format=fmt)
    return config


_CELL_PAD_PX = 16 + 6  # the grid's padding either side of a cell's text, and a little air
_MAX_COLUMN_PX = 1400  # a column beyond the key columns: as wide as its text (the grid scrolls sideways)
# Streamlit pins no column at all when the pinned ones take more than 60% of the grid; the narrowest
# grid, in a 1024 px window with the sidebar collapsed, is about 830 px wide: key columns pinned only
# while they fit in 60% of that
PIN_BUDGET_PX = 490
_NUMBER_COLUMN_PX = 100  # about what the grid gives a number column it sizes itself


def text_px(text: object) -> int:
    """About how wide ``text`` draws in the data grid (14 px Source Sans): a CJK character is as wide
    as the font is high, other characters about half of that."""
    import unicodedata

    return round(sum(14 if unicodedata.east_asian_width(c) in ("W", "F") else 7.6 for c in str(text)))


def fitted_columns(shown: pd.DataFrame, config: Mapping | None = None, pin: int = 1) -> dict:
    """``st.dataframe`` column_config for the displayed frame ``shown`` (headers as shown): each text
    column as wide as its widest cell or header (so nothing ends in "…"; the grid scrolls sideways
    rather than cut), the first ``pin`` columns (the key: name, region, ticket) pinned so they stay
    in view while it scrolls — as many of them as fit in :data:`PIN_BUDGET_PX` together (Streamlit
    would otherwise pin none on a narrow screen); ``config`` (e.g. :func:`number_columns`) kept and
    completed."""
    out = {name: dict(c) for name, c in (config or {}).items()}
    pinned_px = 0
    for i, col in enumerate(shown.columns):
        entry = out.setdefault(col, {})
        values = shown[col]
        if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)) \
                and entry.get("width") is None:  # numbers: the grid sizes them by their formatted text
            widest = max([text_px(col)] + [text_px(v) for v in values.head(500).dropna() if not isinstance(v, bool)])
            entry["width"] = min(widest + _CELL_PAD_PX, _MAX_COLUMN_PX)
        if i < pin:
            px = entry["width"] if isinstance(entry.get("width"), int) else _NUMBER_COLUMN_PX
            if i == len([c for c in shown.columns[:i] if out[c].get("pinned")]) and pinned_px + px <= PIN_BUDGET_PX:
                entry["pinned"] = True
                pinned_px += px
    return out


AUDIT_VALUES = {"role": "role", "table": "db.table", "reason": "audit.reason", "state": "audit.state",
                "via": "audit.via"}  # audit detail keys whose values are codes of a catalogue list


def _audit_filters(q: Mapping, lang: str) -> str:
    """The filters of an audited request (its link's query form) in words: period, comparison, slices."""
    sep = "、" if lang == "zh" else ", "
    parts = []
    if q.get("from") or q.get("to"):
        parts.append(f"{q.get('from', '')} – {q.get('to', '')}")
    if q.get("cmp"):
        parts.append(f"{t('filter.comparison', lang)}：{label('comparison', q['cmp'], lang)}")
    for key, value in q.items():
        if key in ("from", "to", "cmp", "as_of"):
            continue
        name = t(f"filter.{key}", lang) if f"filter.{key}" in catalogue() else t(f"audit.detail.{key}", lang) \
            if f"audit.detail.{key}" in catalogue() else key
        shown = sep.join(label(key, v, lang) for v in str(value).split(",")) if key in DIM_COLUMNS else str(value)
        parts.append(f"{name}：{shown}")
    return "；".join(parts)


def _audit_detail(text: object, lang: str) -> str:
    """An audit row's detail (JSON) as "文件：x.csv；行数：12；筛选：…", each key and code by its name."""
    import json

    try:
        detail = json.loads(text) if isinstance(text, str) and text else {}
    except ValueError:
        return str(text)
    if not isinstance(detail, dict):
        return str(detail)
    parts = []
    for key, value in detail.items():
        name = t(f"audit.detail.{key}", lang) if f"audit.detail.{key}" in catalogue() else key
        if key == "filters" and isinstance(value, dict):
            value = _audit_filters(value, lang)
        elif isinstance(value, bool):
            value = t("export.yes" if value else "export.no", lang)
        elif key in AUDIT_VALUES and value is not None:
            value = label(AUDIT_VALUES[key], value, lang)
        parts.append(f"{name}：{value}")
    return "；".join(parts)


def audit_table(log: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The audit log (``at``, ``user``, ``action``, ``detail``) for the Admin page in ``lang``: headers,
    actions and detail keys by their names, the time to the second (UTC)."""
    return pd.DataFrame({
        t("page.admin.col.at", lang): pd.to_datetime(log["at"]).dt.strftime("%Y-%m-%d %H:%M:%S"),
        t("page.admin.col.user", lang): log["user"],
        t("page.admin.col.action", lang): [label("audit.action", a, lang) for a in log["action"]],
        t("page.admin.col.detail", lang): [_audit_detail(d, lang) for d in log["detail"]],
    })
