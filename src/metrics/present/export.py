"""Files for meetings: figures as PNG/SVG at presentation size, tables as CSV/Excel.

A table leaves as an :class:`Export` (:func:`build_export`: the frame, each column's header and
number format, and the :class:`ExportContext` — title, period, comparison, filters in words, as-of,
the user's scope, the metrics shown). Its Excel file carries that context as a header block above
the table, formats each column (percentages with the metric's decimals, thousands separators,
currency, p-values, dates), freezes the header row and adds a sheet with the metrics' definitions;
its CSV has the same header names (UTF-8 with BOM, for Excel).

No Streamlit here. Images are rendered server-side by kaleido with Debian's Chromium; its
server is started once per process, so each image costs a fraction of a second.
"""

from __future__ import annotations

import html
import io
import os
import re
import shutil
import threading
import unicodedata
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import pandas as pd
import plotly.graph_objects as go

from metrics.analysis.subtitles import period_text
from metrics.model import dimensions
from metrics.model.filters import Filters
from metrics.model.i18n import label, t
from metrics.model.registry import BY_ID, Metric
from metrics.present import theme
from metrics.present.cells import safe_cell, safe_frame  # noqa: F401 - the one escape, shared with the CLI
from metrics.present.formatting import PERCENT_UNITS, decimals

_lock = threading.Lock()
_render_lock = threading.Lock()
_started = False


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _ensure_kaleido() -> None:
    global _started
    with _lock:
        if _started:
            return
        browser = _chromium()
        if browser and not os.environ.get("BROWSER_PATH"):
            os.environ["BROWSER_PATH"] = browser
        import kaleido

        # weakref's atexit hook (it removes Chromium's profile folder) registered before kaleido's close:
        # atexit runs the last first, so Chromium is closed before its folder goes (tests/charts/test_kaleido_exit.py)
        weakref.finalize(_ensure_kaleido, lambda: None)
        try:
            kaleido.start_sync_server(silence_warnings=True)
        except Exception:  # noqa: BLE001 - already running or unsupported: fall back to per-call
            pass
        _started = True


def figure_image(fig: go.Figure, fmt: str = "png", size: tuple[int, int] = theme.EXPORT_SIZE,
                 scale: float = theme.EXPORT_SCALE) -> bytes:
    """The figure rendered as ``png`` or ``svg`` bytes, laid out at ``size`` CSS pixels (16:9 by
    default) and rendered at ``scale`` ×; the only way this process talks to kaleido."""
    import plotly.io as pio

    _ensure_kaleido()
    width, height = size
    with _render_lock:  # kaleido's server answers on one queue: one render at a time
        return pio.to_image(fig, format=fmt, width=width, height=height, scale=scale)


# -- number formats, one place: each column of the engine's frames gets a style ----------------
@dataclass(frozen=True)
class Style:
    """How a column's numbers read: ``kind`` percent, number, currency, pvalue, id (a key: no
    separators), date, month or datetime; ``decimals``; ``signed`` for changes (+/−)."""

    kind: str
    decimals: int = 0
    signed: bool = False


# the metric's own value and what is measured in its unit (changes are the same, signed)
VALUE_COLUMNS = ("value", "lower", "upper", "value_cmp", "target", "rest_value", "centre", "lcl", "ucl")
CHANGE_COLUMNS = ("delta", "gap")
COLUMN_STYLES: dict[str, Style] = {
    **{c: Style("id") for c in ("region_code", "customer_id", "ticket_id", "survey_id", "model_id")},
    **{c: Style("number") for c in ("n", "n_cmp", "events", "exposure", "n_resolved", "n_decided", "rows", "at_risk",
                                    "censored", "open_tickets", "rank", "known", "time_days", "tickets", "entered")},
    **{c: Style("percent", 1) for c in ("compliance", "compliance_lower", "compliance_upper", "response_compliance",
                                        "survival", "share", "annual", "annual_lower", "annual_upper")},
    "availability_target": Style("percent", 2),
    "delta_pct": Style("percent", 1, signed=True),
    **{c: Style("number", 1) for c in ("median_hours", "p90_hours", "age_hours", "response_hours",
                                       "resolution_hours", "onsite_hours", "churn_probability_90d")},
    **{c: Style("number", decimals("minutes")) for c in ("mean_wait_min", "median_wait_min", "p90_wait_min")},
    "abandoned_share": Style("percent", decimals("share")),
    **{c: Style("number") for c in ("visits", "hour")},
    **{c: Style("currency") for c in ("revenue", "monthly_revenue", "compensation", "revenue_at_risk")},
    **{c: Style("pvalue", 3) for c in ("p_value", "p_adjusted", "p", "p_holm")},
    **{c: Style("number", 2) for c in ("hr", "hr_lower", "hr_upper", "chi2")},
    "month": Style("month"),
    **{c: Style("date") for c in ("start_date", "end_date", "date")},
    **{c: Style("datetime") for c in ("opened_at", "first_response_at", "resolved_at", "resolution_due_at",
                                      "answered_at")},
}


