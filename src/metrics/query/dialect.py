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


def _args(element, compiler, **kw) -> list[str]:
    return [compiler.process(c, **kw) for c in element.clauses]


def _sql_function(name: str, result: sa.types.TypeEngine, doc: str,
                  spellings: dict[str | tuple[str, ...] | None, str]) -> type[FunctionElement]:
    """A SQL function ``name(...)`` returning ``result``, and its spelling on each database: one
    ``@compiles`` hook per dialect name of ``spellings`` (a tuple: each of those dialects, ``_MYSQL``
    for MySQL and MariaDB; None: the default, DuckDB's and Spark's unless named), each formatting its
    SQL with the arguments' SQL as ``{0}``, ``{1}``, …"""
    construct = type(name, (FunctionElement,), {"__doc__": doc, "type": result, "inherit_cache": True,
                                                  "name": name, "__module__": __name__})
    for dialects, sql in spellings.items():
        def hook(element, compiler, _sql: str = sql, **kw) -> str:
            return _sql.format(*_args(element, compiler, **kw))

        compiles(construct, *((dialects,) if isinstance(dialects, str) else dialects or ()))(hook)
    return construct


month_start = _sql_function("month_start", sa.Date(), "First day of the month of a date or timestamp, as a DATE.", {
    None: "CAST(date_trunc('month', {0}) AS DATE)",
    _MYSQL: "CAST(DATE_FORMAT({0}, '%%Y-%%m-01') AS DATE)",
})
week_start = _sql_function("week_start", sa.Date(), "Monday of the ISO week of a date or timestamp, as a DATE.", {
    None: "CAST(date_trunc('week', {0}) AS DATE)",
    _MYSQL: "DATE_SUB(DATE({0}), INTERVAL WEEKDAY({0}) DAY)",
})
days_between = _sql_function(
    "days_between", sa.Integer(), "Whole days from the first DATE argument to the second (b − a), an integer.", {
        None: "date_diff('day', CAST({0} AS DATE), CAST({1} AS DATE))",
        "postgresql": "(CAST({1} AS DATE) - CAST({0} AS DATE))",
        "spark": "datediff(CAST({1} AS DATE), CAST({0} AS DATE))",
        _MYSQL: "DATEDIFF({1}, {0})",
    })
# Spark: microseconds since the epoch, exact to the microsecond (unix_timestamp drops fractions, and
# timestamp subtraction gives an INTERVAL). MySQL/MariaDB: 3600E0 is a DOUBLE; with 3600.0 MariaDB
# divides in DECIMAL and keeps 4 decimals (div_precision_increment), which rounds hours to 0.36 s.
hours_between = _sql_function(
    "hours_between", sa.Double(), "Hours from the first TIMESTAMP argument to the second (b − a), a float.", {
        None: "(date_diff('second', {0}, {1}) / 3600.0)",
        "postgresql": "(EXTRACT(EPOCH FROM ({1} - {0})) / 3600.0)",
        "spark": "((unix_micros({1}) - unix_micros({0})) / 3600000000.0D)",
        _MYSQL: "(TIMESTAMPDIFF(SECOND, {0}, {1}) / 3600E0)",
    })
hours_after = _sql_function(
    "hours_after", sa.DateTime(),
    "``hours_after(ts, hours)``: the TIMESTAMP ``hours`` (a float) after ``ts``, to the second.", {
        None: "({0} + to_seconds(CAST(round({1} * 3600) AS BIGINT)))",
        "postgresql": "({0} + make_interval(secs => round(CAST({1} AS double precision) * 3600)))",
        _MYSQL: "TIMESTAMPADD(SECOND, CAST(ROUND({1} * 3600) AS SIGNED), {0})",
    })
# MariaDB has it only as a window function (window_percentile); Spark's hook is below
percentile = _sql_function(
    "percentile", sa.Double(), "Continuous percentile aggregate: ``percentile(q, expr)`` with q in [0, 1] a literal.", {
        None: "quantile_cont({1}, {0})",
        "postgresql": "percentile_cont({0}) WITHIN GROUP (ORDER BY {1})",
    })


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
