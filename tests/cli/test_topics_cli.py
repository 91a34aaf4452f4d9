"""``servicewatch topics [--by DIM] [--show …]``: complaint topics as JSON/CSV/table with the engine's
numbers, checked against a pandas count from the raw rows; sentences on stderr in Chinese or English;
quotes masked (and none for a viewer); bad input is one line and a non-zero exit."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, timedelta

import pandas as pd
import sqlalchemy as sa

from metrics.access.users import User, add_user
from metrics.cli.main import main
from metrics.ingest.topics import ticket_topics
from metrics.model.i18n import t

PERIOD = ["--from", "2025-11-01", "--to", "2026-10-31"]
UNMASKED = re.compile(r"\d{7,}|@[A-Za-z]|我叫[\u4e00-\u9fff]|My name is [A-Z]")


def _expected(url: str, frames: dict) -> pd.Series:
    """Texts per topic of the complaints opened in PERIOD: pandas on the raw tickets and the tags."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        tags = pd.read_sql(sa.select(ticket_topics.c.ticket_id, ticket_topics.c.topic), conn)
    engine.dispose()
    tk = frames["tickets"]
    sel = tk[(tk["kind"] == "complaint") & (tk["opened_at"] >= pd.Timestamp(date(2025, 11, 1)))
             & (tk["opened_at"] < pd.Timestamp(date(2026, 10, 31) + timedelta(days=1)))]
    return sel.merge(tags, on="ticket_id")["topic"].value_counts()


def test_topics_json_matches_pandas(duckdb_url: str, demo_frames: dict, capsys) -> None:
    assert main(["topics", "--db", duckdb_url, *PERIOD, "--format", "json"]) == 0
    out = capsys.readouterr()
    records = json.loads(out.out)
    expected = _expected(duckdb_url, demo_frames)
    assert {r["topic"]: r["n"] for r in records} == expected.to_dict()
    assert all(r["total"] == int(expected.sum()) for r in records)
    assert {"share", "lower", "upper", "share_prev", "p_holm", "rising", "topic_name"} <= set(records[0])
    assert records[0]["period_start"] == "2025-11-01"
    assert f"{int(expected.sum())} complaint texts" in out.err and "Holm" in out.err


def test_top_three_csv_and_chinese(duckdb_url: str, demo_frames: dict, capsys) -> None:
    assert main(["topics", "--db", duckdb_url, *PERIOD, "--show", "top", "--format", "csv", "--lang", "zh"]) == 0
    out = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(out.out)))
    expected = _expected(duckdb_url, demo_frames)
    assert [int(r["n"]) for r in rows] == expected.head(3).tolist()
    assert rows[0]["topic_name"] in ("账单与扣费争议", "网络质量")  # the dictionary's Chinese names
    assert "统计周期" in out.err


def test_by_tier_table(duckdb_url: str, capsys) -> None:
    assert main(["topics", "--db", duckdb_url, *PERIOD, "--by", "tier"]) == 0
    out = capsys.readouterr().out
    assert "tier" in out.splitlines()[0] and "%" in out


def test_quotes_masked_and_none_for_a_viewer(duckdb_url: str, tmp_path, monkeypatch, capsys) -> None:
    for topic in ("billing", "network_quality", "service_attitude"):
        assert main(["topics", "--db", duckdb_url, *PERIOD, "--show", "quotes", "--topic", topic, "-n", "50",
                     "--format", "json"]) == 0
        records = json.loads(capsys.readouterr().out)
        assert len(records) == 50
        assert not [r["quote"] for r in records if UNMASKED.search(r["quote"])]
    users = tmp_path / "users.json"
    monkeypatch.setenv("SERVICEWATCH_USERS", str(users))
    monkeypatch.setenv("SERVICEWATCH_AUDIT_DB", f"sqlite:///{tmp_path / 'audit.sqlite'}")
    add_user(User("v1", "viewer"), None, users)
    for lang in ("en", "zh"):  # refused by the engine: one line in the user's language, no path, no rows
        assert main(["topics", "--db", duckdb_url, *PERIOD, "--show", "quotes", "--topic", "billing", "--as-user",
                     "v1", "--format", "json", "--lang", lang]) == 1
        out = capsys.readouterr()
        assert out.out == ""
        assert out.err.strip().splitlines() == [f"servicewatch: error: {t('topics.reason.viewer', lang)}"]
        assert str(tmp_path) not in out.err and "Traceback" not in out.err


def test_bad_input_is_one_line(duckdb_url: str, capsys) -> None:
    assert main(["topics", "--db", duckdb_url, "--show", "quotes", "--topic", "nope"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("servicewatch: error: unknown topic nope; known: billing")
    assert main(["topics", "--db", duckdb_url, "--show", "quotes", "--topic", "nope", "--lang", "zh"]) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("servicewatch: error: 未知话题 nope")
    assert main(["topics", "--db", duckdb_url, "-n", "0"]) == 1
    assert "Traceback" not in capsys.readouterr().err
