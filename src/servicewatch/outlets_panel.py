"""The Outlets page's sections (issue 19, pages/11_Outlets.py): the league of service halls and outlets
with intervals (small samples not ranked), one outlet's queue (weekday × hour, service type, the
month's last week against the rest), audit items and complaints, and the star ratings this quarter
(whether the VIP lane shortens high-tier customers' wait: :mod:`servicewatch.outlet_vip_panel`). A
view: every figure comes
from the engine (:mod:`metrics.analysis.outlets`, :mod:`metrics.analysis.outlet_stars`); text from the
catalogue; names from the data shown as text."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import streamlit as st

from metrics.analysis import outlet_audits as oaud
from metrics.analysis import outlet_stars as os_
from metrics.analysis import outlets as oa
from metrics.model.filters import Filters
from metrics.present.charts import outlets as charts
from metrics.present.charts.core import bar_ci
from metrics.present.formatting import fmt_count, fmt_interval, fmt_percent, number
from metrics.report.outlets_section import (
    has_outlets,
    quarter_filters,
    stars_league_filters,
)
from servicewatch import outlet_complaints_panel, panels, ui
from servicewatch.ui import View

CHART_OUTLETS = 20  # outlets drawn in the league's chart (the table lists all)
MONTH_END_DAYS = 7  # the month's last week, against the days before it
REPEATS = 3  # an audit item failed in this many audits in a row is named


# -- words ----------------------------------------------------------------------------------------
def minutes(view: View, v: object, digits: int = 1) -> str:
    """Minutes as read ("12.3 分钟"); "—" when missing."""
    return "—" if v is None or pd.isna(v) else view.t("page.outlets.minutes", value=number(float(v), digits))


def num(v: object, digits: int = 1) -> str:
    """A figure as read ("12.3"); "—" when missing."""
    return "—" if v is None or pd.isna(v) else number(float(v), digits)


def column(view: View, key: str) -> str:
    """A list's column header (``page.outlets.col.<key>``)."""
    return view.t(f"page.outlets.col.{key}")


# The outlet figures of the lists: the page's column (page.outlets.col.<key>) -> the engine's column and
# how it reads; an ``…_interval`` column: the engine's column whose 95% interval it shows, and its unit.
FIGURES = {"outlets": ("outlets", fmt_count), "visits": ("visits", fmt_count), "median": ("median_wait_min", num),
           "p90": ("p90_wait_min", num), "mean": ("mean_wait_min", num), "within": ("within_target", fmt_percent),
           "abandoned": ("abandoned_share", fmt_percent), "csat": ("csat", fmt_percent),
           "complaints": ("complaints_per_1000", num), "audit": ("audit_score", num)}
INTERVALS = {"within_interval": ("within_target", "share"), "abandoned_interval": ("abandoned_share", "share"),
             "csat_interval": ("csat", "share"), "complaints_interval": ("complaints_per_1000", "points")}


def _figures(view: View, df: pd.DataFrame, keys: tuple[str, ...]) -> dict[str, list[str]]:
    """The columns ``keys`` (:data:`FIGURES`, :data:`INTERVALS`) of a list of ``df``'s figures, headed
    and written as read, in that order."""
    out = {}
    for key in keys:
        if key in INTERVALS:
            col, unit = INTERVALS[key]
            out[column(view, key)] = [fmt_interval(lo, hi, unit, view.lang)
                                      for lo, hi in zip(df[f"{col}_lower"], df[f"{col}_upper"], strict=True)]
        else:
            col, fmt = FIGURES[key]
            out[column(view, key)] = [fmt(v) for v in df[col]]
    return out


def _figures_by(view: View, by: pd.DataFrame, col: str, vocabulary: str, keys: tuple[str, ...]) -> pd.DataFrame:
    """A list of the figures ``keys`` (:func:`_figures`) per value of ``by[col]``, named from the data's
    ``vocabulary`` in the first column."""
    return pd.DataFrame({column(view, col): [view.label(vocabulary, v) for v in by[col]], **_figures(view, by, keys)})


