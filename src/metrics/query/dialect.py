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


def _spellings(construct: type[FunctionElement], spellings: dict[str | None, str]) -> None:
    """One ``@compiles`` hook per dialect name of ``spellings`` (None: the default, DuckDB's and
    Spark's unless named), each formatting its SQL with the arguments' SQL as ``{0}``, ``{1}``, …"""
    for dialect_name, sql in spellings.items():
        def hook(element, compiler, _sql: str = sql, **kw) -> str:
            return _sql.format(*_args(element, compiler, **kw))

        compiles(construct, *([dialect_name] if dialect_name else []))(hook)


_spellings(month_start, {
    None: "CAST(date_trunc('month', {0}) AS DATE)",
    "mysql": "CAST(DATE_FORMAT({0}, '%%Y-%%m-01') AS DATE)",
    "mariadb": "CAST(DATE_FORMAT({0}, '%%Y-%%m-01') AS DATE)",
})
_spellings(week_start, {
    None: "CAST(date_trunc('week', {0}) AS DATE)",
    "mysql": "DATE_SUB(DATE({0}), INTERVAL WEEKDAY({0}) DAY)",
    "mariadb": "DATE_SUB(DATE({0}), INTERVAL WEEKDAY({0}) DAY)",
})
_spellings(days_between, {
    None: "date_diff('day', CAST({0} AS DATE), CAST({1} AS DATE))",
    "postgresql": "(CAST({1} AS DATE) - CAST({0} AS DATE))",
    "spark": "datediff(CAST({1} AS DATE), CAST({0} AS DATE))",
    "mysql": "DATEDIFF({1}, {0})",
    "mariadb": "DATEDIFF({1}, {0})",
})
# Spark: microseconds since the epoch, exact to the microsecond (unix_timestamp drops fractions, and
# timestamp subtraction gives an INTERVAL). MySQL/MariaDB: 3600E0 is a DOUBLE; with 3600.0 MariaDB
# divides in DECIMAL and keeps 4 decimals (div_precision_increment), which rounds hours to 0.36 s.
_spellings(hours_between, {
    None: "(date_diff('second', {0}, {1}) / 3600.0)",
    "postgresql": "(EXTRACT(EPOCH FROM ({1} - {0})) / 3600.0)",
    "spark": "((unix_micros({1}) - unix_micros({0})) / 3600000000.0D)",
    "mysql": "(TIMESTAMPDIFF(SECOND, {0}, {1}) / 3600E0)",
    "mariadb": "(TIMESTAMPDIFF(SECOND, {0}, {1}) / 3600E0)",
})
_spellings(hours_after, {  # hours_after(ts, hours)
    None: "({0} + to_seconds(CAST(round({1} * 3600) AS BIGINT)))",
    "postgresql": "({0} + make_interval(secs => round(CAST({1} AS double precision) * 3600)))",
    "mysql": "TIMESTAMPADD(SECOND, CAST(ROUND({1} * 3600) AS SIGNED), {0})",
    "mariadb": "TIMESTAMPADD(SECOND, CAST(ROUND({1} * 3600) AS SIGNED), {0})",
})
_spellings(percentile, {  # percentile(q, x); MariaDB has it only as a window function (window_percentile)
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
