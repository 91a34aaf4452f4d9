"""Spark SQL as a SQLAlchemy dialect: ``spark://host:10000/database``, over impyla's HiveServer2 client.

Spark's Thrift server speaks the HiveServer2 protocol. The DBAPI driver is impyla (maintained, pure
Python, NOSASL/PLAIN/LDAP/Kerberos/JWT, binary or HTTP transport); impyla's own SQLAlchemy dialect
targets Impala's SQL, so this module subclasses it and fixes what Spark SQL needs, each fix tested
in ``tests/test_spark_dialect.py`` (SQL text) and ``tests/test_spark_*.py`` (on a real cluster):

* types: ``DATE`` stays ``DATE`` (impyla's Impala-3 compiler renders TIMESTAMP — silently wrong
  casts), ``Double`` is ``DOUBLE``, strings ``STRING``, ``Numeric(p, s)`` keeps precision and scale;
* bound values: impyla substitutes parameters into the SQL text client-side (with backslash
  escapes, which Spark's parser expects); floats, dates and timestamps are wrapped in
  ``CAST(… AS DOUBLE|DATE|TIMESTAMP)`` so ``30.4375`` is not a DECIMAL literal (decimal division
  loses digits) and ``'2025-01-01'`` is not a string in ``greatest()``;
* ``/`` is true division in Spark (never integer division), so no cast is added around divisors;
* booleans are native (``true``/``false``);
* each connection sets ``spark.sql.session.timeZone=UTC``: ServiceWatch's timestamps are wall-clock
  times, stored as UTC instants, so they read back unchanged;
* the compiled-statement cache is enabled (impyla's dialect disables it);
* operations are closed with HiveServer2's ``CloseOperation``: impyla first tries Impala's
  ``CloseImpalaOperation``, which Spark's Thrift server answers with an "Invalid method name" error
  that, now and then, left the connection's replies out of step (a load failed on the next
  ``DROP TABLE`` with that stale error); connections of this dialect skip the Impala call.

Day/hour differences, date truncation and percentiles are the ``@compiles`` hooks in
:mod:`metrics.query.dialect` for the dialect name ``spark``. Quantiles are exact (``percentile``) unless the
URL says ``?quantiles=approx`` (``percentile_approx``, see docs/metrics.md).
"""

from __future__ import annotations

import sqlalchemy as sa
from impala import hiveserver2 as _hs2
from impala.sqlalchemy import ImpalaDialect, ImpalaExecutionContext, ImpalaIdentifierPreparer
from sqlalchemy.engine.interfaces import BindTyping
from sqlalchemy.sql import compiler, sqltypes

QUANTILE_MODES = ("exact", "approx")
APPROX_ACCURACY = 100_000  # percentile_approx accuracy: relative rank error about 1/accuracy


class SparkTypeCompiler(compiler.GenericTypeCompiler):
    """Spark SQL type names."""

    def visit_DATE(self, type_, **kw):
        return "DATE"

    def visit_DATETIME(self, type_, **kw):
        return "TIMESTAMP"

    visit_TIMESTAMP = visit_DATETIME

    def visit_TIME(self, type_, **kw):
        return "STRING"

    def visit_string(self, type_, **kw):
        return "STRING"

    visit_VARCHAR = visit_NVARCHAR = visit_CHAR = visit_NCHAR = visit_TEXT = visit_CLOB = visit_string
    visit_String = visit_Text = visit_Unicode = visit_UnicodeText = visit_string

    def visit_double(self, type_, **kw):
        return "DOUBLE"

    visit_DOUBLE = visit_FLOAT = visit_REAL = visit_DOUBLE_PRECISION = visit_float = visit_double

    def visit_INTEGER(self, type_, **kw):
        return "INT"

    def visit_BIGINT(self, type_, **kw):
        return "BIGINT"

    def visit_SMALLINT(self, type_, **kw):
        return "SMALLINT"

    def visit_BOOLEAN(self, type_, **kw):
        return "BOOLEAN"

    def visit_NUMERIC(self, type_, **kw):
        if type_.precision is None:
            return "DECIMAL(38, 10)"
        return f"DECIMAL({type_.precision}, {type_.scale or 0})"

    visit_DECIMAL = visit_NUMERIC

    def visit_large_binary(self, type_, **kw):
        return "BINARY"

    visit_BLOB = visit_BINARY = visit_VARBINARY = visit_large_binary

    def visit_uuid(self, type_, **kw):
        return "STRING"


class SparkCompiler(compiler.SQLCompiler):
    """Spark SQL statements: typed literals for bound values, Spark's spelling where it differs."""

    def render_bind_cast(self, type_, dbapi_type, sqltext):
        return f"CAST({sqltext} AS {self.dialect.type_compiler_instance.process(dbapi_type)})"

    def visit_is_not_distinct_from_binary(self, binary, operator, **kw):
        return f"({self.process(binary.left, **kw)} <=> {self.process(binary.right, **kw)})"

    def visit_is_distinct_from_binary(self, binary, operator, **kw):
        return f"NOT ({self.process(binary.left, **kw)} <=> {self.process(binary.right, **kw)})"

    def visit_regexp_match_op_binary(self, binary, operator, **kw):
        return f"{self.process(binary.left, **kw)} RLIKE {self.process(binary.right, **kw)}"

    def visit_not_regexp_match_op_binary(self, binary, operator, **kw):
        return f"NOT ({self.process(binary.left, **kw)} RLIKE {self.process(binary.right, **kw)})"