def current_stars(view: View, stars: pd.Series) -> list[str]:
    """Each outlet's current star rating as read ("no current rating" where it has none)."""
    return [fmt_count(v) if pd.notna(v) else view.t("page.outlets.no_current") for v in stars]


def outlet_names(df: pd.DataFrame) -> dict[int, str]:
    """Each outlet's name by its id."""
    return dict(zip(df["outlet_id"].astype(int), df["name"].astype(str), strict=True))


def has_outlet_tables(view: View) -> bool:
    """Whether the database has the outlet tables; when not, the page says so."""
    if view.call(has_outlets):
        return True
    st.info(view.t("page.outlets.no_outlets"))
    return False


def rules(view: View) -> os_.Rules | None:
    """The checked star rules file (its waiting target, VIP tiers, worthwhile saving); None when it
    cannot be used, said in one line on the page (each section says it once)."""
    try:
        return os_.load_rules()
    except os_.RulesError as exc:
        st.error(view.md("page.outlets.rules_error", reason=view.t(exc.key, **exc.params)))
        return None


def target(r: os_.Rules) -> str:
    """The rules' waiting target in minutes as written ("15", "7.5")."""
    return f"{r.target_minutes:g}"


def league_frame(view: View, r: os_.Rules) -> pd.DataFrame | None:
    """The engine's league in the filters and scope at the rules' target (None: no outlet tables,
    refused or empty, said on the page)."""
    if not has_outlet_tables(view):
        return None
    df = view.call(oa.outlet_league, view.filters, r.target_minutes)
    if not isinstance(df, pd.DataFrame):
        return None
    if df.empty:
        st.info(view.t("page.outlets.none"))
        return None
    return df


# -- the league -----------------------------------------------------------------------------------
def league(view: View) -> pd.DataFrame | None:
    """The league: its sentence, the worst p90 among the ranked, the share served within the target
    with 95% intervals (the first :data:`CHART_OUTLETS`) and the list with its downloads."""
    r = rules(view)
    df = None if r is None else league_frame(view, r)
    if df is None:
        return None
    st.markdown(view.md("page.outlets.league_sentence", n=len(df), target=target(r), min=oa.MIN_RANK_N))
    if view.filters.channels:
        st.caption(view.t("page.outlets.channel_ignored"))
    ranked = df[df["rank"].notna()]
    if not ranked.empty:
        worst = ranked.loc[pd.to_numeric(ranked["p90_wait_min"], errors="coerce").idxmax()]
        st.markdown(view.md("page.outlets.league_worst", name=str(worst["name"]),
                            p90=minutes(view, worst["p90_wait_min"]), median=minutes(view, worst["median_wait_min"]),
                            visits=fmt_count(worst["visits"])))
    data = pd.DataFrame({column(view, "outlet"): df["name"].astype(str),
                         "value": pd.to_numeric(df["within_target"], errors="coerce"),
                         "lower": pd.to_numeric(df["within_target_lower"], errors="coerce"),
                         "upper": pd.to_numeric(df["within_target_upper"], errors="coerce"),
                         "n": pd.to_numeric(df["visits"], errors="coerce")}).dropna(subset=["value"])
    if len(data) > 1:
        data = data.head(CHART_OUTLETS)
        title = view.t("page.outlets.league_chart", target=target(r))
        bars = data.assign(region_id=df.loc[data.index, "outlet_id"].astype(int))  # outlets as bar_ci's categories
        fig = bar_ci(bars, "region", "share", view.lang, title, view.subtitle(), region_names=outlet_names(df))
        ui.chart(view, fig, data, "outlet_league", metrics=())
        if len(df) > CHART_OUTLETS:
            st.caption(view.t("page.outlets.league_chart_more", shown=CHART_OUTLETS, n=len(df)))
    _by_kind(view, r)
    keys = view.keys("outlets", df["outlet_id"])
    shown = pd.DataFrame({
        column(view, "rank"): [fmt_count(v) if pd.notna(v) else view.t(f"page.outlets.rank_note.{n or 'no_data'}")
                             for v, n in zip(df["rank"], df["rank_note"], strict=True)],
        column(view, "outlet"): df["name"].astype(str),
        column(view, "key"): [keys.get(int(o), str(o)) for o in df["outlet_id"]],
        column(view, "kind"): [view.label("outlet_kind", v) for v in df["kind"]],
        column(view, "city"): [view.region_names.get(int(r), str(r)) for r in df["region_id"]],
        **_figures(view, df, ("visits", "median", "p90", "within", "within_interval", "abandoned",
                              "abandoned_interval", "csat", "csat_interval", "complaints", "complaints_interval",
                              "audit")),
        column(view, "stars"): current_stars(view, df["stars"]),
    })
    panels.listing(view, shown, view.t("page.outlets.file_league"), "outlet_league_list", "outlet_league.csv",
                   pin=2, height=panels.rows_height(shown, 420))
    return df


