"""The meeting pack's service halls and outlets (营业厅与网点) page, issue 19: the Outlets page's
sentences — the league and its longest p90 wait among the ranked outlets, the complaints behind the
outlet with the most (its largest category), where the VIP lane works
(minutes saved with the 95% interval) and where it does not hold, who gains or loses a star this
quarter and why — with the league's within-target chart and the VIP lane's chart, then the star
changes as a table. A database without outlets leaves the section out."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from metrics.analysis import outlet_complaints as oc
from metrics.analysis import outlet_stars as stars_
from metrics.analysis import outlets as oa
from metrics.analysis.drivers_text import join_names
from metrics.analysis.regulator_quarters import Quarter
from metrics.model import schema as s
from metrics.model.filters import Filters, add_months
from metrics.present.charts import outlets as charts
from metrics.present.charts.core import bar_ci
from metrics.present.formatting import fmt_count, fmt_percent, number
from metrics.query.warehouse import Warehouse
from metrics.report.context import Ctx
from metrics.report.model import Page, Table, table_pages

CHART_OUTLETS = 12  # outlets in the league's chart: the longest p90 waits
VIP_SENTENCES = 3  # halls where the lane works, named in a sentence each (the biggest savings)
WIDER_MONTHS = 3  # a hall with too few VIP waits in a shorter period is told over this many months
# star changes told as sentences on the section page (the weakest losers, the strongest gainers); the
# rest are in the star-change table pages that follow
STAR_SENTENCES = {"lose": 2, "gain": 1}


def _min(ctx: Ctx, v: object) -> str:
    return "—" if v is None or pd.isna(v) else ctx.t("page.outlets.minutes", value=number(float(v), 1))


def _num(v: object) -> str:
    return "—" if v is None or pd.isna(v) else number(float(v), 1)


def has_outlets(wh: Warehouse) -> bool:
    """Whether the database has the outlet tables (one made before issue 19 has none: the page says so,
    the pack leaves its outlets page out)."""
    with wh.engine.connect() as conn:
        inspector = sa.inspect(conn)
        return all(inspector.has_table(t.name) for t in (s.outlets, s.queue_records, s.audits, s.audit_items))


def outlets_section(ctx: Ctx) -> list[Page]:
    """One section page (sentences, two charts) and the star changes' table pages; [] without outlets."""
    if not has_outlets(ctx.wh):
        return []
    try:
        rules = stars_.load_rules()
    except stars_.RulesError as exc:  # the section left out, with one line saying why
        page = Page("section", ctx.t("outlets_pack.title"), ctx.subtitle())
        page.sentences.append(ctx.t("page.outlets.rules_error", reason=ctx.t(exc.key, **exc.params)))
        return [page]
    target = _target_words(rules)
    df = oa.outlet_league(ctx.wh, ctx.f, rules.target_minutes)
    if df.empty:
        return []
    page = Page("section", ctx.t("outlets_pack.title"), ctx.subtitle())
    page.sentences.append(ctx.t("page.outlets.league_sentence", n=len(df), target=target, min=oa.MIN_RANK_N))
    if ctx.f.channels:
        page.sentences.append(ctx.t("page.outlets.channel_ignored"))
    ranked = df[df["rank"].notna()]
    if not ranked.empty:
        worst = ranked.loc[pd.to_numeric(ranked["p90_wait_min"], errors="coerce").idxmax()]
        page.sentences.append(ctx.t("page.outlets.league_worst", name=str(worst["name"]),
                                    p90=_min(ctx, worst["p90_wait_min"]), median=_min(ctx, worst["median_wait_min"]),
                                    visits=fmt_count(worst["visits"])))
    names = dict(zip(df["outlet_id"].astype(int), df["name"].astype(str), strict=True))
    longest = df.assign(p90=pd.to_numeric(df["p90_wait_min"], errors="coerce")).dropna(subset=["p90"])
    longest = longest.sort_values("p90", ascending=False).head(CHART_OUTLETS)
    bars = pd.DataFrame({"region_id": longest["outlet_id"].astype(int),
                         "value": pd.to_numeric(longest["within_target"], errors="coerce"),
                         "lower": pd.to_numeric(longest["within_target_lower"], errors="coerce"),
                         "upper": pd.to_numeric(longest["within_target_upper"], errors="coerce"),
                         "n": pd.to_numeric(longest["visits"], errors="coerce")}).dropna(subset=["value"])
    if len(bars) > 1:
        title = ctx.t("page.outlets.league_chart", target=target)
        page.charts.append(ctx.chart(bar_ci(bars, "region", "share", ctx.lang, title, ctx.subtitle(),
                                            region_names=names), title))
    _vip(ctx, page, rules)
    _complaints(ctx, page, df)
    rated, table = _stars(ctx, page, df, rules)
    pages = [page]
    if table is not None:
        pages += table_pages(ctx.t("outlets_pack.stars_title"), table, ctx.subtitle(f=rated))
    return pages


