"""Colours and category orders, in one place, so a tier looks the same on every page and export."""

from __future__ import annotations

import plotly.io as pio

# Every figure starts from plotly's white template. As the default, plotly applies it when a figure
# is created without validating it again; set per figure (update_layout(template=...)) it was
# validated and copied each time, about 100 ms per chart (most of a cached page's run).
pio.templates.default = "plotly_white"

ORDERS: dict[str, list[str]] = {
    "tier": ["diamond", "gold", "silver", "standard", "enterprise"],
    "segment": ["consumer", "enterprise"],
    "sla_level": ["gold", "silver", "bronze"],
    "channel": ["service_hall", "partner_hall", "hotline", "account_manager", "agent", "web_app"],
    "category": ["billing", "network_quality", "fault_repair", "service_attitude", "value_added", "tariff"],
    "kind": ["complaint", "fault", "request", "inquiry"],
    "survey_kind": ["post_interaction", "relationship", "mystery_shopper"],
    "priority": ["P1", "P2", "P3"],
}

COLOURS: dict[str, dict[str, str]] = {
    "tier": {"diamond": "#6a3d9a", "gold": "#d4a017", "silver": "#8c96a0", "standard": "#4c78a8",
             "enterprise": "#1b7f5f"},
    "segment": {"consumer": "#4c78a8", "enterprise": "#1b7f5f"},
    "sla_level": {"gold": "#d4a017", "silver": "#8c96a0", "bronze": "#a0522d"},
    "channel": {"service_hall": "#1f4e9c", "partner_hall": "#5b8bd0", "hotline": "#e45756",
                "account_manager": "#1b7f5f", "agent": "#f58518", "web_app": "#72b7b2"},
    "category": {"billing": "#4c78a8", "network_quality": "#e45756", "fault_repair": "#f58518",
                 "service_attitude": "#b279a2", "value_added": "#72b7b2", "tariff": "#9d755d"},
    "kind": {"complaint": "#e45756", "fault": "#f58518", "request": "#4c78a8", "inquiry": "#72b7b2"},
    "survey_kind": {"post_interaction": "#4c78a8", "relationship": "#1b7f5f",
                    "mystery_shopper": "#b279a2"},
    "priority": {"P1": "#c0392b", "P2": "#f58518", "P3": "#8c96a0"},
}

PRIMARY = "#1f4e9c"
NEUTRAL = "#8c96a0"
STATUS = {"green": "#2e7d32", "amber": "#f0a30a", "red": "#c62828", "no_target": "#8c96a0"}
FONT_FAMILY = "Noto Sans CJK SC, Noto Sans SC, Microsoft YaHei, PingFang SC, sans-serif"
EXPORT_SIZE = (1600, 900)  # pixels, 16:9 at presentation size
EXPORT_SCALE = 1


def colour(dim: str, value: object, index: int = 0) -> str:
    """The colour of a dimension value; a stable fallback palette for regions and others."""
    fixed = COLOURS.get(dim, {}).get(str(value))
    if fixed:
        return fixed
    palette = ["#1f4e9c", "#e45756", "#1b7f5f", "#f58518", "#b279a2", "#72b7b2", "#9d755d", "#d4a017"]
    return palette[index % len(palette)]


def order(dim: str, values) -> list:
    """Values sorted in the dimension's business order (unknown values last, alphabetically)."""
    known = ORDERS.get(dim, [])
    rank = {v: i for i, v in enumerate(known)}
    return sorted(values, key=lambda v: (rank.get(str(v), len(known)), str(v)))
