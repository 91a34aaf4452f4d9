"""The Portfolio page's sections (issue 18, pages/10_Portfolio.py): the account managers' league with
intervals, one manager's customers with the manuals' warning signs, and whether the retention actions
worked (treated against the random holdout). A view: every figure comes from the engine
(:mod:`metrics.analysis.portfolio`, :mod:`metrics.churn.action_effect`); text from the catalogue."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from metrics.analysis import plain
from metrics.analysis import portfolio as pf
from metrics.churn import action_effect as ae
from metrics.present.charts.churn import retention_curves
from metrics.present.charts.core import bar_ci
from metrics.present.formatting import fmt_count, fmt_interval, fmt_p, fmt_percent, number
from metrics.present.markup import md
from servicewatch import panels, ui
from servicewatch.ui import View

UNVISITED_DAYS = 90  # "not visited": no visit on record, or the last more than this many days before D
EFFECT_BY = ("action_type", "risk_band")


def _money(v: object) -> str:
    return "—" if v is None or pd.isna(v) else number(float(v), 0)


def _pp(view: View, v: object) -> str:
    return "—" if v is None or pd.isna(v) else view.t("page.portfolio.pp", value=number(100 * float(v), 1, signed=True))


def _col(view: View, key: str) -> str:
    return view.t(f"page.portfolio.col.{key}")


# -- the league -------------------------------------------------------------------------------------
def league(view: View) -> pf.Portfolio | None:
    """The league of managers in the filters and scope, ranked on the URL's ``rank_by``: notes, the
    sentence, a bar chart with 95% intervals and the list with its audited downloads."""
    rank_by = view.choice("rank_by", tuple(pf.RATES), view.t("page.portfolio.rank_by"), "csat", widget="selectbox",
                          format_func=lambda r: view.t(f"portfolio.rate.{r}"))
    r = view.call(pf.league, view.filters, rank_by)
    if not isinstance(r, pf.Portfolio):  # refused: said by view.call
        return None
    for note in r.notes:
        st.info(view.t(note), icon=":material/info:")
    df = r.managers
    if df.empty:
        st.info(view.t("portfolio.no_managers"))
        return r
    higher = pf.RATES[rank_by][2]
    rate = view.t(f"portfolio.rate.{rank_by}")
    st.markdown(view.md("portfolio.league", n=len(df), rate=rate, min=pf.MIN_RANK_N, day=r.day.isoformat(),
                        bound=view.t(f"portfolio.bound_{'lower' if higher else 'upper'}")))
    col = "churn_share" if rank_by == "churn" else rank_by
    den = pf.RATES[rank_by][1]
    data = pd.DataFrame({"manager": df["manager_name"], "value": pd.to_numeric(df[col], errors="coerce"),
                         "lower": pd.to_numeric(df[f"{col}_lower"], errors="coerce"),
                         "upper": pd.to_numeric(df[f"{col}_upper"], errors="coerce"),
                         "n": pd.to_numeric(df[den], errors="coerce")}).dropna(subset=["value"])
    if not data.empty:
        title = view.t("page.portfolio.chart_title", rate=rate)
        # managers are drawn as bar_ci's named categories (ids -> names), in the league's order
        bars = data.assign(region_id=df.loc[data.index, "manager_id"].astype(int))
        names = dict(zip(bars["region_id"], bars["manager"].astype(str), strict=False))
        fig = bar_ci(bars, "region", "share", view.lang, title, view.subtitle(), region_names=names)
        ui.chart(view, fig, data, f"portfolio_league_{rank_by}", metrics=())
    shown = pd.DataFrame({
        _col(view, "rank"): [fmt_count(v) if pd.notna(v) else view.t(f"portfolio.rank_note.{n or 'no_data'}")
                             for v, n in zip(df["rank"], df["rank_note"], strict=True)],
        _col(view, "manager"): df["manager_name"].astype(str),
        _col(view, "rate"): [fmt_percent(v) for v in df[col]],
        _col(view, "interval"): [fmt_interval(lo, hi, "share", view.lang)
                                 for lo, hi in zip(df[f"{col}_lower"], df[f"{col}_upper"], strict=True)],
        _col(view, "n"): [fmt_count(v) for v in df[den]],
        _col(view, "customers"): [fmt_count(v) for v in df["customers"]],
        _col(view, "revenue"): [_money(v) for v in df["revenue"]],
        _col(view, "coverage_90d"): [fmt_percent(v) for v in df["coverage_90d"]],
        _col(view, "open_complaints"): [fmt_count(v) for v in df["open_complaints"]],
        _col(view, "sla_breaches"): [fmt_count(v) for v in df["sla_breaches"]],
        _col(view, "churned"): [fmt_count(v) for v in df["churned"]],
        _col(view, "revenue_lost"): [_money(v) for v in df["revenue_lost"]],
        _col(view, "revenue_at_risk"): [_money(v) for v in df["revenue_at_risk"]],
        _col(view, "verdict"): [view.t(f"page.regions.verdict.{v}") if isinstance(v, str) else "—"
                                for v in df["verdict"]],
    })
    panels.listing(view, shown, view.t("page.portfolio.file_league"), "portfolio_league_csv",
                   "portfolio_league.csv", pin=2, height=panels.rows_height(shown, 420))
    return r


# -- one manager's customers ------------------------------------------------------------------------
def manager_options(view: View) -> dict[int, str]:
    """The managers the user may pick: an account manager only themself, else every manager with
    customers in the filters and scope (id -> name)."""
    r = view.call(pf.league, view.filters, "csat")
    df = r.managers if isinstance(r, pf.Portfolio) else pd.DataFrame(columns=["manager_id", "manager_name"])
    names = dict(zip(df["manager_id"].astype(int), df["manager_name"].astype(str), strict=True))
    own = view.filters.scope.manager_id if view.filters.scope is not None else None
    if own is not None:
        return {int(own): names.get(int(own), str(own))}
    return names


def pick_manager(view: View) -> int | None:
    """The manager chosen (URL ``manager=`` their key as the source wrote it) among
    :func:`manager_options`; None, said on the page, when there is none to pick."""
    options = manager_options(view)
    if not options:
        st.info(view.t("portfolio.no_managers"))
        return None
    ids = list(options)
    keys = view.keys("account_managers", ids)
    return view.choice("manager", ids, view.t("page.portfolio.pick_manager"), widget="selectbox",
                       to_url=lambda m: str(keys.get(m, m)), format_func=lambda m: f"{options[m]} ({keys.get(m, m)})")


def customers(view: View) -> pd.DataFrame | None:
    """One manager's customers (the manager in the URL): the sentence, falling spend first, last visit,
    not visited in 90 days, open complaints and risk, with the list's audited downloads."""
    manager = pick_manager(view)
    if manager is None:
        return None
    res = view.call(pf.customers, view.filters, manager)
    if not isinstance(res, tuple):  # refused (a viewer sees no customer lists): said by view.call
        return None
    df, notes = res
    for note in notes:
        st.info(view.t(note), icon=":material/info:")
    if df.empty:
        st.info(view.t("portfolio.none"))
        return df
    days = pd.to_numeric(df["days_since_visit"], errors="coerce")
    unvisited = days.isna() | (days > UNVISITED_DAYS)
    st.markdown(view.md("page.portfolio.customers_sentence", n=len(df), falling=int(df["spend_falling"].sum()),
                        unvisited=int(unvisited.sum())))
    ckeys = view.keys("customers", df["customer_id"])
    shown = pd.DataFrame({
        view.t("churn.col.customer_id"): [ckeys.get(int(c), str(c)) for c in df["customer_id"]],
        view.t("churn.col.name"): df["name"].astype(str),
        _col(view, "spend_falling"): df["spend_falling"].astype(bool),
        _col(view, "spend_change"): [fmt_percent(v, signed=True) if pd.notna(v)
                                     else view.t(f"portfolio.spend_note.{n}") if isinstance(n, str) else "—"
                                     for v, n in zip(df["spend_change"], df["spend_note"], strict=True)],
        _col(view, "last_visit"): [str(v) if v is not None else view.t("portfolio.no_visit") for v in df["last_visit"]],
        _col(view, "unvisited_90"): unvisited.astype(bool).to_numpy(),
        _col(view, "open_complaints"): [fmt_count(v) for v in df["open_complaints"]],
        view.t("page.tables.tier"): [view.label("tier", v) for v in df["tier"]],
        _col(view, "churn_probability"): [fmt_percent(v) for v in df["churn_probability_90d"]],
        _col(view, "revenue_at_risk"): [_money(v) for v in df["revenue_at_risk"]],
    })
    panels.listing(view, shown, view.t("page.portfolio.file_customers"), "portfolio_customers_csv",
                   "portfolio_customers.csv", pin=2, height=420)
    return df


