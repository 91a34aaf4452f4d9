"""The warehouse of the configured database and the engine calls cached by the data version: a
new load, import or fit is seen at once; the time limit only bounds how long a view nobody asks
for again stays in memory. With ``$SERVICEWATCH_SHARED_CACHE`` the replicas of a machine also share
what they computed (:mod:`metrics.query.shared_cache`): a miss in this process's memory reads the
other replicas' result before computing it."""

from __future__ import annotations

import importlib
import time

import pandas as pd
import streamlit as st

from metrics.backends.connect import duckdb_path, resolve_url
from metrics.model.filters import Filters
from metrics.query import shared_cache
from metrics.query.warehouse import Warehouse

CACHE_TTL_S = 12 * 3600


def _db_version(url: str) -> float:
    """Changes when a DuckDB file is replaced by a refresh, so caches follow the new data."""
    path = duckdb_path(url)
    try:
        return path.stat().st_mtime if path else 0.0
    except OSError:
        return 0.0


@st.cache_resource(show_spinner=False)
def _warehouses() -> dict[str, tuple[float | str, Warehouse]]:
    """url → (data version, warehouse), shared by all sessions of this server."""
    return {}


def close_warehouses() -> None:
    """Dispose every cached engine (their connections reopen on the next query)."""
    cache = _warehouses()
    for _, wh in cache.values():
        wh.dispose()
    cache.clear()


def _server_version(wh: Warehouse) -> str:
    """The data version of a server database: ``sw_meta.data_version`` (one small query per page run),
    new after every load, refresh, import and churn fit. On Spark a query is a Thrift round trip of
    ~0.6 s: there the version is the hour, and an entry lives at most an hour."""
    if wh.dialect == "spark":
        return f"hour {int(time.time() // 3600)}"
    return wh.data_version()


def warehouse() -> tuple[Warehouse, float | str]:
    """The warehouse for the configured URL and its data version; caches are keyed by both.

    A DuckDB file's version is its modification time. When a load has swapped in a new file, the old
    engine is disposed first: DuckDB hands new connections the instance already open for a path, so
    the old file's connections must close before the new file is seen. On a server database a new
    data version gives a new ``Warehouse`` on the same engine (its as-of and rollup facts are read
    once per Warehouse)."""
    url = resolve_url()
    cache = _warehouses()
    known = cache.get(url)
    if duckdb_path(url) is not None:
        version: float | str = _db_version(url)
        if known is None or known[0] != version:
            if known is not None:
                known[1].dispose()
            cache[url] = (version, Warehouse.open(url, read_only=True, keep_open=True))
        return cache[url][1], version
    wh = known[1] if known is not None else Warehouse.open(url, keep_open=True)
    version = _server_version(wh)
    if known is None or known[0] != version:
        if known is not None:
            known[1].dispose(keep_engine=True)  # Spark: the local rollup copy of the older version
        cache[url] = (version, Warehouse(wh.engine) if known is not None else wh)
    return cache[url][1], version


@st.cache_data(show_spinner=False, max_entries=2000, ttl=CACHE_TTL_S)
def cached_metric(_wh: Warehouse, version: float | str, url: str, metric_id: str, f: Filters,
                  by: tuple[str, ...] = (), level: str = "city") -> pd.DataFrame:
    return shared_cache.get_or_compute(("metric", url, version, metric_id, f, by, level),
                                       lambda: _wh.metric(metric_id, f, by, level), CACHE_TTL_S)


@st.cache_data(show_spinner=False, max_entries=2000, ttl=CACHE_TTL_S)
def cached_compare(_wh: Warehouse, version: float | str, url: str, metric_id: str, f: Filters,
                   by: tuple[str, ...] = (), level: str = "city") -> pd.DataFrame:
    return shared_cache.get_or_compute(("compare", url, version, metric_id, f, by, level),
                                       lambda: _wh.compare(metric_id, f, by, level), CACHE_TTL_S)


@st.cache_data(show_spinner=False, max_entries=2000, ttl=CACHE_TTL_S)
def cached_call(_wh: Warehouse, version: float | str, url: str, name: str, *args, module: str = "", **kwargs) -> object:
    """``Warehouse.<name>(*args)``, or with ``module`` the engine function ``module.name(wh, *args)``,
    cached by database version and (hashable) arguments."""
    def compute() -> object:
        if module:
            return getattr(importlib.import_module(module), name)(_wh, *args, **kwargs)
        return getattr(_wh, name)(*args, **kwargs)

    return shared_cache.get_or_compute(("call", url, version, module, name, args, sorted(kwargs.items())), compute,
                                       CACHE_TTL_S)


