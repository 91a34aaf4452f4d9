"""The benchmarks' data sets: the demo data generated at each scale (:data:`SCALES`), cached as DuckDB
files in ``bench/data/`` (gitignored) keyed by scale, customers and seed with the generation and load
timings next to them, and loaded into PostgreSQL (127.0.0.1:5432) and MariaDB (127.0.0.1:3306) databases
``sw_bench_<scale>`` (reused when they hold the same data set). Used by :mod:`bench.run`, which times the views on them,
and by every other benchmark through :func:`data_key`."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from metrics.backends.connect import make_engine
from metrics.ingest import rollups
from metrics.model import schema

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "data"
SCALES = {"S": 100_000, "L": 1_000_000}
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
MARIA_SERVER = "mysql+pymysql://root@127.0.0.1:3306"


def log(msg: str) -> None:
    """``msg`` on stdout with the time of day, at once (the benchmarks run for minutes)."""
    print(f"[{datetime.now():%H:%M:%S}] {msg}", flush=True)


def _row_counts(frames: dict) -> dict[str, int]:
    return {name: len(df) for name, df in frames.items()}


XL_CUSTOMERS = 10_000_000  # not in SCALES: never generated whole; `bench.xl --keep` streams it


def data_key(scale: str, seed: int) -> str:
    """The name of a cached data set: ``L-1000000-seed7`` (``XL``: the file ``bench.xl --keep`` leaves)."""
    return f"{scale}-{XL_CUSTOMERS if scale == 'XL' else SCALES[scale]}-seed{seed}"


def _frames_from_duckdb(path: Path) -> dict:
    """The data tables of a cached DuckDB file as DataFrames (to load them elsewhere)."""
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        frames = {t.name: con.execute(f'SELECT * FROM "{t.name}"').df() for t in schema.DATA_TABLES}
    finally:
        con.close()
    for df in frames.values():  # DATE columns come back as datetime64 already; keep NULLs as NaT/None
        for col in df.columns:
            if df[col].dtype == "float64" and col.endswith("_id"):
                df[col] = df[col].astype("Int64")
    return frames


def prepare_duckdb(scale: str, seed: int, regenerate: bool) -> tuple[Path, dict, dict | None]:
    """(DuckDB file, data facts and timings, frames if generated in this run)."""
    from metrics.demo.generator import generate
    from metrics.ingest.load import replace_all

    DATA.mkdir(parents=True, exist_ok=True)
    path, facts_path = DATA / f"{data_key(scale, seed)}.duckdb", DATA / f"{data_key(scale, seed)}.json"
    if not regenerate and path.is_file() and facts_path.is_file():
        facts = json.loads(facts_path.read_text())
        if _has_rollups(f"duckdb:///{path}"):
            log(f"{scale}: cached {path.name}")
            if not _has_current_rollups(f"duckdb:///{path}"):
                log(f"{scale}: rebuilding its rollups (built by an older version)")
                facts["duckdb_rollup_refresh_s"] = round(time_rollup_refresh(f"duckdb:///{path}"), 2)
                facts_path.write_text(json.dumps(facts, indent=2))
            return path, {**facts, "cached": True}, None
    log(f"{scale}: generating {SCALES[scale]:,} customers (seed {seed})")
    t0 = time.perf_counter()
    frames = generate(customers=SCALES[scale], seed=seed)
    gen_s = time.perf_counter() - t0
    counts = _row_counts(frames)
    total = sum(counts.values())
    log(f"{scale}: generated {total:,} rows in {gen_s:.1f} s; loading into DuckDB")
    t0 = time.perf_counter()
    replace_all(f"duckdb:///{path}", frames)
    load_s = time.perf_counter() - t0
    rollup_s = time_rollup_refresh(f"duckdb:///{path}")
    facts = {"customers": SCALES[scale], "seed": seed, "rows": counts, "total_rows": total,
             "generate_s": round(gen_s, 2), "generate_rows_per_s": round(total / gen_s),
             "duckdb_load_s": round(load_s, 2), "duckdb_load_rows_per_s": round(total / load_s),
             "duckdb_rollup_refresh_s": round(rollup_s, 2), "duckdb_file_mb": round(path.stat().st_size / 2**20),
             "measured_at": datetime.now(UTC).isoformat(timespec="seconds")}
    facts_path.write_text(json.dumps(facts, indent=2))
    log(f"{scale}: DuckDB load {load_s:.1f} s (rollups alone {rollup_s:.1f} s)")
    return path, {**facts, "cached": False}, frames


def time_rollup_refresh(url: str) -> float:
    """Seconds to rebuild the rollups alone (they were built by the load already; this rebuilds)."""
    engine = make_engine(url)
    try:
        t0 = time.perf_counter()
        rollups.refresh(engine)
        return time.perf_counter() - t0
    finally:
        engine.dispose()


def _has_rollups(url: str, customers: int | None = None, seed: int | None = None) -> bool:
    engine = make_engine(url, read_only=url.startswith("duckdb"))
    try:
        with engine.connect() as conn:
            meta = dict(conn.execute(sa.select(schema.meta.c.key, schema.meta.c.value)).all())  # `key`: quoted
    except sa.exc.SQLAlchemyError:
        return False
    finally:
        engine.dispose()
    if customers is not None and (meta.get("demo_customers") != str(customers) or meta.get("demo_seed") != str(seed)):
        return False
    return rollups.AS_OF_KEY in meta


def _has_current_rollups(url: str) -> bool:
    """Whether the rollups hold every cube this version builds (older files lack some)."""
    engine = make_engine(url, read_only=url.startswith("duckdb"))
    try:
        with engine.connect() as conn:
            value = conn.execute(sa.select(schema.meta.c.value)
                                 .where(schema.meta.c.key == rollups.SOURCES_KEY)).scalar()
    finally:
        engine.dispose()
    return set(rollups.ALL_TABLES) <= rollups.parse_sources(value)


SERVERS = {"postgresql": PG_SERVER, "mariadb": MARIA_SERVER}
FACT_PREFIX = {"postgresql": "postgres", "mariadb": "mariadb"}  # postgres_load_s, mariadb_load_s, …


def _pg_admin() -> sa.Engine:
    return _admin("postgresql")


def _admin(kind: str) -> sa.Engine:
    """An autocommit engine on the server's maintenance database (to create and drop databases)."""
    if kind == "postgresql":
        return sa.create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool,
                                connect_args={"connect_timeout": 5})
    return sa.create_engine(f"{MARIA_SERVER}/", isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool,
                            connect_args={"connect_timeout": 5})


