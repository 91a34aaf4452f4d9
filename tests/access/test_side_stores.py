"""Where the app's own state (audit trail, subscriptions, alert rules and events) is written for each
kind of data database: beside a DuckDB file, in the state folder for Spark (whose file tables cannot
update or delete a row, and which ServiceWatch may only read), in the database itself elsewhere; a
variable always wins. The Spark case is written without a cluster: the state never touches Spark."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from metrics import alert_rules
from metrics.access import audit
from metrics.backends.connect import STATE_DIR_ENV, side_store_url
from metrics.deliver.store import store_url

SPARK = "spark://svc:secret@thrift.example:10000/sw prod"


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in (audit.AUDIT_ENV, alert_rules.ALERTS_ENV):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv(STATE_DIR_ENV, str(tmp_path / "state"))
    return tmp_path / "state"


def test_each_kind_of_database_has_its_place(state_dir: Path, tmp_path: Path) -> None:
    duck = f"duckdb:///{tmp_path / 'data' / 'sw.duckdb'}"
    assert side_store_url(duck, "audit") == f"sqlite:///{tmp_path / 'data' / 'sw-audit.sqlite'}"
    assert side_store_url("postgresql+psycopg://u@127.0.0.1:5432/test", "audit") is None
    spark_audit, spark_alerts = side_store_url(SPARK, "audit"), side_store_url(SPARK, "alerts")
    assert spark_audit == f"sqlite:///{state_dir / 'spark-thrift.example-10000-sw_prod-audit.sqlite'}"
    assert spark_alerts.endswith("-alerts.sqlite") and "secret" not in spark_audit + spark_alerts
    assert audit.audit_url(SPARK) == store_url(SPARK) == spark_audit
    assert alert_rules.alerts_url(SPARK) == spark_alerts
    assert audit.audit_url("postgresql+psycopg://u@127.0.0.1:5432/test").startswith("postgresql")


def test_an_audit_row_for_spark_data_lands_in_the_state_folder(state_dir: Path) -> None:
    """Recording needs no connection to Spark (the host does not even resolve here)."""
    audit.record(SPARK, "ops", "export", {"rows": 3})
    url = audit.audit_url(SPARK)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text('SELECT "user", action FROM audit_log')).fetchall()
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [("ops", "export")]


def test_a_variable_wins(state_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(audit.AUDIT_ENV, f"sqlite:///{tmp_path / 'shared.sqlite'}")
    monkeypatch.setenv(alert_rules.ALERTS_ENV, "postgresql+psycopg://u@db:5432/alerts")
    assert audit.audit_url(SPARK).endswith("shared.sqlite")
    assert alert_rules.alerts_url(SPARK) == "postgresql+psycopg://u@db:5432/alerts"