def metric_style(m: Metric) -> Style:
    """The style of ``m``'s values: percentages, currency or numbers by its unit, with the decimals
    the app and the pack show (:func:`metrics.present.formatting.decimals`: one rule for all three)."""
    digits = decimals(m.unit, m)
    if m.unit in PERCENT_UNITS:
        return Style("percent", digits)
    return Style("currency" if m.unit == "currency" else "number", digits)


def column_style(column: str, metric_id: str | None = None, dtype: object = None) -> Style | None:
    """The style of an engine column (its name before translation); the metric's for its value
    columns; a plain number for other numeric columns; None for text."""
    m = BY_ID.get(metric_id) if metric_id else None
    if column in COLUMN_STYLES:
        return COLUMN_STYLES[column]
    if column in VALUE_COLUMNS + CHANGE_COLUMNS:
        base = metric_style(m) if m is not None else Style("number", 2)
        return Style(base.kind, base.decimals, signed=column in CHANGE_COLUMNS)
    if dtype is not None and pd.api.types.is_bool_dtype(dtype):
        return None
    if dtype is not None and pd.api.types.is_integer_dtype(dtype):
        return Style("number")
    if dtype is not None and pd.api.types.is_float_dtype(dtype):
        return Style("number", 2)
    if dtype is not None and pd.api.types.is_datetime64_any_dtype(dtype):
        return Style("date")
    return None


def excel_format(style: Style | None) -> str:
    """The Excel number format of ``style`` (``0.0%``, ``#,##0``, ``"¥"#,##0``, ``yyyy-mm`` …)."""
    if style is None:
        return "General"
    if style.kind in ("date", "month", "datetime"):
        return {"date": "yyyy-mm-dd", "month": "yyyy-mm", "datetime": "yyyy-mm-dd hh:mm"}[style.kind]
    if style.kind == "id":
        return "0"
    if style.kind == "pvalue":
        return '[<0.001]"< 0.001";0.000'
    digits = "0" + ("." + "0" * style.decimals if style.decimals else "")
    body = {"percent": digits + "%", "number": "#,##" + digits, "currency": '"¥"#,##' + digits}[style.kind]
    return f"+{body};-{body};{body}" if style.signed else body


@dataclass(frozen=True)
class Column:
    """One column of an export: the frame's column ``name``, the ``header`` shown and its ``style``."""

    name: str
    header: str
    style: Style | None = None


@dataclass(frozen=True)
class ExportContext:
    """What the table shows, in the reader's words: the header block of the Excel file."""

    title: str
    lang: str = "zh"
    period: str = ""
    comparison: str = ""
    filters: str = ""
    as_of: date | None = None
    scope: str = ""
    metrics: tuple[str, ...] = ()

    def block(self) -> list[tuple[str, object]]:
        """(label, value) rows of the header block, title excluded."""
        lang = self.lang
        return [(t("export.period", lang), self.period), (t("export.comparison", lang), self.comparison),
                (t("export.filters", lang), self.filters), (t("export.as_of", lang), self.as_of),
                (t("export.scope", lang), self.scope)]


def filters_text(f: Filters, lang: str, region_names: Mapping[int, str]) -> str:
    """The chosen filters by display name, e.g. "区域：东江市；客户等级：金卡、银卡"; "无（全部数据）"."""
    sep, join = ("；", "、") if lang == "zh" else ("; ", ", ")
    colon = "：" if lang == "zh" else ": "
    parts = []
    if f.regions:
        parts.append(t("filter.region", lang) + colon + join.join(region_names.get(r, str(r)) for r in f.regions))
    for dim in dimensions.LABELLED_FILTERS:  # outlets by name (metrics.query.warehouse)
        values = getattr(f, dim.field)
        if values:
            names = join.join(label(dim.name, v, lang) for v in values)
            parts.append(t(f"page.tables.{dim.name}", lang) + colon + names)
    return sep.join(parts) if parts else t("export.filters_none", lang)


