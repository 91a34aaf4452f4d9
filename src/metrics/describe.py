"""Words for a filter: the subtitle every chart, table and export carries."""

from __future__ import annotations

from collections.abc import Mapping

from .filters import Filters
from .i18n import label, t


def period_text(f: Filters) -> str:
    return f"{f.start:%Y-%m-%d} – {f.end:%Y-%m-%d}"


def scope_text(f: Filters, lang: str, region_names: Mapping[int, str]) -> str:
    """The slices in words, e.g. "韶关 · 金卡 · 客服热线"; the whole province when unfiltered."""
    parts = [", ".join(region_names.get(r, str(r)) for r in f.regions)] if f.regions else []
    for dim, values in (("tier", f.tiers), ("segment", f.segments), ("channel", f.channels),
                        ("sla_level", f.sla_levels), ("category", f.categories), ("kind", f.kinds),
                        ("survey_kind", f.survey_kinds), ("priority", f.priorities)):
        if values:
            parts.append(", ".join(label(dim, v, lang) for v in values))
    return " · ".join(parts) if parts else t("filter.scope_all", lang)


def subtitle(f: Filters, lang: str, region_names: Mapping[int, str], with_comparison: bool = False) -> str:
    """"2026-07-01 – 2026-09-30 | 韶关 · 金卡" (+ "vs 2026-04-01 – 2026-06-30")."""
    text = t("filter.subtitle", lang, period=period_text(f), scope=scope_text(f, lang, region_names))
    cf = f.comparison_filters() if with_comparison else None
    if cf is not None:
        text += " " + t("filter.vs", lang, period=period_text(cf))
    return text
