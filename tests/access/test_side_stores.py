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


def test_a_state_folder_that_cannot_be_created_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """The state folder under a regular file (mkdir fails even for root): the alert store says so in one
    line from the catalogue, in the user's language, without the path; the CLI exits non-zero."""
    from metrics.backends.connect import StateDirError
    from metrics.cli.main import main
    from metrics.model.i18n import t

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for var in (audit.AUDIT_ENV, alert_rules.ALERTS_ENV):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv(STATE_DIR_ENV, str(blocker / "state"))
    with pytest.raises(StateDirError) as caught:
        alert_rules.alerts_url(SPARK)
    assert str(caught.value) == t("connect.state_dir_unwritable", "en", env=STATE_DIR_ENV)
    assert caught.value.text("zh") == t("connect.state_dir_unwritable", "zh", env=STATE_DIR_ENV) != str(caught.value)
    assert main(["subscription", "list", "--db", SPARK]) == 1  # the store only: Spark is not asked
    err = capsys.readouterr().err
    assert err == f"servicewatch: error: {t('connect.state_dir_unwritable', 'en', env=STATE_DIR_ENV)}\n"
    assert str(tmp_path) not in err and "Traceback" not in err


def test_the_state_folder_is_made_once(state_dir: Path) -> None:
    """Created on first use, not on every store opened (a folder removed afterwards is not made again)."""
    side_store_url(SPARK, "audit")
    assert state_dir.is_dir()
    state_dir.rmdir()
    side_store_url(SPARK, "alerts")
    assert not state_dir.exists()
