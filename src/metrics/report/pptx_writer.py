"""The pack as a PowerPoint deck (16:9): native, editable text boxes and tables; charts as PNG
pictures at 2× resolution; the filters and the page number in every slide's footer.

Fonts: every run names "Microsoft YaHei" for Latin and East Asian text with the GB2312 character
set (-122) and a sans-serif pitch family, so PowerPoint on Windows uses YaHei and any other viewer
substitutes a Chinese sans-serif font (Noto Sans CJK SC on Linux) rather than a Latin-only one.
"""

from __future__ import annotations

import io
import math

from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.text import MSO_ANCHOR, PP_ALIGN
from pptx.oxml.ns import qn
from pptx.util import Emu, Inches, Pt

from metrics.present import theme
from metrics.report.model import Pack, Page, Table

FONT = "Microsoft YaHei"
SLIDE_W, SLIDE_H = Inches(13.333), Inches(7.5)
MARGIN = Inches(0.45)
TITLE_TOP, TITLE_H = Inches(0.3), Inches(0.6)
BODY_TOP = Inches(1.25)
FOOTER_TOP = Inches(7.05)
ROW_H = Inches(0.38)
PRIMARY = RGBColor.from_string(theme.PRIMARY[1:])
GREY = RGBColor(0x55, 0x5F, 0x6A)
STATUS = {k: RGBColor.from_string(v[1:]) for k, v in theme.STATUS.items()}


def _font(run, size: float, bold: bool = False, colour: RGBColor | None = None) -> None:
    run.font.size = Pt(size)
    run.font.bold = bold
    run.font.name = FONT
    if colour is not None:
        run.font.color.rgb = colour
    rpr = run._r.get_or_add_rPr()  # noqa: SLF001 - python-pptx has no API for the East Asian font
    for tag in ("a:ea", "a:cs"):
        el = rpr.find(qn(tag))
        if el is None:
            el = rpr.makeelement(qn(tag), {})
            rpr.append(el)
        el.set("typeface", FONT)
        el.set("pitchFamily", "34")
        el.set("charset", "-122")


def _text(slide, left, top, width, height, paragraphs: list[str], size: float, bold: bool = False,
          colour: RGBColor | None = None, bullets: bool = False, align=PP_ALIGN.LEFT, space: float = 4):
    box = slide.shapes.add_textbox(left, top, width, height)
    tf = box.text_frame
    tf.word_wrap = True
    tf.margin_left = tf.margin_right = Inches(0.05)
    for i, text in enumerate(paragraphs):
        p = tf.paragraphs[0] if i == 0 else tf.add_paragraph()
        p.alignment = align
        p.space_after = Pt(space)
        run = p.add_run()
        run.text = ("• " if bullets else "") + text
        _font(run, size, bold, colour)
    return box


def _header(slide, page: Page) -> None:
    _text(slide, MARGIN, TITLE_TOP, SLIDE_W - 2 * MARGIN, TITLE_H, [page.title], 26, True, PRIMARY)
    if page.subtitle:
        _text(slide, MARGIN, TITLE_TOP + TITLE_H, SLIDE_W - 2 * MARGIN, Inches(0.35), [page.subtitle], 12,
              colour=GREY)


def _footer(slide, text: str) -> None:
    line = slide.shapes.add_connector(1, MARGIN, FOOTER_TOP - Inches(0.05), SLIDE_W - MARGIN, FOOTER_TOP - Inches(0.05))
    line.line.color.rgb = RGBColor(0xCC, 0xCC, 0xCC)
    _text(slide, MARGIN, FOOTER_TOP, SLIDE_W - 2 * MARGIN, Inches(0.35), [text], 9, colour=GREY)


