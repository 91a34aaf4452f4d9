"""The churn page's retention and risk sections, as functions a page calls with its ``View``.

Numbers come from the engine (``metrics.churn.survival``, ``metrics.churn.store``); the model is fitted by
``servicewatch churn fit`` and only read here. Every risk figure is shown with its model's date,
sample and holdout quality.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from metrics.analysis import plain
from metrics.churn import rates as churn_rates
from metrics.churn import store as churn_store
from metrics.churn import survival
from metrics.model.i18n import label
from metrics.present.charts import churn as charts_churn
from metrics.present.charts import core as charts
from metrics.present.formatting import fmt_p, fmt_value
from metrics.present.markup import md
from servicewatch import ui
from servicewatch.downloads import list_download
from servicewatch.kpis import kpi
from servicewatch.tables import MISSING, fitted_columns, localise

DIMS = ("tier", "segment", "channel", "sla_level", "region")
DIM_KEYS = {"tier": "filter.tier", "segment": "filter.segment", "channel": "filter.channel",
            "sla_level": "page.tables.sla_level", "region": "filter.city"}
LIST_LIMIT = 100
DAYS_PER_MONTH = survival.DAYS_PER_MONTH


def _months(days: float, view: ui.View) -> str:
    return view.t("churn.not_reached") if not np.isfinite(days) else f"{days / DAYS_PER_MONTH:.1f}"


def _group_name(view: ui.View, dim: str, g) -> str:
    return view.region_names.get(int(g), str(g)) if dim == "region" else label(dim, g, view.lang)


def retention_panel(view: ui.View) -> None:
    """Kaplan–Meier curves by a chosen dimension with 95% bands, median/RMST table, log-rank tests."""
    st.header(view.t("churn.retention_header"))
    dim = view.choice("dim", DIMS, view.t("churn.retention_by"), widget="selectbox",
                      format_func=lambda d: view.t(DIM_KEYS[d]))
    r = view.call(survival.retention, view.filters, dim, "city", 7)
    if r.curves.empty:
        ui.empty_state(view)
        return
    dim_name = view.t(DIM_KEYS[dim])
    fig = charts_churn.retention_curves(r.curves, dim, view.lang, view.t("churn.retention_title", dim=dim_name),
                                        view.subtitle(), view.region_names)
    named = r.curves.assign(group=[_group_name(view, dim, g) for g in r.curves["group"]])
    ui.chart(view, fig, named, f"churn_retention_{dim}", metrics="churn_rate")
    st.caption(view.t("churn.retention_caption"))
    small = r.summary[r.summary["too_small"]]
    if len(small):
        st.warning(view.md("churn.too_small", groups=", ".join(_group_name(view, dim, g) for g in small["group"]),
                          n=survival.MIN_GROUP))
    left, right = st.columns(2)
    with left:
        st.subheader(view.t("churn.summary_header"))
        summary = summary_table(r.summary, dim, view)
        st.dataframe(summary, hide_index=True, width="stretch", placeholder=MISSING,
                     column_config=fitted_columns(summary))
    with right:
        if len(r.logrank):
            st.subheader(view.t("churn.logrank_header"))
            # the plain reading first, from the same tests and summary; the tests behind the expander
            st.markdown(plain.logrank_reading(r.logrank, r.summary, lambda g: md(_group_name(view, dim, g)),
                                              view.lang))
            with st.expander(view.t("plain.details")):
                logrank = logrank_table(r.logrank, dim, view)
                st.dataframe(logrank, hide_index=True, width="stretch", placeholder=MISSING,
                             column_config=fitted_columns(logrank))


def summary_table(summ: pd.DataFrame, dim: str, view: ui.View) -> pd.DataFrame:
    """Median and RMST per group in months, with 95% intervals, headers in the page language."""
    col = lambda k: view.t(f"churn.col.{k}")  # noqa: E731
    return pd.DataFrame({
        col("group"): [_group_name(view, dim, g) for g in summ["group"]],
        col("n"): summ["n"], col("events"): summ["events"],
        col("median"): [_months(x, view) for x in summ["median_days"]],
        col("median_ci"): [f"{_months(a, view)} – {_months(b, view)}"
                           for a, b in zip(summ["median_lower"], summ["median_upper"], strict=True)],
        col("rmst_12m"): [f"{v:.2f} ({lo:.2f}–{hi:.2f})" for v, lo, hi in
                          zip(summ["rmst_12m"], summ["rmst_12m_lower"], summ["rmst_12m_upper"], strict=True)],
        col("rmst_24m"): [f"{v:.2f} ({lo:.2f}–{hi:.2f})" for v, lo, hi in
                          zip(summ["rmst_24m"], summ["rmst_24m_lower"], summ["rmst_24m_upper"], strict=True)],
    })


def logrank_table(lr: pd.DataFrame, dim: str, view: ui.View) -> pd.DataFrame:
    col = lambda k: view.t(f"churn.col.{k}")  # noqa: E731
    return pd.DataFrame({
        col("group_a"): [_group_name(view, dim, g) for g in lr["group_a"]],
        col("group_b"): [_group_name(view, dim, g) for g in lr["group_b"]],
        col("chi2"): lr["chi2"].round(2), col("p"): lr["p"].map(fmt_p),
        col("p_holm"): lr["p_holm"].map(fmt_p),
    })


def risk_panel(view: ui.View) -> None:
    """Model quality, hazard ratios (forest plot) and the at-risk list; says how to fit when none."""
    st.header(view.t("churn.risk_header"))
    model = view.call(churn_store.latest_model)
    if model is None:
        st.info(view.t("churn.no_model"), icon=":material/model_training:")
        return
    if view.call(churn_store.is_stale):
        st.warning(view.t("churn.scores_stale"), icon=":material/update:")
    model_quality(model, view)
    terms = view.call(churn_store.model_terms, int(model["model_id"]))
    shown = forest_terms(terms)
    refs = charts_churn.references(model.get("reference_levels"))
    st.markdown(plain.hazard_reading(shown, lambda x: md(charts_churn.term_label(x, view.lang, refs)), view.lang))
    fig = charts_churn.forest(shown, view.lang, view.t("churn.forest_title"),
                              f"{view.t('app.as_of', date=str(model['as_of'])[:10])}", refs)
    ui.chart(view, fig, shown, "churn_forest")
    with st.expander(view.t("plain.details")):
        st.caption(view.t("churn.forest_caption"))

    st.subheader(view.t("churn.list_header"))
    at_risk = view.call(churn_store.scores, view.filters, LIST_LIMIT, view.lang)
    if at_risk.empty:
        ui.empty_state(view)
        return
    st.caption(view.t("churn.list_caption", limit=LIST_LIMIT))
    table = at_risk_table(at_risk, view)
    st.dataframe(table, hide_index=True, width="stretch", height=420, placeholder=MISSING,
                 column_config=fitted_columns(table, pin=2))
    list_download(view, table, view.t("churn.list_file"), "churn_at_risk_csv", "churn_at_risk.csv",
                  **at_risk_export(view))


def model_quality(model: dict, view: ui.View) -> None:
    """The model's quality in plain words (:func:`metrics.analysis.plain.model_reading`), the
    technical detail (sample, concordance, AUC, the baseline, the proportional-hazards check) behind
    an expander."""
    reading = plain.model_reading(model, view.lang)
    if reading:
        st.markdown(reading)
    with st.expander(view.t("plain.details")):
        st.markdown(quality_text(model, view))


def quality_text(model: dict, view: ui.View) -> str:
    """Date, sample and holdout quality of a stored model, and which model did better."""
    f3 = lambda x: "–" if x is None or pd.isna(x) else f"{x:.3f}"  # noqa: E731
    parts = [view.t("churn.model_quality", fitted=str(model["fitted_at"])[:16], as_of=str(model["as_of"])[:10],
                    rows=f"{int(model['n_train_rows']):,}", events=f"{int(model['n_train_events']):,}",
                    customers=f"{int(model['n_train_customers']):,}", test_rows=f"{int(model['n_test_rows']):,}",
                    test_events=f"{int(model['n_test_events']):,}", c=f3(model["concordance_cox"]),
                    auc=f3(model["auc_cox"]), lo=f3(model["auc_cox_lower"]), hi=f3(model["auc_cox_upper"]),
                    auc_l=f3(model["auc_logit"]))]
    if model["better"] == "cox":
        parts.append(view.t("churn.better_cox"))
    else:
        parts.append(view.t("churn.better_logistic", lo=f3(model["auc_diff_lower"]), hi=f3(model["auc_diff_upper"])))
    viol = model.get("ph_violations") or ""
    refs = charts_churn.references(model.get("reference_levels"))
    parts.append(view.t("churn.ph_violations", terms=", ".join(charts_churn.term_label(x.strip(), view.lang, refs)
                                                                for x in viol.split(",") if x.strip()))
                 if viol else view.t("churn.ph_ok"))
    if model.get("missing"):
        parts.append(view.md("churn.missing", missing=model["missing"]))
    return " ".join(parts)


def forest_terms(terms: pd.DataFrame) -> pd.DataFrame:
    """The ratios to show: every term of the drivers model, plus the spend decline of the risk model."""
    drivers = terms[terms["model"] == "drivers"]
    spend = terms[(terms["model"] == "risk") & (terms["term"] == "spend_decline_10pct")]
    return pd.concat([drivers, spend], ignore_index=True)[["term", "hr", "hr_lower", "hr_upper", "p", "model"]]


AT_RISK_COLUMNS = ("customer_id", "name", "tier", "region_id", "account_manager", "open_tickets",
                   "churn_probability_90d", "revenue_at_risk", "drivers")


def at_risk_export(view: ui.View) -> dict:
    """The Excel export of the at-risk list (:func:`servicewatch.downloads.list_download`): its engine
    columns, the churn rate's definition and the list's title."""
    return {"columns": AT_RISK_COLUMNS, "metrics": ("churn_rate",), "title": view.t("churn.list_header")}


def at_risk_table(df: pd.DataFrame, view: ui.View) -> pd.DataFrame:
    """The at-risk list as shown: customer keys as the source wrote them, names in the page's language,
    the 90-day probability in percent; columns in :data:`AT_RISK_COLUMNS`' order."""
    out = df[list(AT_RISK_COLUMNS)].copy()
    out["churn_probability_90d"] = (100 * out["churn_probability_90d"]).round(1)
    out["revenue_at_risk"] = out["revenue_at_risk"].round(0)
    keys = view.keys("customers", out["customer_id"])  # the customer as the source wrote it
    out["customer_id"] = [keys.get(int(c), str(c)) for c in out["customer_id"]]
    out = localise(out, view.lang, view.region_names)
    keys = {c: view.t(f"churn.col.{c}") for c in ("customer_id", "name", "account_manager", "open_tickets",
                                                  "churn_probability_90d", "revenue_at_risk", "drivers")}
    keys["churn_probability_90d"] += " (%)"
    return out.rename(columns=keys)


