"""The four data sections of a pack: satisfaction, complaints, SLA, churn and retention.

Each section returns its pages: one page with two or three generated sentences and two charts,
then its table pages. Sentences are catalogue templates (``report.*``) filled with the engine's
numbers for the pack's filters, formatted as the dashboard formats them; nothing is invented and
a sentence whose numbers are missing is left out.
"""

from __future__ import annotations

import pandas as pd

from metrics.analysis import league, sla
from metrics.churn import rates as churn
from metrics.model.registry import get
from metrics.present.charts import comparisons as charts_more
from metrics.present.charts import core as charts
from metrics.present.formatting import fmt_metric, fmt_percent
from metrics.report.context import Ctx, first
from metrics.report.model import Page, Table, table_pages


def significance(ctx: Ctx, verdict: str, value: float, rest: float, rest_key: str) -> str:
    """"significantly above the rest of the province" / "… below …" / "not significantly different"."""
    rest_words = ctx.t(f"report.rest.{rest_key}")
    if verdict in ("better", "worse", "higher", "lower") and pd.notna(rest):
        return ctx.t("report.sig.above" if value > rest else "report.sig.below", rest=rest_words)
    return ctx.t("report.sig.none", rest=rest_words)


# -- satisfaction ---------------------------------------------------------------------------
def satisfaction_facts(ctx: Ctx) -> list[str]:
    out = []
    csat, nps = first(ctx.wh.compare("csat", ctx.f)), first(ctx.wh.compare("nps", ctx.f))
    if csat is not None:
        nps_text = ctx.t("report.sat.nps", nps=ctx.value(nps["value"], "points"), vs=ctx.vs(nps, "points")) \
            if nps is not None else ""
        out.append(ctx.t("report.sat.overall", value=ctx.value(csat["value"], "share"), vs=ctx.vs(csat, "share"),
                         nps=nps_text))
    by_channel = ctx.wh.metric("csat", ctx.f, ("channel",))
    total = ctx.wh.metric("csat", ctx.f)
    if len(by_channel) >= 2:
        table = league.league(get("csat"), by_channel, total, key="channel")
        low = table.iloc[-1]  # sorted best first
        out.append(ctx.t("report.sat.lowest_channel", channel=ctx.label("channel", low["channel"]),
                         value=ctx.value(low["value"], "share"), rest=ctx.value(low["rest_value"], "share"),
                         sig=significance(ctx, low["verdict"], low["value"], low["rest_value"], "channels")))
    by_tier = ctx.wh.metric("csat", ctx.f, ("tier",))
    by_tier = by_tier[by_tier["tier"].notna()].sort_values("value", ascending=False)
    if len(by_tier) >= 2:
        top, bottom = by_tier.iloc[0], by_tier.iloc[-1]
        out.append(ctx.t("report.sat.tiers", top=ctx.label("tier", top["tier"]),
                         top_value=ctx.value(top["value"], "share"), bottom=ctx.label("tier", bottom["tier"]),
                         bottom_value=ctx.value(bottom["value"], "share")))
    return out


def satisfaction(ctx: Ctx) -> list[Page]:
    page = Page("section", ctx.t("nav.satisfaction"), ctx.subtitle(with_comparison=True), satisfaction_facts(ctx))
    by_channel = ctx.wh.metric("csat", ctx.f, ("channel",))
    if not by_channel.empty:
        title = f"{ctx.metric_label('csat')} · {ctx.t('page.satisfaction.by_channel')}"
        page.charts.append(ctx.chart(charts.bar_ci(by_channel, "channel", "share", ctx.lang, title, ctx.subtitle(),
                                                   target=ctx.target("csat")), title))
    tf = ctx.trend_filters()
    trend = ctx.wh.metric("csat", tf, ("month",))
    if not trend.empty:
        months = ctx.t("page.satisfaction.trend_months", months=trend["month"].nunique())  # the real window
        title = f"{ctx.metric_label('csat')} · {months}"
        page.charts.append(ctx.chart(charts.trend(trend, "share", ctx.lang, title, ctx.subtitle(tf),
                                                  target=ctx.target("csat")), title))
    return [page]


