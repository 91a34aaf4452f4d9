"""Run one meeting-pack section (``metrics.report.*_section``) the way the pack does, with a stand-in
renderer (every chart becomes ``b"png"``, or what the test's own renderer makes) and each plotly figure
kept to be inspected."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from metrics.model.filters import Filters
from metrics.query.warehouse import Warehouse
from metrics.report.context import Ctx


def run_section(section: Callable, wh: Warehouse, f: Filters, lang: str,
                render: Callable[[Any], bytes] | None = None) -> tuple[list, list]:
    """The pages ``section`` makes for ``f`` in ``lang`` (each page's ``charts`` replaced by their
    rendered results: ``render(figure)``, or ``b"png"`` without one) and the figures drawn, in order."""
    drawn: list = []
    ctx = Ctx.open(wh, f, lang, render=lambda fig: drawn.append(fig) or (render(fig) if render else b"png"))
    try:
        pages = section(ctx)
        for page in pages:
            page.charts = [c.result() for c in page.charts]
    finally:
        ctx.renderer.shutdown()
    return pages, drawn
