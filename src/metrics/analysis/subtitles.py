"""Words for a filter: the subtitle every chart, table and export carries."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from metrics.model import dimensions
from metrics.model.filters import Filters
from metrics.model.i18n import label, t
from metrics.query.comparable import MIN_N


def period_text(f: Filters) -> str:
    return f"{f.start:%Y-%m-%d} – {f.end:%Y-%m-%d}"


def _within(region: int, ancestors: tuple[int, ...], parents: Mapping[int, int | None]) -> bool:
    """``region`` is one of ``ancestors`` or lies below one of them."""
    seen: set[int] = set()
    r: int | None = region
    while r is not None and r not in seen:
        if r in ancestors:
            return True
        seen.add(r)
        r = parents.get(r)
    return False


def covered_regions(f: Filters, parents: Mapping[int, int | None] | None = None) -> tuple[int, ...]:
    """The regions a figure under ``f`` covers: the region filter narrowed to the user's scope
    (``f.scope.regions``), or the scope's regions when no region is chosen; () for all regions.
    ``parents`` (region id → parent id) places a chosen city above a scope of one district; without
    it only exact ids are compared."""
    allowed = f.scope.regions if f.scope is not None else None
    if not allowed:
        return tuple(f.regions)
    if not f.regions:
        return tuple(allowed)
    parents = parents or {}
    out: list[int] = []
    for r in f.regions:
        if _within(r, allowed, parents):
            out.append(r)
        else:  # a region wider than the scope: the figure covers the scope's part of it
            out += [a for a in allowed if _within(a, (r,), parents)]
    return tuple(dict.fromkeys(out)) or tuple(f.regions)


def scope_text(f: Filters, lang: str, region_names: Mapping[int, str],
               parents: Mapping[int, int | None] | None = None) -> str:
    """The slices in words, e.g. "韶关 · 金卡 · 客服热线": the regions the figure covers (the user's scope
    when no region is chosen, :func:`covered_regions`), an account manager's own customers; the whole
    province only when the figure covers it."""
    regions = covered_regions(f, parents)
    parts = [", ".join(region_names.get(r, str(r)) for r in regions)] if regions else []
    if f.scope is not None and f.scope.manager_id is not None:
        parts.append(t("filter.scope_portfolio", lang, user=f.scope.user))
    if f.scope is not None and f.scope.outlet_ids is not None and not f.outlets:  # a hall manager's outlets
        parts.append(", ".join(label("outlet", o, lang) for o in f.scope.outlet_ids))
    for dim in dimensions.LABELLED_FILTERS:  # outlets by name (metrics.query.warehouse)
        values = getattr(f, dim.field)
        if values:
            parts.append(", ".join(label(dim.name, v, lang) for v in values))
    return " · ".join(parts) if parts else t("filter.scope_all", lang)


def subtitle(f: Filters, lang: str, region_names: Mapping[int, str], with_comparison: bool = False,
             parents: Mapping[int, int | None] | None = None) -> str:
    """"2026-07-01 – 2026-09-30 | 韶关 · 金卡" (+ "vs 2026-04-01 – 2026-06-30"); ``parents``: see
    :func:`covered_regions`."""
    text = t("filter.subtitle", lang, period=period_text(f), scope=scope_text(f, lang, region_names, parents))
    cf = f.comparison_filters() if with_comparison else None
    if cf is not None:
        text += " " + t("filter.vs", lang, period=period_text(cf))
    return text


def no_comparison_text(row: Mapping[str, object], f: Filters, lang: str, first: date | None = None) -> str | None:
    """Why a row of ``Warehouse.compare`` shows no change, in words ("无对比：对比期（…）没有数据"), from
    its ``no_cmp`` code (:mod:`metrics.query.comparable`); None when it has a change or none was asked.
    ``first``: the first day the metric's source records (named when the earlier period begins before it)."""
    code = row.get("no_cmp")
    cf = f.comparison_filters()
    if not isinstance(code, str) or not code or cf is None:
        return None
    n = float(row.get("n_cmp") or 0)  # type: ignore[arg-type]
    return t(f"no_comparison.{code}", lang, period=period_text(cf), first=f"{first:%Y-%m-%d}" if first else "—",
             n=f"{int(n):,}" if n == n else "0", min=MIN_N)


def region_parents(regions: object) -> dict[int, int | None]:
    """region id → parent id (None at the top) from a regions frame (``Warehouse.regions()``)."""
    import pandas as pd

    return {int(r): None if pd.isna(p) else int(p)
            for r, p in zip(regions["region_id"], regions["parent_id"], strict=True)}  # type: ignore[index]