# -- did the actions work -----------------------------------------------------------------------------
def _tell(row: pd.Series) -> str:
    return "withheld" if row["withheld"] else "too_small" if row["too_small"] else "yes"


def effect(view: View) -> pd.DataFrame | None:
    """Per action type and risk band: treated against holdout (90-day churn difference with its 95%
    interval, customers needed to treat, revenue kept against cost), the too-small warnings in plain
    words, and the Kaplan–Meier curves of one group (in the URL)."""
    if not ae.has_actions(view.wh):
        st.info(view.t("page.portfolio.no_actions"))
        return None
    df = view.call(ae.action_effect, view.filters, EFFECT_BY)
    if not isinstance(df, pd.DataFrame) or df.empty:
        st.info(view.t("actions.none"))
        return None
    groups = [f"{view.label('action_type', a)} · {view.label('risk_band', b)}"
              for a, b in zip(df["action_type"], df["risk_band"], strict=True)]
    small = [view.md("actions.too_small", group=g, n=int(r["n_holdout"] or 0), min=ae.MIN_HOLDOUT)
             for g, (_, r) in zip(groups, df.iterrows(), strict=True) if r["too_small"] and not r["withheld"]]
    if small:
        st.warning("\n\n".join(small), icon=":material/help:")
    sentences = []  # the difference with its Newcombe interval: behind the expander, the plain line first
    for g, (_, r) in zip(groups, df.iterrows(), strict=True):
        if not r["withheld"] and not r["too_small"]:
            reading = plain.action_reading(r, md(g), fmt_percent, lambda v: _pp(view, v).lstrip("+"), view.lang)
            if reading:
                st.markdown(reading)
            sentences.append(view.md("page.portfolio.effect_sentence", group=g, treated=fmt_percent(r["churn_treated"]),
                                     holdout=fmt_percent(r["churn_holdout"]), diff=_pp(view, r["difference"]),
                                     low=_pp(view, r["diff_low"]), high=_pp(view, r["diff_high"])))
    shown = pd.DataFrame({
        _col(view, "action_type"): [view.label("action_type", v) for v in df["action_type"]],
        _col(view, "risk_band"): [view.label("risk_band", v) for v in df["risk_band"]],
        _col(view, "tell"): [view.t(f"page.portfolio.tell.{_tell(r)}") for _, r in df.iterrows()],
        _col(view, "n_treated"): [fmt_count(v) for v in df["n_treated"]],
        _col(view, "n_holdout"): [fmt_count(v) for v in df["n_holdout"]],
        _col(view, "churn_treated"): [fmt_percent(v) for v in df["churn_treated"]],
        _col(view, "churn_holdout"): [fmt_percent(v) for v in df["churn_holdout"]],
        _col(view, "difference"): [_pp(view, v) for v in df["difference"]],
        _col(view, "interval"): [f"{_pp(view, lo)} – {_pp(view, hi)}" if pd.notna(lo) else "—"
                                 for lo, hi in zip(df["diff_low"], df["diff_high"], strict=True)],
        _col(view, "logrank_p"): [fmt_p(v) for v in df["logrank_p"]],
        _col(view, "nnt"): [number(float(v), 1) if pd.notna(v) else "—" if w else view.t("actions.cannot_tell")
                            for v, w in zip(df["nnt"], df["withheld"], strict=True)],
        _col(view, "revenue_kept"): [_money(v) for v in df["revenue_kept"]],
        _col(view, "cost"): [_money(v) for v in df["cost"]],
        _col(view, "net"): [_money(v) for v in df["net"]],
    })
    panels.listing(view, shown, view.t("page.portfolio.file_effect"), "portfolio_effect_csv",
                   "portfolio_effect.csv", pin=2, height=panels.rows_height(shown, 420))
    with st.expander(view.t("plain.details")):
        for line in sentences:
            st.markdown(line)
        st.caption(view.t("actions.method", days=ae.HORIZON_DAYS, months=ae.REVENUE_MONTHS))
    _curves(view, df, groups)
    return df