# -- complaints -----------------------------------------------------------------------------
def complaint_league(ctx: Ctx) -> tuple[pd.DataFrame, str]:
    """The complaint-rate league of the cities (districts of a selected city), with comparison."""
    f = ctx.f.with_(kinds=("complaint",))
    rf, level = league.scope(f, ctx.regions)
    groups = ctx.wh.compare("complaint_rate", rf, ("region",), level)
    total = ctx.wh.metric("complaint_rate", rf)
    if groups.empty or total.empty:
        return pd.DataFrame(), level
    return league.league(get("complaint_rate"), groups, total), level


def complaint_mover(table: pd.DataFrame) -> pd.Series | None:
    """The region whose complaint rate rose most (None when no region rose or no comparison)."""
    if table.empty or "delta" not in table.columns or table["delta"].isna().all():
        return None
    row = table.loc[table["delta"].idxmax()]
    return row if row["delta"] > 0 else None


def complaints_facts(ctx: Ctx, table: pd.DataFrame, level: str) -> list[str]:
    out, unit = [], "per_1000_customer_months"
    f = ctx.f.with_(kinds=("complaint",))
    overall = first(ctx.wh.compare("complaint_rate", f))
    if overall is not None:
        out.append(ctx.t("report.complaints.overall", value=ctx.value(overall["value"], unit),
                         vs=ctx.vs(overall, unit), n=ctx.value(overall["n"], "tickets")))
    rest = "city" if level == "district" else "province"
    mover = complaint_mover(table)
    if mover is not None:
        out.append(ctx.t("report.complaints.rose", region=ctx.label("region", mover["region_id"]),
                         old=ctx.value(mover["value_cmp"], unit), new=ctx.value(mover["value"], unit),
                         change=ctx.change(mover["value"], mover["value_cmp"], unit),
                         sig=significance(ctx, mover["verdict"], mover["value"], mover["rest_value"], rest)))
    elif not table.empty:
        top = table.iloc[-1]  # sorted best (lowest rate) first
        out.append(ctx.t("report.complaints.highest", region=ctx.label("region", top["region_id"]),
                         new=ctx.value(top["value"], unit),
                         sig=significance(ctx, top["verdict"], top["value"], top["rest_value"], rest)))
    cats = ctx.wh.metric("tickets", f, ("category",))
    cats = cats[cats["category"].notna() & (cats["value"] > 0)]
    if not cats.empty:
        top = cats.sort_values(["value", "category"], ascending=[False, True]).iloc[0]
        out.append(ctx.t("report.complaints.category", category=ctx.label("category", top["category"]),
                         n=ctx.value(top["value"], "tickets"),
                         share=fmt_percent(top["value"] / cats["value"].sum(), 0)))
    return out


