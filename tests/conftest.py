"""Shared fixtures: seeded demo data, the three databases, Chromium and a running app.

Policy for things outside the process (PostgreSQL, MariaDB, Chromium): under CI (``CI=true``,
or ``--require-services``) a missing one FAILS the tests that need it; elsewhere they are skipped
with the reason. Every such check goes through :func:`require`.

Fixtures (all session-scoped unless noted):
    demo_frames   dict[str, DataFrame] from ``metrics.demo.generator.generate(customers=2000, seed=11)``
    demo_frames_20k  the same at ``make demo``'s size: ``generate(customers=20000, seed=7)``
    duckdb_url    DuckDB file in a tmp dir, loaded with ``metrics.ingest.load.replace_all``
    postgres_url  fresh database ``sw_test_<hex>`` on 127.0.0.1:5432, loaded, dropped at the end
    mariadb_url   fresh database ``sw_test_<hex>`` on 127.0.0.1:3306, loaded, dropped at the end
    spark_cluster a Spark standalone cluster (tests/spark/test_spark_*.py); spark_url: its Thrift server, loaded
    db_url        parametrized over duckdb / postgres / mariadb (ids of the same names)
    sw            (function) ``sw(*argv)``: the command line in-process, (exit code, stdout, stderr)
    alerts_wh     (function) a Warehouse on the demo DuckDB with alert and audit stores of the test's own
    browser       Playwright Chromium (Debian's /usr/bin/chromium), headless
    page          (function) a new page in a fresh browser context, closed afterwards
    app_server    base URL of ``streamlit run app.py`` on a free port, reading the demo DuckDB
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
import sqlalchemy as sa

from servicewatch.local_server import ServerDidNotStart, streamlit_server

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# Tests live in one folder per level (engine, ingest, churn, access, pages, browser, cli, report, charts,
# spark); their shared helpers (reference, page_helpers, db_snapshot, telco_snapshot) live here.
sys.path.insert(0, str(Path(__file__).resolve().parent))
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
APP_START_TIMEOUT_S = 60.0

_strict = False  # set in pytest_configure: missing services fail instead of skip


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--require-services",
        action="store_true",
        default=_env_true("CI"),
        help="fail (not skip) when PostgreSQL, MariaDB or Chromium is missing; default on when CI=true",
    )


def pytest_configure(config: pytest.Config) -> None:
    global _strict
    _strict = bool(config.getoption("--require-services"))


def pytest_report_header(config: pytest.Config) -> str:
    mode = "fail" if _strict else "skip"
    return f"servicewatch: missing PostgreSQL/MariaDB/Chromium will {mode} (CI={os.environ.get('CI', '')!r})"


def require(condition: bool, reason: str) -> None:
    """Go on if ``condition``; otherwise fail under CI, skip elsewhere, with ``reason``."""
    if condition:
        return
    if _strict:
        pytest.fail(f"required but unavailable (CI): {reason}", pytrace=False)
    pytest.skip(reason)


def _unavailable(reason: str) -> NoReturn:
    require(False, reason)
    raise AssertionError("unreachable")  # require(False, ...) always raises


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


# ---------------------------------------------------------------------------------------------
# Markers: tests that use a service fixture get its marker, so `-m "not browser"` etc. work.

_FIXTURE_MARKS = {
    "postgres_url": "postgres",
    "mariadb_url": "mariadb",
    "browser": "browser",
    "page": "browser",
    "app_server": "browser",
    "spark_url": "spark",
    "spark_cluster": "spark",
}


_SPARK: dict[str, Any] = {"cluster": None}  # the running cluster


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for fixture, mark in _FIXTURE_MARKS.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(getattr(pytest.mark, mark))


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Stop the Spark cluster after the last test that uses it (the modules that do are neighbours,
    tests/spark/), so that it holds no memory during the rest of the session; the session fixture's own
    stop at the end is then a no-op. Judged on the order the tests really run in (after --ff, --lf …)."""
    if _SPARK["cluster"] is None or "spark_cluster" not in getattr(item, "fixturenames", ()):
        return
    items = item.session.items
    later = items[items.index(item) + 1:] if item in items else []
    if not any("spark_cluster" in getattr(x, "fixturenames", ()) for x in later):
        _SPARK["cluster"].stop()