def scope_words(f: Filters, lang: str, region_names: Mapping[int, str]) -> str:
    """The user's scope: all data, or the user's regions by name or own customers (aggregates only)."""
    s = f.scope
    if s is None:
        return t("export.scope_all", lang)
    join = "、" if lang == "zh" else ", "
    if s.manager_id is not None:
        text = t("export.scope_portfolio", lang, user=s.user)
    elif s.outlet_ids is not None:  # a hall manager: their outlets by name
        text = t("export.scope_outlets", lang, user=s.user,
                 outlets=join.join(label("outlet", o, lang) for o in s.outlet_ids) or "—")
    elif s.regions is not None:
        names = join.join(region_names.get(r, str(r)) for r in s.regions) or "—"
        text = t("export.scope_regions", lang, user=s.user, regions=names)
    else:
        text = f"{s.user}{'：' if lang == 'zh' else ': '}{t('export.scope_all', lang)}"
    return text + (t("export.scope_aggregates", lang) if s.aggregates_only else "")


def export_context(f: Filters, lang: str, region_names: Mapping[int, str], title: str,
                   metrics: Iterable[str] = (), as_of: date | None = None) -> ExportContext:
    """The header block of a table exported under the filters ``f``."""
    cf = f.comparison_filters()
    comparison = (f"{t(f'comparison.{f.comparison}', lang)}{'：' if lang == 'zh' else ': '}{period_text(cf)}"
                  if cf is not None else t("export.comparison_none", lang))
    return ExportContext(title=title, lang=lang, period=period_text(f), comparison=comparison,
                         filters=filters_text(f, lang, region_names), as_of=as_of or f.as_of,
                         scope=scope_words(f, lang, region_names),
                         metrics=tuple(dict.fromkeys(m for m in metrics if m in BY_ID)))


def title_text(fig_title: str | None) -> str:
    """A figure's title as plain text: the first line, tags dropped, entities resolved."""
    first = re.split(r"<br\s*/?>", fig_title or "", maxsplit=1)[0]
    return html.unescape(re.sub(r"<[^>]+>", "", first)).strip()


@dataclass(frozen=True)
class Export:
    """A table ready to leave: the frame, its columns (header, style) and its context."""

    frame: pd.DataFrame
    columns: tuple[Column, ...]
    context: ExportContext | None = None
    extra_notes: tuple[str, ...] = field(default=())

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    def shown(self) -> pd.DataFrame:
        """The frame with the export's headers, spreadsheet-safe."""
        out = self.frame[[c.name for c in self.columns]].copy()
        out.columns = self.headers
        return safe_frame(out)

    def csv(self) -> bytes:
        return to_csv(self.shown())

    def xlsx(self) -> bytes:
        return _workbook(self)


def build_export(frame: pd.DataFrame, columns: Sequence[Column] | None = None,
                 context: ExportContext | None = None) -> Export:
    """The one way a table becomes a file: ``frame`` (values as shown), its ``columns`` (all of the
    frame's, headers as named, styles from :func:`column_style`, when not given) and ``context``."""
    if columns is None:
        columns = [Column(str(c), str(c), column_style(str(c), None, frame[c].dtype)) for c in frame.columns]
    return Export(frame, tuple(columns), context)


def to_csv(df: pd.DataFrame) -> bytes:
    """UTF-8 with BOM so that Excel opens Chinese text correctly."""
    return safe_frame(df).to_csv(index=False).encode("utf-8-sig")


def to_excel(df: pd.DataFrame, sheet: str = "data", context: ExportContext | None = None) -> bytes:
    """``df`` as an Excel file (its own headers, numbers styled by dtype); with ``context``, the header
    block and the definitions sheet too (:func:`build_export` for styled engine columns)."""
    return _workbook(build_export(df, None, context), sheet)


