"""Importing ``visits`` and ``retention_actions`` (issue 18): Chinese headers, text keys, and the
rows the importer refuses (an unknown arm or status, due before created, a decile outside 1-10, a
customer the database does not hold), into a copy of the demo database."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from metrics.backends.connect import make_engine
from metrics.ingest.importer import import_file
from metrics.model import schema


def _count(url: str, table: sa.Table, where: sa.ColumnElement) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(table).where(where)).scalar())
    finally:
        engine.dispose()


def test_visits_with_chinese_headers_and_text_keys(duck: str, tmp_path: Path) -> None:
    path = tmp_path / "走访记录.csv"
    path.write_text("走访编号,客户编号,客户经理编号,走访日期,走访方式,走访目的,走访结果,下一步\n"
                    "V-0001,1,1,2026-09-01,visit,季度走访,客户满意,\n"
                    "V-0002,2,1,2026/9/2,call,回访,暂无需求,下月再次回访\n"
                    "V-0003,99999999,1,2026-09-03,visit,走访,满意,\n", encoding="utf-8")
    r = import_file(duck, "visits", path, refresh=False, rejects=False)
    assert (r.rows_loaded, r.rows_rejected) == (2, 1), r.summary()
    assert dict(r.reasons) == {"unknown_reference": 1}
    assert _count(duck, schema.visits, schema.visits.c.visit_id < 0) == 2  # text keys: negative ids


def test_retention_actions_refusals(duck: str, tmp_path: Path) -> None:
    head = ("action_id,customer_id,action_type,owner,created_date,due_date,status,outcome,cost,arm,risk_score,"
            "risk_decile\n")
    good = "900101,1,care_visit,1,2026-09-01,2026-09-15,open,,300,treated,0.2,7\n" \
           "900102,2,care_visit,,2026-09-01,,cancelled,,,holdout,0.3,8\n"
    bad = ["900103,3,call,,2026-09-01,,open,,,maybe,0.2,7\n",  # arm not allowed
           "900104,3,call,,2026-09-01,,pending,,,treated,0.2,7\n",  # status not allowed
           "900105,3,call,,2026-09-10,2026-09-01,open,,,treated,0.2,7\n",  # due before created
           "900106,3,call,,2026-09-01,,open,,,treated,0.2,11\n",  # decile outside 1-10
           "900107,3,call,,2026-09-01,,open,,-5,treated,0.2,7\n"]  # negative cost
    path = tmp_path / "actions.csv"
    path.write_text(head + good + "".join(bad), encoding="utf-8")
    r = import_file(duck, "retention_actions", path, refresh=False, rejects=False)
    assert (r.rows_loaded, r.rows_rejected) == (2, len(bad)), r.summary()
    assert dict(r.reasons) == {"not_allowed": 2, "out_of_range": 2, "before": 1}
    a = schema.retention_actions
    assert _count(duck, a, a.c.action_id.in_([900101, 900102])) == 2
    assert _count(duck, a, (a.c.action_id == 900102) & a.c.cost.is_(None) & (a.c.arm == "holdout")) == 1


def test_a_database_made_before_the_tables(duck: str, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    from metrics.analysis.data_quality import table_summary
    from metrics.cli.main import main
    from metrics.ingest.importer import template_csv
    from metrics.query.warehouse import Warehouse

    engine = make_engine(duck)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE visits"))
        conn.execute(sa.text("DROP TABLE retention_actions"))
    engine.dispose()
    wh = Warehouse.open(duck)
    try:
        assert "visits" not in set(table_summary(wh)["table"])  # the Data page's tables still list
    finally:
        wh.engine.dispose()
    assert main(["actions", "effect", "--db", duck]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "retention_actions" in err
    path = tmp_path / "actions.csv"
    path.write_bytes(template_csv("retention_actions").replace(b",900001,", b",1,").replace(b",900002,", b",2,"))
    r = import_file(duck, "retention_actions", path, refresh=False, rejects=False)
    assert r.rows_loaded == 2 and "retention_actions" in r.created_tables, r.summary()