def complaints(ctx: Ctx) -> list[Page]:
    unit = "per_1000_customer_months"
    f = ctx.f.with_(kinds=("complaint",))
    table, level = complaint_league(ctx)
    page = Page("section", ctx.t("nav.complaints"), ctx.subtitle(with_comparison=True),
                complaints_facts(ctx, table, level))
    rf, level = league.scope(f, ctx.regions)
    rates = ctx.wh.metric("complaint_rate", rf, ("region",), level)
    if not rates.empty:
        title = f"{ctx.metric_label('complaint_rate')} · {ctx.t('page.complaints.dim.region')}"
        page.charts.append(ctx.chart(charts.bar_ci(rates, "region", unit, ctx.lang, title, ctx.subtitle(rf),
                                                   region_names=ctx.names, target=ctx.target("complaint_rate")),
                                     title))
        points, limits, overall = league.funnel(rates, ctx.wh.metric("complaint_rate", rf))
        if not limits.empty:
            title = ctx.t("page.complaints.funnel_title")
            page.charts.append(ctx.chart(charts.funnel(points, overall, limits, unit, ctx.lang, title,
                                                       ctx.subtitle(rf), ctx.names), title))
    pages = [page]
    if not table.empty:
        rows = tuple((ctx.label("region", r.region_id), ctx.value(r.value, unit), ctx.value(r.value_cmp, unit),
                      ctx.change(r.value, r.value_cmp, unit), ctx.value(r.n, "tickets"),
                      ctx.t(f"page.regions.verdict.{r.verdict}")) for r in table.itertuples())
        cols = (ctx.t(f"level.{level}"), ctx.metric_label("complaint_rate"), ctx.t("common.previous"),
                ctx.t("common.delta"), ctx.t("page.complaints.volume"), ctx.t("page.regions.verdict.header"))
        title = f"{ctx.metric_label('complaint_rate')} · {ctx.t(f'page.regions.league_{level}')}"
        pages += table_pages(title, Table(cols, rows, (False, True, True, True, True, False),
                                          widths=(2, 1.4, 1.4, 1, 1.2, 2.4)),
                             f"{ctx.subtitle(rf, with_comparison=True)} · {ctx.t(f'unit.{unit}')}")
    return pages


# -- SLA ------------------------------------------------------------------------------------
def sla_facts(ctx: Ctx, service: pd.DataFrame) -> list[str]:
    out = []
    res, resp = first(ctx.wh.compare("sla_resolution_compliance", ctx.f)), first(
        ctx.wh.compare("sla_response_compliance", ctx.f))
    if res is not None:
        goal = ctx.target("sla_resolution_compliance")
        target_text = ""
        if goal is not None:
            from metrics.analysis.drill import status

            st = status(res["value"], goal, True, res["lower"], res["upper"])
            target_text = ctx.t("report.target", target=ctx.value(goal, "share"), status=ctx.t(f"status.{st}"))
        resp_text = ctx.t("report.sla.response", value=ctx.value(resp["value"], "share")) if resp is not None else ""
        out.append(ctx.t("report.sla.overall", value=ctx.value(res["value"], "share"), vs=ctx.vs(res, "share"),
                         target=target_text, response=resp_text))
    gap = sla.tier_gap(service, "tier") if not service.empty else None
    if gap is not None:
        words = ctx.t(f"page.sla.answer_{gap.verdict}", top=ctx.label("tier", gap.top),
                      bottom=ctx.label("tier", gap.bottom), top_median=gap.top_median,
                      bottom_median=gap.bottom_median, top_p90=gap.top_p90, bottom_p90=gap.bottom_p90,
                      top_compliance=gap.top_compliance, bottom_compliance=gap.bottom_compliance)
        out.append(f"{words} {ctx.t('page.sla.significant' if gap.significant else 'page.sla.not_significant')}")
    avail = sla.availability_vs_target(ctx.wh, ctx.f)
    avail = avail[avail["target"].notna()]
    if not avail.empty:
        missed = avail[~avail["met"]]
        if missed.empty:
            lowest = fmt_metric(avail["value"].min(), "availability", ctx.lang)
            out.append(ctx.t("report.sla.availability_met", lowest=lowest))
        else:
            sep = "、" if ctx.lang == "zh" else "; "
            levels = sep.join(ctx.t("report.sla.level_missed", level=ctx.label("sla_level", r.sla_level),
                                    value=fmt_metric(r.value, "availability", ctx.lang),
                                    target=fmt_metric(r.target, "availability", ctx.lang))
                               for r in missed.itertuples())
            out.append(ctx.t("report.sla.availability_missed", levels=levels))
    return out


