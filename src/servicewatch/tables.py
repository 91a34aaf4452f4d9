"""Tables for people: engine frames with translated headers and dimension values.

Column headers come from the catalogue (``page.tables.<name>``); tier, channel … values are shown by
their names in the page language; region ids by region names. The data itself is not changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from metrics.model.i18n import catalogue, label, t

DIM_COLUMNS = ("tier", "segment", "sla_level", "channel", "acquisition_channel", "kind", "category",
               "priority", "churn_reason", "survey_kind")


def localise(df: pd.DataFrame, lang: str, region_names: Mapping[int, str] | None = None,
             columns: Iterable[str] | None = None, prefixes: Mapping[str, str] | None = None) -> pd.DataFrame:
    """A copy of ``df`` (only ``columns`` if given) ready for display in ``lang``; ``prefixes`` maps
    further columns to the catalogue prefix of their values (``{"check": "page.data.check"}``)."""
    out = df[list(columns)].copy() if columns is not None else df.copy()
    for col in out.columns:
        if prefixes and col in prefixes:
            out[col] = [label(prefixes[col], v, lang) for v in out[col]]
        elif col in DIM_COLUMNS:
            dim = "channel" if col == "acquisition_channel" else col
            out[col] = [label(dim, v, lang) for v in out[col]]
        elif col == "region_id" and region_names is not None:
            out[col] = [region_names.get(int(v), str(v)) if pd.notna(v) else t("common.none", lang) for v in out[col]]
    known, names, taken = catalogue(), {}, set()
    for c in out.columns:  # a header is translated unless two columns would share it (region, region_id)
        name = t(f"page.tables.{c}", lang) if f"page.tables.{c}" in known else c
        names[c] = name if name not in taken else c
        taken.add(names[c])
    return out.rename(columns=names)


# number formats of the columns the engine's frames share (shares as percentages, hours to 0.1)
NUMBER_FORMATS = {**{c: "percent" for c in ("compliance", "compliance_lower", "compliance_upper",
                                             "response_compliance")},
                  "median_hours": "%.1f", "p90_hours": "%.1f", "age_hours": "%.1f",
                  "n_resolved": "localized", "n_decided": "localized"}


def number_columns(df: pd.DataFrame, lang: str) -> dict:
    """``st.dataframe`` column_config for the localised headers of ``df``'s known number columns."""
    import streamlit as st

    return {t(f"page.tables.{c}", lang): st.column_config.NumberColumn(format=NUMBER_FORMATS[c])
            for c in df.columns if c in NUMBER_FORMATS}