# ---------------------------------------------------------------------------------------------
# Data and databases


@pytest.fixture(scope="session")
def demo_frames() -> dict[str, Any]:
    """The seeded demo data set, small: table name -> DataFrame."""
    from metrics.demo.generator import generate

    return generate(customers=2000, seed=11)


@pytest.fixture(scope="session")
def demo_frames_20k() -> dict[str, Any]:
    """The demo at the size ``make demo`` builds (20,000 customers, seed 7; ~5 s), built once for the
    tests that need per-hall statistics (tests/ingest/test_outlets_data.py, tests/pages/test_outlets_page.py).
    Read-only: copy a frame before changing it."""
    from metrics.demo.generator import generate

    return generate(customers=20000, seed=7)


def _load(url: str, frames: dict[str, Any]) -> None:
    from metrics.ingest.load import replace_all

    replace_all(url, frames)


@pytest.fixture(scope="session")
def duckdb_url(tmp_path_factory: pytest.TempPathFactory, demo_frames: dict[str, Any]) -> str:
    """URL of a DuckDB file holding ``demo_frames``."""
    path = tmp_path_factory.mktemp("duckdb") / "servicewatch.duckdb"
    url = f"duckdb:///{path}"
    _load(url, demo_frames)
    return url


@pytest.fixture(scope="session")
def postgres_url(demo_frames: dict[str, Any]) -> Iterator[str]:
    """URL of a fresh PostgreSQL database holding ``demo_frames``; dropped after the session."""
    from db_snapshot import server_database

    yield from server_database("postgres", demo_frames)


@pytest.fixture(scope="session")
def mariadb_url(demo_frames: dict[str, Any]) -> Iterator[str]:
    """URL of a fresh MariaDB database holding ``demo_frames``; dropped after the session."""
    from db_snapshot import server_database

    yield from server_database("mariadb", demo_frames)


@pytest.fixture(scope="session")
def spark_cluster() -> Iterator[Any]:
    """A Spark standalone cluster on 127.0.0.1 (master, two 1-core workers, Thrift server) from the
    pyspark package's jars, started once for the modules that use it (tests/spark/test_spark_*.py; each
    loads its own data through ``spark_url``) and stopped, every process group, after the last test that
    uses it (:func:`pytest_runtest_teardown`), so it holds no memory during the rest of the session."""
    try:
        from metrics.backends.spark.cluster import ClusterError, SparkCluster, java_available, spark_home

        spark_home()
    except Exception as exc:  # noqa: BLE001 - pyspark/impyla missing: the `spark` extra is not installed
        _unavailable(f"Spark: {_first_line(exc)} (pip install -e '.[spark]')")
    require(java_available() is not None, "Spark: no java (Debian: openjdk-17-jre-headless)")
    # its own folder, not pytest's numbered tmp dirs (other pytest sessions prune those)
    root = Path(tempfile.mkdtemp(prefix="sw-spark-test-"))
    cluster = SparkCluster(root, nice=int(os.environ.get("SPARK_NICE", "0")))
    try:
        cluster.start()
    except ClusterError as exc:
        shutil.rmtree(root, ignore_errors=True)
        _unavailable(f"Spark cluster did not start: {exc}")
    _SPARK["cluster"] = cluster
    try:
        yield cluster
    finally:
        _SPARK["cluster"] = None
        cluster.stop()
        left = cluster.leftovers()
        shutil.rmtree(root, ignore_errors=True)
        assert not left, f"Spark processes still running after stop: {left}"


@pytest.fixture(scope="module")
def spark_url(request: pytest.FixtureRequest, spark_cluster: Any, demo_frames: dict[str, Any]) -> str:
    """URL (``spark://``) of a Spark database of the module's own (``sw_<module>``) on the test cluster's
    Thrift server, holding ``demo_frames`` as Parquet tables (what one module writes, e.g. churn tables,
    no other module sees)."""
    import sqlalchemy as sa

    from metrics.backends.connect import make_engine

    name = "sw_" + request.module.__name__.rsplit(".", 1)[-1].lower()
    engine = make_engine(spark_cluster.url())
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE IF NOT EXISTS {name}"))
    finally:
        engine.dispose()
    url = spark_cluster.url(name)
    _load(url, demo_frames)
    return url


