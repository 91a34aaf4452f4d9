"""The Spark SQL dialect (``spark://``, metrics.backends.spark.dialect) renders what Spark needs.

These check the SQL text (no cluster); tests/spark/test_spark_engine.py runs the same constructs on a real
cluster and compares the results with DuckDB."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from metrics.backends.connect import DatabaseError, make_engine
from metrics.backends.spark.dialect import SparkDialect
from metrics.query.dialect import (
    days_between,
    hours_between,
    month_start,
    percentile,
    quantiles_mode,
    week_start,
)


def sql(expr: sa.ClauseElement, **dialect_kw) -> str:
    stmt = expr if isinstance(expr, sa.Select) else sa.select(expr.label("x"))
    return str(stmt.compile(dialect=SparkDialect(paramstyle="pyformat", **dialect_kw)))


def test_url_selects_the_spark_dialect_and_strips_its_own_options() -> None:
    engine = make_engine("spark://analyst:s3cret@warehouse.example:10001/sw?quantiles=approx&parquet_dir=/data/sw"
                         "&auth_mechanism=LDAP")
    assert engine.dialect.name == "spark"
    _, kwargs = engine.dialect.create_connect_args(engine.url)
    assert kwargs == {"host": "warehouse.example", "port": 10001, "user": "analyst", "password": "s3cret",
                      "database": "sw", "auth_mechanism": "LDAP"}
    assert quantiles_mode(engine) == "approx"


def test_default_connection_is_plain_sasl_with_a_user() -> None:
    engine = make_engine("spark://127.0.0.1:10000/default")
    _, kwargs = engine.dialect.create_connect_args(engine.url)
    assert kwargs["auth_mechanism"] == "PLAIN" and kwargs["user"] and "quantiles" not in kwargs
    assert quantiles_mode(engine) == "exact"


def test_unknown_quantile_mode_is_refused_in_one_line_without_password() -> None:
    with pytest.raises(DatabaseError, match="quantiles='fast'") as err:
        make_engine("spark://u:pw123@127.0.0.1:10000/default?quantiles=fast")
    assert "pw123" not in str(err.value) and "\n" not in str(err.value)


def test_cast_to_date_is_date_not_timestamp() -> None:
    text = sql(sa.cast(sa.column("opened_at", sa.DateTime), sa.Date))
    assert "AS DATE)" in text and "TIMESTAMP" not in text


@pytest.mark.parametrize(("value", "type_", "spark_type"), [
    (30.4375, sa.Double, "DOUBLE"), (date(2025, 1, 1), sa.Date, "DATE"),
    (datetime(2025, 1, 1, 8, 30), sa.DateTime, "TIMESTAMP"), (Decimal("1.25"), sa.Numeric(10, 2), "DECIMAL(10, 2)"),
])
def test_bound_values_are_typed(value: object, type_: sa.types.TypeEngine, spark_type: str) -> None:
    assert f"CAST(%(param_1)s AS {spark_type})" in sql(sa.literal(value, type_))


def test_division_is_true_division_without_casts() -> None:
    text = sql(sa.column("a", sa.Integer) / sa.column("b", sa.Integer))
    assert text.startswith("SELECT a / b") and "NUMERIC" not in text and "DECIMAL" not in text


def test_booleans_are_native() -> None:
    text = sql(sa.select(sa.case((sa.column("reopened", sa.Boolean), 1), else_=0))
               .where(sa.column("escalated", sa.Boolean) == sa.false()))
    assert "CASE WHEN reopened THEN" in text and "WHERE escalated = false" in text


def test_null_safe_equality() -> None:
    text = sql(sa.column("a").is_not_distinct_from(sa.column("b")))
    assert "(a <=> b)" in text


@pytest.mark.parametrize(("expr", "expected"), [
    (month_start(sa.column("t", sa.DateTime)), "CAST(date_trunc('month', t) AS DATE)"),
    (week_start(sa.column("t", sa.DateTime)), "CAST(date_trunc('week', t) AS DATE)"),
    (days_between(sa.column("a", sa.Date), sa.column("b", sa.Date)), "datediff(CAST(b AS DATE), CAST(a AS DATE))"),
    (hours_between(sa.column("a", sa.DateTime), sa.column("b", sa.DateTime)),
     "((unix_micros(b) - unix_micros(a)) / 3600000000.0D)"),
])
def test_date_functions(expr: sa.ColumnElement, expected: str) -> None:
    assert expected in sql(expr)


def test_percentile_exact_by_default_and_approximate_on_request() -> None:
    p = percentile(sa.literal_column("0.9"), sa.column("h", sa.Double))
    assert "percentile(CAST(h AS DOUBLE), 0.9)" in sql(p)
    assert "percentile_approx(CAST(h AS DOUBLE), 0.9, 100000)" in sql(p, quantiles="approx")


def test_ddl_types() -> None:
    from metrics.backends.spark.load import create_table_sql
    from metrics.model import schema

    engine = make_engine("spark://127.0.0.1:10000/default")
    text = create_table_sql(engine, schema.billing_monthly, "_swnew_billing_monthly", "/w/billing_monthly/1")
    assert text == ("CREATE TABLE `_swnew_billing_monthly` (`customer_id` INT, `month` DATE, `revenue` DOUBLE) "
                    "USING parquet PARTITIONED BY (`month`) LOCATION '/w/billing_monthly/1'")
    tickets = create_table_sql(engine, schema.tickets, "tickets", "/w/t")
    assert "`opened_at` TIMESTAMP" in tickets and "`reopened` BOOLEAN" in tickets and "`channel` STRING" in tickets


def test_approximate_quantiles_are_labelled() -> None:
    from metrics.model.i18n import metric_label

    assert metric_label("resolution_hours_p90", "en") == "Resolution time (p90)"
    assert metric_label("resolution_hours_p90", "en", approximate=True) == "Resolution time (p90) (approximate)"
    assert metric_label("resolution_hours_p90", "zh", approximate=True).endswith("（近似值）")
    assert metric_label("csat", "en", approximate=True) == "CSAT"  # only quantiles are approximated
    assert quantiles_mode(make_engine("duckdb:///:memory:")) == "exact"


def test_import_into_spark_is_refused_before_any_write(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    """File tables take no upserts: the importer itself refuses (the CLI and the Data page both go
    through it), in one line, before connecting; a dry run still checks the file."""
    from metrics.cli.main import main
    from metrics.ingest.importer import ImportFailed, import_file
    from metrics.model.i18n import t

    path = tmp_path / "bill.csv"
    path.write_text("customer_id,month,revenue\n1,2025-09,10\n")
    url = "spark://nobody@127.0.0.1:1/none"  # nothing listens there: a refusal, not a connection error
    with pytest.raises(ImportFailed, match="Spark"):
        import_file(url, "billing_monthly", path)
    assert main(["import", "billing_monthly", str(path), "--db", url]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and t("import.error.spark_target", "en") in err and "Traceback" not in err
