"""What the single-purpose benchmarks share: the L data set's URL, a wall-clock timer and where the
results go. Each benchmark writes ``bench/<name>_results.json`` and its section of docs/performance.md
(:mod:`bench.sections`)."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from metrics.query.warehouse import Warehouse

from .datasets import DATA, ROOT, data_key


def default_db(scale: str = "L", seed: int = 7) -> str:
    """URL of the cached DuckDB data set of ``scale`` (``bench.datasets.prepare_duckdb`` makes it)."""
    return f"duckdb:///{DATA / f'{data_key(scale, seed)}.duckdb'}"


def elapsed_ms(fn: Callable[[], object]) -> float:
    """Wall-clock milliseconds of one call of ``fn``."""
    t0 = time.perf_counter()
    fn()
    return 1000 * (time.perf_counter() - t0)


def save_results(name: str, results: object) -> Path:
    """``results`` as JSON in ``bench/<name>_results.json``; returns the path."""
    path = ROOT / "bench" / f"{name}_results.json"
    path.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def machine() -> dict:
    """When and on what a benchmark ran: ``measured`` (UTC), ``cpus``, ``load_1m`` (the 1-minute load
    average at the end)."""
    return {"measured": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "cpus": os.cpu_count(),
            "load_1m": round(os.getloadavg()[0], 2)}


def cold_warm(url: str, calls: Mapping[str, Callable[[Warehouse], object]], warm: int) -> list[dict]:
    """Per named call (a function of a Warehouse): ``cold_ms``, its first run on a freshly opened
    read-only Warehouse of ``url``, and ``warm_ms``, the median of ``warm`` runs after it (ms, 0.1)."""
    rows = []
    for name, call in calls.items():
        fresh = Warehouse.open(url, read_only=True, keep_open=True)
        cold = elapsed_ms(lambda: call(fresh))  # noqa: B023 - called at once
        warm_ms = statistics.median(elapsed_ms(lambda: call(fresh)) for _ in range(warm))  # noqa: B023
        rows.append({"call": name, "cold_ms": round(cold, 1), "warm_ms": round(warm_ms, 1)})
        fresh.engine.dispose()
    return rows


def run_on_db(name: str, run: Callable[[str], dict], description: str | None) -> dict:
    """A benchmark's command line with ``--db`` alone (default: the L data set): ``run`` on that
    database, its results saved as ``bench/<name>_results.json`` (:func:`save_results`); the results."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--db", default=default_db())
    res = run(p.parse_args().db)
    save_results(name, res)
    return res
