"""What the single-purpose benchmarks share: the L data set's URL, a wall-clock timer and where the
results go. Each benchmark writes ``bench/<name>_results.json`` and its section of docs/performance.md
(:mod:`bench.sections`)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from .run import DATA, ROOT, data_key


def default_db(scale: str = "L", seed: int = 7) -> str:
    """URL of the cached DuckDB data set of ``scale`` (``bench.run.prepare_duckdb`` makes it)."""
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
