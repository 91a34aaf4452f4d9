"""The review-meeting pack (issue 6): the current filters as a PowerPoint deck or a PDF bulletin.

:func:`build_pack` computes the pack model (pages of generated sentences, charts rendered as PNG and
paginated tables) from the engine; :func:`write` renders it as ``pptx`` (python-pptx: native text
and tables, charts as pictures) or ``pdf`` (Chromium prints an HTML layout of the same pages). No
Streamlit here: the app, the CLI (``servicewatch report``) and the tests call the same functions.
"""

from __future__ import annotations

from metrics.report.build import build_pack, sections_for
from metrics.report.model import Chart, Pack, Page, Table

FORMATS = ("pptx", "pdf")
MIME = {"pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "pdf": "application/pdf"}


def write(pack: Pack, fmt: str) -> bytes:
    """The pack as file bytes in ``fmt`` (pptx or pdf)."""
    if fmt == "pptx":
        from metrics.report.pptx_writer import write_pptx

        return write_pptx(pack)
    if fmt == "pdf":
        from metrics.report.pdf_writer import write_pdf

        return write_pdf(pack)
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


__all__ = ["FORMATS", "MIME", "Chart", "Pack", "Page", "Table", "build_pack", "sections_for", "write"]