def text_width(value: object) -> int:
    """Display width of a cell's text in Excel columns: East Asian wide characters count two."""
    text = value if isinstance(value, str) else str(value)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _cell_text(value: object, style: Style | None) -> str:
    """Roughly the text Excel shows for ``value`` (for the column width)."""
    if isinstance(value, (datetime, date)):
        return "0000-00-00 00:00" if style is not None and style.kind == "datetime" else "0000-00-00"
    if style is None or not isinstance(value, (int, float)) or isinstance(value, bool):
        return str(value)
    sign = "+" if style.signed else ""
    if style.kind == "percent":
        return f"{100 * value:{sign},.{style.decimals}f}%"
    if style.kind == "pvalue":
        return "< 0.001"
    return ("¥" if style.kind == "currency" else "") + f"{value:{sign},.{style.decimals}f}"


def _workbook(ex: Export, sheet: str | None = None) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    ctx = ex.context
    lang = ctx.lang if ctx is not None else "zh"
    wb = Workbook()
    ws = wb.active
    ws.title = (sheet or t("export.data_sheet", lang))[:31]
    row = 1
    if ctx is not None:
        ws.cell(row, 1, safe_cell(ctx.title)).font = Font(bold=True, size=14)
        for key, value in ctx.block():
            row += 1
            ws.cell(row, 1, key).font = Font(bold=True)
            cell = ws.cell(row, 2, safe_cell(value))
            if isinstance(value, date):
                cell.number_format = "yyyy-mm-dd"
                cell.alignment = Alignment(horizontal="left")
        row += 2
    header_row = row
    frame = ex.shown()
    fill = PatternFill("solid", fgColor="DDE3EA")
    for j, col in enumerate(ex.columns, start=1):
        cell = ws.cell(header_row, j, safe_cell(col.header))
        cell.font, cell.fill = Font(bold=True), fill
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    widths = [text_width(c.header) for c in ex.columns]
    for i, values in enumerate(frame.itertuples(index=False, name=None), start=header_row + 1):
        for j, (value, col) in enumerate(zip(values, ex.columns, strict=True), start=1):
            value = _excel_value(value)
            cell = ws.cell(i, j, value)
            if value is not None:
                cell.number_format = excel_format(col.style) if not isinstance(value, str) else "General"
                widths[j - 1] = max(widths[j - 1], text_width(_cell_text(value, col.style)))
    for j, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(j)].width = min(max(w + 2, 8), 60)
    if ctx is not None:  # the block's labels in column A
        ws.column_dimensions["A"].width = max(ws.column_dimensions["A"].width,
                                              max(text_width(k) for k, _ in ctx.block()) + 2)
    ws.freeze_panes = ws.cell(header_row + 1, 1)
    if ctx is not None:
        _definitions(wb, ctx, ex)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _excel_value(value: object) -> object:
    """A cell value openpyxl writes: NaN/NaT empty, numpy scalars as Python, timestamps naive."""
    if value is None or (isinstance(value, float) and value != value) or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.tz_localize(None).to_pydatetime() if value.tzinfo else value.to_pydatetime()
    if isinstance(value, pd.Period):
        return value.to_timestamp().to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value


def _definitions(wb, ctx: ExportContext, ex: Export) -> None:
    from openpyxl.styles import Alignment, Font

    lang = ctx.lang
    ws = wb.create_sheet(t("export.definitions_sheet", lang)[:31])
    heads = [t("export.metric", lang), t("export.definition", lang), t("export.unit", lang),
             t("export.higher_is_better", lang)]
    for j, h in enumerate(heads, start=1):
        ws.cell(1, j, h).font = Font(bold=True)
    row = 1
    for mid in ctx.metrics:
        m = BY_ID[mid]
        row += 1
        direction = {True: "better_higher", False: "better_lower", None: "better_none"}[m.higher_is_better]
        for j, value in enumerate((m.label(lang), t(f"export.definitions.{mid}", lang), t(f"unit.{m.unit}", lang),
                                   t(f"export.{direction}", lang)), start=1):
            ws.cell(row, j, value).alignment = Alignment(wrap_text=True, vertical="top")
    names = {c.name for c in ex.columns}
    if names & {"lower", "upper", "n"}:
        row += 2
        ws.cell(row, 1, t("export.interval_note", lang))
    for letter, width in zip("ABCD", (22, 70, 18, 12), strict=True):
        ws.column_dimensions[letter].width = width