def _target_words(rules: stars_.Rules) -> str:
    """The rules' waiting target in minutes as written ("15", "7.5")."""
    return f"{rules.target_minutes:g}"


def _vip(ctx: Ctx, page: Page, rules: stars_.Rules) -> None:
    vip = oa.vip_lane(ctx.wh, ctx.f, rules=rules)
    if vip.empty:
        page.sentences.append(ctx.t("page.outlets.vip_none"))
        return
    tiers = join_names([ctx.label("tier", c) for c in rules.vip_tiers], ctx.lang)
    worth = _min(ctx, rules.min_saving_min)
    vip = vip.sort_values("saving_min", ascending=False, na_position="last").reset_index(drop=True)
    for _, r in vip[vip["verdict"] == "works"].head(VIP_SENTENCES).iterrows():
        page.sentences.append(ctx.t("page.outlets.vip_sentence", name=str(r["name"]), tiers=tiers,
                                    saved=_min(ctx, r["saving_min"]),
                                    low=_min(ctx, r["saving_lower"]), high=_min(ctx, r["saving_upper"]),
                                    n_high=fmt_count(r["n_vip"]), n_std=fmt_count(r["n_other"])))
    for verdict, key in (("does_not", "vip_not_holding"), ("unclear", "vip_unclear")):
        halls = [str(n) for n in vip.loc[vip["verdict"] == verdict, "name"]]
        if halls:
            page.sentences.append(ctx.t(f"page.outlets.{key}", names=join_names(halls, ctx.lang), worth=worth))
    fw = wider_filters(ctx.f)
    small = vip[vip["verdict"] == "too_small"]
    if fw is not None and not small.empty:  # too few VIP waits in a short period: the 3 months to its end
        wide = oa.vip_lane(ctx.wh, fw, rules=rules)
        wide = wide[wide["outlet_id"].isin(small["outlet_id"]) & (wide["verdict"] != "too_small")]
        for _, r in wide.sort_values("saving_min", ascending=False).head(VIP_SENTENCES).iterrows():
            key = {"works": "vip_wider_works", "unclear": "vip_wider_unclear"}.get(r["verdict"], "vip_wider_not")
            page.sentences.append(ctx.t(f"page.outlets.{key}", name=str(r["name"]), tiers=tiers, months=WIDER_MONTHS,
                                        start=fw.start.isoformat(), end=fw.end.isoformat(),
                                        saved=_min(ctx, r["saving_min"]), low=_min(ctx, r["saving_lower"]),
                                        high=_min(ctx, r["saving_upper"]), n_high=fmt_count(r["n_vip"]),
                                        n_std=fmt_count(r["n_other"])))
    drawn = vip.dropna(subset=["saving_min"])
    if not drawn.empty:
        title = ctx.t("page.outlets.vip_chart")
        names = dict(zip(drawn["outlet_id"].astype(int), drawn["name"].astype(str), strict=True))
        page.charts.append(ctx.chart(charts.vip_difference(drawn, ctx.lang, title, ctx.subtitle(), names), title))