def _create_database(kind: str, name: str) -> bool:
    """Create the bench database ``name`` on the server if it is missing; whether it existed."""
    admin = _admin(kind)
    try:
        with admin.connect() as conn:
            if kind == "postgresql":
                exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar()
                if not exists:
                    conn.execute(sa.text(f'CREATE DATABASE "{name}" ENCODING \'UTF8\' TEMPLATE template0'))
            else:
                exists = conn.execute(sa.text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :n"),
                                      {"n": name}).scalar()
                if not exists:
                    conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
    finally:
        admin.dispose()
    return bool(exists)


def _database_mb(kind: str, url: str) -> float:
    sql = ("SELECT pg_database_size(current_database())" if kind == "postgresql" else
           "SELECT SUM(data_length + index_length) FROM information_schema.tables WHERE table_schema = DATABASE()")
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return round(float(conn.execute(sa.text(sql)).scalar() or 0) / 2**20)
    finally:
        engine.dispose()


def prepare_postgres(scale: str, seed: int, frames: dict | None, duck: Path, regenerate: bool) -> tuple[str, dict]:
    """(URL, load facts) of the data set in PostgreSQL database ``sw_bench_<scale>``."""
    return prepare_server("postgresql", scale, seed, frames, duck, regenerate)


def prepare_server(kind: str, scale: str, seed: int, frames: dict | None, duck: Path,
                   regenerate: bool) -> tuple[str, dict]:
    """(URL, load facts) of the data set in database ``sw_bench_<scale>`` on the local ``kind`` server
    (``postgresql`` or ``mariadb``), loaded by the product's own loader (COPY; multi-row INSERT and a
    RENAME swap) unless it already holds this data set. Facts are keyed ``<prefix>_load_s`` etc."""
    from metrics.ingest.load import replace_all

    name = f"sw_bench_{scale.lower()}"
    url = f"{SERVERS[kind]}/{name}"
    prefix = FACT_PREFIX[kind]
    exists = _create_database(kind, name)
    facts_path = DATA / f"{data_key(scale, seed)}.{prefix}.json"
    if not regenerate and exists and facts_path.is_file() and _has_rollups(url, SCALES[scale], seed):
        log(f"{scale}: {kind} {name} already holds this data set")
        engine = make_engine(url)
        rollups.analyze(engine)
        engine.dispose()
        return url, {**json.loads(facts_path.read_text()), "cached": True}
    if frames is None:
        log(f"{scale}: reading the data set back from {duck.name}")
        frames = _frames_from_duckdb(duck)
    total = sum(len(df) for df in frames.values())
    log(f"{scale}: loading {total:,} rows into {kind} {name}")
    t0 = time.perf_counter()
    replace_all(url, frames)
    load_s = time.perf_counter() - t0
    rollup_s = time_rollup_refresh(url)
    facts = {f"{prefix}_load_s": round(load_s, 2), f"{prefix}_load_rows_per_s": round(total / load_s),
             f"{prefix}_rollup_refresh_s": round(rollup_s, 2), f"{prefix}_db_mb": _database_mb(kind, url),
             "database": name, "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
             "load_average": round(os.getloadavg()[0], 1)}
    facts_path.write_text(json.dumps(facts, indent=2))
    log(f"{scale}: {kind} load {load_s:.1f} s (rollups alone {rollup_s:.1f} s)")
    return url, {**facts, "cached": False}


def drop_postgres(scales: list[str]) -> None:
    admin = _pg_admin()
    with admin.connect() as conn:
        for scale in scales:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "sw_bench_{scale.lower()}" WITH (FORCE)'))
    admin.dispose()
