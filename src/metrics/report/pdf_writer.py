"""The pack as a PDF bulletin: an HTML page per pack page, printed by headless Chromium.

Why Chromium and not a Python PDF library: Debian's Noto Sans CJK is an OpenType font with CFF
outlines, which reportlab rejects ("postscript outlines are not supported"); Chromium is already
a system dependency (kaleido renders the charts with it), lays out Chinese with the same fonts as
the charts, embeds only the glyphs used and keeps the text selectable and searchable. Pages are
A4 landscape; each pack page is one fixed-size block, so nothing flows onto an unplanned page.
"""

from __future__ import annotations

import base64
import html
import os
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from metrics.present import export, theme
from metrics.report.model import Chart, Pack, Page, Table

PAGE_W_MM, PAGE_H_MM = 297, 210
TIMEOUT_S = 120
CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer", "--no-first-run",
                 "--disable-extensions", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-features=Translate,MediaRouter,OptimizationHints",
                 "--password-store=basic", "--use-mock-keychain")

CSS = f"""
@page {{ size: {PAGE_W_MM}mm {PAGE_H_MM}mm; margin: 0 }}
* {{ box-sizing: border-box }}
body {{ margin: 0; font-family: {theme.FONT_FAMILY}; color: #1d2430 }}
.page {{ width: {PAGE_W_MM}mm; height: {PAGE_H_MM}mm; padding: 10mm 12mm 0 12mm; position: relative;
         overflow: hidden; page-break-after: always; break-after: page; display: flex; flex-direction: column }}
.page:last-child {{ page-break-after: auto; break-after: auto }}
h1 {{ margin: 0; font-size: 20pt; color: {theme.PRIMARY} }}
.sub {{ font-size: 9.5pt; color: #555f6a; margin: 1.5mm 0 3mm 0 }}
ul {{ margin: 0 0 3mm 0; padding-left: 5mm; font-size: 11pt; line-height: 1.45 }}
ul.note {{ list-style: none; padding-left: 0 }}
.charts {{ display: flex; gap: 4mm; flex: 1; min-height: 0; align-items: flex-start; justify-content: center }}
.charts img {{ max-width: 100%; max-height: 100%; min-width: 0; object-fit: contain; flex: 1 1 0 }}
.charts.one img {{ flex: 0 1 auto; max-width: 75% }}
table {{ border-collapse: collapse; width: 100%; font-size: 10pt }}
th {{ background: {theme.PRIMARY}; color: white; text-align: left; padding: 1.6mm 2mm }}
td {{ padding: 1.4mm 2mm; border-bottom: 0.2mm solid #dde2e8 }}
tr:nth-child(even) td {{ background: #f4f6f9 }}
td.num, th.num {{ text-align: right }}
td.rag {{ color: white; font-weight: bold }}
.footer {{ position: absolute; left: 12mm; right: 12mm; bottom: 5mm; font-size: 7.5pt; color: #555f6a;
           border-top: 0.2mm solid #cccccc; padding-top: 1.5mm }}
.title-page h1 {{ font-size: 32pt; margin-top: 35mm }}
.title-page .scope {{ font-size: 18pt; color: #555f6a; margin: 4mm 0 10mm 0 }}
.title-page p {{ font-size: 13pt; margin: 0 0 3mm 0 }}
"""


def _e(text: str) -> str:
    return html.escape(str(text))


def _table(table: Table) -> str:
    numeric = table.numeric or (False,) * len(table.columns)
    status = table.status or tuple({} for _ in table.rows)
    total = sum(table.widths) if table.widths else None
    cols = "".join(f'<col style="width:{100 * w / total:.1f}%">' for w in table.widths) if total else ""
    head = "".join(f'<th class="{"num" if n else ""}">{_e(c)}</th>'
                   for c, n in zip(table.columns, numeric, strict=True))
    body = []
    for values, rag in zip(table.rows, status, strict=True):
        cells = []
        for j, v in enumerate(values):
            colour = theme.STATUS.get(rag.get(j, ""))
            cls = " ".join(x for x in ("num" if numeric[j] else "", "rag" if colour else "") if x)
            style = f' style="background:{colour}"' if colour else ""
            cells.append(f'<td class="{cls}"{style}>{_e(v)}</td>')
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><colgroup>{cols}</colgroup><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def data_uri(chart: Chart) -> str:
    return f"data:image/png;base64,{base64.b64encode(chart.png).decode()}"


def _page(page: Page, footer: str, src: Callable[[Chart], str]) -> str:
    foot = f'<div class="footer">{_e(footer)}</div>'
    if page.kind == "title":
        lines = "".join(f"<p>{_e(x)}</p>" for x in page.lines)
        return (f'<section class="page title-page"><h1>{_e(page.title)}</h1>'
                f'<div class="scope">{_e(page.subtitle)}</div>{lines}{foot}</section>')
    parts = [f"<h1>{_e(page.title)}</h1>", f'<div class="sub">{_e(page.subtitle)}</div>' if page.subtitle else ""]
    if page.sentences:
        items = "".join(f"<li>{_e(s)}</li>" for s in page.sentences)
        parts.append(f'<ul class="{"note" if page.kind == "note" else ""}">{items}</ul>')
    if page.table is not None:
        parts.append(_table(page.table))
    if page.charts:
        imgs = "".join(f'<img alt="{_e(c.title)}" src="{_e(src(c))}">' for c in page.charts)
        parts.append(f'<div class="charts{" one" if len(page.charts) == 1 else ""}">{imgs}</div>')
    # keep the charts clear of the footer
    parts.append('<div style="height:12mm;flex:none"></div>')
    return f'<section class="page">{"".join(parts)}{foot}</section>'


def to_html(pack: Pack, src: Callable[[Chart], str] = data_uri) -> str:
    """The whole pack as one HTML document, one ``section.page`` per pack page; ``src`` gives a
    chart's image address (default: inline data URI)."""
    pages = "".join(_page(p, pack.footer_for(i), src) for i, p in enumerate(pack.pages))
    return (f'<!DOCTYPE html><html lang="{"zh-CN" if pack.lang == "zh" else "en"}"><head><meta charset="utf-8">'
            f"<title>{_e(pack.title)}</title><style>{CSS}</style></head><body>{pages}</body></html>")


def write_pdf(pack: Pack) -> bytes:
    """The bulletin as PDF bytes (one PDF page per pack page)."""
    browser = export._chromium()  # noqa: SLF001 - the same Chromium lookup as kaleido's
    if browser is None:
        raise RuntimeError("Chromium is needed to write PDF packs (Debian package chromium; `make system`)")
    with tempfile.TemporaryDirectory(prefix="sw-pack-") as tmp:
        src, out = Path(tmp) / "pack.html", Path(tmp) / "pack.pdf"
        images: dict[int, str] = {}

        def image_file(chart: Chart) -> str:  # files load faster than megabytes of data URIs
            if id(chart) not in images:
                path = Path(tmp) / f"chart{len(images)}.png"
                path.write_bytes(chart.png)
                images[id(chart)] = path.name
            return images[id(chart)]

        src.write_text(to_html(pack, image_file), encoding="utf-8")
        cmd = [browser, *CHROMIUM_ARGS, f"--user-data-dir={tmp}/profile", f"--print-to-pdf={out}", src.as_uri()]
        env = {**os.environ, "HOME": tmp}
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT_S, env=env, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"Chromium did not print the PDF within {TIMEOUT_S} s") from None
        if not out.is_file() or out.stat().st_size == 0:
            tail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
            raise RuntimeError(f"Chromium did not write the PDF (exit {proc.returncode}): {tail[0]}")
        return out.read_bytes()