BY_COLUMNS = ("value", "lower", "upper", "annual", "annual_lower", "annual_upper", "n", "exposure")


def headline(view: ui.View, total: pd.DataFrame, active: pd.DataFrame) -> None:
    """The churn page's cards: monthly churn against its target, annualised churn with its 95%
    interval, customers who left and active customers (``total``, ``active``: their compare frames)."""
    lang = view.lang
    overall = view.call(churn_rates.churn_by, view.filters, ())
    cards = st.columns(4)
    kpi(cards[0], view, "churn_rate", total, view.target("churn_rate"))
    annual = overall["annual"].iloc[0] if len(overall) else None
    cards[1].metric(view.t("page.churn.kpi_annual"), fmt_value(annual, "share", lang),
                    help=None if overall.empty else "95%: " + " – ".join(
                        fmt_value(overall[c].iloc[0], "share", lang) for c in ("annual_lower", "annual_upper")))
    cards[2].metric(view.t("page.churn.kpi_churned"), fmt_value(overall["n"].iloc[0] if len(overall) else 0,
                                                                "customers", lang))
    kpi(cards[3], view, "active_customers", active)


def by_segment_tier_panel(view: ui.View) -> None:
    """Monthly and annualised churn by segment and by tier, with 95% intervals."""
    st.header(view.t("page.churn.by_header"))
    sub = view.subtitle()
    for dim in ("segment", "tier"):
        by = view.call(churn_rates.churn_by, view.filters, (dim,))
        by = by[by[dim].notna()]
        if by.empty:
            ui.empty_state(view)
            continue
        left, right = st.columns(2)
        dim_name = view.t(f"page.tables.{dim}")
        with left:
            fig = charts.bar_ci(by, dim, "share_per_month", view.lang, view.t("page.churn.by_title", dim=dim_name), sub)
            ui.chart(view, fig, by[[dim, *BY_COLUMNS]], f"churn_monthly_{dim}", metrics="churn_rate")
        with right:
            yearly = by[[dim, "annual", "n", "annual_lower", "annual_upper"]].rename(
                columns={"annual": "value", "annual_lower": "lower", "annual_upper": "upper"})
            fig = charts.bar_ci(yearly, dim, "share", view.lang, view.t("page.churn.annual_title", dim=dim_name), sub)
            ui.chart(view, fig, by[[dim, *BY_COLUMNS]], f"churn_annual_{dim}", metrics="churn_rate")
    st.caption(view.t("common.interval_note"))


SURVEY_COLUMNS = ("survey_id", "answered_at", "survey_kind", "csat", "nps", "ces", "comment")


def survey_table(surveys: pd.DataFrame, view: ui.View) -> pd.DataFrame:
    """One customer's surveys (:func:`metrics.analysis.customer_history.surveys`) as shown on the
    At-risk page: the survey kind by name, headers in the page's language."""
    shown = surveys.rename(columns={"kind": "survey_kind"})[list(SURVEY_COLUMNS)].copy()
    shown["survey_kind"] = [view.label("survey_kind", v) for v in shown["survey_kind"]]
    return shown.rename(columns={c: view.t(f"page.at_risk.col.{c}") for c in SURVEY_COLUMNS})
