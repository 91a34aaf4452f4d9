"""The Outlets page's VIP lane section (issue 19, pages/11_Outlets.py, beside
:mod:`servicewatch.outlets_panel`): per hall with a VIP room, the minutes high-tier customers save
against standard ones with the 95% interval, in sentences and a chart; halls with too few VIP waits told
over a wider window. A view: the figures from :func:`metrics.analysis.outlets.vip_lane`."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from metrics.analysis import outlet_stars as os_
from metrics.analysis import outlets as oa
from metrics.analysis.drivers_text import join_names
from metrics.model.i18n import label
from metrics.present.charts import outlets as charts
from metrics.present.formatting import fmt_count
from metrics.report.outlets_section import WIDER_MONTHS, wider_filters
from servicewatch import ui
from servicewatch.outlets_panel import column, has_outlet_tables, minutes, num, outlet_names, rules
from servicewatch.ui import View


# -- does the VIP lane work -----------------------------------------------------------------------
def vip(view: View) -> pd.DataFrame | None:
    """Per hall with a VIP room: minutes high-tier customers save against standard ones with the 95%
    interval; the halls where it works in sentences, where it does not (or cannot be told) named."""
    if not has_outlet_tables(view):
        return None
    r = rules(view)
    if r is None:
        return None
    df = view.call(oa.vip_lane, view.filters, None, None, r)
    if not isinstance(df, pd.DataFrame):
        return None
    if df.empty:
        st.info(view.t("page.outlets.vip_none"))
        return df
    df = df.sort_values("saving_min", ascending=False, na_position="last").reset_index(drop=True)
    names = outlet_names(df)
    tiers, worth = vip_tiers(view.lang, r), minutes(view, r.min_saving_min)
    for _, row in df[df["verdict"] == "works"].iterrows():
        st.markdown(view.md("page.outlets.vip_sentence", name=str(row["name"]), tiers=tiers,
                            saved=minutes(view, row["saving_min"]),
                            low=minutes(view, row["saving_lower"]), high=minutes(view, row["saving_upper"]),
                            n_high=fmt_count(row["n_vip"]), n_std=fmt_count(row["n_other"])))
    for verdict, key, box in (("does_not", "vip_not_holding", st.warning), ("unclear", "vip_unclear", st.info),
                              ("too_small", "vip_too_small", st.caption)):
        halls = [str(n) for n in df.loc[df["verdict"] == verdict, "name"]]
        if halls:
            box(view.md(f"page.outlets.{key}", names=join_names(halls, view.lang), worth=worth))
    _vip_wider(view, df[df["verdict"] == "too_small"], tiers, r)
    drawn = df.dropna(subset=["saving_min"])
    if not drawn.empty:
        fig = charts.vip_difference(drawn, view.lang, view.t("page.outlets.vip_chart"), view.subtitle(), names)
        ui.chart(view, fig, _vip_table(view, drawn), "outlet_vip_lane", metrics=())
    st.caption(view.t("page.outlets.vip_method", tiers=tiers, min=oa.MIN_LANE_N, worth=worth))
    return df


def _vip_wider(view: View, small: pd.DataFrame, tiers: str, rules_: os_.Rules) -> None:
    """The halls with too few VIP waits in a short period, told over the :data:`WIDER_MONTHS` months to
    the period's end (:func:`metrics.report.outlets_section.wider_filters`), said as that window's."""
    fw = wider_filters(view.filters)
    if small.empty or fw is None:
        return
    wide = view.call(oa.vip_lane, fw, None, None, rules_)
    if not isinstance(wide, pd.DataFrame) or wide.empty:
        return
    wide = wide[wide["outlet_id"].isin(small["outlet_id"]) & (wide["verdict"] != "too_small")]
    for _, r in wide.sort_values("saving_min", ascending=False).iterrows():
        key = {"works": "vip_wider_works", "unclear": "vip_wider_unclear"}.get(r["verdict"], "vip_wider_not")
        st.markdown(view.md(f"page.outlets.{key}", name=str(r["name"]), tiers=tiers, months=WIDER_MONTHS,
                            start=fw.start.isoformat(), end=fw.end.isoformat(), saved=minutes(view, r["saving_min"]),
                            low=minutes(view, r["saving_lower"]), high=minutes(view, r["saving_upper"]),
                            n_high=fmt_count(r["n_vip"]), n_std=fmt_count(r["n_other"])))


def vip_tiers(lang: str, r: os_.Rules) -> str:
    """The tiers the VIP lane serves (the star rules file's ``[vip] tiers``, data) by name, as a list."""
    return join_names([label("tier", c, lang) for c in r.vip_tiers], lang)


def _vip_table(view: View, df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        column(view, "hall"): df["name"].astype(str),
        column(view, "mean_high"): df["mean_wait_vip_min"].round(2),
        column(view, "mean_std"): df["mean_wait_other_min"].round(2),
        column(view, "saved"): df["saving_min"].round(2),
        column(view, "interval"): [f"{num(lo)} – {num(hi)}"
                                 for lo, hi in zip(df["saving_lower"], df["saving_upper"], strict=True)],
        column(view, "n_high"): df["n_vip"],
        column(view, "n_std"): df["n_other"],
        column(view, "verdict"): [view.t(f"page.outlets.verdict.{v}") for v in df["verdict"]],
    })
