"""The Regulator page's sections (issue 20, pages/12_Regulator.py): MIIT's table per quarter (appeals by
its categories, the rate per million users, the change on the quarter and the year; total, by province
or by city) with the expected rate of a quarter not yet over; the appeal-risk list with the owners (a
viewer sees the counts only); the Ofcom, TIO and ACMA readings with their definitions written on the
page. A view: every figure comes from the engine (:mod:`metrics.analysis.regulator`,
:mod:`metrics.analysis.appeal_risk`), the words from :mod:`metrics.present.regulator_text`."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from metrics.analysis import appeal_risk as ar
from metrics.analysis import regulator as rg
from metrics.analysis import regulator_quarters as rq
from metrics.analysis import regulator_users as ru
from metrics.analysis.regulator_acma import acma
from metrics.present import regulator_text as rt
from metrics.present.charts.core import bar_ci
from metrics.present.formatting import fmt_count, number
from servicewatch import panels, ui
from servicewatch.ui import View

LEVELS = ("total", "province", "city")
OTHER = ("ofcom", "tio", "acma")


def quarters(view: View) -> list[rq.Quarter]:
    """The quarters the data spans, newest first (the as-of date's quarter first: it may not be over)."""
    first, last = view.call("data_span")
    q = rq.Quarter.of(last)
    out = []
    while q.stop > first and len(out) < 40:
        out.append(q)
        q = q.shifted(-1)
    return out


def _quarter(view: View) -> rq.Quarter:
    options = quarters(view)
    return view.choice("quarter", options, view.t("page.regulator.quarter"), widget="selectbox", to_url=str,
                       format_func=str)


def _definition(view: View, authority: str, fig: rg.Figures | None) -> None:
    st.caption(f"**{view.t('page.regulator.definition')}** · " + view.t(f"regulator.definition.{authority}"))
    if fig is not None:
        st.caption(rt.denominator(fig, view.lang))


def _region_names(view: View) -> dict[int, str]:
    regions = view.regions
    main, other = ("name_zh", "name_en") if view.lang == "zh" else ("name_en", "name_zh")
    names = regions[main].where(regions[main].notna() & (regions[main].astype(str) != ""), regions[other])
    return dict(zip(regions["region_id"].astype(int), names.astype(str), strict=True))


# -- MIIT ---------------------------------------------------------------------------------------------
def miit(view: View) -> rg.Figures | None:
    """The MIIT table for the chosen quarter and region level, its sentence and expected rate."""
    quarter = _quarter(view)
    level = view.choice("level", LEVELS, view.t("page.regulator.level"), widget="segmented",
                        format_func=lambda v: view.t(f"page.regulator.level_{v}"))
    left, right = st.columns(2)
    base = view.choice("base", [ru.CUSTOMERS_BASE, *view.call(ru.bases)], view.t("page.regulator.base"),
                       widget="selectbox", where=left, format_func=lambda b: view.t(f"user_base_kind.{b}"))
    point = view.choice("point", rq.POINTS, view.t("page.regulator.point"), widget="selectbox", where=right,
                        format_func=lambda p: view.t(f"regulator.point.{p}"))
    fig = view.call(rg.rates, view.filters, quarter, "miit", base=None if base == ru.CUSTOMERS_BASE else base,
                    point=point, level=None if level == "total" else level)
    if not isinstance(fig, rg.Figures):
        return None
    fig = rt.ordered(fig)
    _definition(view, "miit", fig)
    if fig.reason:
        st.info(view.t(fig.reason), icon=":material/info:")
        return fig
    line = rt.headline(fig, view.lang)
    if line:
        st.markdown(_escape(line))
    ahead = rg.projection(fig, view.filters.as_of or view.call("as_of"))
    if ahead is not None:
        total = fig.table[fig.table["regulator_category"] == rg.ALL].iloc[0]
        st.info(view.t("regulator.expected", elapsed=ahead["elapsed"], days=ahead["days"],
                       appeals=fmt_count(ahead["appeals"]), rate=rt.rate_text(ahead["rate"]),
                       unit=view.t("regulator.unit.miit"), lower=rt.rate_text(ahead["lower"]),
                       upper=rt.rate_text(ahead["upper"]), rate_prev=rt.rate_text(total["rate_prev"])),
                icon=":material/schedule:")
    for text in rt.not_in_use_lines(fig, view.lang):  # a category the comparison quarter did not have
        st.caption(_escape(text))
    if (fig.table["regulator_category"] == rg.UNMAPPED).any():
        st.warning(view.t("page.regulator.unmapped_note"))
    if level != "total":
        _region_chart(view, fig, quarter)
    shown = rt.shown_table(fig, view.lang, _region_names(view))
    panels.listing(view, shown, view.t("page.regulator.file_miit"), "regulator_miit_csv", "regulator_miit.csv",
                   pin=2 if level != "total" else 1, height=panels.rows_height(shown, 480))
    return fig


def _region_chart(view: View, fig: rg.Figures, quarter: rq.Quarter) -> None:
    """The total rate per region with its 95% interval (regions without users left out)."""
    total = fig.table[(fig.table["regulator_category"] == rg.ALL) & (fig.table["users"] > 0)]
    total = total.dropna(subset=["rate"])
    if len(total) < 2:
        return
    names = _region_names(view)
    bars = pd.DataFrame({"region_id": total["region_id"].astype(int), "value": total["rate"],
                         "lower": total["lower"], "upper": total["upper"], "n": total["users"]})
    title = view.t("page.regulator.chart_title", quarter=str(quarter), unit=view.t("regulator.unit.miit"))
    chart = bar_ci(bars, "region", "rate", view.lang, title, view.subtitle(), region_names=names, digits=1)
    data = pd.DataFrame({"region": [names.get(int(r), str(r)) for r in bars["region_id"]], "value": bars["value"],
                         "lower": bars["lower"], "upper": bars["upper"], "n": bars["n"]})
    ui.chart(view, chart, data, "regulator_miit_regions", metrics=())


def _escape(text: str) -> str:
    from metrics.present.markup import md

    return md(text)


# -- appeal risk ----------------------------------------------------------------------------------------
def appeal_risk(view: View) -> ar.AppealRisk | None:
    """The complaints past 15 days and those passing it within 3, with the owners (the ticket's handler, else
    the account manager, and which); counts for a viewer."""
    r = view.call(ar.appeal_risk, view.filters)
    if not isinstance(r, ar.AppealRisk):
        return None
    st.markdown(_escape(view.t("regulator.risk.counts", day=r.as_of.isoformat(), past=r.past, soon=r.soon,
                               wait=ar.WAIT_DAYS, soon_days=ar.SOON_DAYS)))
    if not r.listed:
        st.info(view.t("regulator.risk.viewer"), icon=":material/lock:")
        return r
    if r.table.empty:
        st.info(view.t("regulator.risk.none"))
        return r
    df = r.table
    col = lambda k: view.t(f"regulator.col.{k}")  # noqa: E731
    names = _region_names(view)
    shown = pd.DataFrame({
        col("ticket_id"): df["ticket_id"].astype(str),
        col("state"): [view.t(f"regulator.risk.state.{s}") for s in df["state"]],
        col("age_days"): [number(float(v), 1) for v in df["age_days"]],
        col("days_left"): [number(float(v), 1) for v in df["days_left"]],
        col("owner"): [str(m) if m is not None and not pd.isna(m) else "—" for m in df["owner"]],
        col("owner_kind"): [view.t(f"appeal_owner.{k}") for k in df["owner_kind"]],
        col("manager"): [str(m) if m is not None and not pd.isna(m) else "—" for m in df["manager"]],
        col("customer"): df["customer"].astype(str),
        col("region"): [names.get(int(v), str(v)) for v in df["region_id"]],
        col("category"): [view.label("category", v) for v in df["category"]],
        view.t("page.tables.priority"): [view.label("priority", v) for v in df["priority"]],
        col("opened_at"): pd.to_datetime(df["opened_at"]).dt.strftime("%Y-%m-%d %H:%M"),
    })
    panels.listing(view, shown, view.t("page.regulator.file_risk"), "regulator_risk_csv", "appeal_risk.csv",
                   pin=2, height=panels.rows_height(shown, 480))
    return r


# -- the other authorities ------------------------------------------------------------------------------
def authorities(view: View) -> rg.Figures | None:
    """Ofcom, TIO or ACMA for the chosen quarter, the definition written above the figure."""
    quarter = _quarter(view)
    authority = view.choice("authority", OTHER, view.t("page.regulator.authority"), widget="segmented",
                            format_func=lambda a: view.t(f"authority.{a}"))
    if authority == "acma":
        fig = view.call(acma, view.filters, quarter)
    else:
        fig = view.call(rg.rates, view.filters, quarter, authority)
    if not isinstance(fig, rg.Figures):
        return None
    _definition(view, authority, fig)
    if fig.reason:
        st.info(view.t(fig.reason), icon=":material/info:")
        return fig
    if authority == "acma":
        for line in rt.acma_lines(fig, view.lang):
            st.markdown(_escape(line))
        r = fig.table.iloc[0]
        st.markdown(_escape(f"{view.t('regulator.col.complaints')}: {fmt_count(r['appeals'])} · "
                            f"{rt.rate_text(r['rate'])} {view.t('regulator.unit.acma')} "
                            f"({rt.rate_text(r['lower'])}–{rt.rate_text(r['upper'])})"))
        return fig
    line = rt.headline(fig, view.lang)
    if line:
        st.markdown(_escape(line))
    shown = rt.shown_table(fig, view.lang)
    panels.listing(view, shown, view.t("page.regulator.file_other"), "regulator_other_csv", "regulator_other.csv",
                   height=80)
    return fig

