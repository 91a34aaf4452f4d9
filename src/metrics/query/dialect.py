"""The few SQL functions whose spelling differs between databases.

Each is a SQLAlchemy construct with one ``@compiles`` hook per dialect, so the compiler writes
``month_start(col)`` once and every database gets its own SQL. Nothing else in the engine
branches on the dialect, except :func:`has_percentile_aggregate` (MariaDB has PERCENTILE_CONT
only as a window function). Spark SQL (``spark://``, :mod:`metrics.backends.spark.dialect`) takes the default
``date_trunc`` spellings and its own day/hour differences and percentiles below.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

_MYSQL = ("mysql", "mariadb")


class month_start(FunctionElement):  # noqa: N801 - reads like the SQL function it is
    """First day of the month of a date or timestamp, as a DATE."""

    type = sa.Date()
    inherit_cache = True
    name = "month_start"


class week_start(FunctionElement):  # noqa: N801
    """Monday of the ISO week of a date or timestamp, as a DATE."""

    type = sa.Date()
    inherit_cache = True
    name = "week_start"


class days_between(FunctionElement):  # noqa: N801
    """Whole days from the first DATE argument to the second (b − a), an integer."""

    type = sa.Integer()
    inherit_cache = True
    name = "days_between"


class hours_between(FunctionElement):  # noqa: N801
    """Hours from the first TIMESTAMP argument to the second (b − a), a float."""

    type = sa.Double()
    inherit_cache = True
    name = "hours_between"


class hours_after(FunctionElement):  # noqa: N801 - reads like the SQL function it is
    """``hours_after(ts, hours)``: the TIMESTAMP ``hours`` (a float) after ``ts``, to the second."""

    type = sa.DateTime()
    inherit_cache = True
    name = "hours_after"


class percentile(FunctionElement):  # noqa: N801
    """Continuous percentile aggregate: ``percentile(q, expr)`` with q in [0, 1] a literal."""

    type = sa.Double()
    inherit_cache = True
    name = "percentile"


def _args(element, compiler, **kw) -> list[str]:
    return [compiler.process(c, **kw) for c in element.clauses]


# --- month_start -----------------------------------------------------------------------------
@compiles(month_start)
def _month_start_default(element, compiler, **kw):
    (x,) = _args(element, compiler, **kw)
    return f"CAST(date_trunc('month', {x}) AS DATE)"


@compiles(month_start, "mysql")
@compiles(month_start, "mariadb")
def _month_start_mysql(element, compiler, **kw):
    (x,) = _args(element, compiler, **kw)
    return f"CAST(DATE_FORMAT({x}, '%%Y-%%m-01') AS DATE)"


# --- week_start ------------------------------------------------------------------------------
@compiles(week_start)
def _week_start_default(element, compiler, **kw):
    (x,) = _args(element, compiler, **kw)
    return f"CAST(date_trunc('week', {x}) AS DATE)"


@compiles(week_start, "mysql")
@compiles(week_start, "mariadb")
def _week_start_mysql(element, compiler, **kw):
    (x,) = _args(element, compiler, **kw)
    return f"DATE_SUB(DATE({x}), INTERVAL WEEKDAY({x}) DAY)"


# --- days_between ----------------------------------------------------------------------------
@compiles(days_between)
def _days_default(element, compiler, **kw):
    a, b = _args(element, compiler, **kw)
    return f"date_diff('day', CAST({a} AS DATE), CAST({b} AS DATE))"


@compiles(days_between, "postgresql")
def _days_pg(element, compiler, **kw):
    a, b = _args(element, compiler, **kw)
    return f"(CAST({b} AS DATE) - CAST({a} AS DATE))"


@compiles(days_between, "spark")
def _days_spark(element, compiler, **kw):
    a, b = _args(element, compiler, **kw)
    return f"datediff(CAST({b} AS DATE), CAST({a} AS DATE))"


@compiles(days_between, "mysql")
@compiles(days_between, "mariadb")
def _days_mysql(element, compiler, **kw):
    a, b = _args(element, compiler, **kw)
    return f"DATEDIFF({b}, {a})"


# --- hours_between ---------------------------------------------------------------------------
@compiles(hours_between)
def _hours_default(element, compiler, **kw):
    a, b = _args(element, compiler, **kw)
    return f"(date_diff('second', {a}, {b}) / 3600.0)"


@compiles(hours_between, "postgresql")
def _hours_pg(element, compiler, **kw):
    a, b = _args(element, compiler, **kw)
    return f"(EXTRACT(EPOCH FROM ({b} - {a})) / 3600.0)"


@compiles(hours_between, "spark")
def _hours_spark(element, compiler, **kw):
    a, b = _args(element, compiler, **kw)
    # microseconds since the epoch: exact to the microsecond (unix_timestamp drops fractions, and
    # timestamp subtraction gives an INTERVAL)
    return f"((unix_micros({b}) - unix_micros({a})) / 3600000000.0D)"


@compiles(hours_between, "mysql")
@compiles(hours_between, "mariadb")
def _hours_mysql(element, compiler, **kw):
    a, b = _args(element, compiler, **kw)
    # 3600E0 is a DOUBLE: with 3600.0 MariaDB divides in DECIMAL and keeps 4 decimals
    # (div_precision_increment), which rounds hours to 0.36 s.
    return f"(TIMESTAMPDIFF(SECOND, {a}, {b}) / 3600E0)"


# --- hours_after -----------------------------------------------------------------------------
@compiles(hours_after)
def _hours_after_default(element, compiler, **kw):  # DuckDB
    ts, h = _args(element, compiler, **kw)
    return f"({ts} + to_seconds(CAST(round({h} * 3600) AS BIGINT)))"


@compiles(hours_after, "postgresql")
def _hours_after_pg(element, compiler, **kw):
    ts, h = _args(element, compiler, **kw)
    return f"({ts} + make_interval(secs => round(CAST({h} AS double precision) * 3600)))"


@compiles(hours_after, "mysql")
@compiles(hours_after, "mariadb")
def _hours_after_mysql(element, compiler, **kw):
    ts, h = _args(element, compiler, **kw)
    return f"TIMESTAMPADD(SECOND, CAST(ROUND({h} * 3600) AS SIGNED), {ts})"


# --- percentile ------------------------------------------------------------------------------
@compiles(percentile)
def _percentile_default(element, compiler, **kw):
    q, x = _args(element, compiler, **kw)
    return f"quantile_cont({x}, {q})"


@compiles(percentile, "postgresql")
def _percentile_pg(element, compiler, **kw):
    q, x = _args(element, compiler, **kw)
    return f"percentile_cont({q}) WITHIN GROUP (ORDER BY {x})"


@compiles(percentile, "spark")
def _percentile_spark(element, compiler, **kw):
    q, x = _args(element, compiler, **kw)
    if getattr(compiler.dialect, "quantiles", "exact") == "approx":
        from metrics.backends.spark.dialect import APPROX_ACCURACY

        return f"percentile_approx(CAST({x} AS DOUBLE), {q}, {APPROX_ACCURACY})"
    return f"percentile(CAST({x} AS DOUBLE), {q})"


def quantiles_mode(engine: sa.Engine) -> str:
    """``exact`` or ``approx``: how ``engine`` computes quantile metrics. Only Spark with
    ``?quantiles=approx`` in its URL is approximate (``percentile_approx``); labels say so."""
    return getattr(engine.dialect, "quantiles", "exact") if engine.dialect.name == "spark" else "exact"


def has_percentile_aggregate(dialect_name: str) -> bool:
    """Whether ``percentile`` can be used as a GROUP BY aggregate on this dialect."""
    return dialect_name not in _MYSQL


def window_percentile(q: float, expr: sa.ColumnElement, partition: list) -> sa.ColumnElement:
    """PERCENTILE_CONT as a window function (the only form MariaDB has)."""
    return _WindowPercentile(q, expr, partition)


class _WindowPercentile(sa.sql.expression.ColumnElement):
    inherit_cache = False
    type = sa.Double()

    def __init__(self, q: float, expr, partition) -> None:
        self.q = float(q)
        self.expr = expr
        self.partition = list(partition)


@compiles(_WindowPercentile)
def _window_percentile(element, compiler, **kw):
    x = compiler.process(element.expr, **kw)
    over = ", ".join(compiler.process(p, **kw) for p in element.partition)
    partition = f"PARTITION BY {over}" if over else ""
    return f"PERCENTILE_CONT({element.q!r}) WITHIN GROUP (ORDER BY {x}) OVER ({partition})"