def _complaints(ctx: Ctx, page: Page, df: pd.DataFrame) -> None:
    """The complaints behind the outlet with the most complaints in the period: their count and the
    largest category with its share (a viewer's withheld outlet or category is not named)."""
    n = pd.to_numeric(df["complaints"], errors="coerce")
    if not (n > 0).any():
        return
    top = df.loc[n.idxmax()]
    cats = oc.complaint_categories(ctx.wh, ctx.f, int(top["outlet_id"]))
    known = cats[cats["complaints"].notna()]
    if known.empty:
        return
    page.sentences.append(ctx.t("page.outlets.behind.pack", name=str(top["name"]), n=fmt_count(top["complaints"]),
                                category=ctx.label("category", known["category"].iloc[0]),
                                share=fmt_percent(known["share"].iloc[0])))


def quarter_filters(f: Filters) -> Filters:
    """This quarter (the stars' period, on the page and in the pack): from the first day of the quarter
    holding the period's end to that end, without comparison."""
    return f.with_(start=Quarter.of(f.end).start, comparison="none")


def wider_filters(f: Filters) -> Filters | None:
    """The :data:`WIDER_MONTHS` calendar months to the period's end, for a hall whose VIP waits in a
    shorter period are too few to tell; None when the period is that long already."""
    start = add_months(f.end.replace(day=1), -(WIDER_MONTHS - 1))
    return f.with_(start=start, comparison="none") if start < f.start else None


def stars_league_filters(f: Filters, fq: Filters) -> Filters:
    """The filters of the league the stars of the quarter ``fq`` are rated on: the page's own ``f``
    when its period is that quarter (its league, computed once, serves both), else ``fq``."""
    return f if (f.start, f.end) == (fq.start, fq.end) else fq


def _stars(ctx: Ctx, page: Page, league: pd.DataFrame, rules: stars_.Rules) -> tuple[Filters, Table | None]:
    """The star sentences on ``page`` (counts, then each loser and gainer with the component that moved
    it) and the table of the outlets whose star changes (None when none does); ``league``: the
    section's, reused when the period is the quarter and the rules' target the section's."""
    fq = quarter_filters(ctx.f)
    same = stars_league_filters(ctx.f, fq) is ctx.f  # the section's league is at the rules' target
    df = stars_.star_ratings(ctx.wh, fq, rules, league if same else None)
    if df.empty:
        return fq, None
    counts = df["change"].value_counts()
    page.sentences.append(ctx.t("page.outlets.stars_sentence", lose=int(counts.get("lose", 0)),
                                gain=int(counts.get("gain", 0)), same=int(counts.get("same", 0))))
    # losers first, the lowest score first; then gainers, the highest first
    moved = df[df["change"].isin(("lose", "gain"))].assign(
        _order=lambda d: d["change"].ne("lose"), _score=lambda d: d["score"].where(d["change"].eq("lose"), -d["score"]))
    moved = moved.sort_values(["_order", "_score"], kind="stable")
    rows = []
    told = {"lose": 0, "gain": 0}
    for _, r in moved.iterrows():
        comp = ctx.t(f"page.outlets.component.{r['driver']}") if isinstance(r["driver"], str) else "—"
        score = _num(r.get(f"score_{r['driver']}"))
        if told[r["change"]] < STAR_SENTENCES[r["change"]]:  # the rest are in the table: a slide holds a few
            told[r["change"]] += 1
            page.sentences.append(ctx.t(f"page.outlets.stars_{r['change']}", name=str(r["name"]),
                                        current=fmt_count(r["stars"]), computed=fmt_count(r["computed_stars"]),
                                        component=comp, score=score))
        rows.append((str(r["name"]), fmt_count(r["stars"]), _num(r["score"]), fmt_count(r["computed_stars"]),
                     ctx.t(f"page.outlets.change.{r['change']}"), comp))
    if not rows:
        return fq, None
    if len(rows) > sum(told.values()):
        page.sentences.append(ctx.t("outlets_pack.stars_more", n=len(rows) - sum(told.values())))
    cols = tuple(ctx.t(f"page.outlets.col.{c}") for c in ("outlet", "stars", "score", "computed", "change", "moved"))
    return fq, Table(cols, tuple(rows), (False, True, True, True, False, False), widths=(3, 1, 1, 1, 1.2, 1.6))