def sla_section(ctx: Ctx) -> list[Page]:
    service = sla.service_by(ctx.wh, ctx.f, "tier")
    service = service[service["tier"].notna() & service["compliance"].notna()] if not service.empty else service
    page = Page("section", ctx.t("nav.sla"), ctx.subtitle(with_comparison=True), sla_facts(ctx, service))
    if not service.empty:
        title = ctx.t("page.sla.tier_title")
        page.charts.append(ctx.chart(charts_more.tier_service(service, "tier", ctx.lang, title, ctx.subtitle()), title))
    rf, level = league.scope(ctx.f, ctx.regions)
    by_region = ctx.wh.metric("sla_resolution_compliance", rf, ("region",), level)
    if not by_region.empty:
        title = ctx.t("page.sla.by_title", metric=ctx.metric_label("sla_resolution_compliance"),
                      dim=ctx.t(f"level.{level}"))
        page.charts.append(ctx.chart(charts.bar_ci(by_region, "region", "share", ctx.lang, title, ctx.subtitle(rf),
                                                   ctx.names, target=ctx.target("sla_resolution_compliance")), title))
    pages = [page]
    if not service.empty:
        rows = tuple((ctx.label("tier", r.tier), f"{r.median_hours:.1f}", f"{r.p90_hours:.1f}",
                      ctx.value(r.compliance, "share"), ctx.value(r.response_compliance, "share"),
                      ctx.value(r.n_decided, "tickets")) for r in service.itertuples())
        cols = tuple(ctx.t(f"page.tables.{c}") for c in ("tier", "median_hours", "p90_hours", "compliance",
                                                          "response_compliance", "n_decided"))
        pages += table_pages(ctx.t("page.sla.tier_title"), Table(cols, rows, (False,) + (True,) * 5),
                             ctx.subtitle())
    return pages


# -- churn and retention --------------------------------------------------------------------
def churn_facts(ctx: Ctx) -> list[str]:
    out = []
    rate = first(ctx.wh.compare("churn_rate", ctx.f))
    overall = churn.churn_by(ctx.wh, ctx.f)
    if rate is not None and not overall.empty:
        out.append(ctx.t("report.churn.overall", value=ctx.value(rate["value"], "share_per_month"),
                         annual=ctx.value(overall["annual"].iloc[0], "share"), vs=ctx.vs(rate, "share_per_month"),
                         n=ctx.value(rate["n"], "customers")))
    reasons = churn.churn_reasons(ctx.wh, ctx.f)
    reasons = reasons[reasons["churn_reason"].notna()]
    if not reasons.empty:
        top = reasons.iloc[0]
        out.append(ctx.t("report.churn.reason", reason=ctx.label("churn_reason", top["churn_reason"]),
                         share=fmt_percent(top["share"], 0)))
    by_tier = churn.churn_by(ctx.wh, ctx.f, ("tier",))
    by_tier = by_tier[by_tier["tier"].notna()]
    if len(by_tier) >= 2:
        top = by_tier.sort_values("value", ascending=False).iloc[0]
        out.append(ctx.t("report.churn.tier", tier=ctx.label("tier", top["tier"]),
                         value=ctx.value(top["value"], "share_per_month"), annual=ctx.value(top["annual"], "share")))
    return out


def churn_section(ctx: Ctx) -> list[Page]:
    page = Page("section", ctx.t("nav.churn"), ctx.subtitle(with_comparison=True), churn_facts(ctx))
    tf = ctx.trend_filters()
    monthly = ctx.wh.metric("churn_rate", tf, ("month",))
    if not monthly.empty:
        title = ctx.t("page.churn.trend_title")
        page.charts.append(ctx.chart(charts.trend(monthly, "share_per_month", ctx.lang, title, ctx.subtitle(tf),
                                                  target=ctx.target("churn_rate")), title))
    reasons = churn.churn_reasons(ctx.wh, ctx.f)
    if not reasons.empty:
        title = ctx.t("page.churn.reasons_title")
        page.charts.append(ctx.chart(charts_more.ranked_bars(reasons, "churn_reason", ctx.lang, title, ctx.subtitle(),
                                                             "customers", share_col="share"), title))
    return [page]
