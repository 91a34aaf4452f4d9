"""The warehouse of the configured database and the engine calls cached by the data version: a
new load, import or fit is seen at once; the time limit only bounds how long a view nobody asks
for again stays in memory. With ``$SERVICEWATCH_SHARED_CACHE`` the replicas of a machine also share
what they computed (:mod:`metrics.query.shared_cache`): a miss in this process's memory reads the
other replicas' result before computing it, and a result is shared only if the engine that computed it
still reads the key's ``sw_meta.data_version`` (:func:`still_current`)."""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable

import pandas as pd
import streamlit as st

from metrics.backends.connect import duckdb_path, resolve_url
from metrics.model.filters import Filters
from metrics.query import shared_cache
from metrics.query.warehouse import Warehouse

CACHE_TTL_S = 12 * 3600
log = logging.getLogger(__name__)


def _db_version(url: str) -> float:
    """Changes when a DuckDB file is replaced by a refresh, so caches follow the new data."""
    path = duckdb_path(url)
    try:
        return path.stat().st_mtime if path else 0.0
    except OSError:
        return 0.0


def duckdb_version(wh: Warehouse, mtime: float) -> str:
    """A DuckDB file's data version for the caches: its modification time ``mtime`` (a swap changes it)
    and the ``sw_meta.data_version`` read through ``wh``'s engine (one small query, once per Warehouse).
    An engine still on the older file (DuckDB hands new connections the instance already open for a
    path) reads the older file's version, so its results are keyed apart from the new file's."""
    try:
        recorded = wh.data_version()
    except Exception:  # noqa: BLE001 - no sw_meta to read: the time alone, and nothing shared
        log.warning("sw_meta.data_version unreadable; results of this file are not shared")
        return repr(mtime)
    return f"{mtime!r} {recorded}"


def recorded_version(url: str, version: float | str) -> str | None:
    """The ``sw_meta.data_version`` that a cache ``version`` names: on a DuckDB file the part after the
    modification time, on a server database the version itself; None when it names none (a bare
    modification time, Spark's hour)."""
    if not isinstance(version, str) or version.startswith("hour "):
        return None
    if duckdb_path(url) is None:
        return version
    parts = version.split(" ", 1)
    return parts[1] if len(parts) == 2 else None


def still_current(wh: Warehouse, url: str, version: float | str) -> Callable[[], bool] | None:
    """What :func:`metrics.query.shared_cache.get_or_compute` asks after computing a result: does ``wh``'s
    engine still read the ``sw_meta.data_version`` of ``version`` (one small query per result stored)?
    A version that names none is never shared on a DuckDB file; on Spark (the hour, each query a Thrift
    round trip) it is shared unchecked, for at most the hour."""
    recorded = recorded_version(url, version)
    if recorded is None:
        return None if isinstance(version, str) and version.startswith("hour ") else (lambda: False)
    return lambda: wh.data_version() == recorded


@st.cache_resource(show_spinner=False)
def _warehouses() -> dict[str, tuple[float | str, float | str, Warehouse]]:
    """url → (what a new file or load is seen by, data version, warehouse), shared by all sessions of this
    server."""
    return {}


def close_warehouses() -> None:
    """Dispose every cached engine (their connections reopen on the next query)."""
    cache = _warehouses()
    for _, _, wh in cache.values():
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

    A DuckDB file is seen to change by its modification time; its version is that time and the
    ``sw_meta.data_version`` the new engine reads (:func:`duckdb_version`). When a load has swapped in a
    new file, the old engine is disposed first: DuckDB hands new connections the instance already open
    for a path, so the old file's connections must close before the new file is seen. On a server
    database a new data version gives a new ``Warehouse`` on the same engine (its as-of and rollup facts
    are read once per Warehouse)."""
    url = resolve_url()
    cache = _warehouses()
    known = cache.get(url)
    if duckdb_path(url) is not None:
        mtime = _db_version(url)
        if known is None or known[0] != mtime:
            if known is not None:
                known[2].dispose()
            wh = Warehouse.open(url, read_only=True, keep_open=True)
            cache[url] = (mtime, duckdb_version(wh, mtime), wh)
        return cache[url][2], cache[url][1]
    wh = known[2] if known is not None else Warehouse.open(url, keep_open=True)
    version = _server_version(wh)
    if known is None or known[0] != version:
        if known is not None:
            known[2].dispose(keep_engine=True)  # Spark: the local rollup copy of the older version
        cache[url] = (version, version, Warehouse(wh.engine) if known is not None else wh)
    return cache[url][2], version


@st.cache_data(show_spinner=False, max_entries=2000, ttl=CACHE_TTL_S)
def cached_metric(_wh: Warehouse, version: float | str, url: str, metric_id: str, f: Filters,
                  by: tuple[str, ...] = (), level: str = "city") -> pd.DataFrame:
    return shared_cache.get_or_compute(("metric", url, version, metric_id, f, by, level),
                                       lambda: _wh.metric(metric_id, f, by, level), CACHE_TTL_S,
                                       still_current(_wh, url, version))


@st.cache_data(show_spinner=False, max_entries=2000, ttl=CACHE_TTL_S)
def cached_compare(_wh: Warehouse, version: float | str, url: str, metric_id: str, f: Filters,
                   by: tuple[str, ...] = (), level: str = "city") -> pd.DataFrame:
    return shared_cache.get_or_compute(("compare", url, version, metric_id, f, by, level),
                                       lambda: _wh.compare(metric_id, f, by, level), CACHE_TTL_S,
                                       still_current(_wh, url, version))


@st.cache_data(show_spinner=False, max_entries=2000, ttl=CACHE_TTL_S)
def cached_call(_wh: Warehouse, version: float | str, url: str, name: str, *args, module: str = "", **kwargs) -> object:
    """``Warehouse.<name>(*args)``, or with ``module`` the engine function ``module.name(wh, *args)``,
    cached by database version and (hashable) arguments."""
    def compute() -> object:
        if module:
            return getattr(importlib.import_module(module), name)(_wh, *args, **kwargs)
        return getattr(_wh, name)(*args, **kwargs)

    return shared_cache.get_or_compute(("call", url, version, module, name, args, sorted(kwargs.items())), compute,
                                       CACHE_TTL_S, still_current(_wh, url, version))