def _curves(view: View, df: pd.DataFrame, groups: list[str]) -> None:
    """The Kaplan–Meier curves of treated and holdout of the group chosen (URL ``group``)."""
    visible = [i for i in range(len(df)) if not df["withheld"].iloc[i]]
    if not visible:
        return
    codes = {i: f"{df['action_type'].iloc[i]}.{ae.band_code(df['risk_band'].iloc[i])}" for i in visible}
    i = view.choice("group", visible, view.t("page.portfolio.pick_group"), widget="selectbox",
                    to_url=lambda k: codes[k], format_func=lambda k: groups[k])
    band = df["risk_band"].iloc[i]
    cv = view.call(ae.curves, view.filters, df["action_type"].iloc[i], None if pd.isna(band) else band)
    if not isinstance(cv, pd.DataFrame) or cv.empty:
        st.caption(view.t("page.portfolio.km_none"))
        return
    cv = cv.rename(columns={"arm": "group"})
    fig = retention_curves(cv, "action_arm", view.lang, view.t("page.portfolio.km_title", group=groups[i]),
                           view.subtitle())
    shown = cv.assign(group=[view.label("action_arm", g) for g in cv["group"]])  # the download: arms in words
    ui.chart(view, fig, shown, "portfolio_action_curves", metrics=())