def _by_kind(view: View, r: os_.Rules) -> None:
    """Own halls, partner halls, agents …: the queue figures of each kind of outlet (kinds are data)."""
    by = view.call(oa.outlet_groups, view.filters, "kind", r.target_minutes)
    if not isinstance(by, pd.DataFrame) or len(by) < 2:
        return
    st.subheader(view.t("page.outlets.by_kind"))
    shown = _figures_by(view, by, "kind", "outlet_kind",
                        ("outlets", "visits", "median", "p90", "within", "within_interval", "abandoned"))
    panels.listing(view, shown, view.t("page.outlets.file_kinds"), "outlet_kinds_list", "outlet_kinds.csv",
                   height=panels.rows_height(shown, 320))


# -- one outlet -----------------------------------------------------------------------------------
def pick_outlet(view: View, df: pd.DataFrame) -> int:
    """The outlet chosen (URL ``hall=`` its key as the source wrote it), among the league's (``outlet=``
    is the outlet filter: a link to one outlet narrows the league to it, which picks it)."""
    names = outlet_names(df)
    keys = view.keys("outlets", list(names))
    return view.choice("hall", list(names), view.t("page.outlets.pick_outlet"), widget="selectbox",
                       to_url=lambda o: str(keys.get(o, o)), format_func=lambda o: f"{names[o]} ({keys.get(o, o)})")


def month_end_window(f: Filters) -> tuple[date, date] | None:
    """The last whole calendar month of the period (first and last day); None when it holds none."""
    last = f.end if (f.end + timedelta(days=1)).day == 1 else f.end.replace(day=1) - timedelta(days=1)
    first = last.replace(day=1)
    return (first, last) if first >= f.start else None


def outlet(view: View) -> int | None:
    """One outlet: its sentence, the month's last week against the rest, waiting by weekday × hour,
    by service type, its audit items over the year with the items it keeps failing, its complaints."""
    r = rules(view)
    df = None if r is None else league_frame(view, r)
    if df is None:
        return None
    oid = pick_outlet(view, df)
    row = df[df["outlet_id"].astype(int) == oid].iloc[0]
    name = str(row["name"])
    if bool(row.get("suppressed", False)):  # too few visits for an aggregate-only user: the engine withholds
        st.caption(view.t("page.outlets.withheld", min=view.filters.scope.min_group_size))  # queue and audits
        return oid
    st.markdown(view.md("page.outlets.outlet_sentence", name=name, kind=view.label("outlet_kind", row["kind"]),
                        visits=fmt_count(row["visits"]), median=minutes(view, row["median_wait_min"]),
                        p90=minutes(view, row["p90_wait_min"]), target=target(r),
                        within=fmt_percent(row["within_target"]), abandoned=fmt_percent(row["abandoned_share"])))
    _month_end(view, oid, r)
    heat = view.call(oa.queue_pattern, view.filters, oid, "hour_weekday")
    if isinstance(heat, pd.DataFrame) and not heat.empty:
        fig = charts.wait_heatmap(heat, view.lang, view.t("page.outlets.heat_title"), f"{name} · {view.subtitle()}")
        ui.chart(view, fig, _heat_download(view, heat), "outlet_wait_heatmap", metrics=())
    else:
        st.caption(view.t("page.outlets.heat_none"))
    _by_service(view, oid)
    _audits(view, oid, name)
    _complaints(view, oid, row)
    return oid