@pytest.fixture(
    scope="session",
    params=[
        pytest.param("duckdb", id="duckdb"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
        pytest.param("mariadb", id="mariadb", marks=pytest.mark.mariadb),
    ],
)
def db_url(request: pytest.FixtureRequest) -> str:
    """The URL of each test database in turn: DuckDB, PostgreSQL, MariaDB."""
    return request.getfixturevalue(f"{request.param}_url")


# ---------------------------------------------------------------------------------------------
# Browser and app


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium from Debian, driven by Playwright (never `playwright install`)."""
    require(Path(CHROMIUM).is_file(), f"{CHROMIUM} is not installed (make system)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        _unavailable(f"playwright is not installed: {exc}")
    pw = sync_playwright().start()
    try:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    except Exception as exc:  # noqa: BLE001 - any launch failure means "no browser"
        pw.stop()
        _unavailable(f"Chromium did not start: {_first_line(exc)}")
    try:
        yield chromium
    finally:
        chromium.close()
        pw.stop()


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    """A page in its own browser context (fresh cookies and storage), 1400x900, English locale."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US")
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="session")
def app_server(tmp_path_factory: pytest.TempPathFactory, duckdb_url: str) -> Iterator[str]:
    """Base URL (``http://127.0.0.1:<port>``) of ``streamlit run app.py`` on the demo DuckDB.

    The server reads its own copy of the ``duckdb_url`` file: DuckDB lets one process at a time
    open a file for writing, and tests in this process may hold such a connection. The server's
    output goes to ``<pytest tmp>/app0/streamlit.log`` (tracebacks of page errors are there).
    """
    with run_app(tmp_path_factory.mktemp("app"), duckdb_url) as base_url:
        yield base_url


