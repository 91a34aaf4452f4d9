"""One writer and many readers of a DuckDB file (issue 12, item 6).

In this process, four reader threads share one dashboard-style warehouse
(``Warehouse.open(url, read_only=True, keep_open=True)``) and run metric queries with changing
filters, and a fifth builds meeting packs on it (charts not rendered), while other processes write
the same file: two ``servicewatch import`` runs and a ``churn fit``, one after the other. Every
writer must succeed (exit 0: the readers' open connections do not block it), no reader thread may
raise, and afterwards a fresh reader sees every imported row with rollups that agree with the raw rows.

A second test starts two imports at the same moment: the write lock serialises them and both
files' rows land (the second swap does not drop the first one's rows).
"""

from __future__ import annotations

import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from metrics.churn import store as churn_store
from metrics.model import schema
from metrics.model.filters import Filters
from metrics.query.warehouse import Warehouse
from metrics.report.build import build_pack

FIRST_NEW_ID = 52_000_000
N_READERS = 4
SERVICEWATCH = [sys.executable, "-m", "metrics.cli.main"]
METRICS = ("tickets", "fcr_rate", "sla_resolution_compliance", "resolution_hours_median", "csat",
           "complaint_rate", "compensation_total", "churn_rate", "active_customers")
PERIODS = ((date(2025, 1, 1), date(2025, 12, 31)), (date(2025, 7, 1), date(2025, 9, 30)),
           (date(2024, 1, 1), date(2026, 12, 31)), (date(2026, 4, 1), date(2026, 6, 30)))
REGIONS = ((), (2,), (3,), (201, 302), (4,))
TIERS = ((), ("gold",), ("gold", "enterprise"))
CHANNELS = ((), ("hotline",), ("service_hall", "hotline"))
BY = ((), ("channel",), ("region",), ("tier",), ("month",))


def random_filters(rng: random.Random) -> Filters:
    start, end = rng.choice(PERIODS)
    return Filters(start, end, regions=rng.choice(REGIONS), tiers=rng.choice(TIERS), channels=rng.choice(CHANNELS))


def new_tickets_file(demo_frames: dict, path: Path, start: int, n: int) -> list[int]:
    t = demo_frames["tickets"].sample(n, random_state=start).copy()
    t["ticket_id"] = range(start, start + n)
    t.to_csv(path, index=False)
    return list(t["ticket_id"])


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*SERVICEWATCH, *args], capture_output=True, text=True, timeout=300)


