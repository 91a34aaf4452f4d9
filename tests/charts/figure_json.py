"""A plotly figure as plain JSON-like data, for the chart tests that check a figure by its JSON (as plotly
express's own tests do, not by pixels)."""

from __future__ import annotations

from typing import Any

import numpy as np


def _plain(v: object) -> object:
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    if isinstance(v, np.ndarray):
        return v.tolist()
    return v


def figure_json(fig: Any) -> dict:
    """``{"data": [trace, ...], "layout": {...}}`` of ``fig``, arrays as lists (plotly encodes numpy arrays
    as typed base64)."""
    return {"data": [_plain(tr.to_plotly_json()) for tr in fig.data], "layout": fig.layout.to_plotly_json()}
