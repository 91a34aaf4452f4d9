"""Cached calls of engine module functions (``metrics.sla``, ``metrics.drill`` …) for pages.

``ui.View.call`` caches ``Warehouse`` methods; engine functions that take the warehouse as their
first argument go through :func:`run`, cached by module, name, database version and arguments.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import pandas as pd
import streamlit as st

from metrics.access import ScopeError

from .ui import View


@st.cache_data(show_spinner=False, max_entries=500, ttl=3600)
def _run(_wh, version: float, url: str, module: str, name: str, *args, **kwargs) -> object:
    return getattr(importlib.import_module(module), name)(_wh, *args, **kwargs)


def run(view: View, fn: Callable, *args, **kwargs) -> object:
    """``fn(view.wh, *args, **kwargs)``, cached; arguments must be hashable (Filters is)."""
    try:
        return _run(view.wh, view.version, view.url, fn.__module__, fn.__name__, *args, **kwargs)
    except ScopeError as exc:  # e.g. a customer list asked for by a viewer: said, and nothing shown
        st.info(str(exc))
        return pd.DataFrame()