@contextlib.contextmanager
def run_app(workdir: Path, duckdb_url: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """``streamlit run app.py`` on a copy of ``duckdb_url`` in ``workdir``, with ``env`` added to
    the environment (e.g. a users file: tests/browser/test_browser_sign_in.py); yields its base URL."""
    src = Path(sa.engine.make_url(duckdb_url).database or "")
    db_copy = workdir / src.name
    shutil.copyfile(src, db_copy)
    if src.with_name(src.name + ".wal").is_file():
        shutil.copyfile(src.with_name(src.name + ".wal"), workdir / (src.name + ".wal"))
    env = {**os.environ, "SERVICEWATCH_DB": f"duckdb:///{db_copy}", "PYTHONUNBUFFERED": "1", **(env or {})}
    log_path = workdir / "streamlit.log"
    try:
        with streamlit_server("app.py", PROJECT_ROOT, env, log_path, APP_START_TIMEOUT_S) as base_url:
            yield base_url
    except ServerDidNotStart as exc:
        pytest.fail(f"{exc}; its output:\n{log_path.read_text(errors='replace')[-3000:]}")


@pytest.fixture(autouse=True)
def _release_dashboard_readers() -> Iterator[None]:
    """AppTests run the app in this process, and the app keeps its warehouses (pooled read-only
    DuckDB connections, ``servicewatch.cache.warehouse``) between runs; they are closed after every
    test, as a restarted app would, so no test sees another's cached warehouse."""
    yield
    ui = sys.modules.get("servicewatch.ui")
    if ui is not None:
        ui.close_warehouses()


@pytest.fixture()
def demo_db(duckdb_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """``SERVICEWATCH_DB`` set to the demo DuckDB for one test, so the app an AppTest runs opens it.
    A page test module takes it for all its tests: ``pytestmark = pytest.mark.usefixtures("demo_db")``."""
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)
    return duckdb_url


@pytest.fixture()
def sw(capsys: pytest.CaptureFixture) -> Any:
    """``sw(*argv)`` runs the command line (``servicewatch``) in-process: (exit code, stdout, stderr)."""
    from metrics.cli.main import main

    def call(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    return call


@pytest.fixture()
def alerts_wh(duckdb_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A ``Warehouse`` on the demo DuckDB (``SERVICEWATCH_DB`` set to it too) whose alert rules and alerts
    and audit log go to SQLite stores of this test's own in ``tmp_path``; disposed after the test."""
    from metrics import alerts
    from metrics.access import audit
    from metrics.query.warehouse import Warehouse

    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)
    monkeypatch.setenv(alerts.ALERTS_ENV, f"sqlite:///{tmp_path / 'alerts.sqlite'}")
    monkeypatch.setenv(audit.AUDIT_ENV, f"sqlite:///{tmp_path / 'audit.sqlite'}")
    w = Warehouse.open(duckdb_url)
    yield w
    w.engine.dispose()


@pytest.fixture(scope="module")
def wh(duckdb_url: str) -> Any:
    """A ``Warehouse`` on the demo DuckDB, one per test module (read only). A module that needs
    another (a private copy, a patched alert store) defines its own ``wh``, which takes precedence."""
    from metrics.query.warehouse import Warehouse

    return Warehouse.open(duckdb_url)


@pytest.fixture()
def duck(duckdb_url: str, tmp_path: Path) -> str:
    """A private copy of the demo DuckDB (``duckdb_url``) for one test that writes to it."""
    from db_snapshot import copy_duckdb

    return copy_duckdb(duckdb_url, tmp_path / "db.duckdb")


@pytest.fixture(scope="session")
def fitted_duckdb_url(duckdb_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A copy of the demo DuckDB with a churn model fitted and its scores stored (fitted once)."""
    from db_snapshot import copy_duckdb

    from metrics.churn import model as churn_model
    from metrics.churn import store as churn_store
    from metrics.query.warehouse import Warehouse

    url = copy_duckdb(duckdb_url, tmp_path_factory.mktemp("fitted") / "sw.duckdb")
    wh = Warehouse.open(url, read_only=False)
    try:
        churn_store.save(wh.engine, churn_model.fit(wh))
    finally:
        wh.engine.dispose()
    return url


@pytest.fixture(scope="session")
def fitted_app(tmp_path_factory: pytest.TempPathFactory, fitted_duckdb_url: str) -> Iterator[str]:
    """Base URL of ``streamlit run app.py`` on the demo with a fitted churn model (``fitted_duckdb_url``):
    the risk model, the at-risk list and the pages that need scores are drawn (browser tests)."""
    with run_app(tmp_path_factory.mktemp("fitted_app"), fitted_duckdb_url) as base_url:
        yield base_url


@pytest.fixture()
def downloads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bytes]]:
    """(file name, bytes) of every CSV download button a page draws, deferred ones produced."""
    import streamlit as st
    from streamlit.delta_generator import DeltaGenerator

    seen: list[tuple[str, bytes]] = []
    original = DeltaGenerator.download_button

    def record(self, label, data, file_name=None, mime=None, *args, **kwargs):
        if str(file_name or "").endswith(".csv"):
            seen.append((str(file_name), data() if callable(data) else data))
        return original(self, label, data, file_name, mime, *args, **kwargs)

    monkeypatch.setattr(DeltaGenerator, "download_button", record)
    monkeypatch.setattr(st, "download_button", lambda *a, **k: record(st._main, *a, **k))
    return seen


# A test module's own small data set on every database: the module defines ``raw`` (its frames,
# module-scoped); ``raw_duckdb`` is them in a DuckDB file, ``raw_any_url`` on DuckDB, PostgreSQL and
# MariaDB in turn (a missing server fails the run under CI=true: db_snapshot.server_database).
@pytest.fixture(scope="module")
def raw_duckdb(raw: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> str:
    from metrics.ingest.load import replace_all

    url = f"duckdb:///{tmp_path_factory.mktemp('raw') / 'raw.duckdb'}"
    replace_all(url, raw)
    return url


@pytest.fixture(scope="module", params=["duckdb", "postgres", "mariadb"])
def raw_any_url(request: pytest.FixtureRequest, raw: dict[str, Any], raw_duckdb: str) -> Iterator[str]:
    from db_snapshot import server_database

    if request.param == "duckdb":
        yield raw_duckdb
    else:
        yield from server_database(request.param, raw)