def _month_end(view: View, oid: int, r: os_.Rules) -> None:
    """The p90 wait of the month's last :data:`MONTH_END_DAYS` days against the days before it (the
    outlet's own figures only: :func:`metrics.analysis.outlets.summary` of the one outlet)."""
    window = month_end_window(view.filters)
    if window is None:
        return
    first, last = window
    cut = last - timedelta(days=MONTH_END_DAYS - 1)
    parts = []
    for start, end in ((cut, last), (first, cut - timedelta(days=1))):
        part = view.call(oa.summary, view.filters.with_(start=start, end=end, comparison="none"), ["outlet_id"], oid,
                         r.target_minutes)
        parts.append(None if not isinstance(part, pd.DataFrame) or part.empty else part.iloc[0])
    month = f"{first:%Y-%m}"
    if any(p is None or pd.isna(p["p90_wait_min"]) for p in parts):
        st.caption(view.t("page.outlets.month_end_none", month=month))
        return
    end_, rest = parts
    base = float(rest["p90_wait_min"])
    ratio = float(end_["p90_wait_min"]) / base if base > 0 else float("nan")
    text = view.md("page.outlets.month_end", month=month, days=MONTH_END_DAYS, last=minutes(view, end_["p90_wait_min"]),
                   n_last=fmt_count(end_["visits"]), rest=minutes(view, rest["p90_wait_min"]),
                   n_rest=fmt_count(rest["visits"]), ratio=num(ratio))
    (st.warning if ratio >= 1.5 else st.markdown)(text)


def _heat_download(view: View, heat: pd.DataFrame) -> pd.DataFrame:
    """The heat map's data with the engine's column names: the export gives each its header
    (``page.tables``) and number format (minutes with one decimal, the abandoned share as a percentage:
    :data:`metrics.present.export.COLUMN_STYLES`), unrounded."""
    names = charts.weekday_names(view.lang)
    cols = ["visits", "mean_wait_min", "median_wait_min", "p90_wait_min", "abandoned_share"]
    return pd.DataFrame({"weekday": [names[int(d)] for d in heat["weekday"]], "hour": heat["hour"].astype(int),
                         **{c: heat[c] for c in cols}})


def _by_service(view: View, oid: int) -> None:
    by = view.call(oa.queue_pattern, view.filters, oid, "service_type")
    if not isinstance(by, pd.DataFrame) or by.empty:
        return
    st.subheader(view.t("page.outlets.by_service"))
    shown = _figures_by(view, by, "service_type", "service_type", ("visits", "median", "p90", "mean", "abandoned"))
    panels.listing(view, shown, view.t("page.outlets.file_service"), "outlet_service_list", "outlet_service.csv",
                   height=panels.rows_height(shown, 360))


def _audits(view: View, oid: int, name: str) -> None:
    fa = view.filters
    trend = view.call(oaud.audit_trend, fa, oid)
    if not isinstance(trend, pd.DataFrame) or trend.empty:
        st.caption(view.t("page.outlets.audits_none"))
        return
    fails = view.call(oaud.repeated_failures, fa, REPEATS)
    mine = fails[fails["outlet_id"].astype(int) == oid] if isinstance(fails, pd.DataFrame) and not fails.empty \
        else pd.DataFrame(columns=["item", "repeats", "last_on"])
    for _, r in mine.iterrows():
        st.warning(view.md("page.outlets.repeated", name=name, item=view.label("audit_item", r["item"]),
                           times=int(r["repeats"]), last=str(pd.Timestamp(r["last_on"]).date())),
                   icon=":material/assignment_late:")
    fig = charts.audit_items(trend, view.lang, view.t("page.outlets.audits_title"),
                             f"{name} · {view.subtitle(f=fa)}", failing=set(mine["item"].astype(str)))
    data = pd.DataFrame({view.t("page.tables.audited_on"): pd.to_datetime(trend["audited_on"]).dt.date,
                         view.t("page.tables.item"): [view.label("audit_item", v) for v in trend["item"]],
                         view.t("page.outlets.score_axis"): (100 * trend["share"].astype(float)).round(1)})
    ui.chart(view, fig, data, "outlet_audit_items", metrics=(), f=fa)


