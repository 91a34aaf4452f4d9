"""Run metrics: compile, execute, finish into tidy frames with 95% intervals.

:class:`Warehouse` is the engine's front door for the app, the CLI and the tests: it holds a
SQLAlchemy engine and answers ``metric()``, ``compare()`` and ``target()`` with tidy frames whose
columns are the group-by columns, then ``value``, ``n``, ``lower``, ``upper``.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
import sqlalchemy as sa

from metrics.access.scope import check_regions
from metrics.backends.connect import DatabaseError, describe_error, duckdb_path, engine_url, make_engine, where
from metrics.ingest.rollups import AS_OF_KEY, SOURCES_KEY, parse_sources
from metrics.model import dimensions, plausible, ticket_status, vocabulary
from metrics.model import schema as s
from metrics.model.filters import Filters
from metrics.model.registry import dim_column, get
from metrics.query import comparable
from metrics.query import keys as keys_sql
from metrics.query.compiler import Window, compile_metric
from metrics.query.finish import finish, suppress_small_groups
from metrics.query.local_rollups import LocalCopySlot, LocalRollups
from metrics.query.rollup_compiler import compile_from_rollup

log = logging.getLogger(__name__)
SPARK_STATEMENTS_AT_ONCE = 4  # statements a Warehouse sends Spark at once (read_all)
SPARK_RECHECK_S = 60.0  # seconds before a Spark Warehouse without usable rollups reads sw_meta again
# where the distinct values of each categorical dimension are read from
DIM_VALUES = {d.name: d.values_from for d in dimensions.VALUE_FILTERS}


@dataclass
class Warehouse:
    """A database holding the ServiceWatch data model, and the metrics computed on it."""

    engine: sa.Engine
    use_rollups: bool = True  # answer from the rollup tables when that is exact (metrics.ingest.rollups)
    use_local: bool = True  # Spark: statements that read only the local rollup copy's tables run there
    # rollup sources read as not built (bench.cubes: the fine event cubes alone, as before the coarse ones)
    without_sources: frozenset[str] = frozenset()
    _rollup_as_of: tuple = field(default=(), init=False, repr=False, compare=False)  # () = not read yet
    _as_of: tuple = field(default=(), init=False, repr=False, compare=False)
    _first_day: tuple = field(default=(), init=False, repr=False, compare=False)
    _vocabulary: tuple = field(default=(), init=False, repr=False, compare=False)  # () = not read yet
    _has_status: tuple = field(default=(), init=False, repr=False, compare=False)  # tickets.status exists
    _first_records: tuple = field(default=(), init=False, repr=False, compare=False)  # () = not read yet
    _local: LocalCopySlot = field(default_factory=lambda: LocalCopySlot(SPARK_RECHECK_S), init=False, repr=False,
                                  compare=False)  # Spark: the local rollup copy, opened on first use

    @classmethod
    def open(cls, url: str, read_only: bool | None = None, keep_open: bool = False) -> Warehouse:
        """Open ``url``; DuckDB files are opened read-only unless ``read_only=False`` (one writer
        per file: dashboards, the CLI and tests read side by side while a load replaces the file)."""
        if read_only is None:
            read_only = duckdb_path(url) is not None
        return cls(make_engine(url, read_only=read_only, keep_open=keep_open))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def location(self) -> str:
        """Where the data is, for people: a file path or host:port/database (never a password)."""
        return where(engine_url(self.engine))

    @property
    def url(self) -> str:
        """The database's URL as text, password masked (cache keys, messages); a DuckDB reader's
        engine URL names its in-memory database, this names the file."""
        return engine_url(self.engine).render_as_string(hide_password=True)

    def read(self, stmt: sa.Executable, keys: dict[str, str] | None = None) -> pd.DataFrame:
        """Execute a Core statement and return its rows as a DataFrame (errors worded for users);
        ``keys`` (column -> entity): those id columns shown as the source's keys, looked up on the
        same connection (:func:`metrics.query.keys.show`).

        The rule for text keys: rows read from a statement get their keys here, with ``keys=``
        (one connection, the same snapshot of the data); :meth:`show_keys` is for a frame that
        was not read by a statement of the caller's (a metric's result, a frame made in memory)."""
        engine = self.engine if keys else self.local_rollups().engine_for(stmt) or self.engine
        try:
            with engine.connect() as conn:
                result = conn.execute(self.adapt(stmt, conn))
                df = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
                return keys_sql.show(conn, df, keys) if keys else df
        except sa.exc.SQLAlchemyError as exc:
            if engine is not self.engine:  # the local copy is gone (a newer refresh removed it): ask Spark
                log.info("local rollup copy unreadable (%s): reading Spark", type(exc).__name__)
                self._forget_local()
                return self.read(stmt, keys)
            raise DatabaseError(describe_error(exc, engine_url(self.engine))) from None

    def read_all(self, stmts: list[sa.Executable]) -> list[pd.DataFrame]:
        """:meth:`read` of each statement; on Spark at the same time (each is a Thrift round trip of
        0.6–0.8 s before any work, and the cluster runs several jobs at once), elsewhere in turn."""
        if self.dialect != "spark" or len(stmts) < 2:
            return [self.read(q) for q in stmts]
        self.local_rollups()  # read once, before the threads
        with ThreadPoolExecutor(max_workers=min(len(stmts), SPARK_STATEMENTS_AT_ONCE)) as pool:
            return list(pool.map(self.read, stmts))

    def local_rollups(self) -> LocalRollups:
        """On Spark, the local DuckDB copy of the rollups (:mod:`metrics.query.local_rollups`), read with
        ``rollup_as_of``; elsewhere, or with ``use_local``/``use_rollups`` off, none. On Spark, when there
        are no rollups or no readable copy (a refresh under way, a copy removed by a newer refresh),
        ``sw_meta`` is read again after :data:`SPARK_RECHECK_S`, so the next complete rollups are used
        within a minute rather than at the next data version. Opened once, however many threads ask."""
        spark = self.dialect == "spark" and self.use_local and self.use_rollups
        return self._local.get(self._local_copy_path if spark else None)

    def _local_copy_path(self, again: bool) -> str | None:
        """The local copy's path recorded in ``sw_meta`` (``again``: read afresh, it may record one by now)."""
        if again:
            self._rollup_as_of = ()
        self.rollup_as_of()
        return self._rollup_as_of[2]

    def _forget_local(self) -> None:
        """Stop reading the local copy (unreadable): statements go to Spark until ``sw_meta`` is read again."""
        self._local.forget()

    def dispose(self, keep_engine: bool = False) -> None:
        """Close the connections of its local rollup copy and, unless ``keep_engine`` (a newer Warehouse
        of the next data version shares it), of the warehouse."""
        self._local.dispose()
        if not keep_engine:
            self.engine.dispose()

    def adapt(self, stmt: sa.Executable, conn: sa.Connection) -> sa.Executable:
        """``stmt`` as the database can run it: on one created before ``tickets.status`` (not yet
        loaded, imported or refreshed since), the column read as NULL (:mod:`metrics.model.ticket_status`).
        Whether the column exists is read once per Warehouse."""
        if not self._has_status:
            old = self.dialect != "spark" and sa.inspect(conn).has_table(s.tickets.name)  # Spark: files, loaded whole
            self._has_status = (not old or ticket_status.has_column(conn),)
        return stmt if self._has_status[0] else ticket_status.without_column(stmt)

    def as_of(self) -> date:
        """The newest day of data: ``sw_meta.as_of`` if recorded, else the newest ticket.

        Read once per Warehouse, like the rollups' as-of: a Warehouse serves one version of the data
        (the dashboard opens a new one when the data changes), and every metric call needs it."""
        if not self._as_of:
            self._as_of = (self._read_as_of(),)
            self.vocabulary()
        return self._as_of[0]

    def vocabulary(self) -> list[dict]:
        """The ``vocabulary`` table's rows (codes' display names and order), read once per Warehouse
        and registered for :func:`metrics.model.i18n.label` and the theme's order (no query per label)."""
        if not self._vocabulary:
            try:
                with self.engine.connect() as conn:
                    rows = vocabulary.read(conn)
                    named = _outlet_names(conn) if self.dialect != "spark" else []
            except sa.exc.SQLAlchemyError as exc:
                raise DatabaseError(describe_error(exc, engine_url(self.engine))) from None
            vocabulary.register(rows)
            vocabulary.register(named)  # outlets by name: the outlet filter's labels (subtitles, exports)
            self._vocabulary = (rows,)
        return self._vocabulary[0]

    def _read_as_of(self) -> date:
        df = self.read(sa.select(s.meta.c.value).where(s.meta.c.key == "as_of"))
        if len(df):
            return date.fromisoformat(str(df.iloc[0, 0])[:10])
        df = self.read(sa.select(sa.func.max(s.tickets.c.opened_at)))
        value = df.iloc[0, 0]
        if value is None or pd.isna(value):
            raise DatabaseError("the database holds no tickets yet; load data first")
        return pd.Timestamp(value).date()

    def data_span(self) -> tuple[date, date]:
        """(first, last) day of the data, inclusive: the first day of the first month of
        ``calendar_months`` (the oldest plausible ticket or customer start, :mod:`metrics.ingest.load`)
        and :meth:`as_of`. Read once per Warehouse; defaults and clamped links fit inside it."""
        last = self.as_of()
        if not self._first_day:
            df = self.read(sa.select(sa.func.min(s.calendar_months.c.month_start)))
            value = df.iloc[0, 0] if len(df) else None
            self._first_day = (None if value is None or pd.isna(value) else pd.Timestamp(value).date(),)
        first = self._first_day[0]
        if first is None:  # no calendar (rows written without a refresh): the plausible window's start
            first = plausible.earliest()
        return min(first, last), last

    def snapshot_date(self) -> date | None:
        """The date of the last customers snapshot imported (``--snapshot-date``), or None: data that
        ends on it opens on the departures of that day (:func:`metrics.model.filters.default_period`)."""
        df = self.read(sa.select(s.meta.c.value).where(s.meta.c.key == s.SNAPSHOT_DATE_KEY))
        return date.fromisoformat(str(df.iloc[0, 0])[:10]) if len(df) else None

    def resolve_as_of(self, f: Filters) -> date:
        """The as-of of a request; every engine entry point calls it, so it also refuses a region
        outside the user's scope (:class:`metrics.access.scope.ScopeError`)."""
        if f.scope is not None and f.regions:
            check_regions(f.scope, f.regions, self.regions())
        return f.as_of or self.as_of()

    def data_version(self) -> str:
        """``sw_meta.data_version``, new after every load, refresh, import and churn fit ("" when none
        is recorded). Read afresh on every call: the dashboard keys its caches by it."""
        df = self.read(sa.select(s.meta.c.value).where(s.meta.c.key == s.DATA_VERSION_KEY))
        return str(df.iloc[0, 0]) if len(df) else ""

    def rollup_as_of(self) -> date | None:
        """The as-of the rollup tables were built with (None: no rollups), read once per Warehouse."""
        if not self._rollup_as_of:
            m = s.meta
            keys = [AS_OF_KEY, SOURCES_KEY, s.LOCAL_ROLLUPS_KEY]
            meta = dict(self.read(sa.select(m.c.key, m.c.value).where(m.c.key.in_(keys)))
                        .itertuples(index=False, name=None))
            as_of = date.fromisoformat(str(meta[AS_OF_KEY])[:10]) if AS_OF_KEY in meta else None
            self._rollup_as_of = (as_of, parse_sources(meta.get(SOURCES_KEY)), meta.get(s.LOCAL_ROLLUPS_KEY))
        return self._rollup_as_of[0]

    def rollup_sources(self) -> frozenset[str]:
        """The rollup cubes built (``sw_meta.rollup_sources``), read with :meth:`rollup_as_of`, less
        ``without_sources``."""
        self.rollup_as_of()
        return self._rollup_as_of[1] - self.without_sources

    def compile(self, metric_id: str, f: Filters, by=(), region_level: str = "city") -> sa.Select:
        """The query of one metric: over the rollups when exact and enabled, else over raw rows."""
        return self._compile(metric_id, f, by, region_level)[0]

    def _compile(self, metric_id: str, f: Filters, by=(), region_level: str = "city") -> tuple[sa.Select, bool]:
        """(query, whether it reads the rollups)."""
        m, window = get(metric_id), Window.of(f, self.resolve_as_of(f))
        # viewers: the cubes cannot count the distinct customers behind a group (small-group rule)
        if self.use_rollups and not (f.scope is not None and f.scope.aggregates_only):
            q = compile_from_rollup(m, f, tuple(by), window, region_level, self.dialect, self.rollup_as_of(),
                                    self.rollup_sources())
            if q is not None:
                return q, True
        return compile_metric(m, f, tuple(by), window, region_level, self.dialect), False

    def _read_each(self, metric_id: str, fs: list[Filters], by: tuple[str, ...],
                   region_level: str) -> list[pd.DataFrame]:
        """The raw aggregate frames of one metric for several filters, in one round trip when the
        queries are alike (all over the rollups or all over raw rows): ``UNION ALL`` of the same
        statements, each tagged with its position; else one query each."""
        compiled = [self._compile(metric_id, f, by, region_level) for f in fs]
        if len(compiled) == 1 or len({rolled for _, rolled in compiled}) > 1:
            return self.read_all([q for q, _ in compiled])
        subs = [q.subquery(f"part{i}") for i, (q, _) in enumerate(compiled)]
        parts = [sa.select(sa.literal_column(str(i)).label("sw_part"), *sub.c) for i, sub in enumerate(subs)]
        raw = self.read(sa.union_all(*parts))
        part = pd.to_numeric(raw["sw_part"])
        return [raw[part == i].drop(columns="sw_part").reset_index(drop=True) for i in range(len(fs))]

    def aggregates(self, metric_id: str, fs: list[Filters], by=(), region_level: str = "city") -> list[pd.DataFrame]:
        """The metric's additive aggregates (its kind's columns, before :func:`finish`) per group of
        ``by``, one frame per filters of ``fs`` (one round trip when alike): what an analysis that
        recombines groups (metrics.analysis.decompose) reads."""
        return self._read_each(metric_id, list(fs), tuple(by), region_level)

    def metric(self, metric_id: str, f: Filters, by=(), region_level: str = "city") -> pd.DataFrame:
        """The tidy result of one metric: group-by columns, value, n, lower, upper."""
        m = get(metric_id)
        raw = self.read(self.compile(metric_id, f, by, region_level))
        return suppress_small_groups(finish(m, raw, tuple(by)), f.scope)

    def compare(self, metric_id: str, f: Filters, by=(), region_level: str = "city") -> pd.DataFrame:
        """The metric for the period and its comparison period, side by side.

        Adds ``value_cmp``, ``n_cmp``, ``delta`` (value − value_cmp) and ``delta_pct`` (relative
        change, NaN when the comparison value is 0 or missing), and ``no_cmp``: why a group has no
        change (:mod:`metrics.query.comparable`: the earlier period begins before the data, has no
        rows or too few), its ``value_cmp``/``delta``/``delta_pct`` then NaN; None where it has one.
        """
        m, by = get(metric_id), tuple(by)
        cf = f.comparison_filters()
        keys = [dim_column(d) for d in by]
        raws = self._read_each(metric_id, [f] if cf is None else [f, cf], by, region_level)
        now = suppress_small_groups(finish(m, raws[0], by), f.scope)
        if cf is None:
            now["value_cmp"] = np.nan
            now["n_cmp"] = np.nan
        else:
            before = suppress_small_groups(finish(m, raws[1], by), cf.scope)
            before = before[keys + ["value", "n"]].rename(columns={"value": "value_cmp", "n": "n_cmp"})
            now = now.merge(before, on=keys, how="left") if keys else now.assign(
                value_cmp=before["value_cmp"].iloc[0] if len(before) else np.nan,
                n_cmp=before["n_cmp"].iloc[0] if len(before) else np.nan)
        now["delta"] = now["value"] - now["value_cmp"]
        with np.errstate(invalid="ignore", divide="ignore"):
            now["delta_pct"] = np.where(now["value_cmp"].abs() > 0, now["delta"] / now["value_cmp"].abs(), np.nan)
        return comparable.mask(m, now, cf, self.first_records())

    def first_records(self) -> dict[str, date | None]:
        """Metric source → the first day its data records (:func:`metrics.query.comparable.first_records`),
        read once per Warehouse."""
        if not self._first_records:
            self._first_records = (comparable.first_records(self.read),)
        return self._first_records[0]

    # -- what the database holds --------------------------------------------------------------
    def values(self, dim: str) -> list[str]:
        """Distinct values of a categorical dimension, sorted."""
        self.vocabulary()  # their display names and order (a filter lists them before any metric)
        col = DIM_VALUES[dim]
        df = self.read(sa.select(col).where(col.isnot(None)).distinct())
        return sorted(str(v) for v in df.iloc[:, 0])

    def has_outlets(self) -> bool:
        """Whether the data holds outlets (the outlet filter is offered only then)."""
        if self.dialect == "spark":
            return False
        with self.engine.connect() as conn:
            if not sa.inspect(conn).has_table(s.outlets.name):
                return False
            return conn.execute(sa.select(s.outlets.c.outlet_id).limit(1)).first() is not None

    def outlet_keys(self) -> dict[str, int]:
        """Every outlet's key as the source wrote it -> its id: what links and stored views name outlets
        by ({} when the data holds no outlets)."""
        if not self.has_outlets():
            return {}
        ids = [int(o) for o in self.read(sa.select(s.outlets.c.outlet_id)).iloc[:, 0]]
        texts = self.key_texts("outlets", [i for i in ids if i < 0])
        return {texts.get(i, str(i)) if i < 0 else str(i): i for i in ids}

    def regions(self) -> pd.DataFrame:
        """The region hierarchy: region_id, name_en, name_zh, parent_id, level."""
        r = s.regions
        df = self.read(sa.select(r).order_by(r.c.region_id))
        df["parent_id"] = df["parent_id"].astype("Int64")
        return df

    # -- keys as the source wrote them (metrics.model.keys) ---------------------------------------
    def key_ids(self, entity: str, keys: list[str]) -> dict[str, int]:
        """The ids of keys a user names (a link, a command); unknown keys are left out."""
        return self._with_conn(keys_sql.ids, entity, keys)

    def key_texts(self, entity: str, ids: list[int]) -> dict[int, str]:
        """The source keys of ``ids`` that are not plain numbers."""
        return self._with_conn(keys_sql.texts, entity, ids)

    def show_keys(self, df: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
        """``df`` with its id columns (column -> entity) shown as the source's keys, as text.

        For frames not read from a statement of the caller's (e.g. :meth:`metric`'s result); rows the
        caller reads itself take ``read(stmt, keys=…)`` instead (the rule is in :meth:`read`)."""
        return self._with_conn(keys_sql.show, df, columns)

    def _with_conn(self, fn, *args):  # noqa: ANN001, ANN202 - a query function and its arguments
        try:
            with self.engine.connect() as conn:
                return fn(conn, *args)
        except sa.exc.SQLAlchemyError as exc:
            raise DatabaseError(describe_error(exc, engine_url(self.engine))) from None

    def targets(self) -> pd.DataFrame:
        """The targets table: metric, region_id, tier, channel, valid_from, value."""
        return self.read(sa.select(s.targets))


def _outlet_names(conn: sa.Connection) -> list[dict]:
    """Vocabulary rows naming each outlet (dimension ``outlet``, code its id as text): what
    :func:`metrics.model.i18n.label` shows for the outlet filter; none without an outlets table."""
    o = s.outlets
    if not sa.inspect(conn).has_table(o.name):
        return []
    return [{"dimension": "outlet", "code": str(r.outlet_id), "label_zh": r.name, "label_en": r.name,
             "sort_order": None} for r in conn.execute(sa.select(o.c.outlet_id, o.c.name))]
