"""The meeting pack as data: pages of titles, generated sentences, chart images and table rows.

Both writers (:mod:`.pptx_writer`, :mod:`.pdf_writer`) render the same list of pages one to one, so
a slide and a PDF page hold the same content, and tables are split into pages here, once
(:func:`table_pages`), never cut off by a writer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TABLE_ROWS = 12  # body rows per table page: 12 rows + header fit a 16:9 slide at 12 pt


@dataclass(frozen=True)
class Chart:
    """A chart rendered as PNG at presentation size (``width`` × ``height`` pixels)."""

    title: str
    png: bytes
    width: int
    height: int


@dataclass(frozen=True)
class Table:
    """Display-ready cells (text), one header row; ``status`` gives a row's red/amber/green cell
    colour (by column index) where it applies; ``numeric`` marks right-aligned columns."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...] = ()
    status: tuple[dict[int, str], ...] = ()
    widths: tuple[float, ...] = ()  # relative column widths (default: equal)


@dataclass
class Page:
    """One slide / PDF page. ``kind``: title, kpis, section, table, note."""

    kind: str
    title: str
    subtitle: str = ""
    sentences: list[str] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    table: Table | None = None
    lines: list[str] = field(default_factory=list)  # title page: scope, period, comparison, as-of


@dataclass
class Pack:
    """A whole pack: its pages, the footer stamped on each page and the language."""

    lang: str
    title: str
    footer: str
    pages: list[Page]
    file_stem: str

    def footer_for(self, index: int) -> str:
        """The footer of page ``index`` (0-based): the filters and "page / pages"."""
        return f"{self.footer} · {index + 1} / {len(self.pages)}"


def table_pages(title: str, table: Table, subtitle: str = "", rows_per_page: int = TABLE_ROWS,
                sentences: list[str] | None = None) -> list[Page]:
    """The table split over as many pages as it needs, header repeated, titled "… (1/2)"."""
    chunks = [table.rows[i:i + rows_per_page] for i in range(0, len(table.rows), rows_per_page)] or [()]
    status = table.status or tuple({} for _ in table.rows)
    pages = []
    for k, rows in enumerate(chunks):
        start = k * rows_per_page
        part = Table(table.columns, tuple(rows), table.numeric, tuple(status[start:start + len(rows)]), table.widths)
        name = title if len(chunks) == 1 else f"{title} ({k + 1}/{len(chunks)})"
        pages.append(Page("table", name, subtitle, list(sentences or []) if k == 0 else [], table=part))
    return pages