def _complaints(view: View, oid: int, row: pd.Series) -> None:
    """The complaints raised at the outlet in the period: their count and rate per 1,000 visits with
    its 95% interval (the league's row), and the complaints behind it (by category, the latest)."""
    st.subheader(view.t("page.outlets.complaints_title"))
    if pd.isna(row["complaints"]) or int(row["complaints"]) == 0:
        st.caption(view.t("page.outlets.complaints_none"))
        return
    st.markdown(view.md("page.outlets.complaints_sentence", n=fmt_count(row["complaints"]),
                        rate=num(row["complaints_per_1000"]), low=num(row["complaints_per_1000_lower"]),
                        high=num(row["complaints_per_1000_upper"])))
    outlet_complaints_panel.behind(view, oid, int(row["complaints"]))  # by category; the latest, masked


# -- star ratings ---------------------------------------------------------------------------------
def stars(view: View) -> pd.DataFrame | None:
    """Each outlet's computed star against its current one, what moved it most, and who gains or
    loses a star this quarter (a sentence each, losers first)."""
    if not has_outlet_tables(view):
        return None
    fq = quarter_filters(view.filters)
    r = rules(view)  # checked here: a broken rules file is one line, not an error id
    if r is None:
        return None
    league = view.call(oa.outlet_league, stars_league_filters(view.filters, fq), r.target_minutes)
    if not isinstance(league, pd.DataFrame):
        return None
    df = os_.star_ratings(view.wh, fq, r, league)  # on the page's league (cached): no second league
    st.caption(view.t("page.outlets.stars_quarter", start=fq.start.isoformat(), end=fq.end.isoformat()))
    if df.empty:
        st.info(view.t("page.outlets.stars_none"))
        return df
    counts = df["change"].value_counts()
    st.markdown(view.md("page.outlets.stars_sentence", lose=int(counts.get("lose", 0)),
                        gain=int(counts.get("gain", 0)), same=int(counts.get("same", 0))))
    for change, box in (("lose", st.warning), ("gain", st.success)):
        for _, r in df[df["change"] == change].iterrows():
            box(view.md(f"page.outlets.stars_{change}", name=str(r["name"]), current=fmt_count(r["stars"]),
                        computed=fmt_count(r["computed_stars"]), component=_component(view, r["driver"]),
                        score=num(r.get(f"score_{r['driver']}"))))
    shown = pd.DataFrame({
        column(view, "outlet"): df["name"].astype(str),
        column(view, "stars"): current_stars(view, df["stars"]),
        column(view, "score"): [num(v) for v in df["score"]],
        column(view, "computed"): [fmt_count(v) for v in df["computed_stars"]],
        column(view, "change"): [view.t(f"page.outlets.change.{v}") for v in df["change"]],
        column(view, "moved"): [_component(view, v) for v in df["driver"]],
        **{view.t("page.outlets.col.component_score", component=_component(view, c)):
           [num(v) for v in df[f"score_{c}"]] for c in os_.COMPONENTS if f"score_{c}" in df.columns},
    })
    panels.listing(view, shown, view.t("page.outlets.file_stars"), "outlet_stars_list", "outlet_stars.csv",
                   pin=1, height=panels.rows_height(shown, 420))
    return df


def _component(view: View, code: object) -> str:
    """A star component's name ("—" for none)."""
    return view.t(f"page.outlets.component.{code}") if isinstance(code, str) and code else "—"