class Workers:
    """Threads that repeat a job until stopped, keeping every exception they meet."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.errors: list[tuple[str, BaseException]] = []
        self.rounds: dict[str, int] = {}
        self.threads: list[threading.Thread] = []

    def start(self, name: str, job: Callable[[random.Random], None], seed: int) -> None:
        self.rounds[name] = 0

        def loop() -> None:
            rng = random.Random(seed)
            while not self.stop.is_set():
                try:
                    job(rng)
                except BaseException as exc:  # noqa: BLE001 - every failure is reported by the test
                    self.errors.append((name, exc))
                    return
                self.rounds[name] += 1

        thread = threading.Thread(target=loop, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def finish(self, timeout_s: float = 240) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout_s)
        alive = [t.name for t in self.threads if t.is_alive()]
        assert not alive, f"threads still running: {alive}"


def stored_ids(url: str, at_least: int) -> set[int]:
    wh = Warehouse.open(url)  # a fresh reader
    try:
        t = schema.tickets
        return set(wh.read(sa.select(t.c.ticket_id).where(t.c.ticket_id >= at_least))["ticket_id"].astype(int))
    finally:
        wh.engine.dispose()


def tickets_total(url: str) -> tuple[int, int]:
    """(all tickets as a fresh reader sees them through the rollups, the same from raw rows)."""
    f = Filters(date(2024, 1, 1), date(2026, 12, 31))
    wh = Warehouse.open(url)
    try:
        seen = int(wh.metric("tickets", f)["value"].iloc[0])
        raw = int(Warehouse(wh.engine, use_rollups=False).metric("tickets", f)["value"].iloc[0])
    finally:
        wh.engine.dispose()
    return seen, raw


def test_imports_and_a_fit_while_readers_and_a_pack_run(duck: str, tmp_path: Path, demo_frames: dict) -> None:
    files = [tmp_path / f"tickets{i}.csv" for i in range(2)]
    ids = [new_tickets_file(demo_frames, p, FIRST_NEW_ID + 10_000 * i, 400) for i, p in enumerate(files)]
    before, _ = tickets_total(duck)
    wh = Warehouse.open(duck, read_only=True, keep_open=True)  # as the dashboard holds it
    workers = Workers()

    def query(rng: random.Random) -> None:
        f = random_filters(rng)
        metric = rng.choice(METRICS)
        df = wh.compare(metric, f, by=rng.choice(BY)) if rng.random() < 0.3 else \
            wh.metric(metric, f, by=rng.choice(BY))
        assert isinstance(df, pd.DataFrame)

    def pack(rng: random.Random) -> None:
        f = Filters(date(2026, 7, 1), date(2026, 9, 30), regions=rng.choice(((), (2,))))
        p = build_pack(wh, f, rng.choice(("zh", "en")), render=lambda fig: b"")
        assert p.pages

    try:
        for i in range(N_READERS):
            workers.start(f"reader-{i}", query, seed=i)
        workers.start("pack", pack, seed=99)
        time.sleep(1.0)  # the readers hold pooled connections to the file before the first writer starts
        at_start = dict(workers.rounds)
        runs = [run_cli("import", "tickets", str(p), "--db", duck) for p in files]
        runs.append(run_cli("churn", "fit", "--db", duck))
        during = {name: n - at_start[name] for name, n in workers.rounds.items()}
        while workers.rounds["pack"] < 1 and not workers.errors:  # at least one pack overlapped the writers
            time.sleep(0.2)
    finally:
        workers.finish()
        wh.engine.dispose()
    for run in runs:
        assert run.returncode == 0, (run.args, run.stdout, run.stderr)
        assert "Traceback" not in run.stderr
    assert not workers.errors, [(name, f"{type(e).__name__}: {e}") for name, e in workers.errors]
    assert all(during[f"reader-{i}"] > 0 for i in range(N_READERS)), during  # they read while the writers ran
    assert workers.rounds["pack"] > 0, workers.rounds
    assert stored_ids(duck, FIRST_NEW_ID) == set(ids[0]) | set(ids[1])  # a fresh reader sees every row
    assert tickets_total(duck) == (before + 800, before + 800)  # and rollups rebuilt with them
    wh = Warehouse.open(duck)
    try:  # the fit's model is stored too (swapped in after both imports, whose rows it kept)
        assert churn_store.latest_model(wh) is not None
    finally:
        wh.engine.dispose()


def test_two_imports_at_the_same_time_both_land(duck: str, tmp_path: Path, demo_frames: dict) -> None:
    files = [tmp_path / f"tickets{i}.csv" for i in range(2)]
    ids = [new_tickets_file(demo_frames, p, FIRST_NEW_ID + 50_000 + 10_000 * i, 300) for i, p in enumerate(files)]
    before, _ = tickets_total(duck)
    procs = [subprocess.Popen([*SERVICEWATCH, "import", "tickets", str(p), "--db", duck], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for p in files]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, (out, err)
    assert stored_ids(duck, FIRST_NEW_ID) == set(ids[0]) | set(ids[1])  # nothing lost
    assert tickets_total(duck) == (before + 600, before + 600)
    db = Path(sa.engine.make_url(duck).database or "")
    assert not list(db.parent.glob(f".{db.name}.*.swap*"))  # no temporary copy left behind


def test_an_import_during_a_fit_leaves_the_scores_stale(duck: str, tmp_path: Path, demo_frames: dict) -> None:
    """The steps of ``servicewatch churn fit`` (fit on a reader, then store through the swap), with an
    import of customers' tickets committed between them, as happens when both run at once."""
    from metrics.backends.swap import writable
    from metrics.churn import model as churn_model
    from metrics.ingest.importer import import_file

    wh = Warehouse.open(duck)
    try:
        result = churn_model.fit(wh)  # the fit reads the data as it is now
    finally:
        wh.engine.dispose()
    path = tmp_path / "tickets.csv"
    new_tickets_file(demo_frames, path, FIRST_NEW_ID + 90_000, 200)
    assert import_file(duck, "tickets", path).inserted == 200  # a churn input changed meanwhile
    wh = Warehouse.open(duck)
    try:
        assert churn_store.is_stale(wh)
    finally:
        wh.engine.dispose()
    with writable(duck) as engine:  # the fit stores what it computed before the import
        churn_store.save(engine, result)
    wh = Warehouse.open(duck)
    try:
        assert churn_store.is_stale(wh), "scores fitted before the import are marked current"
    finally:
        wh.engine.dispose()


def test_a_fit_stored_on_the_data_it_read_is_current_under_a_new_version(duck: str) -> None:
    """No import between the fit and its store: the scores are not stale, and ``data_version`` is new
    (schema.bump_data_version, the one writer of a new version on SQL databases)."""
    from metrics.backends.swap import writable
    from metrics.churn import model as churn_model

    def version() -> str | None:
        engine = sa.create_engine(duck)
        try:
            with engine.connect() as conn:
                return conn.execute(sa.select(schema.meta.c.value)
                                    .where(schema.meta.c.key == schema.DATA_VERSION_KEY)).scalar()
        finally:
            engine.dispose()

    wh = Warehouse.open(duck)
    try:
        result = churn_model.fit(wh)
    finally:
        wh.engine.dispose()
    before = version()
    with writable(duck) as engine:
        churn_store.save(engine, result)
    wh = Warehouse.open(duck)
    try:
        assert not churn_store.is_stale(wh)
    finally:
        wh.engine.dispose()
    assert version() not in (None, before)