def _table(slide, table: Table, top) -> None:
    n_rows, n_cols = len(table.rows) + 1, len(table.columns)
    width = SLIDE_W - 2 * MARGIN
    shape = slide.shapes.add_table(n_rows, n_cols, MARGIN, top, width, ROW_H * n_rows)
    grid = shape.table
    weights = table.widths or (1.0,) * n_cols
    total = sum(weights)
    widths = [int(width * w / total) for w in weights]
    widths[-1] = width - sum(widths[:-1])
    for j, w in enumerate(widths):
        grid.columns[j].width = Emu(w)
    for i in range(n_rows):
        grid.rows[i].height = ROW_H
    numeric = table.numeric or (False,) * n_cols
    status = table.status or tuple({} for _ in table.rows)
    for i, values in enumerate([table.columns, *table.rows]):
        for j, value in enumerate(values):
            cell = grid.cell(i, j)
            cell.vertical_anchor = MSO_ANCHOR.MIDDLE
            cell.margin_top = cell.margin_bottom = Inches(0.02)
            p = cell.text_frame.paragraphs[0]
            p.alignment = PP_ALIGN.RIGHT if numeric[j] and i > 0 else PP_ALIGN.LEFT
            run = p.add_run()
            run.text = str(value)
            rag = status[i - 1].get(j) if i > 0 else None
            colour = RGBColor(0xFF, 0xFF, 0xFF) if i == 0 or rag in ("red", "green", "amber") else None
            _font(run, 12, bold=i == 0 or rag is not None, colour=colour)
            if i == 0:
                cell.fill.solid()
                cell.fill.fore_color.rgb = PRIMARY
            elif rag in STATUS:
                cell.fill.solid()
                cell.fill.fore_color.rgb = STATUS[rag]
            else:
                cell.fill.solid()
                cell.fill.fore_color.rgb = RGBColor(0xF4, 0xF6, 0xF9) if i % 2 == 0 else RGBColor(0xFF, 0xFF, 0xFF)


def _charts(slide, page: Page, top) -> None:
    n = len(page.charts)
    if not n:
        return
    gap = Inches(0.2)
    avail_w = SLIDE_W - 2 * MARGIN - gap * (n - 1)
    avail_h = FOOTER_TOP - Inches(0.15) - top
    for k, chart in enumerate(page.charts):
        w = avail_w // n
        h = int(w * chart.height / chart.width)
        if h > avail_h:
            h = avail_h
            w = int(h * chart.width / chart.height)
        left = MARGIN + k * (avail_w // n + gap) + (avail_w // n - w) // 2
        slide.shapes.add_picture(io.BytesIO(chart.png), left, top, w, h)


def _slide(prs: Presentation, page: Page, footer: str) -> None:
    slide = prs.slides.add_slide(prs.slide_layouts[6])  # blank
    if page.kind == "title":
        _text(slide, Inches(0.9), Inches(1.6), SLIDE_W - Inches(1.8), Inches(1.0), [page.title], 40, True, PRIMARY)
        _text(slide, Inches(0.9), Inches(2.6), SLIDE_W - Inches(1.8), Inches(0.7), [page.subtitle], 24, colour=GREY)
        _text(slide, Inches(0.9), Inches(3.6), SLIDE_W - Inches(1.8), Inches(2.8), page.lines, 16, space=8)
        _footer(slide, footer)
        return
    _header(slide, page)
    top = BODY_TOP
    if page.sentences:
        lines = sum(text_lines(s, (SLIDE_W - 2 * MARGIN) / 914400 - 0.3, 15) for s in page.sentences)
        height = Inches(0.34) * lines + Inches(0.08) * len(page.sentences)
        _text(slide, MARGIN, top, SLIDE_W - 2 * MARGIN, height, page.sentences, 15, bullets=page.kind != "note",
              space=6)
        top += height + Inches(0.1)
    if page.table is not None:
        _table(slide, page.table, top)
    _charts(slide, page, top)
    _footer(slide, footer)


def text_lines(text: str, width_in: float, size_pt: float) -> int:
    """Lines a paragraph wraps to: CJK characters and full-width punctuation are 1 em wide, other
    characters ~0.55 em (a sans-serif average), so the charts start below the text."""
    ems = sum(1.0 if ord(ch) >= 0x2E80 else 0.55 for ch in text)
    return max(1, math.ceil(ems / (width_in * 72 / size_pt)))


def write_pptx(pack: Pack) -> bytes:
    """The deck as .pptx bytes: one slide per page of the pack."""
    prs = Presentation()
    prs.slide_width, prs.slide_height = SLIDE_W, SLIDE_H
    prs.core_properties.title = pack.title
    prs.core_properties.author = "ServiceWatch"
    for i, page in enumerate(pack.pages):
        _slide(prs, page, pack.footer_for(i))
    buf = io.BytesIO()
    prs.save(buf)
    return buf.getvalue()
