"""What every part of a pack needs: the warehouse, the filters, the language, names, targets, and
number formatting and chart rendering shared by the sections."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import pandas as pd
import plotly.graph_objects as go

from metrics.analysis import drill
from metrics.analysis.subtitles import region_parents, subtitle
from metrics.model.filters import Filters, add_months
from metrics.model.i18n import label, metric_label, t
from metrics.model.registry import get
from metrics.present.formatting import fmt_delta, fmt_value
from metrics.query.warehouse import Warehouse
from metrics.report.model import Chart

# Charts are laid out at 800 × 620 CSS pixels (two side by side fill a 16:9 slide, fonts readable)
# and rendered at 2× (1600 × 1240 pixels): sharp when projected or printed.
CHART_SIZE = (800, 620)
CHART_SCALE = 2

Progress = Callable[[float, str], None]
warnings.filterwarnings("ignore", message="The kopts argument is ignored")


def start_renderer() -> None:
    """Start the kaleido server (Chromium, several seconds the first time in a process)."""
    from metrics.present import export

    export._ensure_kaleido()  # noqa: SLF001 - the one kaleido server of the process, shared with the app


def render_png(fig: go.Figure, size: tuple[int, int] = CHART_SIZE, scale: int = CHART_SCALE) -> bytes:
    """The figure as PNG bytes through kaleido; its Chromium server is started once per process."""
    from metrics.present import export

    return export.figure_image(fig, "png", size, scale)


class LazyChart:
    """A chart being rendered in the background while the pack's queries go on."""

    def __init__(self, title: str, future: Future) -> None:
        self.title, self.future = title, future

    def result(self) -> Chart:
        return Chart(self.title, self.future.result(), CHART_SIZE[0] * CHART_SCALE, CHART_SIZE[1] * CHART_SCALE)


@dataclass
class Ctx:
    """The inputs of one pack, with small helpers for words and numbers in its language."""

    wh: Warehouse
    f: Filters
    lang: str
    regions: pd.DataFrame
    targets: pd.DataFrame
    render: Callable[[go.Figure], bytes] = render_png
    names: dict[int, str] = field(default_factory=dict)
    ancestors: dict[int, list[int]] = field(default_factory=dict)
    # one background thread renders the charts in turn while the sections query the database
    renderer: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1, "sw-pack-render"))

    @classmethod
    def open(cls, wh: Warehouse, f: Filters, lang: str, render: Callable[[go.Figure], bytes] | None = None) -> Ctx:
        regions = wh.regions()
        name_col = "name_zh" if lang == "zh" else "name_en"
        names = dict(zip(regions["region_id"].astype(int), regions[name_col], strict=True))
        return cls(wh, f, lang, regions, wh.targets(), render or render_png, names, drill.ancestors(regions))

    # -- words ------------------------------------------------------------------------------
    def t(self, key: str, **fmt: object) -> str:
        return t(key, self.lang, **fmt)

    def label(self, dim: str, value: object) -> str:
        if dim in ("region", "region_id"):
            return self.names.get(int(value), str(value))
        return label(dim, value, self.lang)

    def metric_label(self, metric_id: str) -> str:
        return metric_label(metric_id, self.lang)

    def subtitle(self, f: Filters | None = None, with_comparison: bool = False) -> str:
        return subtitle(f or self.f, self.lang, self.names, with_comparison, region_parents(self.regions))

    def target(self, metric_id: str, f: Filters | None = None) -> float | None:
        return drill.target_for(self.targets, metric_id, f or self.f, self.ancestors)

    def trend_filters(self, f: Filters | None = None) -> Filters:
        """At least the 12 months up to the period's end, without comparison (trend charts)."""
        f = f or self.f
        return f.with_(start=min(f.start, add_months(f.end.replace(day=1), -11)), comparison="none")

    # -- numbers ----------------------------------------------------------------------------
    def value(self, v: float | None, unit: str) -> str:
        """A value as the dashboard shows it (85.9%, 3.1, ¥12,345 …)."""
        return fmt_value(None if v is None or _nan(v) else float(v), unit, self.lang)

    def change(self, new: float | None, old: float | None, unit: str) -> str:
        """The change: percentage points for shares, points for NPS and scores, relative change (+35%)
        for everything else."""
        if new is None or old is None or _nan(new) or _nan(old):
            return "—"
        if unit in ("share", "share_per_month", "points") or unit.startswith("score") or old == 0:
            return fmt_delta(float(new) - float(old), unit) or "—"  # NPS can cross zero: points, not %
        pct = (float(new) - float(old)) / abs(float(old))
        text = f"{pct:+.0%}" if abs(pct) >= 0.005 else f"{pct:+.1%}"
        return "0%" if text in ("+0.0%", "-0.0%") else text

    def vs(self, row: pd.Series, unit: str) -> str:
        """" (comparison period: 3.1, +35%)"; " (no comparison: the earlier period has no data)" when the
        change cannot be shown (``no_cmp``, :mod:`metrics.query.comparable`); "" without a comparison."""
        old = row.get("value_cmp")
        if isinstance(row.get("no_cmp"), str):  # the earlier period has no data or too few: say so
            return self.t("report.vs_none", reason=self.t(f"no_comparison.short_{row['no_cmp']}"))
        if old is None or _nan(old):
            return ""
        return self.t("report.vs", old=self.value(old, unit), change=self.change(row["value"], old, unit))

    def chart(self, fig: go.Figure, title: str) -> LazyChart:
        """The figure queued for rendering; :meth:`LazyChart.result` waits for its PNG."""
        return LazyChart(title, self.renderer.submit(self.render, fig))

    def unit(self, metric_id: str) -> str:
        return get(metric_id).unit


def _nan(v: object) -> bool:
    try:
        return v is None or pd.isna(v) or (isinstance(v, float) and math.isnan(v))
    except (TypeError, ValueError):
        return False


def first(df: pd.DataFrame) -> pd.Series | None:
    """The one row of an ungrouped result, or None when there is no data."""
    if df is None or df.empty or _nan(df["value"].iloc[0]):
        return None
    return df.iloc[0]
