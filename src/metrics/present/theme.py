"""Colours and category orders, in one place, so a tier looks the same on every page and export."""

from __future__ import annotations

import tomllib
import zlib
from pathlib import Path

from metrics.model import vocabulary
from metrics.model.i18n import catalogue

# Every figure starts from plotly's white template. As the default, plotly applies it when a figure
# is created without validating it again; set per figure (update_layout(template=...)) it was
# validated and copied each time, about 100 ms per chart (most of a cached page's run). The default
# is process-wide: importing Streamlit's plotly module (streamlit.elements.plotly_chart, on
# ``import streamlit``) sets it to "streamlit", so every chart checks it (:func:`restore_template`).
# It is set when the charts are imported (metrics.present.charts.core), not here: setting it validates
# the template (about 0.4 s), which a command that draws no chart should not pay.
TEMPLATE = "plotly_white"


def restore_template() -> bool:
    """Make :data:`TEMPLATE` plotly's default again if an import replaced it since; True when it had
    been replaced (a figure built just before then carries the other template). A string comparison
    per call; the default's validation (tens of ms) only when it was replaced, once per such import."""
    import plotly.io as pio

    if pio.templates.default == TEMPLATE:
        return False
    pio.templates.default = TEMPLATE
    return True

# Fixed colours of the demo's codes live in colours.toml (data); the order of every vocabulary is the
# data's (metrics.model.vocabulary: the ``vocabulary`` table, else the catalogue's order).
COLOURS: dict[str, dict[str, str]] = tomllib.loads(Path(__file__).with_name("colours.toml").read_text("utf-8"))
PALETTE = ("#1f4e9c", "#e45756", "#1b7f5f", "#f58518", "#b279a2", "#72b7b2", "#9d755d", "#d4a017",
           "#6a3d9a", "#5b8bd0", "#a0522d", "#c0392b")

PRIMARY = "#1f4e9c"
NEUTRAL = "#8c96a0"
STATUS = {"green": "#2e7d32", "amber": "#f0a30a", "red": "#c62828", "no_target": "#8c96a0"}
# the outlets' charts (metrics.present.charts.outlets): the VIP lane's verdicts and the waits' heat map
VIP_VERDICT = {"works": STATUS["green"], "does_not": STATUS["red"], "unclear": STATUS["amber"], "too_small": NEUTRAL}
WAIT_HEAT = ((0.0, "#f1f6fb"), (0.5, STATUS["amber"]), (1.0, STATUS["red"]))  # short waits pale, long ones red
FONT_FAMILY = "Noto Sans CJK SC, Noto Sans SC, Microsoft YaHei, PingFang SC, sans-serif"
EXPORT_SIZE = (1600, 900)  # pixels, 16:9 at presentation size
EXPORT_SCALE = 1


def colour(dim: str, value: object, index: int = 0) -> str:
    """The colour of a dimension value: the fixed one (colours.toml), else for a vocabulary code a
    palette colour chosen by a hash of the code (the same on every page, whatever else is shown);
    other values (regions …) by their position ``index``."""
    fixed = COLOURS.get(dim, {}).get(str(value))
    if fixed:
        return fixed
    if has_order(dim):
        return PALETTE[zlib.crc32(str(value).encode("utf-8")) % len(PALETTE)]
    return PALETTE[index % 8]


def has_order(dim: str) -> bool:
    """Whether ``dim`` is a vocabulary (codes with an order and colours), not regions or dates."""
    return dim in vocabulary.DIMENSIONS


def order(dim: str, values) -> list:
    """Values sorted in the dimension's order: the data's (``vocabulary`` table), then the
    catalogue's; codes neither knows last, alphabetically."""
    rank = vocabulary.rank(dim, vocabulary.section_codes(catalogue(), dim))
    return sorted(values, key=lambda v: (rank.get(str(v), len(rank)), str(v)))
