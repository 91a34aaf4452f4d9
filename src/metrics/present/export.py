"""Files for meetings: figures as PNG/SVG at presentation size, tables as CSV/Excel.

No Streamlit here. Images are rendered server-side by kaleido with Debian's Chromium; its
server is started once per process, so each image costs a fraction of a second.
"""

from __future__ import annotations

import io
import os
import shutil
import threading

import pandas as pd
import plotly.graph_objects as go

from metrics.present import theme
from metrics.present.cells import safe_cell, safe_frame  # noqa: F401 - the one escape, shared with the CLI

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


def to_csv(df: pd.DataFrame) -> bytes:
    """UTF-8 with BOM so that Excel opens Chinese text correctly."""
    return safe_frame(df).to_csv(index=False).encode("utf-8-sig")


def to_excel(df: pd.DataFrame, sheet: str = "data") -> bytes:
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as writer:
        safe_frame(df).to_excel(writer, index=False, sheet_name=sheet[:31])
    return buf.getvalue()
