"""Build the pack model for filters and a language: title, KPI summary, the sections."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from datetime import date

import plotly.graph_objects as go
import sqlalchemy as sa

from metrics.analysis import drill
from metrics.analysis.subtitles import period_text, region_parents, scope_text
from metrics.backends.connect import make_engine
from metrics.model.filters import Filters
from metrics.model.registry import get
from metrics.query.warehouse import Warehouse
from metrics.report.at_risk import at_risk
from metrics.report.context import Ctx, LazyChart, Progress, first, start_renderer
from metrics.report.drivers_section import drivers_section
from metrics.report.explain_section import explain_section
from metrics.report.forecast_section import forecast_section
from metrics.report.model import Pack, Page, Table, table_pages
from metrics.report.outlets_section import outlets_section
from metrics.report.regulator_section import regulator_section
from metrics.report.sections import churn_section, complaints, satisfaction, sla_section
from metrics.report.voc_section import voc_section

KPIS = ("csat", "nps", "complaint_rate", "fcr_rate", "revisit_rate", "sla_response_compliance",
        "sla_resolution_compliance", "availability", "compensation_total", "churn_rate", "active_customers")
SECTIONS = (("explain", explain_section), ("satisfaction", satisfaction), ("drivers", drivers_section),
            ("complaints", complaints), ("voc", voc_section),
            ("sla", sla_section), ("forecast", forecast_section), ("churn", churn_section),
            ("outlets", outlets_section), ("regulator", regulator_section), ("at_risk", at_risk))
# A pack for a page (a subscription made on it): the title page, the KPI table and these sections. A page
# not named here (the Overview, Regions, Portfolio, Alerts, Data, Admin) gets the whole pack.
PAGE_SECTIONS: dict[str, tuple[str, ...]] = {
    "satisfaction": ("explain", "satisfaction", "drivers", "forecast"),
    "complaints": ("explain", "complaints", "voc", "forecast"),
    "sla": ("explain", "sla", "forecast"),
    "churn": ("explain", "churn", "forecast", "at_risk"),
    "at_risk": ("churn", "at_risk"),
    "outlets": ("outlets",),
    "regulator": ("regulator",),
}


def sections_for(view: str | None) -> tuple[str, ...] | None:
    """The pack sections of a subscribed view (``sla`` or ``sla.compliance``: the page, then its section;
    :data:`PAGE_SECTIONS`); None for the whole pack."""
    return PAGE_SECTIONS.get((view or "").partition(".")[0])


def title_page(ctx: Ctx) -> Page:
    f = ctx.f
    cf = f.comparison_filters()
    scope = scope_text(f, ctx.lang, ctx.names, region_parents(ctx.regions))
    lines = [
        f"{ctx.t('report.scope')}: {scope}",
        f"{ctx.t('filter.period')}: {period_text(f)}",
        f"{ctx.t('filter.comparison')}: " + (f"{period_text(cf)} ({ctx.t(f'comparison.{f.comparison}')})"
                                             if cf else ctx.t("comparison.none")),
        ctx.t("app.as_of", date=ctx.wh.resolve_as_of(f).isoformat()),
        ctx.t("report.generated", date=date.today().isoformat()),
    ]
    return Page("title", ctx.t("report.title"), scope, lines=lines)


def kpi_table(ctx: Ctx) -> Table:
    """Metric, value, comparison, change, target, status (red/amber/green) for the headline KPIs."""
    rows, status = [], []
    for metric_id in KPIS:
        m = get(metric_id)
        f = ctx.f.with_(kinds=("complaint",)) if metric_id == "complaint_rate" else ctx.f
        row = first(ctx.wh.compare(metric_id, f))
        if row is None:
            continue
        goal = ctx.target(metric_id)
        st = drill.status(row["value"], goal, m.higher_is_better, row["lower"], row["upper"])
        unit = f" ({ctx.t(f'unit.{m.unit}')})" if m.unit in ("per_1000_customer_months", "points") else ""
        rows.append((ctx.metric_label(metric_id) + unit, ctx.value(row["value"], m.unit),
                     ctx.value(row["value_cmp"], m.unit),
                     ctx.t(f"no_comparison.short_{row['no_cmp']}") if isinstance(row.get("no_cmp"), str)
                     else ctx.change(row["value"], row["value_cmp"], m.unit),
                     ctx.value(goal, m.unit) if goal is not None else "—", ctx.t(f"status.{st}")))
        status.append({5: st})
    cols = (ctx.t("report.kpi.metric"), ctx.t("common.value"), ctx.t("common.previous"), ctx.t("common.delta"),
            ctx.t("common.target"), ctx.t("report.kpi.status"))
    return Table(cols, tuple(rows), (False, True, True, True, True, False), tuple(status),
                 widths=(3.2, 1.3, 1.3, 1.1, 1.3, 1.3))


def file_stem(ctx: Ctx) -> str:
    scope = scope_text(ctx.f, ctx.lang, ctx.names, region_parents(ctx.regions))
    raw = f"servicewatch_{scope}_{ctx.f.start:%Y%m%d}-{ctx.f.end:%Y%m%d}_{ctx.lang}"
    return re.sub(r"[\s/\\:*?\"<>|·,]+", "_", raw).strip("_")


@contextmanager
def one_connection(wh: Warehouse) -> Iterator[Warehouse]:
    """The warehouse on kept connections for a pack's ~60 queries. Read-only DuckDB warehouses
    without a pool connect anew per query (~0.1 s each); the pack keeps its own pooled read-only
    connections (one per section thread, never shared) while it builds and closes them after."""
    if wh.dialect != "duckdb" or not isinstance(wh.engine.pool, sa.pool.NullPool):
        yield wh
        return
    engine = make_engine(wh.url, read_only=True, keep_open=True)
    try:
        yield Warehouse(engine, use_rollups=wh.use_rollups)
    finally:
        engine.dispose()


def build_pack(wh: Warehouse, f: Filters, lang: str = "zh", progress: Progress | None = None,
               render: Callable[[go.Figure], bytes] | None = None, sections: Sequence[str] | None = None) -> Pack:
    """The meeting pack for ``f`` in ``lang``; ``progress(fraction, message)`` is called per step.
    ``sections``: only these of :data:`SECTIONS` after the KPI table (None: all; :func:`sections_for`)."""
    if sections is not None and (unknown := set(sections) - {k for k, _ in SECTIONS}):
        raise ValueError(f"unknown pack section(s) {sorted(unknown)}; known: {', '.join(k for k, _ in SECTIONS)}")
    with one_connection(wh) as pinned:
        return _build(pinned, f, lang, progress, render, sections)


def _build(wh: Warehouse, f: Filters, lang: str, progress: Progress | None,
           render: Callable[[go.Figure], bytes] | None, sections: Sequence[str] | None = None) -> Pack:
    ctx = Ctx.open(wh, f, lang, render)
    if render is None:
        ctx.renderer.submit(start_renderer)  # Chromium starts while the first queries run
    parts = [("kpis", kpi_pages), *(s for s in SECTIONS if sections is None or s[0] in sections)]
    done = 0

    def report(key: str) -> None:
        if progress:
            progress(done / (len(parts) + 1), ctx.t(f"report.progress.{key}"))

    report("kpis")
    # The sections query in parallel (each thread its own connection); charts render meanwhile.
    try:
        with ThreadPoolExecutor(min(4, len(parts)), "sw-pack") as pool:
            futures = {pool.submit(make, ctx): k for k, (_, make) in enumerate(parts)}
            results: dict[int, list[Page]] = {}
            for fut in as_completed(futures):
                results[futures[fut]] = fut.result()
                done += 1
                report(parts[futures[fut]][0])
        report("writing")
        pages = [title_page(ctx)]
        for k in range(len(parts)):
            for page in results[k]:
                page.charts = [c.result() if isinstance(c, LazyChart) else c for c in page.charts]
                pages.append(page)
    finally:
        ctx.renderer.shutdown(wait=False, cancel_futures=True)
    footer = ctx.t("report.footer", filters=ctx.subtitle(with_comparison=True),
                   as_of=ctx.wh.resolve_as_of(f).isoformat())
    return Pack(lang, ctx.t("report.title"), footer, pages, file_stem(ctx))


def kpi_pages(ctx: Ctx) -> list[Page]:
    return table_pages(ctx.t("report.kpi.title"), kpi_table(ctx), ctx.subtitle(with_comparison=True),
                       sentences=[ctx.t("report.kpi.note")])