class _Double(sqltypes.Double):
    render_bind_cast = True


class _Float(sqltypes.Float):
    render_bind_cast = True

    def bind_processor(self, dialect):
        return lambda v: None if v is None else float(v)


class _Date(sqltypes.Date):
    render_bind_cast = True


class _DateTime(sqltypes.DateTime):
    render_bind_cast = True

    def bind_processor(self, dialect):
        return lambda v: None if v is None else v.isoformat(sep=" ")


class _Numeric(sqltypes.Numeric):
    render_bind_cast = True

    def bind_processor(self, dialect):  # Decimal and numpy values: impyla renders their str()
        return lambda v: None if v is None else str(v)


class SparkExecutionContext(ImpalaExecutionContext):
    pass


_impala_close = _hs2.Operation.close


def _close_operation(self) -> object:
    """``Operation.close`` for HiveServer2 servers that are not Impala: ``CloseOperation`` only."""
    if getattr(self.client, "_sw_hiveserver2_only", False):
        return self._rpc("CloseOperation", _hs2.TCloseOperationReq(operationHandle=self.handle), False)
    return _impala_close(self)


_hs2.Operation.close = _close_operation  # only connections marked in SparkDialect.connect change


class SparkDialect(ImpalaDialect):
    """``spark://[user[:password]@]host:port/database[?auth_mechanism=…&quantiles=exact|approx&parquet_dir=…]``."""

    name = "spark"
    driver = "impyla"
    statement_compiler = SparkCompiler
    type_compiler_cls = SparkTypeCompiler
    type_compiler = SparkTypeCompiler
    preparer = ImpalaIdentifierPreparer
    execution_ctx_cls = SparkExecutionContext
    bind_typing = BindTyping.RENDER_CASTS
    div_is_floordiv = False
    supports_statement_cache = True
    supports_native_boolean = True
    supports_simple_order_by_label = True
    colspecs = {
        sqltypes.Double: _Double,
        sqltypes.Float: _Float,
        sqltypes.Date: _Date,
        sqltypes.DateTime: _DateTime,
        sqltypes.Numeric: _Numeric,
    }

    @classmethod
    def import_dbapi(cls):
        import impala.dbapi

        return impala.dbapi

    def __init__(self, quantiles: str = "exact", **kw) -> None:
        super().__init__(**kw)
        self.quantiles = quantiles

    def create_connect_args(self, url):
        query = dict(url.query)
        query.pop("parquet_dir", None)  # where metrics.backends.spark.load writes, not a connection option
        quantiles = query.pop("quantiles", "exact")
        if quantiles not in QUANTILE_MODES:
            raise ValueError(f"quantiles={quantiles!r} in the URL; use one of {', '.join(QUANTILE_MODES)}")
        self.quantiles = quantiles
        query.setdefault("auth_mechanism", "PLAIN")
        for key in ("port", "timeout"):
            if key in query:
                query[key] = int(query[key])
        if "use_ssl" in query:
            query["use_ssl"] = query["use_ssl"].lower() in ("1", "true", "yes")
        kwargs = {"host": url.host or "localhost", "port": url.port or 10000, "user": url.username,
                  "password": url.password, "database": url.database or "default"}
        if kwargs["user"] is None and query["auth_mechanism"] == "PLAIN":
            kwargs["user"] = "servicewatch"  # Spark's NONE authentication takes any user over PLAIN SASL
        kwargs.update(query)
        return [], {k: v for k, v in kwargs.items() if v is not None}

    def connect(self, *cargs, **cparams):
        conn = super().connect(*cargs, **cparams)
        conn.service.client._sw_hiveserver2_only = True  # see _close_operation
        return conn

    def on_connect(self):
        def setup(dbapi_conn) -> None:
            cur = dbapi_conn.cursor()
            try:
                cur.execute("SET spark.sql.session.timeZone=UTC")
            finally:
                cur.close()

        return setup

    def do_ping(self, dbapi_connection) -> bool:
        cur = dbapi_connection.cursor()
        try:
            cur.execute("SELECT 1")
            cur.fetchall()
        finally:
            cur.close()
        return True

    def get_isolation_level(self, dbapi_connection):  # no transactions in Spark
        return None

    def do_begin(self, dbapi_connection) -> None:
        pass

    def do_commit(self, dbapi_connection) -> None:
        pass


def register() -> None:
    """Make ``spark://`` URLs resolve to :class:`SparkDialect` (also declared as an entry point)."""
    sa.dialects.registry.register("spark", "metrics.backends.spark.dialect", "SparkDialect")

